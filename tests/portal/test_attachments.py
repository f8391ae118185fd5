"""Attachments on the message page: type names, thumbnails, previews, and Download all."""

from __future__ import annotations

import io
import re
import zipfile
from pathlib import Path
from unittest import mock

import pytest
from django.conf import settings
from django.core.cache import caches
from django.test import Client
from PIL import Image

from sealbox.accounts.models import User
from sealbox.portal import bundle, thumbnails, views
from sealbox.web import contrast
from tests.browser.content import html_message, png
from tests.mail import make_message
from tests.portal.pages import (
    HttpResponse,
    Node,
    content,
    deliver_to,
    listed_attachments,
    message_url,
    page,
)

pytestmark = pytest.mark.django_db

PDF = b"%PDF-1.4\n" + bytes(range(256)) + b"\n%%EOF\n"
PDF_PART = ("report.pdf", "application/pdf", PDF)


def image_bytes(kind: str, width: int = 30, height: int = 20) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (200, 80, 20)).save(out, kind)
    return out.getvalue()


def jpeg(width: int, height: int) -> bytes:
    return image_bytes("JPEG", width, height)


def open_page(
    reader: Client, alice: User, attachments: list[tuple[str, str, bytes]]
) -> tuple[Node, str]:
    message = deliver_to(alice, make_message(attachments=attachments))
    return page(reader.get(message_url(message))), message_url(message)


def items(doc: Node) -> list[Node]:
    return doc.one("section", cls="attachments").one("ul").find_all("li")


# --- The list -------------------------------------------------------------------------------


def test_each_attachment_says_its_type_and_size_in_words(reader: Client, alice: User) -> None:
    doc, _ = open_page(
        reader,
        alice,
        [
            ("report.pdf", "application/pdf", PDF + b"\0" * (1_258_291 - len(PDF))),
            ("figures.xlsx", "application/octet-stream", b"PK\x03\x04" + b"\0" * 2000),
            ("invite.ics", "text/calendar", b"BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n"),
            ("data.abc", "application/octet-stream", b"x" * 10),
        ],
    )

    listed = listed_attachments(doc)
    assert [(a.name, a.type_name, a.size) for a in listed] == [
        ("report.pdf", "PDF document", "1.2 MB"),
        ("figures.xlsx", "Excel spreadsheet", "2.0 KB"),
        ("invite.ics", "Calendar invitation", "32 bytes"),
        ("data.abc", "ABC file", "10 bytes"),
    ]
    details = [li.one(cls="details").text for li in items(doc)]
    assert details[0] == "PDF document · 1.2 MB"
    # Each has a drawing for its kind, hidden from screen readers (the words say it).
    icons = [li.one("svg") for li in items(doc)]
    assert [i.attrs["aria-hidden"] for i in icons] == ["true"] * 4
    assert [i.classes()[1] for i in icons] == ["pdf", "spreadsheet", "calendar", "file"]


def test_an_image_attachment_shows_a_thumbnail_next_to_its_name(
    reader: Client, alice: User
) -> None:
    doc, url = open_page(reader, alice, [("photo.png", "image/png", png(400, 300))])

    [item] = items(doc)
    thumb = item.one("img", cls="thumb")
    assert thumb.attrs["alt"] == ""  # the name is right beside it
    assert thumb.attrs["loading"] == "lazy"
    assert thumb.attrs["src"] == url + "attachment/2/thumbnail/"
    assert item.find("svg") is None


def test_images_and_pdfs_have_a_preview_link_that_opens_a_new_tab(
    reader: Client, alice: User
) -> None:
    doc, url = open_page(
        reader,
        alice,
        [
            ("report.pdf", "application/pdf", PDF),
            ("photo.png", "image/png", png(4, 4)),
            ("scan.pdf", "application/octet-stream", PDF),
            ("page.html", "text/html", b"<p>hi"),
            ("drawing.svg", "image/svg+xml", b"<svg/>"),
            ("all.zip", "application/zip", b"PK"),
        ],
    )

    previews = {li.one("a", cls="name").text: li.find("a", cls="preview") for li in items(doc)}
    assert [name for name, link in previews.items() if link is not None] == [
        "report.pdf",
        "photo.png",
        "scan.pdf",
    ]
    link = previews["report.pdf"]
    assert link is not None
    assert link.text == "Preview"
    assert link.attrs["aria-label"] == "Preview report.pdf"
    assert link.attrs["target"] == "_blank"
    assert "noopener" in link.attrs["rel"].split()
    assert link.attrs["href"] == url + "attachment/2/preview/"


def test_a_hostile_name_stays_text(reader: Client, alice: User) -> None:
    response = reader.get(
        message_url(
            deliver_to(
                alice,
                make_message(
                    attachments=[('"><img src=x onerror=alert(1)>.pdf', "application/pdf", PDF)]
                ),
            )
        )
    )

    assert b"<img src=x" not in response.content
    [item] = items(page(response))
    assert item.one("a", cls="preview").attrs["aria-label"] == (
        'Preview "><img src=x onerror=alert(1)>.pdf'
    )


def test_download_all_is_offered_for_two_or_more(reader: Client, alice: User) -> None:
    one, _ = open_page(reader, alice, [("a.pdf", "application/pdf", PDF)])
    two, url = open_page(
        reader, alice, [("a.pdf", "application/pdf", PDF), ("b.txt", "text/plain", b"b")]
    )

    assert one.find("a", cls="download-all") is None
    link = two.one("a", cls="download-all")
    assert link.text == "Download all (ZIP archive)"
    assert link.attrs["href"] == url + "attachments.zip"


# --- Preview --------------------------------------------------------------------------------


def preview(reader: Client, alice: User, filename: str, ctype: str, data: bytes) -> HttpResponse:
    message = deliver_to(alice, make_message(attachments=[(filename, ctype, data)]))
    return reader.get(message_url(message, "attachment-preview", 2))


def assert_sandboxed_inline(response: HttpResponse, ctype: str, disposition: str) -> None:
    assert response.status_code == 200
    assert response["Content-Type"] == ctype
    assert response["Content-Disposition"] == disposition
    policy = [d.strip() for d in response["Content-Security-Policy"].split(";")]
    assert "sandbox" in policy  # an opaque origin: never the portal's
    assert "default-src 'none'" in policy
    assert response["X-Content-Type-Options"] == "nosniff"
    assert "no-store" in response["Cache-Control"]


def test_a_pdf_previews_inline_in_a_sandbox(reader: Client, alice: User) -> None:
    response = preview(reader, alice, "report.pdf", "application/pdf", PDF)

    assert_sandboxed_inline(response, "application/pdf", 'inline; filename="report.pdf"')
    assert content(response) == PDF


def test_a_unicode_name_is_kept_in_the_preview(reader: Client, alice: User) -> None:
    response = preview(reader, alice, "Größe.pdf", "application/pdf", PDF)

    assert response["Content-Disposition"] == (
        "inline; filename=\"Groe.pdf\"; filename*=utf-8''Gr%C3%B6%C3%9Fe.pdf"
    )


@pytest.mark.parametrize("ctype", ["image/png", "image/jpeg", "image/gif", "image/webp"])
def test_an_image_previews_inline_in_a_sandbox(reader: Client, alice: User, ctype: str) -> None:
    data = png(8, 8)
    response = preview(reader, alice, "picture", ctype, data)

    assert_sandboxed_inline(response, ctype, 'inline; filename="picture"')
    assert content(response) == data


def test_a_pdf_sent_as_generic_bytes_previews_as_a_pdf(reader: Client, alice: User) -> None:
    response = preview(reader, alice, "scan.pdf", "application/octet-stream", PDF)

    assert_sandboxed_inline(response, "application/pdf", 'inline; filename="scan.pdf"')
    assert content(response) == PDF


def test_generic_bytes_named_pdf_that_are_no_pdf_have_no_preview(
    reader: Client, alice: User
) -> None:
    response = preview(reader, alice, "scan.pdf", "application/octet-stream", b"<html>")

    assert response.status_code == 404


@pytest.mark.parametrize(
    ("filename", "ctype"),
    [
        ("page.html", "text/html"),
        ("drawing.svg", "image/svg+xml"),
        ("notes.txt", "text/plain"),
        ("all.zip", "application/zip"),
        ("letter.docx", "application/octet-stream"),
        ("app.xhtml", "application/xhtml+xml"),
    ],
)
def test_other_types_have_no_preview(
    reader: Client, alice: User, filename: str, ctype: str
) -> None:
    response = preview(reader, alice, filename, ctype, b"<script>alert(1)</script>")

    assert response.status_code == 404
    assert b"alert" not in response.content


def test_the_body_part_has_no_preview(reader: Client, alice: User) -> None:
    message = deliver_to(alice, make_message())

    for index in (0, 1, 2):
        assert reader.get(message_url(message, "attachment-preview", index)).status_code == 404


# --- Thumbnails -----------------------------------------------------------------------------


def thumbnail(reader: Client, alice: User, filename: str, ctype: str, data: bytes) -> HttpResponse:
    message = deliver_to(alice, make_message(attachments=[(filename, ctype, data)]))
    return reader.get(message_url(message, "attachment-thumbnail", 2))


@pytest.mark.parametrize(
    ("ctype", "data", "size"),
    [
        ("image/png", png(400, 300), (144, 108)),
        ("image/jpeg", jpeg(300, 600), (72, 144)),
        ("image/png", png(20, 10), (20, 10)),  # small ones are not enlarged
    ],
)
def test_an_image_attachment_gets_a_small_thumbnail(
    reader: Client, alice: User, ctype: str, data: bytes, size: tuple[int, int]
) -> None:
    response = thumbnail(reader, alice, "photo", ctype, data)

    assert response.status_code == 200
    assert response["Content-Type"] == "image/webp"
    assert "sandbox" in response["Content-Security-Policy"]
    assert response["X-Content-Type-Options"] == "nosniff"
    with Image.open(io.BytesIO(content(response))) as image:
        assert image.format == "WEBP"
        assert image.size == size
        # The stripes of png(): blue on top, orange below.
        if ctype == "image/png":
            top = image.convert("RGB").getpixel((size[0] // 2, 1))
            assert isinstance(top, tuple) and top[2] > 150 and top[0] < 60


@pytest.mark.parametrize(
    "data",
    [
        b"\x89PNG\r\n\x1a\n not really an image",
        png(1, 1)[:40],  # cut short
        # A header claiming 100,000 x 100,000 pixels: refused before decoding.
        png(1, 1)[:16] + (100_000).to_bytes(4, "big") * 2 + png(1, 1)[24:],
        # A real image, of a format no thumbnail is made from (only JPEG, PNG, GIF, WebP).
        image_bytes("BMP"),
    ],
    ids=["garbage", "truncated", "bomb", "another format"],
)
def test_an_image_that_cannot_be_decoded_falls_back_to_the_icon(
    reader: Client, alice: User, data: bytes
) -> None:
    response = thumbnail(reader, alice, "broken.png", "image/png", data)

    assert response.status_code == 200
    assert response["Content-Type"] == "image/svg+xml"
    assert response["Content-Security-Policy"] == "default-src 'none'; sandbox"
    svg = content(response).decode()
    assert svg.startswith("<svg") and 'class="file-icon image"' in svg
    assert "<script" not in svg
    # An <img>'s currentColor is black: a fixed grey, seen on the tile in light and dark.
    assert 'stroke="#7d8590"' in svg and "currentColor" not in svg


def test_a_thumbnail_is_made_once(reader: Client, alice: User) -> None:
    message = deliver_to(alice, make_message(attachments=[("photo.png", "image/png", png(50, 50))]))
    url = message_url(message, "attachment-thumbnail", 2)

    with mock.patch.object(thumbnails, "make", wraps=thumbnails.make) as made:
        first = content(reader.get(url))
        second = content(reader.get(url))

    assert first == second
    assert made.call_count == 1


def tile_colours() -> list[str]:
    """--bg2, the attachment tile's background, in light and in dark mode."""
    css = (Path(settings.BASE_DIR) / "portal/static/portal/portal.css").read_text()
    return re.findall(r"--bg2: (#[0-9a-f]{6})", css)


def test_the_fallback_icon_stands_out_on_the_tile_in_light_and_dark() -> None:
    tiles = tile_colours()

    assert len(tiles) == 2
    for tile in tiles:
        assert contrast.ratio(views.THUMBNAIL_ICON_GREY, tile) >= 3


def test_only_the_first_twelve_images_get_thumbnails(reader: Client, alice: User) -> None:
    photos = [(f"photo-{n:02}.png", "image/png", png(4, 4)) for n in range(15)]
    message = deliver_to(alice, make_message(attachments=[photos[0], PDF_PART, *photos[1:]]))

    doc = page(reader.get(message_url(message)))

    shown = [li.one(cls="name").text for li in items(doc) if li.find("img", cls="thumb")]
    assert shown == [f"photo-{n:02}.png" for n in range(12)]
    [after] = [li for li in items(doc) if li.one(cls="name").text == "photo-12.png"]
    assert after.one("svg").classes() == ["file-icon", "image"]  # its icon, and no request
    indexes = [
        int(a.attrs["href"].split("/")[-2])
        for a in doc.one("section", cls="attachments").find_all("a", cls="name")
    ]
    twelfth, thirteenth = indexes[12], indexes[13]  # the PDF is second
    assert reader.get(message_url(message, "attachment-thumbnail", twelfth)).status_code == 200
    assert reader.get(message_url(message, "attachment-thumbnail", thirteenth)).status_code == 404


def test_thumbnails_are_kept_apart_from_the_message_frames(reader: Client, alice: User) -> None:
    frames = caches["frames"]
    html = html_message(alice.email, "News", "<p>Hello</p>")
    news = deliver_to(alice, html)
    reader.get(message_url(news, "message-body"))
    kept = dict(frames._cache)  # type: ignore[attr-defined]
    assert kept  # the frame is cached
    photos = [(f"p{n}.png", "image/png", png(4, 4)) for n in range(12)]
    with mock.patch.object(thumbnails, "make", wraps=thumbnails.make) as made:
        for _ in range(3):  # 36 thumbnails: more than the frames cache holds
            message = deliver_to(alice, make_message(attachments=photos))
            for index in range(2, 14):
                url = message_url(message, "attachment-thumbnail", index)
                assert reader.get(url)["Content-Type"] == "image/webp"
        assert made.call_count == 36
        reader.get(url)
        assert made.call_count == 36  # the last one came from its cache

    assert dict(frames._cache) == kept  # type: ignore[attr-defined]
    # Room for about twenty messages' thumbnails.
    assert (
        settings.CACHES["thumbnails"]["OPTIONS"]["MAX_ENTRIES"] >= 20 * thumbnails.MAX_PER_MESSAGE
    )


def test_only_listed_images_have_thumbnails(reader: Client, alice: User, bob: User) -> None:
    mine = deliver_to(alice, make_message(attachments=[("r.pdf", "application/pdf", PDF)]))
    theirs = deliver_to(
        bob, make_message(to=bob.email, attachments=[("p.png", "image/png", png(9, 9))])
    )
    empty = deliver_to(alice, make_message(attachments=[("e.png", "image/png", b"")]))
    assert reader.get(message_url(empty, "attachment-thumbnail", 2)).status_code == 404

    assert reader.get(message_url(mine, "attachment-thumbnail", 2)).status_code == 404
    assert reader.get(message_url(mine, "attachment-thumbnail", 1)).status_code == 404
    assert reader.get(message_url(theirs, "attachment-thumbnail", 2)).status_code == 404


# --- Download all ---------------------------------------------------------------------------


def download_all(
    reader: Client,
    alice: User,
    attachments: list[tuple[str, str, bytes]],
    subject: str = "Quarterly figures",
) -> tuple[HttpResponse, zipfile.ZipFile]:
    message = deliver_to(alice, make_message(subject=subject, attachments=attachments))
    response = reader.get(message_url(message, "attachments-zip"))
    assert response.status_code == 200
    return response, zipfile.ZipFile(io.BytesIO(content(response)))


def test_download_all_is_a_zip_of_every_attachment_byte_for_byte(
    reader: Client, alice: User
) -> None:
    photo = png(64, 64)
    big = bytes(range(256)) * 4096  # 1 MiB
    response, archive = download_all(
        reader,
        alice,
        [
            ("report.pdf", "application/pdf", PDF),
            ("photo.png", "image/png", photo),
            ("big.bin", "application/octet-stream", big),
            ("Größe.pdf", "application/pdf", b"%PDF-umlaut"),
        ],
    )

    assert response["Content-Type"] == "application/zip"
    assert response["Content-Disposition"] == 'attachment; filename="Quarterly figures.zip"'
    assert response["Content-Security-Policy"] == "default-src 'none'; sandbox"
    assert "no-store" in response["Cache-Control"]
    assert archive.testzip() is None
    assert archive.namelist() == ["report.pdf", "photo.png", "big.bin", "Größe.pdf"]
    assert archive.read("report.pdf") == PDF
    assert archive.read("photo.png") == photo
    assert archive.read("big.bin") == big
    assert archive.read("Größe.pdf") == b"%PDF-umlaut"
    # The UTF-8 flag: unzip tools read the name as UTF-8, not as code page 437.
    assert archive.getinfo("Größe.pdf").flag_bits & 0x800
    assert not archive.getinfo("report.pdf").flag_bits & 0x800


def test_the_zip_is_named_for_the_subject_like_the_eml(reader: Client, alice: User) -> None:
    message = deliver_to(
        alice,
        make_message(
            subject='Grüße: "Q3" / <draft>',
            attachments=[("a.txt", "text/plain", b"a"), ("b.txt", "text/plain", b"b")],
        ),
    )

    zipped = reader.get(message_url(message, "attachments-zip"))
    eml = reader.get(message_url(message, "message-eml"))

    assert zipped["Content-Disposition"] == eml["Content-Disposition"].replace(".eml", ".zip")
    assert zipped["Content-Disposition"].startswith('attachment; filename="Grue Q3 draft.zip"')


def test_names_alike_and_hostile_names_are_made_safe_in_the_zip(
    reader: Client, alice: User
) -> None:
    _, archive = download_all(
        reader,
        alice,
        [
            ("report.pdf", "application/pdf", b"1"),
            ("report.pdf", "application/pdf", b"2"),
            ("REPORT.pdf", "application/pdf", b"3"),
            ("../../etc/passwd", "text/plain", b"4"),
            ("a/b.txt", "text/plain", b"5"),
            ("..", "text/plain", b"6"),
            ("", "application/octet-stream", b"7"),
            (".bashrc", "text/plain", b"8"),
        ],
    )

    assert archive.namelist() == [
        "report.pdf",
        "report (2).pdf",
        "REPORT (3).pdf",
        "passwd",
        "b.txt",
        "attachment-6",
        "attachment-7",
        "bashrc",
    ]
    assert [archive.read(n) for n in archive.namelist()] == [str(i).encode() for i in range(1, 9)]


def test_download_all_of_a_message_without_attachments_is_not_found(
    reader: Client, alice: User
) -> None:
    message = deliver_to(alice, make_message())

    assert reader.get(message_url(message, "attachments-zip")).status_code == 404


@pytest.mark.parametrize(
    ("given", "safe"),
    [
        ("../../etc/passwd", "passwd"),
        ("a/b.txt", "b.txt"),
        ("C:\\Windows\\evil.exe", "evil.exe"),
        ("bell\x07and\x00nul.txt", "bell_andnul.txt"),
        ("line\nbreak.txt", "line break.txt"),
        ("...", "attachment-1"),
        ("  . hidden  ", "hidden"),
        ('what?<is>:"this"|*.txt', "what__is___this___.txt"),
        ("trailing dot.", "trailing dot"),
        ("Größe.pdf", "Größe.pdf"),
        ("Gro\u0308\u00dfe.pdf", "Größe.pdf"),  # decomposed: composed again (NFC)
        ("x" * 300 + ".pdf", "x" * 146 + ".pdf"),
        # Windows' device names, which Explorer cannot unpack, whatever the case or extension.
        ("CON", "_CON"),
        ("aux.txt", "_aux.txt"),
        ("Nul.tar.gz", "_Nul.tar.gz"),
        ("PRN .pdf", "_PRN .pdf"),
        ("com1.", "_com1"),
        ("LPT9 . txt", "_LPT9 . txt"),
        ("COM\u00b9.log", "_COM\u00b9.log"),
        ("CONOUT$", "_CONOUT$"),
        # Only the names themselves: these are files like any other.
        ("CONTRACT.pdf", "CONTRACT.pdf"),
        ("com10.txt", "com10.txt"),
        ("my aux.txt", "my aux.txt"),
        ("LPT.txt", "LPT.txt"),
    ],
)
def test_a_hostile_name_becomes_a_plain_file_name(given: str, safe: str) -> None:
    assert bundle.safe_name(given, 1) == safe


def test_a_device_name_and_its_renamed_twin_are_both_kept() -> None:
    assert bundle.safe_names(["con.txt", "_con.txt"]) == ["_con.txt", "_con (2).txt"]


def test_names_alike_are_numbered_whatever_their_case() -> None:
    assert bundle.safe_names(["a.txt", "A.TXT", "a.txt", "a (2).txt", "notes", "notes"]) == [
        "a.txt",
        "A (2).TXT",
        "a (3).txt",
        "a (2) (2).txt",
        "notes",
        "notes (2)",
    ]

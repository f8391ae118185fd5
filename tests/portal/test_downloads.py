"""Downloads: attachments and the whole .eml, never rendered in the portal's origin."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import quote

import pytest
from django.test import Client

from sealbox.accounts.models import User
from sealbox.mailstore import blobs
from tests.corpus import Sample, big_attachment, crlf, forwarded, headers, nested, utf8_headers
from tests.mail import make_message
from tests.portal.pages import (
    HttpResponse,
    content,
    deliver_to,
    listed_attachments,
    message_url,
    page,
)

pytestmark = pytest.mark.django_db

PDF = b"%PDF-1.4\n" + bytes(range(256))


def download(reader: Client, alice: User, filename: str, ctype: str, data: bytes) -> HttpResponse:
    """Deliver a message with one attachment and download it through its link on the page."""
    message = deliver_to(alice, make_message(attachments=[(filename, ctype, data)]))
    [item] = listed_attachments(page(reader.get(message_url(message))))
    assert item.name == filename
    return reader.get(item.url)


def test_an_attachment_downloads_with_safe_headers(reader: Client, alice: User) -> None:
    response = download(reader, alice, "report.pdf", "application/pdf", PDF)

    assert response.status_code == 200
    assert content(response) == PDF
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == 'attachment; filename="report.pdf"'
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Security-Policy"] == "default-src 'none'; sandbox"
    assert response["Referrer-Policy"] == "no-referrer"
    assert "no-store" in response["Cache-Control"]


@pytest.mark.parametrize(
    "filename", ["Übersicht 2026.pdf", "報告書 第3四半期.pdf", "€ price list.pdf", "emoji 📎.pdf"]
)
def test_a_unicode_name_survives_in_an_rfc_6266_filename(
    reader: Client, alice: User, filename: str
) -> None:
    response = download(reader, alice, filename, "application/pdf", PDF)

    header = response["Content-Disposition"]
    # An ASCII fallback for old clients, then the exact name (RFC 8187), which browsers use.
    assert header.startswith('attachment; filename="')
    assert header.endswith(f"; filename*=utf-8''{quote(filename, safe='')}")
    fallback = header.split('"')[1]
    assert fallback.isascii() and fallback.endswith(".pdf")


def test_quotes_in_a_name_cannot_break_out_of_the_header(reader: Client, alice: User) -> None:
    response = download(reader, alice, 'say "hi"; x=y.txt', "text/plain", b"hi")

    assert response["Content-Disposition"] == (
        "attachment; filename=\"say _hi__ x=y.txt\"; filename*=utf-8''say%20%22hi%22%3B%20x%3Dy.txt"
    )


@pytest.mark.parametrize(
    ("ctype", "served"),
    [
        ("text/html", "application/octet-stream"),
        ("image/svg+xml", "application/octet-stream"),
        ("application/xhtml+xml", "application/octet-stream"),
        ("text/xml", "application/octet-stream"),
        ("application/xml", "application/octet-stream"),
        ("application/rss+xml", "application/octet-stream"),
        ("text/javascript", "application/octet-stream"),
        ("application/javascript", "application/octet-stream"),
        ("text/plain", "text/plain"),
        ("image/png", "image/png"),
        ("application/zip", "application/zip"),
    ],
)
def test_types_a_browser_could_run_are_served_as_plain_bytes(
    reader: Client, alice: User, ctype: str, served: str
) -> None:
    data = b"<script>alert(document.domain)</script>"

    response = download(reader, alice, "file", ctype, data)

    assert response["Content-Type"] == served
    assert response["Content-Disposition"] == 'attachment; filename="file"'
    assert content(response) == data


def test_an_unnamed_attachment_is_called_attachment(reader: Client, alice: User) -> None:
    raw = headers(
        "Unnamed", 'MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary="u"\n'
    ) + crlf(
        "\n--u\nContent-Type: text/plain\n\nsee attached\n"
        "--u\nContent-Type: application/octet-stream\nContent-Transfer-Encoding: base64\n\nAAEC\n--u--\n"
    )
    message = deliver_to(alice, raw)

    [item] = listed_attachments(page(reader.get(message_url(message))))
    response = reader.get(item.url)

    assert item.name == "(unnamed)"
    assert response["Content-Disposition"] == 'attachment; filename="attachment"'
    assert content(response) == b"\x00\x01\x02"


def test_a_forwarded_message_downloads_as_an_eml_file(reader: Client, alice: User) -> None:
    sample = forwarded()
    [expected] = sample.attachments
    message = deliver_to(alice, sample.raw)

    [item] = listed_attachments(page(reader.get(message_url(message))))
    response = reader.get(item.url)

    assert response["Content-Type"] == "message/rfc822"
    assert response["Content-Disposition"].endswith(
        f"; filename*=utf-8''{quote(expected.filename, safe='')}"
    )
    assert content(response) == expected.data


def test_an_inline_image_can_be_fetched_but_the_body_part_cannot(
    reader: Client, alice: User
) -> None:
    message = deliver_to(alice, nested().raw)

    # Walk: 0 mixed, 1 alternative, 2 text, 3 related, 4 html, 5 logo, 6 pdf.
    logo = reader.get(message_url(message, "attachment", 5))
    assert logo.status_code == 200
    assert logo["Content-Type"] == "image/png"
    assert content(logo).startswith(b"\x89PNG")
    for index in (0, 1, 2, 3, 4, 7, 9999):
        assert reader.get(message_url(message, "attachment", index)).status_code == 404


def test_an_unknown_part_of_a_plain_message_answers_not_found(reader: Client, alice: User) -> None:
    message = deliver_to(alice, make_message())

    assert reader.get(message_url(message, "attachment", 0)).status_code == 404
    assert reader.get(message_url(message, "attachment", 1)).status_code == 404


# --- The whole message ---------------------------------------------------------------------


@pytest.mark.parametrize("build", [utf8_headers, nested, big_attachment], ids=lambda b: b.__name__)
def test_the_eml_download_is_the_stored_message_byte_for_byte(
    reader: Client, alice: User, build: Callable[[], Sample]
) -> None:
    sample = build()
    message = deliver_to(alice, sample.raw)

    response = reader.get(message_url(message, "message-eml"))

    assert response.status_code == 200
    stored = blobs.read(message.blob)
    assert content(response) == stored
    assert stored.endswith(sample.raw)
    assert response["Content-Type"] == "message/rfc822"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Security-Policy"] == "default-src 'none'; sandbox"
    assert "no-store" in response["Cache-Control"]


def test_the_eml_is_named_for_the_subject(reader: Client, alice: User) -> None:
    message = deliver_to(alice, make_message(subject='Grüße: "Q3" / <draft>'))

    response = reader.get(message_url(message, "message-eml"))

    assert response["Content-Disposition"] == (
        'attachment; filename="Grue Q3 draft.eml"; '
        f"filename*=utf-8''{quote('Grüße Q3 draft.eml', safe='')}"
    )


def test_the_message_page_links_to_the_eml_download(reader: Client, alice: User) -> None:
    message = deliver_to(alice, make_message())

    doc = page(reader.get(message_url(message)))

    link = next(a for a in doc.find_all("a") if a.text == "Download .eml")
    assert link.attrs["href"] == message_url(message, "message-eml")

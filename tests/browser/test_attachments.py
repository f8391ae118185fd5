"""Attachments on a phone in Chromium: type names, a thumbnail, previews in a sandbox, Download all."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from sealbox.accounts.models import User
from sealbox.intake.delivery import deliver
from tests.browser.conftest import Watch, sign_in
from tests.browser.content import png
from tests.conftest import CAROL
from tests.mail import make_message

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "correct horse battery staple"  # alice's, from tests/conftest.py
PDF_VIEWER = "chrome-extension://mhjfbmdgcfjbbpaeojofohoefgiehjai/"  # Chromium's own


def real_pdf(text: str) -> bytes:
    """A one-page PDF a viewer renders: text in Helvetica."""
    stream = f"BT /F1 24 Tf 40 100 Td ({text}) Tj ET".encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 300 200] /Contents 4 0 R"
        b" /Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = b"%PDF-1.4\n"
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer << /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return out


@pytest.mark.parametrize("viewport", ["phone"])
def test_a_reader_sees_previews_and_downloads_attachments_on_a_phone(
    page: Page, alice: User, watch: Watch, shoot: Callable[..., None]
) -> None:
    report = real_pdf("Quarterly report")
    photo = png(640, 480)
    letter = b"PK\x03\x04" + bytes(3000)
    [message] = deliver(
        CAROL,
        [alice.email],
        make_message(
            subject="Signed contract and photos",
            attachments=[
                ("Quarterly report.pdf", "application/pdf", report),
                ("Site photo.png", "image/png", photo),
                (
                    "Contract draft with a long name for a small screen.docx",
                    "application/octet-stream",
                    letter,
                ),
            ],
        ),
    )
    sign_in(page, alice.email, PASSWORD)
    page.goto(f"/m/{message.id}/")

    section = page.get_by_role("region", name="3 attachments")
    items = section.get_by_role("listitem")
    expect(items).to_have_count(3)
    expect(items.nth(0)).to_contain_text(f"PDF document · {len(report)} bytes")
    expect(items.nth(1)).to_contain_text("PNG image · ")
    expect(items.nth(2)).to_contain_text("Word document · 2.9 KB")
    # The photo shows a picture of itself, made small on the server.
    thumb = items.nth(1).locator("img.thumb")
    thumb.scroll_into_view_if_needed()
    page.wait_for_function(
        "img => img.complete && img.naturalWidth > 0", arg=thumb.element_handle()
    )
    assert thumb.evaluate("img => [img.naturalWidth, img.naturalHeight]") == [144, 108]
    box = thumb.bounding_box()
    assert box is not None and box["width"] <= 64
    # Nothing wider than the phone.
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    shoot("list")

    # The PDF opens in a new tab, in Chromium's own PDF viewer, inside a sandbox.
    preview = section.get_by_role("link", name="Preview Quarterly report.pdf")
    expect(preview).to_have_attribute("target", "_blank")
    with page.expect_popup() as opened:
        preview.click()
    tab = opened.value
    tab.wait_for_load_state()
    assert tab.url.endswith(f"/m/{message.id}/attachment/2/preview/")
    for _ in range(100):  # the viewer's frame comes a moment after the document
        if any(frame.url.startswith(PDF_VIEWER) for frame in tab.frames):
            break
        tab.wait_for_timeout(100)
    assert [f.url for f in tab.frames if f.url.startswith(PDF_VIEWER)] != [], tab.frames
    # The file is read by the viewer, in its own origin, not by the portal's page
    # (Chromium's wrapper around it is its own; see docs/reading.md).
    assert tab.evaluate("() => document.contentType") == "application/pdf"
    assert tab.evaluate("() => document.scripts.length") == 0
    tab.close()

    # The photo previews as an image.
    with page.expect_popup() as opened:
        section.get_by_role("link", name="Preview Site photo.png").click()
    tab = opened.value
    tab.wait_for_load_state()
    assert tab.evaluate("() => document.images[0].naturalWidth") == 640
    # An opaque origin: the portal's cookies and pages are out of its reach.
    assert tab.evaluate("() => window.origin") == "null"
    assert "SecurityError" in tab.evaluate(
        "() => { try { return document.cookie } catch (e) { return e.name } }"
    )
    tab.close()
    expect(section.get_by_role("link", name="Preview Contract draft", exact=False)).to_have_count(0)

    # Download all: one ZIP named for the subject, the files under their own names.
    with page.expect_download() as got:
        section.get_by_role("link", name="Download all").click()
    download = got.value
    assert download.suggested_filename == "Signed contract and photos.zip"
    archive = zipfile.ZipFile(io.BytesIO(Path(download.path()).read_bytes()))
    assert archive.namelist() == [
        "Quarterly report.pdf",
        "Site photo.png",
        "Contract draft with a long name for a small screen.docx",
    ]
    assert archive.read("Quarterly report.pdf") == report
    assert archive.read("Site photo.png") == photo
    assert archive.read("Contract draft with a long name for a small screen.docx") == letter
    assert watch.console == []

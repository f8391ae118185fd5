"""Attachment types in words people know, from the declared type and the file name."""

from __future__ import annotations

import pytest

from sealbox.portal.filetypes import describe, looks_like_pdf, previewable

OOXML = "application/vnd.openxmlformats-officedocument"
ODF = "application/vnd.oasis.opendocument"


@pytest.mark.parametrize(
    ("ctype", "filename", "name", "icon"),
    [
        ("application/pdf", "report.pdf", "PDF document", "pdf"),
        ("application/pdf", "", "PDF document", "pdf"),
        ("APPLICATION/PDF", "x", "PDF document", "pdf"),
        ("application/msword", "a.doc", "Word document", "document"),
        (f"{OOXML}.wordprocessingml.document", "a.docx", "Word document", "document"),
        (f"{OOXML}.spreadsheetml.sheet", "figures.xlsx", "Excel spreadsheet", "spreadsheet"),
        ("application/vnd.ms-powerpoint", "deck.ppt", "PowerPoint presentation", "presentation"),
        (f"{ODF}.text", "a.odt", "OpenDocument text", "document"),
        (f"{ODF}.spreadsheet", "a.ods", "OpenDocument spreadsheet", "spreadsheet"),
        (f"{ODF}.presentation", "a.odp", "OpenDocument presentation", "presentation"),
        ("image/jpeg", "photo.jpg", "JPEG image", "image"),
        ("image/png", "shot.png", "PNG image", "image"),
        ("image/gif", "a.gif", "GIF image", "image"),
        ("image/webp", "a.webp", "WebP image", "image"),
        ("image/x-portable-anymap", "a.pnm", "Image", "image"),
        ("text/plain", "notes.txt", "Text file", "text"),
        ("text/csv", "list.csv", "CSV file", "spreadsheet"),
        ("application/zip", "all.zip", "ZIP archive", "archive"),
        ("text/calendar", "invite.ics", "Calendar invitation", "calendar"),
        ("text/vcard", "carol.vcf", "Contact card", "contact"),
        ("message/rfc822", "forwarded.eml", "Email message", "email"),
        ("audio/mpeg", "voice.mp3", "Audio", "audio"),
        ("video/mp4", "clip.mp4", "Video", "video"),
    ],
)
def test_a_declared_type_is_named(ctype: str, filename: str, name: str, icon: str) -> None:
    found = describe(ctype, filename)

    assert (found.name, found.icon) == (name, icon)


@pytest.mark.parametrize(
    ("filename", "name", "icon"),
    [
        ("report.pdf", "PDF document", "pdf"),
        ("Report.PDF", "PDF document", "pdf"),
        ("letter.docx", "Word document", "document"),
        ("figures.xlsx", "Excel spreadsheet", "spreadsheet"),
        ("deck.pptx", "PowerPoint presentation", "presentation"),
        ("photo.jpeg", "JPEG image", "image"),
        ("meeting.ics", "Calendar invitation", "calendar"),
        ("carol.vcf", "Contact card", "contact"),
        ("forwarded.eml", "Email message", "email"),
        ("backup.7z", "Compressed archive", "archive"),
        ("data.abc", "ABC file", "file"),
        ("setup.exe", "EXE file", "file"),
        ("no-extension", "File", "file"),
        ("", "File", "file"),
        (".pdf", "File", "file"),  # a hidden file's name, not an extension
        ("strange.ext-with-dash", "File", "file"),
        ("long.abcdefgh", "File", "file"),
        ("tilde.ä", "File", "file"),
    ],
)
def test_generic_bytes_are_named_by_their_extension(filename: str, name: str, icon: str) -> None:
    found = describe("application/octet-stream", filename)

    assert (found.name, found.icon) == (name, icon)


def test_a_known_declared_type_wins_over_the_extension() -> None:
    assert describe("application/pdf", "scan.jpg").name == "PDF document"
    assert describe("text/calendar", "invite.txt").name == "Calendar invitation"


@pytest.mark.parametrize(
    ("ctype", "filename", "pdf", "preview"),
    [
        ("application/pdf", "a.pdf", True, True),
        ("application/pdf", "a.bin", True, True),
        ("application/octet-stream", "a.pdf", True, True),
        ("application/octet-stream", "a.PDF", True, True),
        ("application/octet-stream", "a.bin", False, False),
        ("text/plain", "a.pdf", False, False),
        ("image/png", "a.png", False, True),
        ("image/jpeg", "a.jpg", False, True),
        ("image/svg+xml", "a.svg", False, False),
        ("text/html", "a.html", False, False),
        ("application/zip", "a.zip", False, False),
    ],
)
def test_only_pdfs_and_safe_images_can_be_previewed(
    ctype: str, filename: str, pdf: bool, preview: bool
) -> None:
    assert looks_like_pdf(ctype, filename) is pdf
    assert previewable(ctype, filename) is preview

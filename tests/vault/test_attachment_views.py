"""With encryption at rest, previews, thumbnails and Download all decrypt as they read,
give back the exact bytes, and leave nothing in the clear on disk."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client
from PIL import Image

from sealbox.accounts.models import User
from sealbox.portal import thumbnails
from tests.browser.content import png
from tests.mail import make_message
from tests.portal.pages import content, deliver_to, message_url
from tests.vault.conftest import Vault

pytestmark = pytest.mark.django_db

PDF = b"%PDF-1.4\nsealed-report-7f3a " + bytes(range(256)) * 64 + b"\n%%EOF\n"
PHOTO = png(320, 200)


def test_a_sealed_messages_attachments_preview_thumbnail_and_zip_whole(
    reader: Client, alice: User, encryption: Vault
) -> None:
    message = deliver_to(
        alice,
        make_message(
            subject="Sealed figures",
            attachments=[
                ("Größe.pdf", "application/octet-stream", PDF),
                ("photo.png", "image/png", PHOTO),
            ],
        ),
    )
    assert message.blob.endswith(".p7m")

    preview = reader.get(message_url(message, "attachment-preview", 2))
    thumbnail = reader.get(message_url(message, "attachment-thumbnail", 3))
    zipped = reader.get(message_url(message, "attachments-zip"))

    assert preview["Content-Type"] == "application/pdf"
    assert content(preview) == PDF
    assert thumbnail["Content-Type"] == "image/webp"
    with Image.open(io.BytesIO(content(thumbnail))) as image:
        # The 320 x 200 photo, its longer side brought down to the thumbnail's.
        assert image.size == (thumbnails.SIZE, thumbnails.SIZE * 200 // 320)
    archive = zipfile.ZipFile(io.BytesIO(content(zipped)))
    assert archive.namelist() == ["Größe.pdf", "photo.png"]
    assert archive.read("Größe.pdf") == PDF
    assert archive.read("photo.png") == PHOTO
    for path in Path(settings.DATA_DIR).rglob("*"):
        if path.is_file():
            assert b"sealed-report-7f3a" not in path.read_bytes(), path

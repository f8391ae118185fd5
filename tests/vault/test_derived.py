"""With encryption at rest, what is derived from a message (its parsed view) is sealed like it,
and its attachments are decrypted range by range, never written out."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.http import StreamingHttpResponse
from django.test import Client

from sealbox.accounts.models import User
from sealbox.housekeeping import reseal
from sealbox.mailstore import blobs, opened
from sealbox.vault import seal
from tests.mailstore.test_opened import MARKER, big_message
from tests.portal.pages import content, deliver_to, listed_attachments, message_url, page
from tests.vault.conftest import Vault, forget_everything
from tests.vault.test_sealing import openssl_decrypt

pytestmark = pytest.mark.django_db

SECRET_NAME = "salaries-5c1e.xlsx"


def every_file() -> list[Path]:
    return [p for p in Path(settings.DATA_DIR).rglob("*") if p.is_file()]


def test_nothing_derived_from_a_sealed_message_lies_on_disk_in_the_clear(
    reader: Client, alice: User, encryption: Vault, tmp_path: Path
) -> None:
    raw, data = big_message(8 * 1024 * 1024)
    raw = raw.replace(b'filename="a.pdf"', f'filename="{SECRET_NAME}"'.encode())
    message = deliver_to(alice, raw)
    doc = page(reader.get(message_url(message)))
    reader.get(message_url(message, "message-body"))
    for item in listed_attachments(doc):
        content(reader.get(item.url))
    opened.clear_memory()
    assert reader.get(message_url(message, "message-body")).status_code == 200

    [derived] = blobs.derived_files(message.id)
    assert derived.name.endswith(".p7m") and seal.is_sealed(derived.read_bytes())
    for path in every_file():
        stored = path.read_bytes()
        assert MARKER.encode() not in stored, path
        assert SECRET_NAME.encode() not in stored, path
        assert data[1000:1100] not in stored, path
    # The escrow key opens it with OpenSSL alone, as it opens the message.
    view = json.loads(openssl_decrypt(derived, encryption.escrow, tmp_path / "view.json"))
    assert MARKER in view["html"]
    assert MARKER in view["cleaned"][1]  # the frame's sanitised HTML, sealed with the view


def test_a_sealed_attachment_streams_byte_for_byte(
    reader: Client, alice: User, encryption: Vault
) -> None:
    raw, data = big_message(12 * 1024 * 1024 + 5)
    message = deliver_to(alice, raw)
    links = {a.name: a.url for a in listed_attachments(page(reader.get(message_url(message))))}

    response = reader.get(links["data.zip"])
    eml = reader.get(message_url(message, "message-eml"))

    assert isinstance(response, StreamingHttpResponse)
    assert content(response) == data
    assert isinstance(eml, StreamingHttpResponse)
    assert content(eml) == blobs.read(message.blob)


def test_a_plain_view_from_before_encryption_is_removed_by_encrypt_existing(
    reader: Client, alice: User, settings: Any, vault_files: Vault
) -> None:
    message = deliver_to(alice, big_message(64 * 1024)[0])
    assert reader.get(message_url(message)).status_code == 200
    [plain] = blobs.derived_files(message.id)
    assert plain.suffix == ".json"
    forget_everything()
    settings.STORAGE_ENCRYPTION = True
    settings.ENCRYPTION_CERTS = vault_files.certs

    reseal.encrypt_existing(io.StringIO())

    assert blobs.derived_files(message.id) == []


def test_a_plain_view_found_while_encryption_is_on_is_not_used(
    reader: Client, alice: User, settings: Any, vault_files: Vault
) -> None:
    message = deliver_to(alice, big_message(64 * 1024)[0])
    assert reader.get(message_url(message)).status_code == 200
    [plain] = blobs.derived_files(message.id)
    forget_everything()  # another process, started with encryption at rest on
    settings.STORAGE_ENCRYPTION = True
    settings.ENCRYPTION_CERTS = vault_files.certs
    settings.ENCRYPTION_KEY = vault_files.service.key
    settings.ENCRYPTION_KEY_PASSWORD = vault_files.service.password
    before = opened.parses

    response = reader.get(message_url(message))

    assert response.status_code == 200
    assert not plain.exists()
    [derived] = blobs.derived_files(message.id)
    assert derived.suffix == ".p7m"
    assert opened.parses == before + 1
    forget_everything()


def test_a_sealed_message_keeps_its_view_sealed_after_encryption_is_turned_off(
    reader: Client, alice: User, encryption: Vault, settings: Any
) -> None:
    message = deliver_to(alice, big_message(64 * 1024)[0])
    settings.STORAGE_ENCRYPTION = False  # new mail plain; the key still opens the old

    response = reader.get(message_url(message))

    assert response.status_code == 200
    [derived] = blobs.derived_files(message.id)
    assert derived.suffix == ".p7m" and seal.is_sealed(derived.read_bytes())

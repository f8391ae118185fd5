"""Stored mail sealed as CMS EnvelopedData, cross-checked with OpenSSL's command line."""

from __future__ import annotations

import subprocess
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import connection

from sealbox.accounts.models import User
from sealbox.mailstore import blobs, sealed
from sealbox.mailstore.models import Message
from sealbox.outbound import notify, queue
from sealbox.outbound.models import OutgoingEmail
from sealbox.vault import seal
from tests.mail import make_message
from tests.portal.pages import (
    content,
    deliver_to,
    inbox_rows,
    message_url,
    page,
    parse_html,
)
from tests.vault.conftest import KeyFiles, Vault, forget_everything

pytestmark = pytest.mark.django_db


def openssl_decrypt(path: Path, pair: KeyFiles, out: Path) -> bytes:
    subprocess.run(
        [
            "openssl", "cms", "-decrypt", "-inform", "DER", "-in", str(path),
            "-inkey", str(pair.key), "-passin", f"pass:{pair.password}",
            "-recip", str(pair.cert), "-out", str(out),
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return out.read_bytes()


def stored_file(message: Message) -> Path:
    return Path(settings.DATA_DIR) / message.blob


def test_openssl_opens_a_stored_message_with_the_service_key_and_with_the_escrow_key(
    encryption: Vault, alice: User, tmp_path: Path
) -> None:
    raw = make_message(subject="Vertrag für Q4", body="Grüße, der Vertrag\r\n.\r\nEnde\n")
    message = deliver_to(alice, raw)
    path = stored_file(message)
    assert path.name.endswith(".p7m")
    on_disk = path.read_bytes()
    assert b"Vertrag" not in on_disk and b"Carol" not in on_disk
    as_received = blobs.read(message.blob)
    assert as_received.endswith(raw)  # after Sealbox's Received: trace header
    assert openssl_decrypt(path, encryption.service, tmp_path / "a.eml") == as_received
    assert openssl_decrypt(path, encryption.escrow, tmp_path / "b.eml") == as_received
    # OpenSSL sees AES-256 content encryption and one recipient per certificate.
    printed = subprocess.run(
        ["openssl", "cms", "-cmsout", "-print", "-inform", "DER", "-in", str(path)],
        check=True, capture_output=True, text=True,
    ).stdout  # fmt: skip
    assert "aes-256-cbc" in printed
    assert printed.count("d.issuerAndSerialNumber:") == 2
    assert "issuer: CN=storage@corp.example" in printed
    assert "issuer: CN=escrow@corp.example" in printed


def test_the_rows_content_fields_are_sealed_and_the_portal_still_shows_them(
    encryption: Vault, alice: User, reader: Any
) -> None:
    message = deliver_to(alice, make_message(subject="Pay slip November"))
    columns = {
        "subject": "",
        "from_name": "",
        "from_address": "",
        "to_display": "",
        "sent_date": None,
        "message_id": "",
    }
    stored = Message.objects.filter(id=message.id).values(*columns, "sealed_summary").get()
    assert {k: stored[k] for k in columns} == columns
    assert seal.is_sealed(bytes(stored["sealed_summary"]))
    opened = sealed.open_fields(stored["sealed_summary"])
    assert opened["subject"] == "Pay slip November"
    assert opened["message_id"] == message.message_id and "@corp.example>" in opened["message_id"]
    listing = StringIO()
    call_command("mailbox", "list", alice.email, stdout=listing)
    assert f"{message.id}" in listing.getvalue() and "(encrypted)" in listing.getvalue()

    forget_everything()  # a fresh process: nothing cached
    [row] = inbox_rows(page(reader.get("/inbox/")))
    assert (row.subject, row.sender, row.address) == (
        "Pay slip November",
        "Carol Sender",
        "carol@corp.example",
    )
    reading = reader.get(message_url(message))
    assert "Pay slip November" in page(reading).one("h1").text
    download = reader.get(message_url(message, "message-eml"))
    assert content(download) == blobs.read(message.blob)


def test_marking_a_sealed_message_read_keeps_its_content_out_of_the_row(
    encryption: Vault, alice: User, reader: Any
) -> None:
    message = deliver_to(alice, make_message(subject="Only inside the envelope"))
    reader.get(message_url(message))
    loaded = Message.objects.get(id=message.id)
    assert loaded.read_at is not None and loaded.subject == "Only inside the envelope"
    loaded.save()  # a full save, as the admin site would do
    with connection.cursor() as cursor:
        cursor.execute("SELECT subject, from_name FROM mailstore_message")
        assert cursor.fetchall() == [("", "")]


def test_mail_stored_before_encryption_was_on_stays_readable(
    settings: Any, vault_files: Vault, alice: User, reader: Any
) -> None:
    before = deliver_to(alice, make_message(subject="From the plain days"))
    assert before.blob.endswith(".eml")
    forget_everything()
    settings.STORAGE_ENCRYPTION = True
    settings.ENCRYPTION_CERTS = vault_files.certs
    settings.ENCRYPTION_KEY = vault_files.service.key
    settings.ENCRYPTION_KEY_PASSWORD = vault_files.service.password
    after = deliver_to(alice, make_message(subject="From the sealed days"))
    assert after.blob.endswith(".p7m")
    subjects = [row.subject for row in inbox_rows(page(reader.get("/inbox/")))]
    assert sorted(subjects) == ["From the plain days", "From the sealed days"]
    assert "From the plain days" in page(reader.get(message_url(before))).one("h1").text
    forget_everything()


def test_queued_outgoing_mail_is_sealed_and_goes_out_as_it_was_written(
    encryption: Vault, alice: User, relay_sink: Any
) -> None:
    settings.NOTIFY_INTERVAL = 0
    deliver_to(alice, make_message(sender="Dana Secret-Sender <dana@corp.example>"))
    assert notify.send_due() == 1
    item = OutgoingEmail.objects.get()
    assert item.subject == ""
    assert seal.is_sealed(bytes(item.data)) and b"Dana" not in bytes(item.data)
    assert queue.process_due() == 1
    [got] = relay_sink.received
    assert b"From: Dana Secret-Sender (dana@corp.example)" in got.data
    assert got.rcpt_tos == ["alice@example.net"]


def test_a_process_without_the_key_stores_mail_but_cannot_open_it(
    encryption: Vault, settings: Any, alice: User, reader: Any, caplog: Any
) -> None:
    settings.ENCRYPTION_KEY_PASSWORD = None  # nothing configured: it would have to ask
    forget_everything()
    message = deliver_to(alice, make_message(subject="Arrived while locked"))
    assert stored_file(message).exists()
    with pytest.raises(seal.Locked):
        blobs.read(message.blob)
    response = reader.get("/inbox/")
    assert response.status_code == 503
    assert response["Retry-After"] == "30"
    assert "waiting for an administrator to unlock it" in parse_html(response.content).text
    assert "Arrived while locked" not in response.content.decode()
    health = reader.get("/healthz")
    assert (health.status_code, health.content) == (503, b"locked\n")
    # A known state, not an error per request: nothing for each probe in the log.
    assert "Service Unavailable" not in caplog.text

    seal.unlock(encryption.service.password)
    assert reader.get("/healthz").content == b"ok\n"
    assert [r.subject for r in inbox_rows(page(reader.get("/inbox/")))] == ["Arrived while locked"]


def test_a_message_sealed_to_other_keys_only_says_so(
    encryption: Vault, alice: User, reader: Any, caplog: Any
) -> None:
    message = deliver_to(alice, make_message(subject="Sealed elsewhere"))
    escrow_only = seal.recipients(encryption.escrow.cert)
    path = stored_file(message)
    path.write_bytes(seal.seal(blobs.read(message.blob), escrow_only))
    response = reader.get(message_url(message, "message-eml"))
    assert response.status_code == 500
    assert "encrypted to a key this server does not hold" in parse_html(response.content).text
    assert "stored data does not open" in caplog.text


def test_a_raw_message_is_never_taken_for_a_sealed_one() -> None:
    for raw in (b"", b"0", b"0\x82\x02\xb0Subject: x\r\n\r\n", make_message()):
        assert not seal.is_sealed(raw)


def test_without_certificates_intake_fails_for_now_and_keeps_nothing(
    encryption: Vault, settings: Any, alice: User
) -> None:
    from sealbox.intake.delivery import DeliveryError, deliver

    settings.ENCRYPTION_CERTS = encryption.directory / "missing.pem"
    with pytest.raises(DeliveryError) as failure:
        deliver("carol@corp.example", [alice.email], make_message())
    assert failure.value.temporary and failure.value.code == 451
    assert not Message.objects.exists()
    assert not list((Path(settings.DATA_DIR)).glob("messages/*/*"))


def test_one_damaged_summary_spoils_only_its_own_row(
    encryption: Vault, alice: User, bob: User, reader: Any, caplog: Any
) -> None:
    settings.NOTIFY_INTERVAL = 0
    deliver_to(alice, make_message(subject="Still readable"))
    bad = deliver_to(alice, make_message(subject="Damaged"))
    deliver_to(bob, make_message(subject="For Bob"))
    escrow_only = seal.recipients(encryption.escrow.cert)
    Message.objects.filter(id=bad.id).update(
        sealed_summary=seal.seal(b'{"subject": "x"}', escrow_only)
    )
    forget_everything()
    rows = {r.subject for r in inbox_rows(page(reader.get("/inbox/")))}
    assert rows == {"Still readable", "(this message cannot be opened)"}
    assert f"message {bad.id}: its sealed summary does not open" in caplog.text
    # The worker's round still notifies both recipients.
    assert notify.send_due() == 2


def test_dumpdata_and_loaddata_keep_the_content_sealed(
    encryption: Vault, alice: User, tmp_path: Path
) -> None:
    message = deliver_to(alice, make_message(subject="Not in any dump"))
    dump = tmp_path / "dump.json"
    call_command("dumpdata", "mailstore", output=str(dump))
    assert "Not in any dump" not in dump.read_text()
    assert '"subject": ""' in dump.read_text() and '"sealed_summary": "' in dump.read_text()
    # A dump written with the content in its columns is loaded without it.
    text = dump.read_text().replace('"subject": ""', '"subject": "Loaded in the clear"')
    dump.write_text(text)
    call_command("loaddata", str(dump), verbosity=0)
    with connection.cursor() as cursor:
        cursor.execute("SELECT subject FROM mailstore_message")
        assert cursor.fetchall() == [("",)]
    forget_everything()
    assert Message.objects.get(id=message.id).subject == "Not in any dump"

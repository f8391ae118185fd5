"""The canary: with encryption at rest on, no trace of a message's content in the data or database.

A message whose subject, sender name, text and HTML bodies and attachment carry
unique strings comes in through a real SMTP socket; the recipient reads it in
the portal (read receipt, notification) and replies with an attachment while
the relay is down, so the reply waits in the database queue. Then every file
under the data directory and a full dump of the database are searched for each
string in every form mail and databases write text in.
"""

from __future__ import annotations

import base64
import os
import quopri
import re
import smtplib
import sqlite3
import subprocess
import uuid
from dataclasses import dataclass
from email.message import EmailMessage
from email.policy import SMTP
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.contrib.sessions.models import Session
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection

from sealbox.accounts.models import User
from sealbox.mailstore.models import Message
from sealbox.outbound import notify, queue
from sealbox.outbound.models import OutgoingEmail
from tests.conftest import CAROL, LiveSMTP, free_port
from tests.portal.pages import content, listed_attachments, message_url, page
from tests.portal.writing import errors, form_fields, reply_url, send_form

PLACES = (
    "subject",
    "sender name",
    "text body",
    "HTML body",
    "attachment name",
    "attachment content",
    "reply subject",
    "reply text",
    "reply attachment name",
    "message id",
)
# What a database keeps in its own columns when nothing is encrypted.
IN_COLUMNS = {"subject", "sender name", "reply subject", "message id"}
# What the queued reply carries (a bytea/BLOB column) when nothing is encrypted.
IN_QUEUED_REPLY = {"reply text", "reply attachment name"}


def make_canary() -> str:
    # Non-ASCII, so that quoted-printable, encoded words and percent-encoding differ from UTF-8.
    return f"Kanarienvogel-é-{uuid.uuid4().hex}"


def base64_inner(data: bytes) -> list[bytes]:
    """The base64 characters that encode data wherever it starts in a longer stream.

    Base64 works on 3-byte groups, so the encoding of data depends on its offset
    modulo 3; only characters that depend on data alone are kept.
    """
    forms = []
    for offset in range(3):
        encoded = base64.b64encode(b"\0" * offset + data)
        start = -(-8 * offset // 6)
        end = 8 * (offset + len(data)) // 6
        forms.append(encoded[start:end])
    return forms


def needles(canary: str) -> dict[str, list[bytes]]:
    """canary in each form a message, a web page or a database dump may hold it.

    The random part is also searched in halves: a folded header or a wrapped
    base64 line can split it once, which leaves one half whole.
    """
    utf8 = canary.encode("utf-8")
    token = canary.rsplit("-", 1)[1].encode()
    halves = [token[:16], token[16:]]
    qp = quopri.encodestring(utf8, header=False).strip()
    q_word = quopri.encodestring(utf8, header=True).strip()
    return {
        "UTF-8": [utf8],
        "random part": halves,
        "quoted-printable": [qp],
        "RFC 2047 Q": [b"=?utf-8?q?" + q_word + b"?="],
        "RFC 2047 B": [b"=?utf-8?b?" + base64.b64encode(utf8) + b"?="],
        "RFC 2231": [b"utf-8''" + re.sub(rb"[^A-Za-z0-9._-]", _percent, utf8)],
        "base64": [form for part in [utf8, *halves] for form in base64_inner(part)],
        "hex": [part.hex().encode() for part in [utf8, *halves]],
    }


def _percent(match: re.Match[bytes]) -> bytes:
    return b"%" + match.group().hex().upper().encode()


def unwrapped(data: bytes) -> bytes:
    """data without soft line breaks and line breaks: wrapped base64 and QP join up."""
    for sep in (b"=\r\n", b"=\n", b"\r\n", b"\n", b"\r"):
        data = data.replace(sep, b"")
    return data


@dataclass(frozen=True)
class Trace:
    place: str
    form: str
    where: str


def search(haystacks: dict[str, bytes], canaries: dict[str, str]) -> set[Trace]:
    found = set()
    for where, raw in haystacks.items():
        variants = [raw, unwrapped(raw)]
        folded = [v.lower() for v in variants]
        for place, canary in canaries.items():
            for form, forms in needles(canary).items():
                exact = form == "base64" or form == "RFC 2047 B"
                pool = variants if exact else folded
                if any((n if exact else n.lower()) in v for n in forms for v in pool):
                    found.add(Trace(place, form, where))
    return found


def data_files() -> dict[str, bytes]:
    root = Path(settings.DATA_DIR)
    files = [path for path in root.rglob("*") if not path.is_dir()]
    assert files, f"nothing stored under {root}"
    return {str(path.relative_to(root)): path.read_bytes() for path in files}


def hex_values(dump: bytes) -> bytes:
    """The bytes of every hex-written binary value in a dump (bytea \\x..., SQLite X'...')."""
    values = re.findall(rb"\\\\?x([0-9a-fA-F]{2,})|X'([0-9a-fA-F]{2,})'", dump)
    runs = [(a or b).decode() for a, b in values]
    return b"\n".join(bytes.fromhex(run[: len(run) // 2 * 2]) for run in runs)


def database_dump() -> dict[str, bytes]:
    """The whole test database: a dump, the binary values in it decoded, and (SQLite) its files."""
    db = connection.settings_dict
    found: dict[str, bytes] = {}
    if db["ENGINE"].endswith("sqlite3"):
        path = Path(db["NAME"])
        assert path.is_file(), f"the test database is not a file: {db['NAME']}"
        dump_connection = sqlite3.connect(path)
        try:
            dump = "\n".join(dump_connection.iterdump()).encode("utf-8")
        finally:
            dump_connection.close()
        for suffix in ("", "-wal", "-shm", "-journal"):
            file = Path(f"{path}{suffix}")
            if file.exists():
                found[f"database file {file.name}"] = file.read_bytes()
    else:
        env = {**os.environ, "PGPASSWORD": db.get("PASSWORD") or ""}
        dump = subprocess.run(
            [
                "pg_dump", "--no-owner", "-h", db.get("HOST") or "127.0.0.1",
                "-p", str(db.get("PORT") or 5432), "-U", db.get("USER") or "postgres", db["NAME"],
            ],
            check=True, capture_output=True, env=env,
        ).stdout  # fmt: skip
        assert b"CREATE TABLE public.mailstore_message" in dump
    found["database dump"] = dump
    found["database dump, binary values"] = hex_values(dump)
    # Session data is signed JSON, compressed when that is shorter.
    found["sessions, decoded"] = "\n".join(
        repr(s.get_decoded()) for s in Session.objects.all()
    ).encode("utf-8")
    return found


def canary_mail(canaries: dict[str, str]) -> bytes:
    msg = EmailMessage(policy=SMTP)
    msg["From"] = f"{canaries['sender name']} <{CAROL}>"
    msg["To"] = "alice@example.net"
    msg["Subject"] = canaries["subject"]
    msg["Message-ID"] = f"<{canaries['message id']}@corp.example>"
    msg["Disposition-Notification-To"] = CAROL
    msg.set_content(f"Hello,\n\n{canaries['text body']}\n", cte="quoted-printable")
    msg.add_alternative(
        f"<p>Hello,</p><p>{canaries['HTML body']}</p>", subtype="html", cte="base64"
    )
    msg.add_attachment(
        f"Inhalt: {canaries['attachment content']}\n".encode(),
        maintype="application",
        subtype="octet-stream",
        filename=f"{canaries['attachment name']}.bin",
    )
    return msg.as_bytes()


def read_and_reply(reader: Any, message: Message, canaries: dict[str, str]) -> None:
    assert canaries["subject"] in page(reader.get("/inbox/")).one("main").text
    doc = page(reader.get(message_url(message)))
    assert doc.one("h1").text == canaries["subject"]
    assert (
        canaries["HTML body"] in reader.get(message_url(message, "message-body")).content.decode()
    )
    [listed] = listed_attachments(doc)
    assert listed.name == f"{canaries['attachment name']}.bin"
    assert canaries["attachment content"].encode() in content(reader.get(listed.url))
    reader.get(message_url(message, "message-eml"))

    fields = form_fields(reader.get(reply_url(message)))
    upload = SimpleUploadedFile(
        f"{canaries['reply attachment name']}.txt", b"see above\n", content_type="text/plain"
    )
    response = send_form(
        reader,
        reply_url(message),
        to=fields["to"],
        subject=canaries["reply subject"],
        body=f"{canaries['reply text']}\n\n{fields['body']}",
        attachments=[upload],
    )
    assert response.status_code == 302, errors(response)
    page(reader.get(response["Location"]))


@pytest.mark.parametrize("encrypted", [True, False], ids=["encrypted", "plain"])
def test_no_trace_of_a_messages_content_in_the_data_directory_or_the_database(
    encrypted: bool,
    request: pytest.FixtureRequest,
    settings: Any,
    live_smtp: LiveSMTP,
    alice: User,
    reader: Any,
) -> None:
    if encrypted:
        request.getfixturevalue("encryption")
    settings.READ_RECEIPTS = "always"
    settings.NOTIFY_INTERVAL = 0
    settings.RELAY_URL = f"smtp://127.0.0.1:{free_port()}"  # down: everything stays queued
    settings.RELAY_TIMEOUT = 2
    canaries = {place: make_canary() for place in PLACES}
    # A Message-ID is ASCII: its canary has no "é".
    canaries["message id"] = canaries["message id"].replace("-é-", "-")

    with smtplib.SMTP(live_smtp.host, live_smtp.port, timeout=10) as client:
        client.sendmail(CAROL, [alice.email], canary_mail(canaries))
    message = Message.objects.get(owner=alice)
    assert notify.send_due() == 1
    read_and_reply(reader, message, canaries)
    queue.process_due()  # the relay is down: each try fails and the email waits
    waiting = OutgoingEmail.objects.filter(status=OutgoingEmail.Status.QUEUED)
    assert sorted(waiting.values_list("kind", flat=True)) == ["notification", "receipt", "reply"]
    assert Message.objects.filter(owner=alice, folder=Message.Folder.SENT).count() == 1

    dump = database_dump()
    # The dump holds this test's rows: what it did was committed, and it is the right database.
    assert message.id.hex.encode() in dump["database dump"].replace(b"-", b"")
    in_files = search(data_files(), canaries)
    in_database = search(dump, canaries)

    if encrypted:
        assert sorted(in_files | in_database, key=str) == []
    else:
        # The search would find every one of them.
        assert {t.place for t in in_files} == set(PLACES)
        assert {t.place for t in in_database} >= IN_COLUMNS | IN_QUEUED_REPLY

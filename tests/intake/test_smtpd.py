from __future__ import annotations

import errno
import ipaddress
import smtplib
import socket
import ssl
import subprocess
import threading
from pathlib import Path
from typing import Any

import pytest
from django.db import DatabaseError

from sealbox.accounts.models import User
from sealbox.mailstore import blobs, quota
from sealbox.mailstore.models import Message
from sealbox.outbound import notify
from tests.conftest import CAROL, LiveSMTP
from tests.intake.stored import client_bytes, files_under, messages_for, split_trace
from tests.mail import make_message

pytestmark = pytest.mark.django_db(transaction=True)

DAVE = "dave@example.com"
ERIN = "erin@example.org"


def connect(live_smtp: LiveSMTP) -> smtplib.SMTP:
    client = smtplib.SMTP(live_smtp.host, live_smtp.port, timeout=10)
    client.ehlo("gateway.corp.example")
    return client


def send(
    live_smtp: LiveSMTP, rcpts: list[str], data: bytes, mail_options: tuple[str, ...] = ()
) -> tuple[int, bytes]:
    """MAIL, RCPT and DATA by hand, so that the server's final answer is seen as it is."""
    with connect(live_smtp) as client:
        assert client.mail(CAROL, list(mail_options))[0] == 250
        for rcpt in rcpts:
            assert client.rcpt(rcpt)[0] == 250
        return client.data(data)


def assert_stored_nothing() -> None:
    assert list(Message.objects.values_list("blob", flat=True)) == []
    assert files_under(blobs.MESSAGES) == []
    assert files_under(blobs.TMP) == []


def test_it_stores_the_message_byte_exactly_under_a_trace_header(live_smtp: LiveSMTP) -> None:
    data = make_message(to=DAVE)
    code, reply = send(live_smtp, [DAVE], data)

    assert code == 250
    assert reply.startswith(b"2.0.0 Stored for 1 recipient(s)")
    [message] = messages_for(DAVE)
    trace, rest = split_trace(blobs.read(message.blob))
    assert rest == data
    assert trace.startswith(
        f"Return-Path: <{CAROL}>\r\nReceived: from gateway.corp.example".encode()
    )
    assert b"([127.0.0.1])" in trace
    assert f"with ESMTP id {message.id.hex}\r\n\tfor <{DAVE}>;".encode() in trace


def test_it_indexes_subject_sender_size_and_attachments(live_smtp: LiveSMTP) -> None:
    data = make_message(
        subject="Contract draft",
        to=DAVE,
        attachments=[("draft.pdf", "application/pdf", b"%PDF-1.4 not really")],
    )
    send(live_smtp, [DAVE], data)

    [message] = messages_for(DAVE)
    assert message.subject == "Contract draft"
    assert message.from_name == "Carol Sender"
    assert message.from_address == CAROL
    assert message.envelope_from == CAROL
    assert message.attachment_count == 1
    assert message.size == len(blobs.read(message.blob))


def test_ehlo_advertises_size_8bitmime_and_smtputf8(live_smtp: LiveSMTP) -> None:
    with connect(live_smtp) as client:
        assert client.esmtp_features["size"] == "52428800"
        assert client.has_extn("8bitmime")
        assert client.has_extn("smtputf8")


def test_it_refuses_a_message_announced_too_big(live_smtp: LiveSMTP, settings: Any) -> None:
    settings.SMTP_MAX_MESSAGE_SIZE = 2000
    with connect(live_smtp) as client:
        code, reply = client.mail(CAROL, ["SIZE=2001"])

    assert code == 552
    assert reply.startswith(b"5.3.4 ")
    assert_stored_nothing()


def test_it_refuses_a_message_that_turns_out_too_big(live_smtp: LiveSMTP, settings: Any) -> None:
    settings.SMTP_MAX_MESSAGE_SIZE = 2000
    data = make_message(to=DAVE, body="too long a line of text\n" * 200)
    code, reply = send(live_smtp, [DAVE], data)

    assert code == 552
    assert reply.startswith(b"5.3.4 ")
    assert_stored_nothing()
    assert not User.objects.filter(email=DAVE).exists()


def test_it_refuses_a_client_outside_the_allowed_networks_at_connect(
    live_smtp: LiveSMTP, settings: Any, caplog: pytest.LogCaptureFixture
) -> None:
    settings.SMTP_ALLOWED_NETWORKS = [ipaddress.ip_network("10.0.0.0/8")]
    with socket.create_connection((live_smtp.host, live_smtp.port), timeout=10) as sock:
        greeting = sock.makefile("rb").read()  # all it says before it closes

    assert greeting.startswith(b"554 5.7.1 ")
    assert b"not allowed" in greeting
    assert greeting.count(b"\r\n") == 1
    assert "not in SEALBOX_SMTP_ALLOWED_NETWORKS" in caplog.text
    assert_stored_nothing()


@pytest.mark.parametrize("internal", ["x@corp.example", "x@Mail.Corp.Example"])
def test_it_rejects_internal_recipient_and_keeps_the_others(
    live_smtp: LiveSMTP, internal: str
) -> None:
    data = make_message(to=f"{DAVE}, {internal}")
    with connect(live_smtp) as client:
        refused = client.sendmail(CAROL, [DAVE, internal], data)

    code, text = refused[internal]
    assert code == 550
    assert b"5.1.1" in text
    assert b"organisation's own domain" in text
    assert [client_bytes(m) for m in messages_for(DAVE)] == [data]
    assert list(User.objects.values_list("email", flat=True)) == [DAVE]


def test_it_rejects_recipients_of_an_internal_domain_given_in_punycode(
    live_smtp: LiveSMTP, settings: Any
) -> None:
    settings.INTERNAL_DOMAINS = ["corp.example", "xn--mnchen-3ya.de"]
    with connect(live_smtp) as client:
        client.mail(CAROL, ["SMTPUTF8"])
        code, text = client.rcpt("rathaus@münchen.de")

    assert code == 550
    assert b"organisation's own domain" in text


def test_each_recipient_gets_a_copy_and_a_new_account(live_smtp: LiveSMTP) -> None:
    data = make_message(to=f"{DAVE}, {ERIN}")
    send(live_smtp, [DAVE, ERIN], data)

    dave_copy, erin_copy = messages_for(DAVE) + messages_for(ERIN)
    assert dave_copy.blob != erin_copy.blob
    assert client_bytes(dave_copy) == client_bytes(erin_copy) == data
    assert f"for <{ERIN}>".encode() in split_trace(blobs.read(erin_copy.blob))[0]
    for email in (DAVE, ERIN):
        account = User.objects.get(email=email)
        assert account.activated_at is None
        assert not account.has_usable_password()


def test_an_address_given_twice_in_different_case_gets_one_copy(live_smtp: LiveSMTP) -> None:
    code, reply = send(live_smtp, [DAVE, "Dave@EXAMPLE.com"], make_message(to=DAVE))

    assert code == 250
    assert b"Stored for 1 recipient(s)" in reply
    assert len(messages_for(DAVE)) == 1


def test_it_keeps_mail_for_an_existing_account_in_that_account(
    live_smtp: LiveSMTP, alice: User
) -> None:
    send(live_smtp, ["Alice@Example.NET"], make_message())

    assert [m.owner for m in Message.objects.all()] == [alice]
    alice.refresh_from_db()
    assert alice.has_usable_password()


def test_it_delivers_to_an_smtputf8_recipient(live_smtp: LiveSMTP) -> None:
    data = "To: José <josé@exämple.de>\r\nSubject: Grüße\r\n\r\nHallo\r\n".encode()
    code, _ = send(live_smtp, ["josé@exämple.de"], data, mail_options=("SMTPUTF8",))

    assert code == 250
    [message] = messages_for("josé@exämple.de")
    trace, rest = split_trace(blobs.read(message.blob))
    assert rest == data
    assert "for <josé@exämple.de>".encode() in trace
    assert b"with UTF8SMTP id" in trace
    assert message.subject == "Grüße"


@pytest.mark.parametrize("spelling", ["josé@xn--exmple-cua.de", "JOSÉ@XN--EXMPLE-CUA.DE"])
def test_a_punycode_domain_reaches_the_same_mailbox(live_smtp: LiveSMTP, spelling: str) -> None:
    data = make_message(to="josé@exämple.de")
    send(live_smtp, ["josé@exämple.de"], data, mail_options=("SMTPUTF8",))
    send(live_smtp, [spelling], data, mail_options=("SMTPUTF8",))

    assert len(messages_for("josé@exämple.de")) == 2
    assert list(User.objects.values_list("email", flat=True)) == ["josé@exämple.de"]


def test_both_spellings_of_a_domain_in_one_transaction_get_one_copy(live_smtp: LiveSMTP) -> None:
    rcpts = ["josé@exämple.de", "JOSÉ@XN--EXMPLE-CUA.DE"]
    code, reply = send(live_smtp, rcpts, make_message(), mail_options=("SMTPUTF8",))

    assert code == 250
    assert b"Stored for 1 recipient(s)" in reply
    assert len(messages_for("josé@exämple.de")) == 1


def test_concurrent_deliveries_to_the_same_recipients_all_succeed(live_smtp: LiveSMTP) -> None:
    rcpts = [DAVE, ERIN, "frank@example.net"]
    answers: list[int] = []

    def client(n: int) -> None:
        for i in range(4):
            order = rcpts[n % 3 :] + rcpts[: n % 3]
            answers.append(send(live_smtp, order[::-1] if i % 2 else order, make_message())[0])

    threads = [threading.Thread(target=client, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)

    assert answers == [250] * 24
    for email in rcpts:
        assert len(messages_for(email)) == 24


MALFORMED = {
    "bad headers": (
        b"From carol Mon Jan  1 00:00:00 2026\r\nSubject\r\n: no name\r\n"
        b"X-Bad header: yes\r\n\tcontinued\r\nno colon at all\r\n\r\nbody\r\n"
    ),
    "unknown charset": (
        b"Subject: =?x-unknown?Q?caf=E9?=\r\n"
        b'Content-Type: text/plain; charset="x-unknown"\r\n\r\ncaf\xe9\r\n'
    ),
    "lying charset": (
        b"Subject: =?us-ascii?Q?Gr=C3=BC=C3=9Fe?=\r\n"
        b"Content-Type: text/plain; charset=us-ascii\r\n\r\nGr\xc3\xbc\xc3\x9fe \x80\xff\r\n"
    ),
    "broken boundary": (
        b"Subject: parts\r\nMIME-Version: 1.0\r\n"
        b'Content-Type: multipart/mixed; boundary="abc"\r\n\r\n'
        b"--xyz\r\nContent-Type: text/plain\r\n\r\nnever closed\r\n--ab\r\n"
    ),
    "raw 8-bit headers": (
        b"From: J\xc3\xbcrgen M\xc3\xbcller <jm@example.de>\r\n"
        b"Subject: Gr\xfc\xdfe aus K\xf6ln\r\n\r\nbody\r\n"
    ),
    "no headers": b"just a body line\r\nand another one\r\n",
    "long lines": (
        b"Subject: " + b"long " * 400 + b"\r\n\r\n" + b"x" * 5000 + b"\r\n" + b"y" * 70000 + b"\r\n"
    ),
    "dot lines": b"Subject: dots\r\n\r\n.\r\n..\r\n.leading dot\r\nend\r\n",
    "bare newlines": b"Subject: unix\nX-Other: yes\n\nline one\nline two\r\n",
}


@pytest.mark.parametrize("kind", MALFORMED)
def test_it_accepts_malformed_mail_and_stores_it_exactly(live_smtp: LiveSMTP, kind: str) -> None:
    data = MALFORMED[kind]
    code, _ = send(live_smtp, [DAVE], data)

    assert code == 250
    [message] = messages_for(DAVE)
    assert client_bytes(message) == data
    assert message.size == len(blobs.read(message.blob))


@pytest.fixture
def tls_cert(tmp_path: Path, settings: Any) -> Path:
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [
            *("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2"),
            *("-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"),
            *("-keyout", str(key), "-out", str(cert)),
        ],
        check=True,
        capture_output=True,
    )
    settings.SMTP_TLS_CERT, settings.SMTP_TLS_KEY = cert, key
    return cert


@pytest.fixture
def tls_smtp(tls_cert: Path, live_smtp: LiveSMTP) -> LiveSMTP:
    """The intake started after its certificate was configured."""
    return live_smtp


def test_it_offers_starttls_and_stores_mail_sent_over_it(
    tls_smtp: LiveSMTP, tls_cert: Path
) -> None:
    data = make_message(to=DAVE)
    with connect(tls_smtp) as client:
        assert client.has_extn("starttls")
        code, _ = client.starttls(context=ssl.create_default_context(cafile=str(tls_cert)))
        assert code == 220
        client.ehlo("gateway.corp.example")
        assert not client.has_extn("starttls")
        client.sendmail(CAROL, [DAVE], data)

    [message] = messages_for(DAVE)
    trace, rest = split_trace(blobs.read(message.blob))
    assert rest == data
    assert b"with ESMTPS id" in trace


def test_it_does_not_offer_starttls_without_a_certificate(live_smtp: LiveSMTP) -> None:
    with connect(live_smtp) as client:
        assert not client.has_extn("starttls")
        assert client.docmd("STARTTLS") == (454, b"TLS not available")


def test_a_full_disk_answers_452_4_3_1_and_keeps_nothing(
    live_smtp: LiveSMTP, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_write = blobs.write
    written: list[str] = []

    def disk_fills_up(message_id: Any, chunks: Any) -> str:
        if written:
            raise OSError(errno.ENOSPC, "No space left on device")
        written.append(real_write(message_id, chunks))
        return written[-1]

    monkeypatch.setattr(blobs, "write", disk_fills_up)
    code, reply = send(live_smtp, [DAVE, ERIN], make_message(to=f"{DAVE}, {ERIN}"))

    # Insufficient system storage (RFC 3463): temporary, the gateway keeps it.
    assert (code, reply[:6]) == (452, b"4.3.1 ")
    assert written, "the first copy was written before the disk filled up"
    assert_stored_nothing()
    assert not User.objects.exists()


def test_a_database_failure_answers_451_and_keeps_nothing(
    live_smtp: LiveSMTP, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_arrived = notify.message_arrived
    seen: list[Message] = []

    def database_fails(user: User, message: Message) -> None:
        if seen:
            raise DatabaseError("could not extend file: No space left on device")
        seen.append(message)
        real_arrived(user, message)

    monkeypatch.setattr(notify, "message_arrived", database_fails)
    code, reply = send(live_smtp, [DAVE, ERIN], make_message(to=f"{DAVE}, {ERIN}"))

    assert (code, reply[:6]) == (451, b"4.3.0 ")
    assert seen, "the first row was made before the database failed"
    assert_stored_nothing()
    assert not User.objects.exists()


def test_a_failed_insert_answers_451_and_removes_the_files(
    live_smtp: LiveSMTP, monkeypatch: pytest.MonkeyPatch
) -> None:
    def insert_fails(**fields: Any) -> Message:
        raise DatabaseError("server closed the connection unexpectedly")

    monkeypatch.setattr(Message.objects, "create", insert_fails)
    code, reply = send(live_smtp, [DAVE], make_message(to=DAVE))

    assert (code, reply[:6]) == (451, b"4.3.0 ")
    assert_stored_nothing()


def test_a_database_failure_at_rcpt_answers_451_without_its_details(
    live_smtp: LiveSMTP, monkeypatch: pytest.MonkeyPatch
) -> None:
    def lookup_fails(email: str, size: int) -> bool:
        raise DatabaseError("server closed the connection unexpectedly at db.internal")

    monkeypatch.setattr(quota, "has_room", lookup_fails)
    with connect(live_smtp) as client:
        assert client.mail(CAROL)[0] == 250
        code, reply = client.rcpt(DAVE)
    # The gateway keeps the mail and tries again; nothing of the database goes out.
    assert (code, reply[:6]) == (451, b"4.3.0 ")
    assert b"db.internal" not in reply and b"Error" not in reply
    monkeypatch.undo()

    assert send(live_smtp, [DAVE], make_message(to=DAVE))[0] == 250


def test_it_takes_the_message_again_after_a_temporary_failure(
    live_smtp: LiveSMTP, monkeypatch: pytest.MonkeyPatch
) -> None:
    def disk_full(message_id: Any, chunks: Any) -> str:
        raise OSError(errno.ENOSPC, "No space left on device")

    data = make_message(to=DAVE)
    monkeypatch.setattr(blobs, "write", disk_full)
    assert send(live_smtp, [DAVE], data)[0] == 452
    monkeypatch.undo()

    assert send(live_smtp, [DAVE], data)[0] == 250
    assert [client_bytes(m) for m in messages_for(DAVE)] == [data]


def test_it_refuses_a_recipient_that_is_not_utf8_for_good(live_smtp: LiveSMTP) -> None:
    with connect(live_smtp) as client:
        assert client.mail(CAROL, ["SMTPUTF8"])[0] == 250
        client.send(b"RCPT TO:<d\xffve@example.com>\r\n")
        code, reply = client.getreply()
        assert client.rcpt(DAVE)[0] == 250

    assert code == 553
    assert reply.startswith(b"5.1.3 ")
    assert not User.objects.exists()


def test_it_refuses_a_sender_that_is_not_utf8_for_good(live_smtp: LiveSMTP) -> None:
    with connect(live_smtp) as client:
        client.send(b"MAIL FROM:<c\xffrol@corp.example> SMTPUTF8\r\n")
        code, reply = client.getreply()

    assert code == 553
    assert reply.startswith(b"5.1.7 ")

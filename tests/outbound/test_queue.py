"""The durable outgoing queue, sending to a real SMTP relay on loopback."""

from __future__ import annotations

import asyncio
import logging
import re
import socket
import subprocess
import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import SMTP
from io import StringIO
from typing import Any

import pytest
import time_machine
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connections, transaction
from django.utils import timezone

from sealbox.outbound import queue
from sealbox.outbound.models import OutgoingEmail
from sealbox.outbound.relay import parse_relay_url
from tests.conftest import SinkHandler, free_port

pytestmark = pytest.mark.django_db

START = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


def make_email(subject: str = "Your secure mailbox", bcc: str | None = None) -> EmailMessage:
    msg = EmailMessage(policy=SMTP)
    msg["From"] = "Sealbox <secure@corp.example>"
    msg["To"] = "Alice <alice@example.net>"
    if bcc:
        msg["Bcc"] = bcc
    msg["Subject"] = subject
    msg["Message-ID"] = "<queue-test@portal.test>"
    msg.set_content("A secure message is waiting for you.\n")
    return msg


def queue_one(**kwargs: Any) -> OutgoingEmail:
    with transaction.atomic():
        return queue.enqueue(make_email(**kwargs), kind="notification")


def closed_port_url() -> str:
    return f"smtp://127.0.0.1:{free_port()}"


def outbox(*args: str) -> str:
    out = StringIO()
    call_command("outbox", *args, stdout=out)
    return out.getvalue()


def unmarked(sent: bytes) -> bytes:
    """What was sent, without the Sealbox-Loop mark the relay puts on top of everything."""
    mark, rest = sent.split(b"\r\n", 1)
    assert re.fullmatch(rb"Sealbox-Loop: v1 [0-9a-f]{32}", mark), mark
    return rest


def test_it_hands_a_queued_email_to_the_relay_and_forgets_its_body(relay_sink: Any) -> None:
    item = queue_one(bcc="bob@example.org")
    queued_bytes = bytes(item.data)

    assert queue.process_due() == 1

    [got] = relay_sink.received
    assert got.mail_from == "secure@corp.example"
    assert got.rcpt_tos == ["alice@example.net", "bob@example.org"]
    assert unmarked(got.data) == queued_bytes
    assert b"Subject: Your secure mailbox\r\n" in got.data
    assert b"A secure message is waiting for you." in got.data
    assert b"Bcc:" not in got.data
    item.refresh_from_db()
    assert item.status == OutgoingEmail.Status.SENT
    assert item.attempts == 1
    assert bytes(item.data) == b""
    assert item.sent_at is not None
    assert outbox("list") == "The outgoing queue is empty.\n"


def test_it_sends_nothing_twice(relay_sink: Any) -> None:
    queue_one()

    assert queue.process_due() == 1
    assert queue.process_due() == 0

    assert len(relay_sink.received) == 1


def test_it_keeps_the_email_queued_when_the_relay_is_down(settings: Any) -> None:
    settings.RELAY_URL = closed_port_url()
    with time_machine.travel(START, tick=False):
        item = queue_one()
        queue.process_due()

    item.refresh_from_db()
    assert item.status == OutgoingEmail.Status.QUEUED
    assert item.attempts == 1
    assert item.next_attempt_at == START + timedelta(minutes=1)
    assert "Connection refused" in item.last_error
    assert settings.RELAY_URL.removeprefix("smtp://") in item.last_error
    assert bytes(item.data) != b""
    listing = outbox("list", "--state", "retrying")
    assert f"{item.id}" in listing
    assert "retrying" in listing
    assert "attempts 1" in listing
    assert "Connection refused" in listing


def test_it_waits_longer_after_each_failure_up_to_an_hour(settings: Any) -> None:
    settings.RELAY_URL = closed_port_url()
    with time_machine.travel(START, tick=False):
        item = queue_one()
    waits = []
    for _ in range(9):
        with time_machine.travel(item.next_attempt_at, tick=False):
            assert queue.process_due() == 1
            item.refresh_from_db()
            waits.append(item.next_attempt_at - timezone.now())

    minutes = [int(w.total_seconds() // 60) for w in waits]
    assert minutes == [1, 2, 4, 8, 16, 32, 60, 60, 60]
    assert item.status == OutgoingEmail.Status.QUEUED
    assert item.attempts == 9


def test_it_does_not_try_again_before_the_next_attempt_is_due(settings: Any) -> None:
    settings.RELAY_URL = closed_port_url()
    with time_machine.travel(START, tick=False):
        item = queue_one()
        queue.process_due()
    with time_machine.travel(START + timedelta(seconds=59), tick=False):
        assert queue.process_due() == 0

    item.refresh_from_db()
    assert item.attempts == 1


def test_it_delivers_once_the_relay_is_back(relay_sink: Any, settings: Any) -> None:
    up = settings.RELAY_URL
    settings.RELAY_URL = closed_port_url()
    with time_machine.travel(START, tick=False):
        items = [queue_one(subject=f"Notification {n}") for n in range(3)]
        queue.process_due()
    assert relay_sink.received == []

    settings.RELAY_URL = up
    with time_machine.travel(START + timedelta(minutes=1), tick=False):
        assert queue.process_due() == 3

    subjects = sorted(
        line for r in relay_sink.received for line in r.data.split(b"\r\n") if b"Subject:" in line
    )
    assert subjects == [
        b"Subject: Notification 0",
        b"Subject: Notification 1",
        b"Subject: Notification 2",
    ]
    for item in items:
        item.refresh_from_db()
        assert item.status == OutgoingEmail.Status.SENT
        assert item.attempts == 2
        assert item.last_error == ""


def test_it_retries_when_the_relay_answers_a_temporary_error(relay_sink: Any) -> None:
    relay_sink.handler.reply = "451 4.3.0 busy"
    with time_machine.travel(START, tick=False):
        item = queue_one()
        queue.process_due()
    item.refresh_from_db()
    assert item.status == OutgoingEmail.Status.QUEUED
    assert "451 4.3.0 busy" in item.last_error

    relay_sink.handler.reply = None
    with time_machine.travel(START + timedelta(minutes=1), tick=False):
        queue.process_due()

    assert len(relay_sink.received) == 1
    item.refresh_from_db()
    assert item.status == OutgoingEmail.Status.SENT


def test_it_marks_the_email_failed_when_the_relay_refuses_it(
    relay_sink: Any, caplog: pytest.LogCaptureFixture
) -> None:
    relay_sink.handler.reply = "550 5.7.1 relaying denied"
    item = queue_one()
    with caplog.at_level(logging.ERROR, logger="sealbox.outbound.queue"):
        queue.process_due()

    item.refresh_from_db()
    assert item.status == OutgoingEmail.Status.FAILED
    assert item.attempts == 1
    assert "550 5.7.1 relaying denied" in item.last_error
    assert f"{item.id}" in caplog.text
    assert "alice@example.net" in caplog.text
    assert "relay refused it" in caplog.text
    for listing in (outbox("list"), outbox("list", "--state", "failed")):
        assert f"{item.id}" in listing
        assert "failed" in listing
        assert "to alice@example.net" in listing
        assert "550 5.7.1 relaying denied" in listing
    assert outbox("list", "--state", "retrying") == "No retrying emails.\n"
    relay_sink.handler.reply = None
    with time_machine.travel(timezone.now() + timedelta(days=1)):
        assert queue.process_due() == 0
    assert relay_sink.received == []


def test_it_gives_up_after_the_retry_period(
    settings: Any, caplog: pytest.LogCaptureFixture
) -> None:
    settings.RELAY_URL = closed_port_url()
    settings.OUTGOING_RETRY_FOR = 600
    with time_machine.travel(START, tick=False):
        item = queue_one()
    with caplog.at_level(logging.ERROR, logger="sealbox.outbound.queue"):
        for _ in range(10):
            with time_machine.travel(item.next_attempt_at, tick=False):
                queue.process_due()
            item.refresh_from_db()
            if item.status != OutgoingEmail.Status.QUEUED:
                break

    assert item.status == OutgoingEmail.Status.FAILED
    # Attempts at 0, 1, 3 and 7 minutes, and a last one when the 10 minutes are up.
    assert item.attempts == 5
    assert item.next_attempt_at == START + timedelta(minutes=10)
    assert "Connection refused" in item.last_error
    assert "gave up retrying" in caplog.text
    assert f"{item.id}" in outbox("list", "--state", "failed")


def test_an_email_without_a_message_id_goes_out_with_one_under_its_mark(relay_sink: Any) -> None:
    """The mark binds the Message-ID, so the relay must not be left to add one."""
    email = make_email()
    del email["Message-ID"]
    with transaction.atomic():
        queue.enqueue(email, kind="notification")

    queue.process_due()

    [got] = relay_sink.received
    added, rest = unmarked(got.data).split(b"\r\n", 1)
    assert re.fullmatch(rb"Message-ID: <[^@>]+@[^@>]+>", added), added
    assert rest.startswith(b"From: Sealbox <secure@corp.example>\r\n")


def test_it_writes_the_email_to_the_outbox_folder_without_a_relay(settings: Any) -> None:
    item = queue_one()
    queued_bytes = bytes(item.data)

    queue.process_due()

    files = list(settings.OUTBOX_DIR.iterdir())
    assert [f.suffix for f in files] == [".eml"]
    assert unmarked(files[0].read_bytes()) == queued_bytes
    item.refresh_from_db()
    assert item.status == OutgoingEmail.Status.SENT


def test_it_keeps_the_email_queued_when_the_outbox_folder_cannot_be_written(
    settings: Any,
) -> None:
    blocker = settings.DATA_DIR / "not-a-folder"
    blocker.write_text("")
    settings.OUTBOX_DIR = blocker / "outbox"
    item = queue_one()

    assert queue.process_due() == 1

    item.refresh_from_db()
    assert item.status == OutgoingEmail.Status.QUEUED
    assert item.attempts == 1
    assert f"cannot write to {settings.OUTBOX_DIR}" in item.last_error
    settings.OUTBOX_DIR = settings.DATA_DIR / "outbox"
    with time_machine.travel(item.next_attempt_at):
        queue.process_due()
    assert len(list(settings.OUTBOX_DIR.glob("*.eml"))) == 1


def test_outbox_retry_sends_a_failed_email_again(relay_sink: Any) -> None:
    relay_sink.handler.reply = "554 5.7.1 policy"
    item = queue_one()
    queue.process_due()
    item.refresh_from_db()
    assert item.status == OutgoingEmail.Status.FAILED

    relay_sink.handler.reply = None
    assert outbox("retry", str(item.id)) == f"{item.id} queued again\n"
    assert queue.process_due() == 1

    assert len(relay_sink.received) == 1
    item.refresh_from_db()
    assert item.status == OutgoingEmail.Status.SENT
    assert outbox("list", "--state", "failed") == "No failed emails.\n"


def test_outbox_retry_says_when_there_is_no_such_email(db: Any) -> None:
    with pytest.raises(CommandError, match="no outgoing email not-an-id"):
        outbox("retry", "not-an-id")


def test_outbox_retry_leaves_a_sent_email_alone(relay_sink: Any) -> None:
    item = queue_one()
    queue.process_due()

    with pytest.raises(CommandError, match="already sent"):
        outbox("retry", str(item.id))

    assert queue.process_due() == 0
    assert len(relay_sink.received) == 1


@pytest.mark.parametrize(
    ("url", "scheme", "host", "port"),
    [
        ("smtp://relay.corp.example", "smtp", "relay.corp.example", 25),
        ("smtp://relay.corp.example:2525", "smtp", "relay.corp.example", 2525),
        ("smtp+starttls://relay.corp.example", "smtp+starttls", "relay.corp.example", 587),
        ("smtps://relay.corp.example", "smtps", "relay.corp.example", 465),
        ("smtps://relay.corp.example:10465", "smtps", "relay.corp.example", 10465),
    ],
)
def test_it_reads_the_relay_url(url: str, scheme: str, host: str, port: int) -> None:
    relay = parse_relay_url(url)

    assert (relay.scheme, relay.host, relay.port) == (scheme, host, port)
    assert relay.username is None
    assert str(relay) == f"{scheme}://{host}:{port}"


def test_it_reads_relay_credentials_but_never_shows_the_password() -> None:
    relay = parse_relay_url(
        "smtp+starttls://sealbox%40corp.example:p%40ss%3Aword@relay.corp.example"
    )

    assert relay.username == "sealbox@corp.example"
    assert relay.password == "p@ss:word"
    assert str(relay) == "smtp+starttls://relay.corp.example:587"
    assert "p@ss" not in repr(relay)
    assert "p%40ss" not in repr(relay)


@pytest.mark.parametrize("url", ["http://relay.corp.example", "smtp://", "relay.corp.example:25"])
def test_it_rejects_a_relay_url_it_cannot_use(url: str) -> None:
    with pytest.raises(ValueError, match="smtp://, smtp\\+starttls:// or smtps://"):
        parse_relay_url(url)


def test_the_relay_password_stays_out_of_errors_and_logs(
    settings: Any, caplog: pytest.LogCaptureFixture
) -> None:
    tried: list[bytes] = []

    def refuse(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
        tried.append(data.password)
        return AuthResult(success=False, handled=False)

    port = free_port()
    controller = Controller(
        SinkHandler(), hostname="127.0.0.1", port=port, authenticator=refuse, auth_require_tls=False
    )
    controller.start()
    try:
        settings.RELAY_URL = f"smtp://sealbox:Tr0ub4dor-secret@127.0.0.1:{port}"
        item = queue_one()
        with caplog.at_level(logging.DEBUG):
            queue.process_due()
    finally:
        controller.stop()

    # smtplib tries each mechanism the relay offers (PLAIN, LOGIN).
    assert tried and set(tried) == {b"Tr0ub4dor-secret"}
    item.refresh_from_db()
    assert item.status == OutgoingEmail.Status.FAILED
    assert "535" in item.last_error
    assert f"127.0.0.1:{port}" in item.last_error
    assert "Tr0ub4dor" not in item.last_error
    assert "Tr0ub4dor" not in caplog.text
    assert "Tr0ub4dor" not in outbox("list")


def dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def claim(item: OutgoingEmail, owner: str, until: datetime) -> None:
    OutgoingEmail.objects.filter(id=item.id).update(
        status=OutgoingEmail.Status.SENDING, claimed_by=owner, claimed_until=until
    )


def test_it_sends_again_what_a_killed_worker_left_mid_send(relay_sink: Any) -> None:
    host = socket.gethostname()
    orphan = queue_one(subject="Left by a killed worker")
    claim(orphan, f"{host}~{dead_pid()}", timezone.now() + timedelta(minutes=10))
    alive = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        busy = queue_one(subject="Being sent by a live worker")
        claim(busy, f"{host}~{alive.pid}", timezone.now() + timedelta(minutes=10))
        assert queue.process_due() == 0

        assert queue.release_dead_claims() == 1
        assert queue.process_due() == 1
    finally:
        alive.kill()
        alive.wait()

    [got] = relay_sink.received
    assert b"Subject: Left by a killed worker" in got.data
    orphan.refresh_from_db()
    assert orphan.status == OutgoingEmail.Status.SENT
    busy.refresh_from_db()
    assert busy.status == OutgoingEmail.Status.SENDING


def test_it_reclaims_an_email_whose_lease_has_expired(relay_sink: Any) -> None:
    expired = queue_one(subject="Lease expired")
    claim(expired, "other-host~4242", timezone.now() - timedelta(seconds=1))
    leased = queue_one(subject="Lease running")
    claim(leased, "other-host~4242", timezone.now() + timedelta(minutes=5))

    assert queue.process_due() == 1

    [got] = relay_sink.received
    assert b"Subject: Lease expired" in got.data
    expired.refresh_from_db()
    assert expired.status == OutgoingEmail.Status.SENT
    leased.refresh_from_db()
    assert leased.status == OutgoingEmail.Status.SENDING
    assert leased.claimed_by == "other-host~4242"


@dataclass
class TakeOverHandler(SinkHandler):
    """A relay during whose first hand-over another worker takes the rest of the batch."""

    taken: list[str] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if not self.received:
            subject = message_from_bytes(envelope.original_content)["Subject"]
            self.taken = await asyncio.to_thread(self.take_the_others, subject)
        return await super().handle_DATA(server, session, envelope)

    @staticmethod
    def take_the_others(subject: str) -> list[str]:
        try:
            others = OutgoingEmail.objects.filter(status=OutgoingEmail.Status.SENDING).exclude(
                subject=subject
            )
            taken = [o.subject for o in others]
            others.update(
                claimed_by="other-host~4242", claimed_until=timezone.now() + timedelta(minutes=5)
            )
            return taken
        finally:
            connections.close_all()


@pytest.mark.django_db(transaction=True)
def test_it_does_not_send_what_another_worker_took_over_meanwhile(settings: Any) -> None:
    handler = TakeOverHandler()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    settings.RELAY_URL = f"smtp://127.0.0.1:{port}"
    try:
        queue_one(subject="One")
        queue_one(subject="Two")
        queue.process_due()
    finally:
        controller.stop()

    [got] = handler.received
    [taken] = handler.taken
    assert f"Subject: {taken}".encode() not in got.data
    other = OutgoingEmail.objects.get(subject=taken)
    assert other.status == OutgoingEmail.Status.SENDING
    assert other.claimed_by == "other-host~4242"
    assert other.attempts == 0


def after_an_outage(relay_sink: Any, settings: Any) -> tuple[OutgoingEmail, OutgoingEmail]:
    """One email retrying in an hour after a long outage, one failed; the relay is back."""
    relay_url = settings.RELAY_URL
    settings.RELAY_URL = closed_port_url()
    waiting = queue_one(subject="waiting")
    # Seven failed attempts: the next one is an hour away.
    for _ in range(7):
        with time_machine.travel(OutgoingEmail.objects.get(id=waiting.id).next_attempt_at):
            queue.process_due()
    settings.RELAY_URL = relay_url
    relay_sink.handler.reply = "554 5.7.1 policy"
    failed = queue_one(subject="failed")
    queue.process_due()
    relay_sink.handler.reply = None
    waiting.refresh_from_db()
    failed.refresh_from_db()
    assert waiting.retrying and waiting.next_attempt_at > timezone.now() + timedelta(minutes=50)
    assert failed.status == OutgoingEmail.Status.FAILED
    assert queue.process_due() == 0
    return waiting, failed


def sent_subjects(relay_sink: Any) -> list[str]:
    return sorted(str(message_from_bytes(r.data)["Subject"]) for r in relay_sink.received)


def test_outbox_retry_all_sends_waiting_and_failed_mail_now(relay_sink: Any, settings: Any) -> None:
    waiting, _ = after_an_outage(relay_sink, settings)
    give_up_at = waiting.give_up_at

    assert outbox("retry", "--all") == "2 email(s) queued to be sent now\n"
    assert queue.process_due() == 2

    assert sent_subjects(relay_sink) == ["failed", "waiting"]
    assert outbox("list") == "The outgoing queue is empty.\n"
    waiting.refresh_from_db()
    assert waiting.give_up_at == give_up_at


def test_outbox_retry_by_state_sends_only_that_state(relay_sink: Any, settings: Any) -> None:
    _, failed = after_an_outage(relay_sink, settings)

    assert outbox("retry", "--state", "retrying") == "1 email(s) queued to be sent now\n"
    assert queue.process_due() == 1
    assert sent_subjects(relay_sink) == ["waiting"]
    assert f"{failed.id}" in outbox("list", "--state", "failed")

    assert outbox("retry", "--state", "failed") == "1 email(s) queued to be sent now\n"
    failed.refresh_from_db()
    # A fresh retry period, as for one email retried by its ID.
    assert failed.give_up_at > timezone.now() + timedelta(days=4)
    assert queue.process_due() == 1
    assert sent_subjects(relay_sink) == ["failed", "waiting"]


def test_outbox_retry_wants_an_id_or_a_state_or_all(db: Any) -> None:
    for args in ((), ("--all", "x"), ("--state", "failed", "x")):
        with pytest.raises(CommandError, match="give one email's ID, --state"):
            outbox("retry", *args)
    with pytest.raises(CommandError):
        outbox("retry", "--all", "--state", "failed")

"""Notifications of waiting mail, and where their links lead."""

from __future__ import annotations

import hashlib
import re
import signal
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from io import StringIO
from typing import Any

import pytest
import time_machine
from aiosmtpd.controller import Controller
from django.core.management import call_command
from django.test import Client

from sealbox.accounts.models import LinkToken, User
from sealbox.intake.delivery import deliver
from sealbox.mailstore.models import Message
from sealbox.outbound import notify, queue
from tests.conftest import CAROL, RelaySink, SinkHandler, free_port
from tests.mail import make_message

pytestmark = pytest.mark.django_db

DAVE = "dave@example.com"
SUBJECT = "Project Nightingale term sheet"
BODY = "The merger closes on Friday; keep this between us.\n"
ATTACHMENT = "nightingale-budget-2027.pdf"
START = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
GOOD_PASSWORD = "velvet-harbour-lantern-93"


@dataclass
class Notification:
    mail_from: str
    rcpt_tos: list[str]
    raw: bytes
    message: EmailMessage

    @property
    def text(self) -> str:
        part = self.message.get_body(("plain",))
        assert part is not None
        return part.get_content()

    @property
    def html(self) -> str:
        part = self.message.get_body(("html",))
        assert part is not None
        return part.get_content()

    @property
    def links(self) -> list[str]:
        return re.findall(r"http://portal\.test/\S*", self.text)


def notifications(relay_sink: RelaySink) -> list[Notification]:
    return [
        Notification(
            r.mail_from,
            r.rcpt_tos,
            r.data,
            message_from_bytes(r.data, _class=EmailMessage, policy=policy.default),
        )
        for r in relay_sink.received
    ]


def run_worker_once() -> None:
    """One pass of `sealbox worker`, inside the test's transaction."""
    notify.send_due()
    queue.process_due()


def deliver_to(
    recipient: str = DAVE, subject: str = SUBJECT, sender: str = f"Carol Sender <{CAROL}>"
) -> Message:
    data = make_message(
        subject=subject,
        body=BODY,
        sender=sender,
        to=recipient,
        attachments=[(ATTACHMENT, "application/pdf", b"%PDF-1.7 figures")],
    )
    [stored] = deliver(CAROL, [recipient], data)
    return stored


def activation_token(note: Notification) -> str:
    [link] = note.links
    match = re.fullmatch(r"http://portal\.test/activate/([A-Za-z0-9_-]+)/", link)
    assert match, link
    return match.group(1)


def test_a_new_recipient_gets_one_notification_with_an_activation_link(
    relay_sink: RelaySink, settings: Any
) -> None:
    deliver_to()

    run_worker_once()

    [note] = notifications(relay_sink)
    assert note.rcpt_tos == [DAVE]
    assert note.mail_from == "secure@corp.example"
    assert note.message["To"] == DAVE
    assert note.message["From"] == settings.NOTIFY_FROM
    assert note.message["Subject"] == "Sealbox: a protected message from Carol Sender"
    assert note.message["Auto-Submitted"] == "auto-generated"
    assert "Sealbox has a protected message for you." in note.text
    assert f"From: Carol Sender ({CAROL})" in note.text
    assert f"From: <strong>Carol Sender</strong> ({CAROL})" in note.html
    token = activation_token(note)
    link = f"http://portal.test/activate/{token}/"
    assert f'href="{link}"' in note.html
    assert "works once and for 14 days" in note.text


def test_the_notification_does_not_reveal_the_message(relay_sink: RelaySink) -> None:
    deliver_to()

    run_worker_once()

    [note] = notifications(relay_sink)
    for secret in ("Nightingale", "merger closes", "nightingale-budget"):
        assert secret.encode() not in note.raw
        assert secret.lower() not in note.text.lower()
        assert secret.lower() not in note.html.lower()


def test_the_notification_names_the_subject_when_the_operator_allows_it(
    relay_sink: RelaySink, settings: Any
) -> None:
    settings.NOTIFY_INCLUDE_SUBJECT = True
    deliver_to()

    run_worker_once()

    [note] = notifications(relay_sink)
    assert f"Subject: {SUBJECT}" in note.text
    assert f"Subject: {SUBJECT}" in note.html
    assert "merger closes" not in note.text
    assert ATTACHMENT not in note.text


def test_the_notification_shows_the_sender_name_as_written(relay_sink: RelaySink) -> None:
    deliver_to(sender=f'"O\'Brien & Partners" <{CAROL}>')

    run_worker_once()

    [note] = notifications(relay_sink)
    assert note.message["Subject"] == "Sealbox: a protected message from O'Brien & Partners"
    assert "From: O'Brien & Partners (" in note.text
    assert "<strong>O&#x27;Brien &amp; Partners</strong>" in note.html


def test_the_activation_token_is_stored_only_as_a_hash(relay_sink: RelaySink) -> None:
    deliver_to()

    run_worker_once()

    token = activation_token(notifications(relay_sink)[0])
    assert len(token) >= 43
    [link] = LinkToken.objects.all()
    assert link.user.email == DAVE
    assert link.purpose == LinkToken.Purpose.ACTIVATE
    assert link.token_hash == hashlib.sha256(token.encode()).hexdigest()
    dump = StringIO()
    call_command("dumpdata", stdout=dump)
    assert token not in dump.getvalue()


def test_a_burst_of_messages_gives_one_notification(relay_sink: RelaySink) -> None:
    for n in range(5):
        deliver_to(subject=f"Part {n}")

    run_worker_once()
    run_worker_once()

    [note] = notifications(relay_sink)
    assert note.message["Subject"] == "Sealbox: 5 protected messages for you"
    assert "Sealbox has 5 protected messages for you." in note.text
    assert note.text.count(f"From: Carol Sender ({CAROL})") == 5


def test_the_first_message_is_notified_at_once_and_the_rest_of_a_burst_waits(
    relay_sink: RelaySink, settings: Any
) -> None:
    settings.NOTIFY_INTERVAL = 300
    with time_machine.travel(START, tick=False):
        deliver_to(subject="Part 0")
        run_worker_once()
        assert len(notifications(relay_sink)) == 1
    for n in range(1, 5):
        with time_machine.travel(START + timedelta(seconds=n), tick=False):
            deliver_to(subject=f"Part {n}")
            run_worker_once()

    assert len(notifications(relay_sink)) == 1
    with time_machine.travel(START + timedelta(seconds=300), tick=False):
        run_worker_once()
    first, second = notifications(relay_sink)
    assert "Sealbox has a protected message for you." in first.text
    assert "Sealbox has 4 protected messages for you." in second.text


def test_a_later_message_waits_for_the_notification_interval(
    relay_sink: RelaySink, settings: Any
) -> None:
    settings.NOTIFY_INTERVAL = 600
    with time_machine.travel(START, tick=False):
        deliver_to(subject="First")
        run_worker_once()
    with time_machine.travel(START + timedelta(minutes=2), tick=False):
        deliver_to(subject="Second")
        run_worker_once()
    with time_machine.travel(START + timedelta(minutes=9, seconds=59), tick=False):
        run_worker_once()
    assert len(notifications(relay_sink)) == 1

    with time_machine.travel(START + timedelta(minutes=10), tick=False):
        run_worker_once()

    first, second = notifications(relay_sink)
    assert second.rcpt_tos == [DAVE]
    assert second.message["Subject"] == "Sealbox: a protected message from Carol Sender"
    assert "Sealbox has a protected message for you." in second.text
    # Each notification carries its own link; the first one still works too.
    assert activation_token(second) != activation_token(first)
    with time_machine.travel(START + timedelta(minutes=30), tick=False):
        run_worker_once()
    assert len(notifications(relay_sink)) == 2


def test_a_message_stored_while_a_notification_went_out_is_notified_later(
    relay_sink: RelaySink, settings: Any
) -> None:
    """A delivery takes its arrival time before it commits; a notification can go out between."""
    settings.NOTIFY_INTERVAL = 300
    with time_machine.travel(START, tick=False):
        deliver_to(subject="First")
        run_worker_once()
    # Stamped a second before that notification, committed just after it.
    with time_machine.travel(START - timedelta(seconds=1), tick=False):
        deliver_to(subject="Second")

    with time_machine.travel(START + timedelta(seconds=300), tick=False):
        run_worker_once()

    # The recipient is told; the count may include the first message again.
    _, second = notifications(relay_sink)
    assert second.rcpt_tos == [DAVE]
    assert "protected messages for you" in second.text


@dataclass
class OptionsHandler(SinkHandler):
    """A relay sink that also keeps the MAIL FROM options."""

    mail_options: list[list[str]] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.mail_options.append(list(envelope.mail_options))
        return await super().handle_DATA(server, session, envelope)


def test_a_recipient_under_an_internationalised_domain_is_notified_without_smtputf8(
    settings: Any,
) -> None:
    handler = OptionsHandler()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)  # no SMTPUTF8
    controller.start()
    settings.RELAY_URL = f"smtp://127.0.0.1:{port}"
    try:
        deliver_to("jan@xn--bcher-kva.example")
        run_worker_once()
    finally:
        controller.stop()

    [got] = handler.received
    assert got.rcpt_tos == ["jan@xn--bcher-kva.example"]
    [options] = handler.mail_options
    assert "SMTPUTF8" not in options
    assert b"\r\nTo: jan@xn--bcher-kva.example\r\n" in got.data
    assert got.data.isascii()


def test_a_recipient_with_a_non_ascii_name_is_notified_with_smtputf8(settings: Any) -> None:
    handler = OptionsHandler()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port, enable_SMTPUTF8=True)
    controller.start()
    settings.RELAY_URL = f"smtp://127.0.0.1:{port}"
    try:
        deliver_to("jürgen@bücher.example")
        run_worker_once()
    finally:
        controller.stop()

    [got] = handler.received
    assert got.rcpt_tos == ["jürgen@bücher.example"]
    [options] = handler.mail_options
    assert "SMTPUTF8" in options
    assert "\r\nTo: jürgen@bücher.example\r\n".encode() in got.data


def test_an_activated_recipient_gets_a_link_to_the_message(
    relay_sink: RelaySink, alice: User
) -> None:
    stored = deliver_to(alice.email)

    run_worker_once()

    [note] = notifications(relay_sink)
    assert note.rcpt_tos == [alice.email]
    assert note.links == [f"http://portal.test/m/{stored.id}/"]
    assert f'href="http://portal.test/m/{stored.id}/"' in note.html
    assert "/activate/" not in note.text
    assert "/activate/" not in note.html
    assert "Sign in at portal.test with your email address and password." in note.text
    assert not LinkToken.objects.exists()


def test_an_activated_recipient_with_several_messages_gets_a_link_to_the_inbox(
    relay_sink: RelaySink, alice: User
) -> None:
    deliver_to(alice.email, subject="One")
    deliver_to(alice.email, subject="Two")

    run_worker_once()

    [note] = notifications(relay_sink)
    assert note.links == ["http://portal.test/inbox/"]
    assert "Sealbox has 2 protected messages for you." in note.text


def test_a_message_already_read_is_not_notified(relay_sink: RelaySink, alice: User) -> None:
    stored = deliver_to(alice.email)
    Message.objects.filter(id=stored.id).update(read_at=stored.received_at)

    run_worker_once()

    assert notifications(relay_sink) == []


# --- Following the links ---------------------------------------------------------


def notified_token(relay_sink: RelaySink) -> str:
    deliver_to()
    run_worker_once()
    [note] = notifications(relay_sink)
    return activation_token(note)


def test_the_activation_link_leads_to_a_new_password_and_the_inbox(
    relay_sink: RelaySink,
) -> None:
    token = notified_token(relay_sink)
    client = Client()

    r = client.get(f"/activate/{token}/")
    assert r.status_code == 302
    assert r["Location"] == "/activate/set-password/"
    assert token not in r["Location"]

    r = client.get("/activate/set-password/")
    assert r.status_code == 200
    assert f"<strong>{DAVE}</strong>" in r.content.decode()

    r = client.post("/activate/set-password/", {"new_password1": "short", "new_password2": "short"})
    assert r.status_code == 200
    assert "This password is too short" in r.content.decode()
    assert client.get("/inbox/").status_code == 302

    r = client.post(
        "/activate/set-password/",
        {"new_password1": GOOD_PASSWORD, "new_password2": GOOD_PASSWORD},
    )
    assert r.status_code == 302
    assert r["Location"] == "/phrase/"
    assert 'href="/inbox/">Continue</a>' in client.get("/phrase/").content.decode()

    r = client.get("/inbox/")
    assert r.status_code == 200
    page = r.content.decode()
    assert DAVE in page
    assert SUBJECT in page
    assert "Carol Sender" in page
    assert Client().login(username=DAVE, password=GOOD_PASSWORD)


def test_an_activation_link_works_only_once(relay_sink: RelaySink) -> None:
    token = notified_token(relay_sink)
    client = Client()
    client.get(f"/activate/{token}/")
    client.post(
        "/activate/set-password/",
        {"new_password1": GOOD_PASSWORD, "new_password2": GOOD_PASSWORD},
    )

    r = Client().get(f"/activate/{token}/")

    assert r.status_code == 410
    assert "This link no longer works" in r.content.decode()


def test_an_activation_link_stops_working_after_the_activation_period(
    relay_sink: RelaySink, settings: Any
) -> None:
    with time_machine.travel(START, tick=False):
        token = notified_token(relay_sink)
    days = settings.ACTIVATION_DAYS

    with time_machine.travel(START + timedelta(days=days, minutes=-1), tick=False):
        assert Client().get(f"/activate/{token}/").status_code == 302
    with time_machine.travel(START + timedelta(days=days, minutes=1), tick=False):
        r = Client().get(f"/activate/{token}/")

    assert r.status_code == 410
    assert "This link no longer works" in r.content.decode()


def test_a_link_opened_before_expiry_cannot_set_a_password_after_it(
    relay_sink: RelaySink, settings: Any
) -> None:
    with time_machine.travel(START, tick=False):
        token = notified_token(relay_sink)
        client = Client()
        client.get(f"/activate/{token}/")

    with time_machine.travel(START + timedelta(days=settings.ACTIVATION_DAYS, minutes=1)):
        r = client.post(
            "/activate/set-password/",
            {"new_password1": GOOD_PASSWORD, "new_password2": GOOD_PASSWORD},
        )

    assert r.status_code == 410
    assert not User.objects.get(email=DAVE).has_usable_password()


def test_an_unknown_activation_token_is_refused(db: Any) -> None:
    r = Client().get("/activate/not-a-real-token/")

    assert r.status_code == 410
    assert "This link no longer works" in r.content.decode()


def test_the_message_link_asks_for_sign_in_and_then_shows_the_message(
    relay_sink: RelaySink, alice: User
) -> None:
    deliver_to(alice.email)
    run_worker_once()
    [note] = notifications(relay_sink)
    [link] = note.links
    path = link.removeprefix("http://portal.test")
    client = Client()

    r = client.get(path)
    assert r.status_code == 302
    assert r["Location"] == f"/signin/?next={path}"

    r = client.post(
        "/signin/",
        {"username": alice.email, "password": "correct horse battery staple", "next": path},
    )
    assert r.status_code == 302
    assert r["Location"] == path

    r = client.get(path)
    assert r.status_code == 200
    page = r.content.decode()
    assert SUBJECT in page
    assert "The merger closes on Friday" in page


def test_another_recipients_message_is_not_found(
    relay_sink: RelaySink, alice: User, bob: User
) -> None:
    stored = deliver_to(alice.email)
    client = Client()
    client.force_login(bob)

    r = client.get(f"/m/{stored.id}/")

    assert r.status_code == 404
    assert "Nightingale" not in r.content.decode()
    assert Message.objects.get(id=stored.id).read_at is None


@pytest.mark.django_db(transaction=True)
def test_worker_once_sends_the_due_notifications_and_exits(relay_sink: RelaySink) -> None:
    deliver_to()
    handlers = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        call_command("worker", once=True)
    finally:
        for sig, handler in handlers.items():
            signal.signal(sig, handler)

    [note] = notifications(relay_sink)
    assert note.rcpt_tos == [DAVE]
    assert activation_token(note)

"""What a reply or new message from the portal turns into: email through the relay for
the organisation's own people, a Sealbox mailbox for everyone else."""

from __future__ import annotations

import contextlib
import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import Client
from django.urls import reverse

from sealbox.accounts.models import User
from sealbox.mailstore.models import Message
from sealbox.outbound import queue
from sealbox.outbound.models import NotificationState, OutgoingEmail
from sealbox.portal import sending
from tests.conftest import CAROL, RelaySink, free_port
from tests.portal.pages import deliver_to
from tests.portal.writing import (
    ORIGINAL_ID,
    PORTAL_ADDRESS,
    errors,
    form_fields,
    original_mail,
    parse,
    reply_url,
    send_form,
    text_body,
)

pytestmark = pytest.mark.django_db

DAVE = "dave@example.com"
START = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
REPLY_TEXT = "Thanks Carol, the numbers for März look right.\n"
PDF = b"%PDF-1.7\n" + bytes(range(256)) * 40 + b"\n%%EOF\n"
PDF_NAME = "Prüfbericht März (final) ünïcødé.pdf"


@pytest.fixture(autouse=True)
def portal_address(settings: Any) -> None:
    settings.PORTAL_ADDRESS = PORTAL_ADDRESS
    settings.SITE_NAME = "Sealbox"
    settings.REPLY_FROM = "portal"


def reply(client: Client, message: Message, everyone: bool = False, **fields: Any) -> Any:
    response = send_form(
        client,
        reply_url(message, everyone),
        **{
            "to": CAROL,
            "subject": "Re: Quarterly figures",
            "body": REPLY_TEXT,
            **fields,
        },
    )
    assert response.status_code == 302, errors(response)
    return response


# --- Replies to internal people go through the relay ------------------------------


def test_a_reply_reaches_the_sender_through_the_relay_with_threading_headers_and_attachment(
    reader: Client, alice: User, relay_sink: RelaySink
) -> None:
    original = deliver_to(
        alice, original_mail(references="<q3-figures.1@mail.corp.example> <q3-re.2@x.example>")
    )

    reply(
        reader,
        original,
        attachments=[SimpleUploadedFile(PDF_NAME, PDF, content_type="application/pdf")],
    )
    assert relay_sink.received == []  # queued, not sent from the request
    assert queue.process_due() == 1

    [got] = relay_sink.received
    assert got.mail_from == PORTAL_ADDRESS
    assert got.rcpt_tos == [CAROL]
    msg = parse(got.data)
    [sender] = msg["From"].addresses
    assert sender.display_name == "alice@example.net via Sealbox"
    assert sender.addr_spec == PORTAL_ADDRESS
    assert [a.addr_spec for a in msg["Reply-To"].addresses] == ["alice@example.net"]
    assert [a.addr_spec for a in msg["To"].addresses] == [CAROL]
    assert msg["Subject"] == "Re: Quarterly figures"
    assert msg["In-Reply-To"] == ORIGINAL_ID
    assert msg["References"].split() == [
        "<q3-figures.1@mail.corp.example>",
        "<q3-re.2@x.example>",
        ORIGINAL_ID,
    ]
    assert msg["Message-ID"] and msg["Message-ID"] != ORIGINAL_ID
    assert msg["Date"] is not None
    assert text_body(msg) == REPLY_TEXT
    [attachment] = msg.iter_attachments()
    assert attachment.get_filename() == PDF_NAME
    assert attachment.get_content_type() == "application/pdf"
    assert attachment.get_content() == PDF


def test_the_portal_sender_uses_the_readers_name_when_she_has_one(
    reader: Client, alice: User, relay_sink: RelaySink
) -> None:
    alice.display_name = 'Alice "Al" Liddell, Esq.'
    alice.save()
    original = deliver_to(alice, original_mail())

    reply(reader, original)
    queue.process_due()

    msg = parse(relay_sink.received[0].data)
    [sender] = msg["From"].addresses
    assert sender.display_name == 'Alice "Al" Liddell, Esq. via Sealbox'
    assert sender.addr_spec == PORTAL_ADDRESS
    [reply_to] = msg["Reply-To"].addresses
    assert reply_to.display_name == 'Alice "Al" Liddell, Esq.'
    assert reply_to.addr_spec == "alice@example.net"


def test_a_reply_to_a_message_without_references_refers_to_the_original_only(
    reader: Client, alice: User, relay_sink: RelaySink
) -> None:
    original = deliver_to(alice, original_mail())

    reply(reader, original)
    queue.process_due()

    msg = parse(relay_sink.received[0].data)
    assert msg["In-Reply-To"] == ORIGINAL_ID
    assert msg["References"] == ORIGINAL_ID


def test_with_reply_from_user_the_reply_comes_from_the_readers_own_address(
    reader: Client, alice: User, relay_sink: RelaySink, settings: Any
) -> None:
    settings.REPLY_FROM = "user"
    original = deliver_to(alice, original_mail())

    reply(reader, original)
    queue.process_due()

    [got] = relay_sink.received
    assert got.mail_from == "alice@example.net"
    msg = parse(got.data)
    assert [a.addr_spec for a in msg["From"].addresses] == ["alice@example.net"]
    assert "via Sealbox" not in str(msg["From"])
    assert msg["Reply-To"] is None
    assert msg["In-Reply-To"] == ORIGINAL_ID


def test_a_reply_to_a_name_with_quotes_and_commas_reaches_that_person(
    reader: Client, alice: User, relay_sink: RelaySink
) -> None:
    original = deliver_to(
        alice,
        original_mail(
            sender='"Sender, Carol \\"CS\\" (Finance)" <carol@corp.example>',
            cc='"O\'Brien, Dan" <dan@corp.example>',
        ),
    )

    reply(
        reader,
        original,
        to='"Sender, Carol \\"CS\\" (Finance)" <carol@corp.example>',
        cc='"O\'Brien, Dan" <dan@corp.example>',
    )
    queue.process_due()

    [got] = relay_sink.received
    assert sorted(got.rcpt_tos) == [CAROL, "dan@corp.example"]
    msg = parse(got.data)
    assert [a.addr_spec for a in msg["To"].addresses] == [CAROL]
    assert [a.addr_spec for a in msg["Cc"].addresses] == ["dan@corp.example"]


def test_addresses_may_be_separated_by_semicolons_as_in_outlook(
    reader: Client, alice: User, relay_sink: RelaySink
) -> None:
    original = deliver_to(alice, original_mail(cc="dan@corp.example"))

    reply(reader, original, to=f"Carol <{CAROL}>; Dan <dan@corp.example>;")
    queue.process_due()

    [got] = relay_sink.received
    assert got.rcpt_tos == [CAROL, "dan@corp.example"]


# --- Everyone else gets it in their Sealbox mailbox, never by plain email ---------


def test_reply_all_delivers_to_outside_people_in_sealbox_and_only_internal_ones_via_relay(
    reader: Client, alice: User, bob: User, relay_sink: RelaySink
) -> None:
    original = deliver_to(
        alice,
        original_mail(
            to="Alice <alice@example.net>, Bob <bob@example.org>, Dave <dave@example.com>",
            cc="Dan <dan@corp.example>",
        ),
    )
    fields = form_fields(reader.get(reply_url(original, everyone=True)))
    assert fields["cc"] == f"bob@example.org, {DAVE}, dan@corp.example"

    reply(
        reader,
        original,
        everyone=True,
        **fields,
        attachments=[SimpleUploadedFile(PDF_NAME, PDF, content_type="application/pdf")],
    )
    queue.process_due()

    [got] = relay_sink.received
    assert sorted(got.rcpt_tos) == [CAROL, "dan@corp.example"]
    for person in ("bob@example.org", DAVE):
        [copy] = Message.objects.filter(owner__email=person)
        assert copy.folder == Message.Folder.INBOX
        assert copy.envelope_from == "alice@example.net"
        assert copy.subject == "Re: Quarterly figures"
        assert copy.attachment_count == 1
        assert NotificationState.objects.get(user=copy.owner).due_at is not None
    dave = User.objects.get(email=DAVE)
    assert not dave.is_activated  # he gets an activation link with his notification


def test_bob_reads_the_reply_all_in_his_own_portal_mailbox(
    reader: Client, alice: User, bob: User, relay_sink: RelaySink
) -> None:
    original = deliver_to(alice, original_mail(to="alice@example.net, bob@example.org"))
    reply(
        reader,
        original,
        everyone=True,
        cc="bob@example.org",
        attachments=[SimpleUploadedFile(PDF_NAME, PDF, content_type="application/pdf")],
    )

    bobs = Client()
    bobs.force_login(bob)
    [copy] = Message.objects.filter(owner=bob)
    page = bobs.get(reverse("message", args=[copy.id]))
    assert page.status_code == 200
    text = page.content.decode()
    assert "Thanks Carol, the numbers for März look right." in text
    assert PDF_NAME in text
    download = bobs.get(reverse("attachment", args=[copy.id, 2]))
    assert download.status_code == 200
    assert b"".join(download.streaming_content) == PDF


def test_a_reply_only_to_outside_people_sends_nothing_through_the_relay(
    reader: Client, alice: User, relay_sink: RelaySink
) -> None:
    original = deliver_to(alice, original_mail(sender=f"Dave <{DAVE}>"))

    reply(reader, original, to=DAVE)
    queue.process_due()

    assert relay_sink.received == []
    assert not OutgoingEmail.objects.exists()
    assert Message.objects.filter(owner__email=DAVE, folder=Message.Folder.INBOX).count() == 1


def test_a_new_message_to_an_allow_listed_outside_address_goes_to_their_sealbox_mailbox(
    reader: Client, alice: User, relay_sink: RelaySink, settings: Any
) -> None:
    settings.ALLOW_COMPOSE = True
    settings.COMPOSE_ALLOWED_RECIPIENTS = [DAVE]

    response = send_form(
        reader, reverse("compose"), to=f"Dave <{DAVE}>", subject="Hello", body="Hi Dave\n"
    )
    queue.process_due()

    assert response.status_code == 302, errors(response)
    assert relay_sink.received == []
    [copy] = Message.objects.filter(owner__email=DAVE)
    assert copy.folder == Message.Folder.INBOX
    assert copy.subject == "Hello"


def test_a_new_message_to_an_internal_address_goes_through_the_relay_without_threading(
    reader: Client, alice: User, relay_sink: RelaySink, settings: Any
) -> None:
    settings.ALLOW_COMPOSE = True

    send_form(reader, reverse("compose"), to=CAROL, subject="A question", body="Hello Carol\n")
    queue.process_due()

    [got] = relay_sink.received
    assert got.rcpt_tos == [CAROL]
    msg = parse(got.data)
    assert msg["Subject"] == "A question"
    assert msg["In-Reply-To"] is None
    assert msg["References"] is None
    assert text_body(msg) == "Hello Carol\n"


# --- Durable: a relay that is down delays the reply, never loses it ----------------


def test_a_reply_is_accepted_while_the_relay_is_down_and_arrives_when_it_is_back(
    reader: Client, alice: User, relay_sink: RelaySink, settings: Any
) -> None:
    relay_url = settings.RELAY_URL
    settings.RELAY_URL = f"smtp://127.0.0.1:{free_port()}"
    original = deliver_to(alice, original_mail())

    with time_machine.travel(START, tick=False):
        reader.force_login(alice)
        response = reply(reader, original)
        assert queue.process_due() == 1
        follow = reader.get(response["Location"])
    assert "Your message was sent." in follow.content.decode()
    [item] = OutgoingEmail.objects.all()
    assert item.status == OutgoingEmail.Status.QUEUED
    assert "Connection refused" in item.last_error
    assert relay_sink.received == []

    settings.RELAY_URL = relay_url
    with time_machine.travel(START + timedelta(seconds=30), tick=False):
        assert queue.process_due() == 0  # not due yet
    with time_machine.travel(item.next_attempt_at, tick=False):
        assert queue.process_due() == 1

    [got] = relay_sink.received
    assert got.rcpt_tos == [CAROL]
    assert parse(got.data)["In-Reply-To"] == ORIGINAL_ID
    item.refresh_from_db()
    assert item.status == OutgoingEmail.Status.SENT


@pytest.mark.django_db(transaction=True)
def test_two_mailboxes_writing_to_each_other_at_once_both_send(
    alice: User, bob: User, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each send holds its sender's row, then needs the other's: no deadlock (PostgreSQL)."""
    settings.ALLOW_COMPOSE = True
    settings.COMPOSE_ALLOWED_RECIPIENTS = [alice.email, bob.email]
    both_counted = threading.Barrier(2)
    real_check_rate = sending.check_rate

    def check_rate_then_wait(user: User) -> None:
        real_check_rate(user)
        # Hold the lock until the other send holds its own, if it can get that far.
        with contextlib.suppress(threading.BrokenBarrierError):
            both_counted.wait(timeout=2)

    monkeypatch.setattr(sending, "check_rate", check_rate_then_wait)
    failures: list[str] = []

    def write(sender: User, to: User) -> None:
        try:
            sending.send(sender, to=[to.email], cc=[], subject="Crossing", body="Hi", uploads=[])
        except sending.SendError as e:
            failures.append(str(e))
        finally:
            connection.close()

    threads = [
        threading.Thread(target=write, args=(alice, bob)),
        threading.Thread(target=write, args=(bob, alice)),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)

    assert failures == []
    for user in (alice, bob):
        assert Message.objects.filter(owner=user, folder=Message.Folder.INBOX).count() == 1
        assert Message.objects.filter(owner=user, folder=Message.Folder.SENT).count() == 1

"""Read receipts: an RFC 8098 disposition notification to the internal sender, once."""

from __future__ import annotations

from email.message import EmailMessage
from typing import Any

import pytest
import time_machine
from django.test import Client
from django.urls import reverse

from sealbox.accounts.models import User
from sealbox.mailstore.mailbox import store_sent
from sealbox.mailstore.models import Message
from sealbox.outbound import queue
from sealbox.outbound.models import OutgoingEmail
from tests.conftest import CAROL, RelaySink, free_port
from tests.portal.pages import deliver_to
from tests.portal.writing import (
    ORIGINAL_ID,
    PORTAL_ADDRESS,
    original_mail,
    parse,
    reply_url,
    send_form,
    text_body,
)

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def receipt_settings(settings: Any) -> None:
    settings.PORTAL_ADDRESS = PORTAL_ADDRESS
    settings.READ_RECEIPTS = "requested"
    settings.REPLY_FROM = "portal"


def open_message(client: Client, message: Message) -> None:
    response = client.get(reverse("message", args=[message.id]))
    assert response.status_code == 200


def receipts_sent(relay_sink: RelaySink) -> list[EmailMessage]:
    """Push the queue to the relay; the receipts it got."""
    queue.process_due()
    return [parse(got.data) for got in relay_sink.received]


def mdn_fields(receipt: EmailMessage) -> dict[str, str]:
    """The machine-readable part of a receipt, field name -> value."""
    [part] = [
        p for p in receipt.walk() if p.get_content_type() == "message/disposition-notification"
    ]
    # The email package reads a message/* part as headers; so are these fields.
    inner = part.get_payload(0)
    assert isinstance(inner, EmailMessage)
    return {name: str(value) for name, value in inner.items()}


def test_opening_a_message_that_asks_for_a_receipt_sends_one_to_the_sender(
    reader: Client, alice: User, relay_sink: RelaySink
) -> None:
    message = deliver_to(alice, original_mail(disposition_notification_to=f"Carol <{CAROL}>"))

    open_message(reader, message)
    assert queue.process_due() == 1

    [got] = relay_sink.received
    assert got.mail_from == "<>"  # MAIL FROM:<>, so that nothing bounces back to a receipt
    assert got.rcpt_tos == [CAROL]
    receipt = parse(got.data)
    assert receipt.get_content_type() == "multipart/report"
    assert receipt.get_param("report-type") == "disposition-notification"
    assert [a.addr_spec for a in receipt["To"].addresses] == [CAROL]
    assert [a.addr_spec for a in receipt["From"].addresses] == [PORTAL_ADDRESS]
    assert receipt["Subject"] == "Read: Quarterly figures"
    assert receipt["In-Reply-To"] == ORIGINAL_ID
    assert receipt["Auto-Submitted"] == "auto-replied"
    first = receipt.get_payload(0)
    assert first.get_content_type() == "text/plain"
    human = text_body(receipt)
    assert "Your message to alice@example.net was opened" in human
    assert "Quarterly figures" in human
    fields = mdn_fields(receipt)
    assert fields["Original-Message-ID"] == ORIGINAL_ID
    assert fields["Final-Recipient"] == "rfc822;alice@example.net"
    assert fields["Disposition"] == "manual-action/MDN-sent-automatically; displayed"
    assert "Sealbox" in fields["Reporting-UA"]
    [headers] = [p for p in receipt.walk() if p.get_content_type() == "text/rfc822-headers"]
    assert ORIGINAL_ID in headers.get_content()


def test_a_message_opened_again_sends_no_second_receipt(
    reader: Client, alice: User, relay_sink: RelaySink
) -> None:
    message = deliver_to(alice, original_mail(disposition_notification_to=CAROL))

    open_message(reader, message)
    open_message(reader, message)
    reader.post(reverse("message-unread", args=[message.id]))
    message.refresh_from_db()
    assert message.read_at is None
    open_message(reader, message)

    assert len(receipts_sent(relay_sink)) == 1
    assert OutgoingEmail.objects.filter(kind="receipt").count() == 1


def test_with_receipts_off_nothing_is_sent(
    reader: Client, alice: User, relay_sink: RelaySink, settings: Any
) -> None:
    settings.READ_RECEIPTS = "off"
    message = deliver_to(alice, original_mail(disposition_notification_to=CAROL))

    open_message(reader, message)

    assert receipts_sent(relay_sink) == []


def test_without_a_request_no_receipt_is_sent(
    reader: Client, alice: User, relay_sink: RelaySink
) -> None:
    message = deliver_to(alice, original_mail())

    open_message(reader, message)

    assert receipts_sent(relay_sink) == []


@pytest.mark.parametrize("mode", ["requested", "always"])
def test_no_receipt_goes_to_an_outside_address(
    reader: Client, alice: User, relay_sink: RelaySink, settings: Any, mode: str
) -> None:
    settings.READ_RECEIPTS = mode
    message = deliver_to(
        alice,
        original_mail(sender="Eve <eve@example.com>", disposition_notification_to="x@example.com"),
    )

    open_message(reader, message)

    assert receipts_sent(relay_sink) == []
    assert not OutgoingEmail.objects.exists()


def test_always_sends_a_receipt_to_an_internal_sender_who_did_not_ask(
    reader: Client, alice: User, relay_sink: RelaySink, settings: Any
) -> None:
    settings.READ_RECEIPTS = "always"
    message = deliver_to(alice, original_mail())

    open_message(reader, message)

    [receipt] = receipts_sent(relay_sink)
    assert relay_sink.received[0].rcpt_tos == [CAROL]
    assert mdn_fields(receipt)["Original-Message-ID"] == ORIGINAL_ID


def test_always_sends_nothing_for_a_message_from_outside(
    reader: Client, alice: User, relay_sink: RelaySink, settings: Any
) -> None:
    settings.READ_RECEIPTS = "always"
    message = deliver_to(alice, original_mail(sender="Eve <eve@example.com>"))

    open_message(reader, message)

    assert receipts_sent(relay_sink) == []


def test_no_receipt_for_a_message_in_the_sent_folder(
    reader: Client, alice: User, relay_sink: RelaySink, settings: Any
) -> None:
    settings.READ_RECEIPTS = "always"
    sent = store_sent(alice, original_mail(disposition_notification_to=CAROL))
    reader.post(reverse("message-unread", args=[sent.id]))
    sent.refresh_from_db()
    assert sent.read_at is None

    open_message(reader, sent)

    assert receipts_sent(relay_sink) == []


def test_the_receipt_comes_from_the_reader_when_replies_do(
    reader: Client, alice: User, relay_sink: RelaySink, settings: Any
) -> None:
    settings.REPLY_FROM = "user"
    message = deliver_to(alice, original_mail(disposition_notification_to=CAROL))

    open_message(reader, message)

    [receipt] = receipts_sent(relay_sink)
    assert [a.addr_spec for a in receipt["From"].addresses] == ["alice@example.net"]
    assert relay_sink.received[0].mail_from == "<>"


def test_a_receipt_waits_in_the_queue_while_the_relay_is_down(
    reader: Client, alice: User, relay_sink: RelaySink, settings: Any
) -> None:
    relay_url = settings.RELAY_URL
    settings.RELAY_URL = f"smtp://127.0.0.1:{free_port()}"
    message = deliver_to(alice, original_mail(disposition_notification_to=CAROL))

    open_message(reader, message)
    assert queue.process_due() == 1
    [item] = OutgoingEmail.objects.filter(kind="receipt")
    assert item.status == OutgoingEmail.Status.QUEUED
    settings.RELAY_URL = relay_url
    with time_machine.travel(item.next_attempt_at, tick=False):
        [receipt] = receipts_sent(relay_sink)

    assert mdn_fields(receipt)["Original-Message-ID"] == ORIGINAL_ID


@pytest.mark.parametrize("reply_from", ["portal", "portal, since moved", "user"])
def test_always_sends_nothing_for_mail_another_recipient_wrote_through_the_portal(
    reader: Client, alice: User, bob: User, relay_sink: RelaySink, settings: Any, reply_from: str
) -> None:
    settings.READ_RECEIPTS = "always"
    settings.REPLY_FROM = reply_from.split(",")[0]
    original = deliver_to(alice, original_mail(cc="Bob <bob@example.org>"))
    r = send_form(
        reader, reply_url(original), to="bob@example.org", subject="Confidential", body="Bob: yes."
    )
    assert r.status_code == 302
    [received] = Message.objects.filter(owner=bob, folder=Message.Folder.INBOX)
    if reply_from.endswith("moved"):
        # The operator gave the portal another address: the old one is a plain internal one now.
        settings.PORTAL_ADDRESS = settings.NOTIFY_FROM = "securemail@corp.example"
    bobs_browser = Client()
    bobs_browser.force_login(bob)

    open_message(bobs_browser, received)

    assert receipts_sent(relay_sink) == []
    assert not OutgoingEmail.objects.filter(kind="receipt").exists()
    # Carol's own message to Alice still gets its receipt.
    open_message(reader, original)
    [receipt] = receipts_sent(relay_sink)
    assert [a.addr_spec for a in receipt["To"].addresses] == [CAROL]


@pytest.mark.parametrize("mode", ["requested", "always"])
def test_no_receipt_goes_to_an_outside_sender_who_asks_for_one(
    reader: Client, alice: User, relay_sink: RelaySink, settings: Any, mode: str
) -> None:
    settings.READ_RECEIPTS = mode
    message = deliver_to(
        alice,
        original_mail(
            sender="Eve <eve@example.com>", disposition_notification_to="Eve <eve@example.com>"
        ),
    )

    open_message(reader, message)

    assert receipts_sent(relay_sink) == []
    assert not OutgoingEmail.objects.exists()


def test_no_receipt_goes_to_sealboxs_own_address(
    reader: Client, alice: User, relay_sink: RelaySink, settings: Any
) -> None:
    settings.READ_RECEIPTS = "always"
    message = deliver_to(
        alice,
        original_mail(
            sender=f"Someone via Sealbox <{PORTAL_ADDRESS}>",
            disposition_notification_to=PORTAL_ADDRESS,
        ),
    )

    open_message(reader, message)

    assert receipts_sent(relay_sink) == []


@pytest.mark.django_db(transaction=True)
def test_portal_mail_stored_before_the_marker_is_marked_by_the_migration(
    alice: User, bob: User
) -> None:
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    before = [("mailstore", "0003_retention_usage")]
    after = [("mailstore", "0004_message_from_portal")]
    executor = MigrationExecutor(connection)
    executor.migrate(before)
    try:
        old = executor.loader.project_state(before).apps.get_model("mailstore", "Message")
        common = {"owner_id": bob.pk, "size": 1, "folder": "inbox"}
        from_alice = old.objects.create(blob="a", envelope_from=alice.email, **common)
        from_carol = old.objects.create(blob="c", envelope_from=CAROL, **common)
        alices_sent = old.objects.create(
            blob="s",
            envelope_from=alice.email,
            **{**common, "owner_id": alice.pk, "folder": "sent"},
        )

        executor = MigrationExecutor(connection)
        executor.migrate(after)

        marked = dict(Message.objects.values_list("id", "from_portal"))
        assert marked == {from_alice.id: True, from_carol.id: False, alices_sent.id: False}
    finally:
        # Going back to mailstore 0003 also undid the accounts migrations that
        # depend on it (0006, 0007): the next tests need today's schema.
        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes())

"""The read-receipt question on the message page (SEALBOX_READ_RECEIPTS=ask, the default)."""

from __future__ import annotations

import contextlib
import errno
import os
from collections.abc import Iterator
from typing import Any
from unittest import mock

import pytest
from django.conf import settings as django_settings
from django.test import Client
from django.urls import reverse

from sealbox.accounts.models import User
from sealbox.mailstore import blobs
from sealbox.mailstore.mailbox import store_sent
from sealbox.mailstore.models import Message
from sealbox.mailstore.opened import clear_memory
from sealbox.outbound.models import OutgoingEmail
from tests.conftest import CAROL, RelaySink
from tests.outbound.test_receipts import mdn_fields, receipts_sent
from tests.portal.pages import Node, deliver_to, flash, page
from tests.portal.writing import PORTAL_ADDRESS, original_mail

pytestmark = pytest.mark.django_db

QUESTION = "asked to be told when you open this message."


@pytest.fixture(autouse=True)
def receipt_settings(settings: Any) -> None:
    settings.PORTAL_ADDRESS = PORTAL_ADDRESS
    settings.REPLY_FROM = "portal"


def asking(user: User, **headers: str) -> Message:
    """A message from Carol that asks for a read receipt."""
    return deliver_to(
        user, original_mail(disposition_notification_to=f"Carol <{CAROL}>", **headers)
    )


@pytest.fixture
def asked(reader: Client, alice: User) -> Message:
    """A message that asks for a receipt, opened once (and so asked about) by Alice."""
    message = asking(alice)
    opened(reader, message)
    return message


def opened(client: Client, message: Message) -> Node:
    return page(client.get(reverse("message", args=[message.id])))


def question(doc: Node) -> Node | None:
    return doc.find("form", cls="receipt-question")


def answer(client: Client, message: Message, choice: str, **kwargs: Any) -> Any:
    return client.post(reverse("message-receipt", args=[message.id]), {"receipt": choice}, **kwargs)


def signed_in(user: User, csrf: bool = False) -> Client:
    client = Client(enforce_csrf_checks=csrf)
    client.force_login(user)
    return client


def test_ask_is_the_default_policy() -> None:
    assert "SEALBOX_READ_RECEIPTS" not in os.environ
    assert django_settings.READ_RECEIPTS == "ask"


def test_opening_a_message_that_asks_sends_nothing_and_asks_the_reader(
    reader: Client, alice: User, relay_sink: RelaySink
) -> None:
    message = asking(alice)

    doc = opened(reader, message)

    form = question(doc)
    assert form is not None
    assert form.text.startswith(f"Carol Sender {QUESTION}")
    assert form.one("bdi").text == "Carol Sender"
    buttons = {b.text: b.attrs["value"] for b in form.find_all("button")}
    assert buttons == {"Send receipt": "send", "Don't send": "decline"}
    assert form.attrs["method"] == "post"
    assert form.find("input", name="csrfmiddlewaretoken") is not None
    assert form.one("a").attrs["href"] == "/settings/#receipts"
    assert receipts_sent(relay_sink) == []
    assert not OutgoingEmail.objects.exists()
    message.refresh_from_db()
    assert message.read_at is not None
    # Opened again, still asked, still nothing sent.
    assert question(opened(reader, message)) is not None
    assert receipts_sent(relay_sink) == []


def test_send_receipt_queues_one_receipt_to_the_sender(
    reader: Client, asked: Message, relay_sink: RelaySink
) -> None:
    r = answer(reader, asked, "send", follow=True)

    doc = page(r)
    assert flash(doc) == ["A read receipt is on its way to Carol Sender."]
    assert question(doc) is None
    [receipt] = receipts_sent(relay_sink)
    assert relay_sink.received[0].rcpt_tos == [CAROL]
    assert relay_sink.received[0].mail_from == "<>"
    assert receipt["Subject"] == "Read: Quarterly figures"
    assert receipt.get_param("report-type") == "disposition-notification"
    assert mdn_fields(receipt)["Disposition"] == "manual-action/MDN-sent-manually; displayed"


def test_answering_twice_sends_one_receipt(
    reader: Client, asked: Message, relay_sink: RelaySink
) -> None:
    answer(reader, asked, "send", follow=True)
    r = answer(reader, asked, "send", follow=True)
    answer(reader, asked, "decline")

    assert flash(page(r)) == []
    assert len(receipts_sent(relay_sink)) == 1
    asked.refresh_from_db()
    assert asked.receipt_declined_at is None


def test_dont_send_sends_nothing_and_the_question_is_gone(
    reader: Client, asked: Message, relay_sink: RelaySink
) -> None:
    r = answer(reader, asked, "decline", follow=True)

    assert flash(page(r)) == ["No read receipt will be sent to Carol Sender."]
    assert question(page(r)) is None
    # Reloaded, marked unread and opened again: never asked again, never sent.
    assert question(opened(reader, asked)) is None
    reader.post(reverse("message-unread", args=[asked.id]))
    assert question(opened(reader, asked)) is None
    answer(reader, asked, "send")
    assert receipts_sent(relay_sink) == []
    assert not OutgoingEmail.objects.filter(kind="receipt").exists()


def test_the_question_names_the_address_when_the_sender_has_no_name(
    reader: Client, alice: User
) -> None:
    message = deliver_to(alice, original_mail(sender=CAROL, disposition_notification_to=CAROL))

    form = question(opened(reader, message))

    assert form is not None
    assert form.one("bdi").text == CAROL


def test_the_senders_name_is_shown_as_text_isolated_from_the_page(
    reader: Client, alice: User
) -> None:
    message = deliver_to(
        alice,
        original_mail(
            sender=f'"<b>كارول</b>" <{CAROL}>',
            disposition_notification_to=CAROL,
        ),
    )

    response = reader.get(reverse("message", args=[message.id]))

    form = question(page(response))
    assert form is not None
    assert form.one("bdi").text == "<b>كارول</b>"
    assert form.find("b") is None
    assert "&lt;b&gt;كارول&lt;/b&gt;" in response.content.decode()


def test_a_message_that_does_not_ask_shows_no_question(reader: Client, alice: User) -> None:
    message = deliver_to(alice, original_mail())

    doc = opened(reader, message)

    assert question(doc) is None
    assert QUESTION not in doc.text


def test_answering_for_a_message_that_did_not_ask_changes_nothing(
    reader: Client, alice: User, relay_sink: RelaySink
) -> None:
    message = deliver_to(alice, original_mail())
    opened(reader, message)

    r = answer(reader, message, "send", follow=True)

    assert r.status_code == 200
    assert flash(page(r)) == []
    assert receipts_sent(relay_sink) == []
    message.refresh_from_db()
    assert message.receipt_sent_at is None and message.receipt_declined_at is None


def test_an_answer_that_is_neither_changes_nothing(reader: Client, alice: User) -> None:
    message = asking(alice)

    r = answer(reader, message, "maybe", follow=True)

    assert question(page(r)) is not None
    assert not OutgoingEmail.objects.exists()


def test_an_outside_sender_who_asks_gets_no_question(reader: Client, alice: User) -> None:
    message = deliver_to(
        alice,
        original_mail(
            sender="Eve <eve@example.com>", disposition_notification_to="eve@example.com"
        ),
    )

    assert question(opened(reader, message)) is None


def test_a_sent_message_never_asks(reader: Client, alice: User) -> None:
    sent = store_sent(alice, original_mail(disposition_notification_to=CAROL))

    assert question(opened(reader, sent)) is None
    answer(reader, sent, "send")
    assert not OutgoingEmail.objects.filter(kind="receipt").exists()


def test_another_reader_cannot_answer_for_someone_elses_message(
    alice: User, bob: User, relay_sink: RelaySink
) -> None:
    message = asking(alice)

    r = answer(signed_in(bob), message, "send")

    assert r.status_code == 404
    assert receipts_sent(relay_sink) == []
    message.refresh_from_db()
    assert message.receipt_sent_at is None


def test_the_answer_needs_the_csrf_token(alice: User) -> None:
    message = asking(alice)

    r = answer(signed_in(alice, csrf=True), message, "send")

    assert r.status_code == 403
    assert not OutgoingEmail.objects.exists()


def test_the_answer_is_a_post(reader: Client, alice: User) -> None:
    message = asking(alice)

    r = reader.get(reverse("message-receipt", args=[message.id]), {"receipt": "send"})

    assert r.status_code == 405
    assert not OutgoingEmail.objects.exists()


def test_a_reader_who_chose_always_sends_on_opening(
    reader: Client, alice: User, relay_sink: RelaySink
) -> None:
    User.objects.filter(pk=alice.pk).update(read_receipts="always")
    message = asking(alice)

    doc = opened(reader, message)

    assert question(doc) is None
    [receipt] = receipts_sent(relay_sink)
    assert relay_sink.received[0].rcpt_tos == [CAROL]
    assert mdn_fields(receipt)["Disposition"] == "manual-action/MDN-sent-automatically; displayed"


def test_a_reader_who_chose_always_sends_nothing_to_a_sender_who_did_not_ask(
    reader: Client, alice: User, relay_sink: RelaySink
) -> None:
    User.objects.filter(pk=alice.pk).update(read_receipts="always")
    message = deliver_to(alice, original_mail())

    opened(reader, message)

    assert receipts_sent(relay_sink) == []


def test_a_reader_who_chose_never_is_not_asked_and_sends_nothing(
    reader: Client, alice: User, relay_sink: RelaySink
) -> None:
    User.objects.filter(pk=alice.pk).update(read_receipts="never")
    message = asking(alice)

    assert question(opened(reader, message)) is None
    answer(reader, message, "send")
    assert receipts_sent(relay_sink) == []


@pytest.mark.parametrize(
    ("policy", "personal", "asks", "sent"),
    [
        ("requested", "ask", True, 1),
        ("requested", "never", True, 1),
        ("always", "ask", False, 1),  # sent without a request
        ("always", "never", False, 1),
        ("off", "ask", True, 0),
        ("off", "always", True, 0),
    ],
)
def test_the_operators_policy_decides_whatever_the_reader_chose(
    reader: Client,
    alice: User,
    relay_sink: RelaySink,
    settings: Any,
    policy: str,
    personal: str,
    asks: bool,
    sent: int,
) -> None:
    settings.READ_RECEIPTS = policy
    User.objects.filter(pk=alice.pk).update(read_receipts=personal)
    message = asking(alice) if asks else deliver_to(alice, original_mail())

    assert question(opened(reader, message)) is None
    answer(reader, message, "send")  # an answer nobody was asked for changes nothing

    receipts = receipts_sent(relay_sink)
    assert len(receipts) == sent
    for receipt in receipts:
        disposition = mdn_fields(receipt)["Disposition"]
        assert disposition == "manual-action/MDN-sent-automatically; displayed"


def test_a_question_left_open_is_answered_after_the_policy_changes_to_off(
    reader: Client, alice: User, relay_sink: RelaySink, settings: Any
) -> None:
    message = asking(alice)
    assert question(opened(reader, message)) is not None

    settings.READ_RECEIPTS = "off"

    assert question(opened(reader, message)) is None
    answer(reader, message, "send")
    assert receipts_sent(relay_sink) == []


def test_on_a_full_disk_the_answer_is_not_recorded_and_the_question_stays(
    reader: Client, asked: Message
) -> None:
    full = OSError(errno.ENOSPC, "No space left on device")

    with mock.patch("sealbox.outbound.queue.enqueue", side_effect=full):
        r = answer(reader, asked, "send")

    assert r.status_code == 503
    assert "The service has run out of storage space" in r.content.decode()
    asked.refresh_from_db()
    assert asked.receipt_sent_at is None
    assert not OutgoingEmail.objects.exists()
    assert question(opened(reader, asked)) is not None


@contextlib.contextmanager
def file_reads() -> Iterator[list[str]]:
    """The stored messages whose start was read (for their headers) meanwhile."""
    read: list[str] = []
    real = blobs.read_head

    def counted(rel: str) -> bytes:
        read.append(rel)
        return real(rel)

    with mock.patch.object(blobs, "read_head", counted):
        yield read


def test_the_first_opening_reads_the_message_once_for_the_question(
    reader: Client, alice: User
) -> None:
    message = asking(alice)

    with file_reads() as read:
        doc = opened(reader, message)

    assert question(doc) is not None
    assert read == [message.blob]


@pytest.mark.parametrize("policy", ["requested", "always"])
def test_the_first_opening_reads_the_message_once_to_send_its_receipt(
    reader: Client, alice: User, relay_sink: RelaySink, settings: Any, policy: str
) -> None:
    settings.READ_RECEIPTS = policy
    message = asking(alice)

    with file_reads() as read:
        opened(reader, message)

    assert read == [message.blob]
    [receipt] = receipts_sent(relay_sink)
    assert receipt["Subject"] == "Read: Quarterly figures"


@pytest.mark.parametrize("choice", ["send", "decline"])
def test_an_answered_message_opens_without_reading_it_for_the_receipt(
    reader: Client, asked: Message, choice: str
) -> None:
    clear_memory()  # answered in another process than the one that showed the page
    with file_reads() as read:
        answer(reader, asked, choice)
    assert read == [asked.blob]

    with file_reads() as read:
        doc = opened(reader, asked)

    assert question(doc) is None
    assert read == []


def test_a_receipt_sent_on_opening_is_not_read_for_again(
    reader: Client, alice: User, settings: Any
) -> None:
    settings.READ_RECEIPTS = "requested"
    message = asking(alice)
    opened(reader, message)

    with file_reads() as read:
        opened(reader, message)

    assert read == []


@pytest.mark.parametrize("case", ["policy off", "reader never", "sent", "from the portal"])
def test_nothing_is_read_when_no_receipt_can_be_asked_or_sent(
    reader: Client, alice: User, settings: Any, case: str
) -> None:
    message = asking(alice)
    if case == "policy off":
        settings.READ_RECEIPTS = "off"
    elif case == "reader never":
        User.objects.filter(pk=alice.pk).update(read_receipts="never")
    elif case == "sent":
        message = store_sent(alice, original_mail(disposition_notification_to=CAROL))
    else:
        Message.objects.filter(pk=message.pk).update(from_portal=True)

    with file_reads() as read:
        doc = opened(reader, message)
        answer(reader, message, "send")

    assert question(doc) is None
    assert read == []
    assert not OutgoingEmail.objects.filter(kind="receipt").exists()

"""The Sent folder: the reader's own copy of what she sent, exactly as it went out."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from sealbox.accounts.models import User
from sealbox.mailstore.models import Message
from sealbox.outbound import queue
from tests.conftest import CAROL, RelaySink
from tests.portal.pages import (
    Node,
    content,
    deliver_to,
    inbox_rows,
    listed_attachments,
    main_text,
    page,
)
from tests.portal.writing import PORTAL_ADDRESS, errors, original_mail, reply_url, send_form

pytestmark = pytest.mark.django_db

SENT = reverse("sent")
PDF = b"%PDF-1.7\n" + bytes(range(256)) * 8 + b"%%EOF\n"
PDF_NAME = "Prüfbericht März.pdf"


@pytest.fixture(autouse=True)
def portal_address(settings: Any) -> None:
    settings.PORTAL_ADDRESS = PORTAL_ADDRESS


def sent_rows(doc: Node) -> list[tuple[str, str]]:
    """(recipients, subject) of each message the Sent folder lists."""
    listing = doc.find("ul", cls="messages")
    if listing is None:
        return []
    return [
        (
            item.one("span", cls="from").text.removeprefix("To:").strip(),
            item.one(cls="subject").text,
        )
        for item in listing.find_all("li")
    ]


def send_reply(reader: Client, alice: User, **fields: Any) -> Message:
    original = deliver_to(alice, original_mail(to="alice@example.net, bob@example.org"))
    response = send_form(
        reader,
        reply_url(original, everyone=True),
        **{
            "to": CAROL,
            "cc": "bob@example.org",
            "subject": "Re: Quarterly figures",
            "body": "Numbers look right.\n",
            "attachments": [SimpleUploadedFile(PDF_NAME, PDF, content_type="application/pdf")],
            **fields,
        },
    )
    assert response.status_code == 302, errors(response)
    return Message.objects.get(owner=alice, folder=Message.Folder.SENT)


def test_an_empty_sent_folder_says_so(reader: Client) -> None:
    doc = page(reader.get(SENT))

    assert sent_rows(doc) == []
    assert "You have not sent anything yet." in doc.one("main").text


def test_a_sent_reply_is_listed_with_its_recipients_and_not_in_the_inbox(
    reader: Client, alice: User
) -> None:
    send_reply(reader, alice)

    assert sent_rows(page(reader.get(SENT))) == [
        (f"{CAROL}, bob@example.org", "Re: Quarterly figures")
    ]
    assert [row.subject for row in inbox_rows(page(reader.get(reverse("inbox"))))] == [
        "Quarterly figures"
    ]


def test_a_sent_message_opens_like_any_message(reader: Client, alice: User) -> None:
    sent = send_reply(reader, alice)

    response = reader.get(reverse("message", args=[sent.id]))

    doc = page(response)
    assert doc.one("h1").text == "Re: Quarterly figures"
    text = main_text(response)
    assert "Numbers look right." in text
    assert CAROL in text
    assert "bob@example.org" in text
    assert PORTAL_ADDRESS in text
    [listed] = listed_attachments(doc)
    assert listed.name == PDF_NAME
    assert content(reader.get(listed.url)) == PDF
    actions = doc.one("nav", cls="actions").text
    assert "Sent" in actions
    assert "Reply" not in actions


def test_the_sent_copy_is_byte_for_byte_what_the_relay_and_the_portal_got(
    reader: Client, alice: User, bob: User, relay_sink: RelaySink
) -> None:
    sent = send_reply(reader, alice)
    queue.process_due()

    eml = content(reader.get(reverse("message-eml", args=[sent.id])))

    [got] = relay_sink.received
    # The relay's copy is the same message under Sealbox's loop mark.
    mark, relayed = got.data.split(b"\r\n", 1)
    assert mark.startswith(b"Sealbox-Loop: v1 ")
    assert eml == relayed
    bobs = Client()
    bobs.force_login(bob)
    [copy] = Message.objects.filter(owner=bob)
    # Bob's copy is the same message under the trace lines of its delivery.
    assert content(bobs.get(reverse("message-eml", args=[copy.id]))).endswith(eml)


def test_a_sent_message_is_never_shown_as_unread(reader: Client, alice: User) -> None:
    send_reply(reader, alice)

    doc = page(reader.get(SENT))

    assert "unread" not in doc.one("ul", cls="messages").one("li").classes()


def test_marking_a_sent_message_unread_returns_to_the_sent_folder(
    reader: Client, alice: User
) -> None:
    sent = send_reply(reader, alice)

    response = reader.post(reverse("message-unread", args=[sent.id]))

    assert response.status_code == 302
    assert response["Location"] == SENT
    assert "unread" in page(reader.get(SENT)).one("ul", cls="messages").one("li").classes()

"""Replying from the portal, end to end in Chromium: reply all with an attachment.

The reply goes to an internal sender (through the relay, by the outgoing queue)
and to an outside Cc (into his own Sealbox mailbox, never through the relay).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from email.utils import format_datetime, getaddresses
from typing import Any

import pytest
from playwright.sync_api import FilePayload, Locator, Page, expect

from sealbox.accounts.models import User
from sealbox.intake.delivery import deliver
from sealbox.mailstore import blobs
from sealbox.mailstore.models import Message
from sealbox.outbound import notify, queue
from sealbox.outbound.models import NotificationState
from tests.browser.conftest import Portal, Watch, sign_in
from tests.browser.content import pdf
from tests.conftest import CAROL, RelaySink

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "correct horse battery staple"  # alice's, from tests/conftest.py
PORTAL_ADDRESS = "secure@corp.example"  # tests/conftest.py sets NOTIFY_FROM to this address
DAVE = "dave@example.com"
ORIGINAL_ID = "<contract-2027.4711@corp.example>"
SUBJECT = "Contract amendments for 2027"
ORIGINAL_TEXT = "Hello Alice,\n\nplease confirm the amendments by Friday.\n\nCarol\n"
TYPED = "Thanks, Carol — signed, with two small changes."
ATTACHMENT_NAME = "Gegenangebot \N{EN DASH} Änderungen 2027 見積.pdf"
ATTACHMENT = pdf() + "reply ✓".encode()
LABELS = {
    "id_to": "To",
    "id_cc": "Cc",
    "id_subject": "Subject",
    "id_body": "Message",
    "id_attachments": "Attachments",
}

NO_SIDEWAYS_SCROLL = "() => document.documentElement.scrollWidth <= screen.width"


def original(to: str) -> bytes:
    msg = EmailMessage(policy=policy.SMTP)
    msg["From"] = f"Carol Sender <{CAROL}>"
    msg["To"] = f"Alice <{to}>"
    msg["Cc"] = f"Dave Outside <{DAVE}>"
    msg["Subject"] = SUBJECT
    msg["Date"] = format_datetime(datetime(2026, 11, 20, 9, 30, tzinfo=UTC))
    msg["Message-ID"] = ORIGINAL_ID
    msg.set_content(ORIGINAL_TEXT)
    return msg.as_bytes()


def parse(data: bytes) -> EmailMessage:
    return message_from_bytes(data, _class=EmailMessage, policy=policy.default)


def addrs(msg: EmailMessage, header: str) -> list[str]:
    return [a for _name, a in getaddresses([str(v) for v in msg.get_all(header, [])])]


def text_of(msg: EmailMessage) -> str:
    body = msg.get_body(("plain",))
    assert body is not None
    # Sent as SMTP has it, with CRLF line ends; compared as text.
    return str(body.get_content()).replace("\r\n", "\n")


def attachments_of(msg: EmailMessage) -> list[tuple[str | None, bytes]]:
    return [(part.get_filename(), part.get_content()) for part in msg.iter_attachments()]


def test_reply_with_an_attachment_on_a_phone(
    page: Page,
    viewport: str,
    portal: Portal,
    alice: User,
    relay_sink: RelaySink,
    watch: Watch,
    shoot: Callable[..., None],
    settings: Any,
) -> None:
    # Derived from NOTIFY_FROM only when settings load; here, the test's own.
    settings.PORTAL_ADDRESS = PORTAL_ADDRESS

    def press(target: Locator) -> None:
        # A finger on the phone, a mouse on the desktop.
        if viewport == "phone":
            target.tap()
        else:
            target.click()

    [received] = deliver(CAROL, [alice.email], original(alice.email))
    assert received.message_id == ORIGINAL_ID
    sign_in(page, alice.email, PASSWORD)
    press(page.locator("ul.messages li").filter(has_text=SUBJECT).get_by_role("link"))
    expect(page).to_have_url(portal.link(f"/m/{received.id}/"))
    expect(page.get_by_role("heading", level=1)).to_have_text(SUBJECT)

    # Reply all: the form comes prefilled with the sender, the Cc, "Re:" and the quote.
    press(page.get_by_role("link", name="Reply all", exact=True))
    expect(page).to_have_url(portal.link(f"/m/{received.id}/reply/?all=1"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Reply to all")
    to = page.get_by_label("To", exact=True)
    cc = page.get_by_label("Cc", exact=True)
    subject = page.get_by_label("Subject", exact=True)
    body = page.get_by_label("Message", exact=True)
    files = page.get_by_label("Attachments", exact=True)
    expect(to).to_have_value(CAROL)
    expect(cc).to_have_value(DAVE)
    expect(subject).to_have_value(f"Re: {SUBJECT}")
    prefilled = body.input_value()
    # Two empty lines to write in above the quote (the textarea keeps both).
    assert prefilled.startswith("\n\nOn "), prefilled
    assert f"Carol Sender <{CAROL}> wrote:" in prefilled
    assert "\n> please confirm the amendments by Friday.\n" in prefilled
    assert alice.email not in to.input_value() + cc.input_value()

    # Every field has a label a reader can see, beside the field, inside the screen.
    width = page.evaluate("() => screen.width")
    for field_id, text in LABELS.items():
        label = page.locator(f"label[for={field_id}]")
        expect(label).to_be_visible()
        expect(label).to_have_text(text)
        box = label.bounding_box()
        assert box is not None and box["height"] >= 12 and box["width"] >= 12, (text, box)
        assert 0 <= box["x"] and box["x"] + box["width"] <= width, (text, box)
        expect(page.get_by_label(text, exact=True)).to_have_attribute("id", field_id)
    assert page.evaluate(NO_SIDEWAYS_SCROLL), page.evaluate(
        "() => [document.documentElement.scrollWidth, screen.width]"
    )

    # A line typed at the top, above the quote; a file with a Unicode name.
    press(body)
    body.press("Control+Home")
    page.keyboard.type(TYPED)
    assert body.input_value() == TYPED + prefilled
    upload = FilePayload(name=ATTACHMENT_NAME, mimeType="application/pdf", buffer=ATTACHMENT)
    files.set_input_files(files=[upload])
    assert files.evaluate("input => [...input.files].map(f => f.name)") == [ATTACHMENT_NAME]
    assert page.evaluate(NO_SIDEWAYS_SCROLL), "the filled-in reply form scrolls sideways"
    shoot("reply-form")

    # Send: the sent copy, with the confirmation.
    press(page.get_by_role("button", name="Send", exact=True))
    expect(page.get_by_role("status")).to_be_visible()
    [sent] = Message.objects.filter(owner=alice, folder=Message.Folder.SENT)
    expect(page).to_have_url(portal.link(f"/m/{sent.id}/"))
    expect(page.get_by_role("status")).to_have_text("Your message was sent.")
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Re: {SUBJECT}")
    expect(page.locator("dl.headers")).to_contain_text(CAROL)
    expect(page.locator("dl.headers")).to_contain_text(DAVE)
    expect(page.locator(".text-body").first).to_contain_text(TYPED)
    attachments = page.locator("section.attachments")
    expect(attachments.get_by_role("link", name=ATTACHMENT_NAME, exact=True)).to_be_visible()
    expect(page.get_by_role("link", name="Reply all")).to_have_count(0)
    # Back to Sent: the arrow is decoration (hidden from screen readers, mirrored right to left).
    actions = page.get_by_role("navigation", name="Message actions")
    expect(actions.get_by_role("link", name="Sent", exact=True)).to_be_visible()
    assert page.evaluate(NO_SIDEWAYS_SCROLL), "the sent copy scrolls sideways"
    shoot("sent")

    # The Sent folder lists it.
    press(page.get_by_role("navigation", name="Main").get_by_role("link", name="Sent"))
    expect(page).to_have_url(portal.link("/sent/"))
    row = page.locator("ul.messages li").filter(has_text=f"Re: {SUBJECT}")
    expect(row).to_have_count(1)
    expect(page.locator("ul.messages li")).to_have_count(1)
    shoot("sent-folder", dark=False)

    # The relay: exactly one message, for Carol only, answering the original.
    assert relay_sink.received == []  # nothing leaves before the worker runs
    assert queue.process_due() == 1
    [relayed] = relay_sink.received
    assert relayed.rcpt_tos == [CAROL]
    assert relayed.mail_from == PORTAL_ADDRESS
    mail = parse(relayed.data)
    assert [(a.display_name, a.addr_spec) for a in mail["From"].addresses] == [
        (f"{alice.email} via Sealbox", PORTAL_ADDRESS)
    ]
    assert mail["In-Reply-To"] == ORIGINAL_ID
    assert ORIGINAL_ID in str(mail["References"]).split()
    assert addrs(mail, "Reply-To") == [alice.email]
    assert addrs(mail, "To") == [CAROL]
    assert addrs(mail, "Cc") == [DAVE]
    assert mail["Subject"] == f"Re: {SUBJECT}"
    assert text_of(mail).startswith(TYPED + "\n\nOn ")
    assert attachments_of(mail) == [(ATTACHMENT_NAME, ATTACHMENT)]
    assert mail["Message-ID"] == sent.message_id

    # Dave, outside: the same reply, in his own (new, not yet activated) Sealbox mailbox.
    dave = User.objects.get(email=DAVE)
    assert not dave.is_activated
    [kept] = Message.objects.filter(owner=dave)
    assert kept.folder == Message.Folder.INBOX
    assert kept.subject == f"Re: {SUBJECT}"
    assert kept.message_id == sent.message_id
    theirs = parse(blobs.read(kept.blob))
    assert theirs["In-Reply-To"] == ORIGINAL_ID
    assert text_of(theirs).startswith(TYPED + "\n\nOn ")
    assert attachments_of(theirs) == [(ATTACHMENT_NAME, ATTACHMENT)]
    assert NotificationState.objects.get(user=dave).due_at is not None
    assert all(DAVE not in r.rcpt_tos for r in relay_sink.received)

    # Later, the worker tells Dave that mail is waiting: a notification that
    # carries neither the reply's text nor its attachment.
    notify.send_due()
    queue.process_due()
    [notice] = [r for r in relay_sink.received[1:] if DAVE in r.rcpt_tos]
    assert notice.rcpt_tos == [DAVE]
    assert relay_sink.received[1:] == [notice]
    assert TYPED not in text_of(parse(notice.data))
    assert attachments_of(parse(notice.data)) == []

    assert [c for c in watch.console if c.startswith("error")] == []
    assert watch.dialogs == []
    assert watch.popups == []

"""Writing from the portal the way a reader does: the compose form, and what it sent."""

from __future__ import annotations

from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from email.utils import format_datetime
from typing import TYPE_CHECKING, Any

from django.test import Client
from django.urls import reverse

from sealbox.mailstore.models import Message
from sealbox.outbound.models import OutgoingEmail
from tests.conftest import CAROL
from tests.portal.pages import parse_html

if TYPE_CHECKING:
    from django.test.client import _MonkeyPatchedWSGIResponse as HttpResponse
else:
    HttpResponse = Any

PORTAL_ADDRESS = "secure@corp.example"
ORIGINAL_ID = "<q4-figures.1234@mail.corp.example>"


def original_mail(
    *,
    subject: str = "Quarterly figures",
    body: str = "Hello Alice,\n\nthe figures are attached.\nCarol\n",
    sender: str = f"Carol Sender <{CAROL}>",
    to: str = "Alice Liddell <alice@example.net>",
    cc: str | None = None,
    message_id: str | None = ORIGINAL_ID,
    subtype: str = "plain",
    **headers: str,
) -> bytes:
    """A message from inside the organisation, as the gateway hands it over.

    Extra headers by keyword, underscores for dashes: reply_to="...",
    disposition_notification_to="...".
    """
    msg = EmailMessage(policy=policy.SMTP)
    msg["From"] = sender
    msg["To"] = to
    if cc:
        msg["Cc"] = cc
    msg["Subject"] = subject
    msg["Date"] = format_datetime(datetime(2026, 11, 20, 9, 30, tzinfo=UTC))
    if message_id:
        msg["Message-ID"] = message_id
    for name, value in headers.items():
        msg[name.replace("_", "-").title()] = value
    msg.set_content(body, subtype=subtype)
    return msg.as_bytes()


def reply_url(message: Message, everyone: bool = False) -> str:
    return reverse("reply", args=[message.id]) + ("?all=1" if everyone else "")


def form_fields(response: HttpResponse) -> dict[str, str]:
    """The compose form's fields as the reader finds them filled in."""
    assert response.status_code == 200, response.status_code
    form = parse_html(response.content).one("form", cls="compose")
    fields = {
        n.attrs["name"]: n.attrs.get("value", "")
        for n in form.find_all("input")
        if n.attrs.get("type") == "text"
    }
    # A browser drops one newline right after <textarea> (HTML's parsing rules).
    fields["body"] = form.one("textarea").raw_text.removeprefix("\n")
    return fields


def errors(response: HttpResponse) -> list[str]:
    """Every error the compose page shows, in order."""
    assert response.status_code == 200, response.status_code
    form = parse_html(response.content).one("form", cls="compose")
    return [li.text for ul in form.find_all("ul", cls="errorlist") for li in ul.find_all("li")]


def send_form(client: Client, url: str, **fields: Any) -> HttpResponse:
    """Submit the compose form as a browser does (multipart, every field present)."""
    data = {"to": "", "cc": "", "subject": "", "body": "", **fields}
    return client.post(url, data)


def parse(raw: bytes) -> EmailMessage:
    msg = message_from_bytes(raw, policy=policy.default)
    assert isinstance(msg, EmailMessage)
    return msg


def text_body(msg: EmailMessage) -> str:
    part = msg.get_body(("plain",))
    assert part is not None
    content = part.get_content()
    assert isinstance(content, str)
    return content.replace("\r\n", "\n")


def nothing_sent() -> bool:
    """No email queued, no message stored in anyone's mailbox, no Sent copy."""
    return (
        not OutgoingEmail.objects.exists()
        and not Message.objects.exclude(envelope_from=CAROL, folder=Message.Folder.INBOX).exists()
    )

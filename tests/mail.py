"""Building test messages."""

from __future__ import annotations

from datetime import UTC, datetime
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, make_msgid

from tests.conftest import CAROL


def make_message(
    subject: str = "Quarterly figures",
    body: str = "Hello,\n\nthe figures are attached.\n",
    sender: str = f"Carol Sender <{CAROL}>",
    to: str = "alice@example.net",
    attachments: list[tuple[str, str, bytes]] | None = None,
) -> bytes:
    msg = EmailMessage(policy=SMTP)
    msg["From"] = sender
    msg["To"] = to
    msg["Subject"] = subject
    msg["Date"] = format_datetime(datetime(2026, 11, 20, 9, 30, tzinfo=UTC))
    msg["Message-ID"] = make_msgid(domain="corp.example")
    msg.set_content(body)
    for filename, ctype, payload in attachments or []:
        maintype, subtype = ctype.split("/")
        msg.add_attachment(payload, maintype=maintype, subtype=subtype, filename=filename)
    return msg.as_bytes()

"""What the accounts tests share: the outbox, links in emails, pages compared without their CSRF token."""

from __future__ import annotations

import re
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

from django.conf import settings
from django.http import HttpResponse
from django.test import Client

from sealbox.accounts.models import User
from sealbox.outbound import queue

PASSWORD = "correct horse battery staple"  # alice's, from tests/conftest.py
NEW_PASSWORD = "velvet-harbour-lantern-93"
DAVE = "dave@example.com"


@dataclass
class Sent:
    """An email as the worker wrote it to the outbox (no relay configured)."""

    raw: bytes
    message: EmailMessage

    @property
    def to(self) -> str:
        return str(self.message["To"])

    @property
    def subject(self) -> str:
        return str(self.message["Subject"])

    @property
    def text(self) -> str:
        part = self.message.get_body(("plain",))
        assert part is not None
        return str(part.get_content())

    @property
    def html(self) -> str:
        part = self.message.get_body(("html",))
        assert part is not None
        return str(part.get_content())

    @property
    def link(self) -> str:
        """The one portal link in the text part, as a path to request."""
        [link] = re.findall(r"http://portal\.test(/\S*)", self.text)
        return str(link)


def sent_emails() -> list[Sent]:
    """Run the worker's sending pass; every email in the outbox so far, oldest first."""
    queue.process_due()
    files = sorted(Path(settings.OUTBOX_DIR).glob("*.eml"), key=lambda p: p.stat().st_mtime_ns)
    out = []
    for path in files:
        raw = path.read_bytes()
        msg = message_from_bytes(raw, _class=EmailMessage, policy=policy.default)
        assert isinstance(msg, EmailMessage)
        out.append(Sent(raw, msg))
    return out


def page(response: HttpResponse) -> str:
    return response.content.decode()


def without_csrf(response: HttpResponse) -> str:
    """The page with its (per-request) CSRF token blanked out."""
    return re.sub(
        r'name="csrfmiddlewaretoken" value="[^"]*"', 'name="csrfmiddlewaretoken"', page(response)
    )


def signed_in(user: User, password: str = PASSWORD) -> Client:
    """A browser that signed in through the sign-in page."""
    client = Client()
    r = client.post("/signin/", {"username": user.email, "password": password})
    assert r.status_code == 302, page(r)
    return client


def is_signed_in(client: Client) -> bool:
    return client.get("/inbox/").status_code == 200


def recipient(email: str = DAVE) -> User:
    """A recipient whose mailbox exists (mail arrived) but who has not chosen a password yet."""
    user, _ = User.objects.recipient(email)
    return user

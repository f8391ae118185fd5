"""Every kind of email Sealbox sends, made through the code that sends it, as delivered."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import time_machine
from django.test import Client, override_settings
from django.urls import reverse
from django.utils import timezone

from sealbox.accounts.models import User
from sealbox.housekeeping import reminders
from sealbox.intake.delivery import MailboxFull, deliver
from sealbox.mailstore import quota
from sealbox.mailstore.models import Message
from sealbox.outbound import accountmail, notify, receipts
from sealbox.portal import sending
from tests.accounts.helpers import sent_emails
from tests.browser.content import png
from tests.conftest import CAROL
from tests.mail import make_message

NEW = "dave@example.com"
PHRASE = "copper lantern meadow"
SENT_AT = datetime(2026, 11, 20, 9, 30, tzinfo=UTC)


def brand(settings: Any, tmp_path: Path, logo: bool = True) -> None:
    """A realistic organisation: its name, PNG logo, colour, contacts and links."""
    settings.ORG_NAME = "Harbour Bank"
    settings.NOTIFY_FROM = "secure@corp.example"
    settings.BASE_URL = "https://secure.corp.example"
    settings.BRAND_COLOR = "#0b5cad"
    settings.SUPPORT_CONTACT = [
        "support@corp.example",
        "+49 30 1234 5678",
        "https://www.corp.example/help",
    ]
    settings.PRIVACY_URL = "https://www.corp.example/privacy"
    settings.IMPRINT_URL = "https://www.corp.example/imprint"
    settings.TIME_ZONE = "Europe/Berlin"
    if logo:
        path = tmp_path / "logo.png"
        path.write_bytes(png(160, 40))
        settings.ORG_LOGO = path


def parse(raw: bytes) -> EmailMessage:
    msg = message_from_bytes(raw, _class=EmailMessage, policy=policy.default)
    assert isinstance(msg, EmailMessage)
    return msg


def activated(address: str = "alice@example.net", phrase: str = PHRASE) -> User:
    user = User.objects.filter(email=address).first() or User.objects.create_user(
        address, "correct horse battery staple"
    )
    user.phrase = phrase
    user.save(update_fields=["phrase"])
    return user


# When the sample messages arrive (notifications say when a message came).
ARRIVED = datetime(2026, 11, 20, 9, 30, tzinfo=UTC)


def arrive(address: str, count: int = 1) -> list[Message]:
    stored = []
    with time_machine.travel(ARRIVED, tick=True):
        for i in range(count):
            subject = "Quarterly figures" if i == 0 else f"Quarterly figures, part {i + 1}"
            stored += deliver(CAROL, [address], make_message(subject=subject, to=address))
    return stored


def last_email() -> EmailMessage:
    return parse(sent_emails()[-1].raw)


def notification(address: str, count: int = 1) -> EmailMessage:
    arrive(address, count)
    notify.send_due()
    return last_email()


def new_link(address: str) -> EmailMessage:
    """An activation link asked for by a recipient who never chose a password."""
    if not User.objects.filter(email=address).exists():
        arrive(address)
    accountmail.send_link(address)
    return last_email()


def reset(user: User) -> EmailMessage:
    accountmail.send_link(user.email)
    return last_email()


def signin_code(address: str) -> EmailMessage:
    """A sign-in code, asked for on the portal's page (SEALBOX_SIGNIN_EMAIL_CODE on)."""
    if not User.objects.filter(email=address).exists():
        arrive(address)
    with override_settings(SIGNIN_EMAIL_CODE=True):
        Client().post(reverse("signin-code"), {"email": address})
    return last_email()


# When the reminder for the sample messages is due: 3 days before the default 90 run out.
REMINDED = ARRIVED + timedelta(days=87, hours=1)


def expiry_reminder(address: str, count: int = 2) -> EmailMessage:
    """The reminder for `count` unread messages, made by the clean-up's own code."""
    arrive(address, count)
    with time_machine.travel(REMINDED, tick=False):
        assert reminders.send_due() == 1
        return last_email()


def quota_full(user: User) -> EmailMessage:
    user.quota_mb = 1
    user.usage_bytes = 1024 * 1024
    user.save(update_fields=["quota_mb", "usage_bytes"])
    notify.tell_full(user)
    return last_email()


def quota_too_large(user: User) -> EmailMessage:
    """A 2.2 MB message for an empty 1 MiB mailbox: refused as larger than the whole mailbox."""
    user.quota_mb = 1
    user.save(update_fields=["quota_mb"])
    big = make_message(to=user.email, subject="Scans", body=("x" * 75 + "\n") * 30_000)
    try:
        deliver(CAROL, [user.email], big)
    except MailboxFull:
        pass
    return last_email()


def read_receipt(user: User) -> EmailMessage:
    [message] = arrive(user.email)
    message.read_at = timezone.now()
    return parse(receipts.build(message, CAROL).as_bytes())


def relayed_reply(user: User) -> EmailMessage:
    [original] = arrive(user.email)
    msg, _envelope = sending.build(
        user,
        [CAROL],
        [],
        "Re: Quarterly figures",
        "Dear Carol,\n\nthank you, the figures look right to me. I will send the signed copy "
        "on Monday.\n\nKind regards,\nAlice\n",
        [],
        original,
    )
    return parse(msg.as_bytes())


# Every kind, by name: what each makes of a fresh database.
def mailbox_full_report() -> EmailMessage:
    """The report to the organisation's sender when one recipient's mailbox is full."""
    full = User.objects.create_user("full@example.org", quota_mb=1)
    User.objects.filter(pk=full.pk).update(usage_bytes=quota.MIB)
    deliver(CAROL, [NEW, full.email], make_message(to=full.email, subject="Contract"))
    [report] = [s for s in sent_emails() if s.message["To"] == CAROL]
    return parse(report.raw)


KINDS: dict[str, Callable[[], EmailMessage]] = {
    "notification-new-1": lambda: notification(NEW),
    "notification-new-3": lambda: notification(NEW, 3),
    "notification-activated-1": lambda: notification(activated().email),
    "notification-activated-3": lambda: notification(activated().email, 3),
    "new-link": lambda: new_link(NEW),
    "reset": lambda: reset(activated()),
    "signin-code": lambda: signin_code(activated().email),
    "signin-code-new": lambda: signin_code(NEW),
    "expiry-reminder": lambda: expiry_reminder(activated().email),
    "expiry-reminder-1": lambda: expiry_reminder(activated().email, 1),
    "expiry-reminder-new": lambda: expiry_reminder(NEW, 1),
    "quota-full": lambda: quota_full(activated()),
    "quota-too-large": lambda: quota_too_large(activated()),
    "read-receipt": lambda: read_receipt(activated()),
    "relayed-reply": lambda: relayed_reply(activated()),
    "mailbox-full-report": mailbox_full_report,
}

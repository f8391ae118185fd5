"""One reminder email before unread messages are removed by the clean-up.

SEALBOX_EXPIRY_REMINDER_DAYS before a message's retention runs out, a
recipient who has not read it (and has not turned reminders off) gets an
email saying how many unread messages will go and when, naming them as a
notification does (notify.listing); one who never chose a password gets a
new activation link in it. Each message is
named in one reminder at most: a message is marked in the transaction that
queues the email, so two workers never send the same reminder twice. An
account gets at most one reminder a day: where mail arrives steadily, the
messages that came into the window since are named in the next day's one.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from sealbox.accounts.models import User
from sealbox.mailstore import expiry
from sealbox.mailstore.models import Message
from sealbox.outbound import emails, notify

log = logging.getLogger(__name__)

# Least time between two reminders to one account.
GAP = timedelta(days=1)


def due(now: datetime) -> dict[int, list[Message]]:
    """Unread, not yet reminded inbox messages about to expire, by account."""
    window = timedelta(days=settings.EXPIRY_REMINDER_DAYS)
    candidates = (
        Message.objects.filter(
            expiry.expiring(window, now),
            folder=Message.Folder.INBOX,
            read_at__isnull=True,
            expiry_reminded=False,
            owner__expiry_reminders=True,
            owner__is_active=True,
        )
        # Reminded within the gap: not worth a transaction each run (checked again under lock).
        .exclude(owner__expiry_reminded_at__gt=now - GAP)
        .only("id", "owner_id", "received_at")
        .order_by("received_at")
    )
    by_owner: dict[int, list[Message]] = {}
    for message in candidates:
        by_owner.setdefault(message.owner_id, []).append(message)
    return by_owner


class _NotNow(Exception):
    """This account gets no reminder in this run; its transaction rolls back."""


def _claim(owner_id: int, ids: list[Any], now: datetime) -> tuple[list[Message], User]:
    """Mark the messages a reminder names, and the account reminded; call in a transaction.

    Locks in the order deletions take them (the messages, then their account),
    so a reminder and a deletion at once cannot deadlock. A second worker
    waits on the messages, then finds them marked; one with newer messages
    waits on the account, then finds it reminded today.
    """
    named = list(
        Message.objects.select_for_update(of=("self",))
        .filter(id__in=ids, expiry_reminded=False)
        .only("id", "received_at")
    )
    if not named:
        raise _NotNow  # another worker reminded them, or they went
    # Looked at again under the lock: removed, disabled or turned off meanwhile.
    user = (
        User.objects.select_for_update()
        .filter(pk=owner_id, is_active=True, expiry_reminders=True)
        .first()
    )
    if user is None or (user.expiry_reminded_at and user.expiry_reminded_at > now - GAP):
        raise _NotNow
    Message.objects.filter(id__in=[m.id for m in named]).update(expiry_reminded=True)
    User.objects.filter(pk=owner_id).update(expiry_reminded_at=now)
    return named, user


def _context(user: User, named: list[Message], now: datetime) -> dict[str, Any]:
    """What the reminder says: how many go and when, who sent them, where the link leads.

    The removal date comes from expiry.expires_at, and what is said of the link's
    lifetime from notify.link_lifetime, so that the email never says a link works
    longer than the messages it leads to are kept. One who never chose a password cannot use the
    settings page: they get no link to it.
    """
    first = min(
        expiry.expires_at(m.received_at, user.effective_retention_days) or now for m in named
    )
    # The first few named, in full (with encryption at rest, their summaries opened).
    shown = list(
        Message.objects.filter(id__in=[m.id for m in named]).order_by("received_at")[
            : notify.LISTED
        ]
    )
    link, activation = notify.portal_link(user)
    return {
        "count": len(named),
        "first_date": first,
        **notify.listing(shown, len(named)),
        "link": link,
        "activation": activation,
        **notify.link_lifetime(activation, first, now),
        "settings_link": "" if activation else settings.BASE_URL + reverse("settings") + "#storage",
    }


def send_due(now: datetime | None = None) -> int:
    """Queue the reminders that are due; return how many were queued."""
    if not settings.EXPIRY_REMINDER_DAYS:
        return 0
    now = now or timezone.now()
    sent = 0
    for owner_id, messages in due(now).items():
        try:
            with transaction.atomic():
                named, user = _claim(owner_id, [m.id for m in messages], now)
                context = _context(user, named, now)
                first = context["first_date"]
                emails.expiry_reminder(user, context)
        except _NotNow:
            continue
        sent += 1
        log.info(
            "account %s: reminded of %d unread message(s) removed from %s",
            owner_id,
            len(named),
            first.isoformat(),
        )
    return sent

"""One reminder email before unread messages are removed by the clean-up.

SEALBOX_EXPIRY_REMINDER_DAYS before a message's retention runs out, a
recipient who has not read it (and has not turned reminders off) gets an
email saying how many unread messages will go and when. Each message is
named in one reminder at most: a message is marked in the transaction that
queues the email, so two workers never send the same reminder twice.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from sealbox.accounts.models import User
from sealbox.housekeeping import retention
from sealbox.mailstore.models import Message
from sealbox.outbound import emails

log = logging.getLogger(__name__)


def due(now: datetime) -> dict[int, list[Message]]:
    """Unread, not yet reminded inbox messages about to expire, by account."""
    window = timedelta(days=settings.EXPIRY_REMINDER_DAYS)
    candidates = (
        Message.objects.filter(
            retention.expiring(window, now),
            folder=Message.Folder.INBOX,
            read_at__isnull=True,
            expiry_reminded=False,
            owner__expiry_reminders=True,
            owner__is_active=True,
            owner__activated_at__isnull=False,
        )
        .only("id", "owner_id", "received_at")
        .order_by("received_at")
    )
    by_owner: dict[int, list[Message]] = {}
    for message in candidates:
        by_owner.setdefault(message.owner_id, []).append(message)
    return by_owner


def send_due(now: datetime | None = None) -> int:
    """Queue the reminders that are due; return how many were queued."""
    if not settings.EXPIRY_REMINDER_DAYS:
        return 0
    now = now or timezone.now()
    sent = 0
    for owner_id, messages in due(now).items():
        with transaction.atomic():
            ids = [m.id for m in messages]
            claimed = Message.objects.filter(id__in=ids, expiry_reminded=False).update(
                expiry_reminded=True
            )
            if not claimed:
                continue  # another worker reminded them
            user = User.objects.get(pk=owner_id)
            first = min(
                retention.expires_at(m.received_at, user.effective_retention_days) or now
                for m in messages
            )
            context = {
                "email": user.email,
                "count": claimed,
                "first_date": timezone.localtime(first),
                "link": settings.BASE_URL + reverse("inbox"),
                "settings_link": settings.BASE_URL + reverse("settings") + "#storage",
            }
            emails.send("expiry-reminder", context, user.email)
            sent += 1
        log.info(
            "account %s: reminded of %d unread message(s) removed from %s",
            owner_id,
            claimed,
            first.isoformat(),
        )
    return sent

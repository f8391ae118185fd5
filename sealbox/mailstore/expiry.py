"""When a message expires: SEALBOX_RETENTION_DAYS after it arrived, or the period
its recipient chose in their settings; 0 keeps it.

The one rule, as a date for one message (expires_at) and as database conditions
for many (expired, expiring). The clean-up that removes what ran out is
housekeeping/retention.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from sealbox.accounts.models import User

# The inbox says when a message will be removed once it is this close.
SHOW_EXPIRY_WITHIN = timedelta(days=7)


def expires_at(received_at: datetime, retention_days: int) -> datetime | None:
    return received_at + timedelta(days=retention_days) if retention_days else None


def _periods() -> Iterator[tuple[Q, int]]:
    """(accounts, days) for every retention period in use; 0 (keep) left out."""
    if settings.RETENTION_DAYS:
        yield Q(retention_days__isnull=True), settings.RETENTION_DAYS
    chosen = (
        User.objects.filter(retention_days__gt=0)
        .values_list("retention_days", flat=True)
        .distinct()
        .order_by()
    )
    for days in chosen:
        if days:
            yield Q(retention_days=days), days


def _owners(accounts: Q) -> Q:
    """`accounts` (a condition on User) as a condition on Message.owner.

    EXISTS rather than IN: with IN, SQLite reads every message of the accounts
    through the owner index and sorts them for each batch; EXISTS lets it walk
    msg_received oldest first and stop after a batch.
    """
    return Q(Exists(User.objects.filter(accounts, pk=OuterRef("owner_id"))))


def expired(now: datetime | None = None) -> Q:
    """Messages whose retention period has run out."""
    now = now or timezone.now()
    matching = Q(pk__in=[])
    for accounts, days in _periods():
        matching |= _owners(accounts) & Q(received_at__lt=now - timedelta(days=days))
    return matching


def expiring(within: timedelta, now: datetime | None = None) -> Q:
    """Messages not expired yet that will be within `within`."""
    now = now or timezone.now()
    matching = Q(pk__in=[])
    for accounts, days in _periods():
        cutoff = now - timedelta(days=days)
        matching |= _owners(accounts) & Q(received_at__gte=cutoff, received_at__lt=cutoff + within)
    return matching

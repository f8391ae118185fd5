"""What operators see of accounts and the service: status, usage, counts. Never content."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db.models import Count, Exists, F, OuterRef, Q, QuerySet, Sum
from django.utils import timezone

from sealbox.accounts import throttle
from sealbox.accounts.models import Passkey, Throttle, User
from sealbox.intake import loops
from sealbox.mailstore import expiry, quota
from sealbox.mailstore.models import Message
from sealbox.outbound import queue
from sealbox.outbound.models import OutgoingEmail

NEVER_ACTIVATED = "never activated"
ACTIVE = "active"
LOCKED = "locked"
DISABLED = "disabled"
STATUSES = (NEVER_ACTIVATED, ACTIVE, LOCKED, DISABLED)


def locked_keys() -> set[str]:
    """The throttle keys locked now, for status() over many accounts with one query."""
    now = timezone.now()
    return set(Throttle.objects.filter(locked_until__gt=now).values_list("key", flat=True))


def status(user: User, locked: set[str] | None = None) -> str:
    """One word for the account: disabled, never activated, locked (sign-in paused) or active.

    locked: locked_keys(), when asking for many accounts.
    """
    if not user.is_active:
        return DISABLED
    if not user.is_activated:
        return NEVER_ACTIVATED
    key = throttle.Key(throttle.ACCOUNT, user.email)
    if throttle.locked(key) if locked is None else key.digest in locked:
        return LOCKED
    return ACTIVE


def accounts() -> QuerySet[User]:
    """Accounts with message_count, limit_bytes (0: none) and two_factor annotated."""
    return User.objects.annotate(
        message_count=Count("messages", distinct=True),
        limit_bytes=quota.limit_expression(),
        two_factor=Q(totp_enabled_at__isnull=False)
        | Exists(Passkey.objects.filter(user=OuterRef("pk"))),
    )


def with_status(qs: QuerySet[User], wanted: str) -> QuerySet[User]:
    """Only accounts of one status (see status())."""
    if wanted == DISABLED:
        return qs.filter(is_active=False)
    if wanted == NEVER_ACTIVATED:
        return qs.filter(is_active=True, activated_at__isnull=True)
    active = qs.filter(is_active=True, activated_at__isnull=False)
    # Throttle keys are hashed addresses: hash each account's to compare (only
    # when some key is locked at all, which is rare).
    locked = locked_keys()
    locked_emails = []
    if locked:
        locked_emails = [
            email
            for email in active.values_list("email", flat=True)
            if throttle.Key(throttle.ACCOUNT, email).digest in locked
        ]
    if wanted == LOCKED:
        return active.filter(email__in=locked_emails)
    return active.exclude(email__in=locked_emails)


def over_share(qs: QuerySet[User], percent: int = settings.QUOTA_WARN_PERCENT) -> QuerySet[User]:
    """Accounts using at least `percent` of a limited quota."""
    return (
        qs.alias(_limit=quota.limit_expression())
        .exclude(_limit=0)
        .filter(usage_bytes__gte=F("_limit") * percent / 100)
    )


def never_signed_in(qs: QuerySet[User]) -> QuerySet[User]:
    return qs.filter(last_login__isnull=True)


@dataclass
class Stats:
    accounts: dict[str, int]
    operators: int
    messages: int
    stored_bytes: int
    over_warning: int
    full: int
    outgoing: dict[str, int]
    oldest_message_days: int | None
    expiring_within_7_days: int
    routing_loops: dict[str, int]


def stats() -> Stats:
    recipients = User.objects.filter(is_staff=False)
    counts = {s: with_status(recipients, s).count() for s in STATUSES}
    totals = Message.objects.aggregate(n=Count("id"), size=Sum("size"))
    oldest = Message.objects.order_by("received_at").values_list("received_at", flat=True).first()
    return Stats(
        accounts=counts,
        operators=User.objects.filter(is_staff=True).count(),
        messages=totals["n"] or 0,
        stored_bytes=totals["size"] or 0,
        over_warning=over_share(User.objects.all()).count(),
        full=over_share(User.objects.all(), 100).count(),
        outgoing=outgoing_counts(),
        # Never below 0: a host whose clock runs ahead may have stored the oldest one.
        oldest_message_days=max(0, (timezone.now() - oldest).days) if oldest else None,
        expiring_within_7_days=Message.objects.filter(expiry.expiring(timedelta(days=7))).count(),
        routing_loops={
            "last_hour": loops.recent(hours=1),
            "last_day": loops.recent(hours=24),
        },
    )


def outgoing_counts() -> dict[str, int]:
    qs = OutgoingEmail.objects.all()
    return {state: queue.in_state(qs, state).count() for state in queue.STATES[:3]}

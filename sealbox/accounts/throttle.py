"""Counting failed attempts, per address and per client, in the database.

Every process of the portal shares the counts, so spreading guesses over
workers or servers gains nothing. Past half the limit each new try must wait
a little longer (2, 4, 8 … seconds, at most a minute); at the limit the key
is locked for SEALBOX_SIGNIN_LOCK_MINUTES. A lock always ends by itself:
nobody can lock an account for good by guessing at it.

Keys are hashed, so the table holds no addresses, not even the mistyped ones.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from sealbox.accounts.models import Throttle

# A failure older than this no longer counts (when no lock is running).
WINDOW = timedelta(hours=1)
MAX_DELAY = 60


@dataclass(frozen=True)
class Scope:
    """What is counted: sign-ins per address, sign-ins per client, link requests …"""

    name: str
    # How many failures lock the key; None: SEALBOX_SIGNIN_LOCK_AFTER.
    limit: int | None = None
    slow_down: bool = True

    @property
    def lock_after(self) -> int:
        return self.limit or settings.SIGNIN_LOCK_AFTER


ACCOUNT = Scope("account")
# A client address may be a whole office behind one NAT: more room.
CLIENT = Scope("client", limit=50)
LINK_ACCOUNT = Scope("link-account", limit=10, slow_down=False)
LINK_CLIENT = Scope("link-client", limit=30, slow_down=False)


@dataclass(frozen=True)
class Key:
    scope: Scope
    value: str

    @property
    def digest(self) -> str:
        return hashlib.sha256(f"{self.scope.name}\0{self.value}".encode()).hexdigest()


@dataclass(frozen=True)
class Refusal:
    """Why a try is refused now, and for how long."""

    locked: bool
    until: datetime

    @property
    def seconds(self) -> int:
        return max(1, math.ceil((self.until - timezone.now()).total_seconds()))

    @property
    def minutes(self) -> int:
        return max(1, math.ceil(self.seconds / 60))


def _delay(scope: Scope, failures: int) -> int:
    """Seconds a try must wait after the last failure: 0 below half the limit."""
    start = max(1, scope.lock_after // 2)
    if not scope.slow_down or failures < start:
        return 0
    return min(MAX_DELAY, 2 ** (failures - start + 1))


def refusal(keys: list[Key]) -> Refusal | None:
    """The longest wait any key imposes now, or None when a try may go ahead."""
    now = timezone.now()
    rows = {r.key: r for r in Throttle.objects.filter(key__in=[k.digest for k in keys])}
    found: Refusal | None = None
    for key in keys:
        row = rows.get(key.digest)
        if row is None:
            continue
        if row.locked_until and row.locked_until > now:
            candidate = Refusal(locked=True, until=row.locked_until)
        elif row.last_failure > now - WINDOW:
            delay = _delay(key.scope, row.failures)
            wait_until = row.last_failure + timedelta(seconds=delay)
            if not delay or wait_until <= now:
                continue
            candidate = Refusal(locked=False, until=wait_until)
        else:
            continue
        if found is None or candidate.until > found.until:
            found = candidate
    return found


def _row(digest: str) -> Throttle:
    try:
        with transaction.atomic():
            return Throttle.objects.select_for_update().get_or_create(
                key=digest, defaults={"failures": 0}
            )[0]
    except IntegrityError:
        # Another process created it at the same moment.
        return Throttle.objects.select_for_update().get(key=digest)


def fail(keys: list[Key]) -> bool:
    """Count one failure on every key; True if that locked any of them."""
    now = timezone.now()
    locked = False
    with transaction.atomic():
        for key in keys:
            row = _row(key.digest)
            running_lock = row.locked_until is not None and row.locked_until > now
            if not running_lock and (row.locked_until or row.last_failure <= now - WINDOW):
                # A lock that ran out, or old failures: start counting afresh.
                row.failures, row.first_failure, row.locked_until = 0, now, None
            row.failures += 1
            row.last_failure = now
            if not running_lock and row.failures >= key.scope.lock_after:
                row.locked_until = now + timedelta(minutes=settings.SIGNIN_LOCK_MINUTES)
                locked = True
            row.save()
    return locked


def clear(keys: list[Key]) -> None:
    """Forget the failures of these keys (after a complete sign-in)."""
    Throttle.objects.filter(key__in=[k.digest for k in keys]).delete()


def prune() -> int:
    """Delete rows that no longer hold anything back."""
    now = timezone.now()
    old = Throttle.objects.filter(last_failure__lt=now - WINDOW).exclude(locked_until__gt=now)
    return old.delete()[0]

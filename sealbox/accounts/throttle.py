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
from sealbox.diskspace import retry_when_full

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


def _refusal_of(key: Key, row: Throttle | None, now: datetime) -> Refusal | None:
    if row is None:
        return None
    if row.locked_until and row.locked_until > now:
        return Refusal(locked=True, until=row.locked_until)
    if row.last_failure > now - WINDOW:
        delay = _delay(key.scope, row.failures)
        wait_until = row.last_failure + timedelta(seconds=delay)
        if delay and wait_until > now:
            return Refusal(locked=False, until=wait_until)
    return None


def _longest(refusals: list[Refusal | None]) -> Refusal | None:
    found = [r for r in refusals if r is not None]
    return max(found, key=lambda r: r.until) if found else None


def refusal(keys: list[Key]) -> Refusal | None:
    """The longest wait any key imposes now, or None when a try may go ahead (read only)."""
    now = timezone.now()
    rows = {r.key: r for r in Throttle.objects.filter(key__in=[k.digest for k in keys])}
    return _longest([_refusal_of(k, rows.get(k.digest), now) for k in keys])


def _locked_rows(keys: list[Key]) -> dict[str, Throttle]:
    """The keys' rows, created where missing, locked until the transaction ends.

    Always in the same order, so two requests never wait for each other crosswise.
    """
    digests = sorted({k.digest for k in keys})
    for digest in digests:
        try:
            with transaction.atomic():
                Throttle.objects.get_or_create(key=digest)
        except IntegrityError:
            pass  # another request created it just now
    rows = Throttle.objects.select_for_update().filter(key__in=digests).order_by("key")
    return {r.key: r for r in rows}


@retry_when_full
def attempt(keys: list[Key]) -> Refusal | None:
    """Check and count a try in one step: a refusal, or None and the try is counted.

    The try counts as a failure at once, before the password or code is even
    looked at, so that tries sent at the same moment (to several workers or
    servers) cannot all slip through before any of them is counted. A try that
    succeeds is taken back with forgive().
    """
    now = timezone.now()
    with transaction.atomic():
        rows = _locked_rows(keys)
        refused = _longest([_refusal_of(k, rows[k.digest], now) for k in keys])
        if refused is not None:
            return refused
        for key in keys:
            row = rows[key.digest]
            if row.locked_until or row.last_failure <= now - WINDOW:
                # A lock that ran out, or old failures: start counting afresh.
                row.failures, row.first_failure, row.locked_until = 0, now, None
            row.failures += 1
            row.last_failure = now
            if row.failures >= key.scope.lock_after:
                row.locked_until = now + timedelta(minutes=settings.SIGNIN_LOCK_MINUTES)
            row.save()
    return None


@retry_when_full
def forgive(keys: list[Key]) -> None:
    """Take back the count of a try that turned out right (see attempt)."""
    with transaction.atomic():
        for row in _locked_rows(keys).values():
            if row.failures == 0:
                continue
            row.failures -= 1
            scope_limit = next(k.scope.lock_after for k in keys if k.digest == row.key)
            if row.locked_until and row.failures < scope_limit:
                row.locked_until = None
            row.save()


def locked(key: Key) -> bool:
    """Whether this key is locked right now."""
    return Throttle.objects.filter(key=key.digest, locked_until__gt=timezone.now()).exists()


@retry_when_full
def clear(keys: list[Key]) -> None:
    """Forget the failures of these keys (after a complete sign-in)."""
    Throttle.objects.filter(key__in=[k.digest for k in keys]).delete()


def prune() -> int:
    """Delete rows that no longer hold anything back."""
    now = timezone.now()
    old = Throttle.objects.filter(last_failure__lt=now - WINDOW).exclude(locked_until__gt=now)
    return old.delete()[0]

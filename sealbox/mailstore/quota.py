"""Storage quotas: how much each mailbox holds, and whether a message still fits.

Arithmetic on the accounts' usage, and the one lock order; what Sealbox tells a
recipient about a full mailbox is outbound/notify.tell_full.

An account's usage (User.usage_bytes) is the stored size of all its messages,
received and sent. It changes only in the transaction that adds or removes a
message, by a single UPDATE of the account's row, so it is exact under any
number of concurrent deliveries and deletions; `sealbox quota recalc` rebuilds
it from the messages should it ever drift (a restored backup, say).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from django.conf import settings
from django.db import connection, transaction
from django.db.models import BigIntegerField, Case, F, Q, QuerySet, Sum, Value, When
from django.db.models.expressions import RawSQL
from django.db.models.functions import Cast, Coalesce, Collate

from sealbox.accounts.models import User
from sealbox.mailstore.models import Message

log = logging.getLogger(__name__)

MIB = 1024 * 1024
# The largest quota an operator may give (about 9.5 TiB): fits every database's integer column.
MAX_MB = 10_000_000


def parse_mb(text: str) -> int:
    """A quota in MiB as an operator types it: ASCII digits, at most MAX_MB (else ValueError)."""
    if not (text.isascii() and text.isdigit()) or int(text) > MAX_MB:
        raise ValueError(text)
    return int(text)


def limit_expression() -> Case:
    """The account's quota in bytes as a database expression (0: no limit)."""
    # 64-bit throughout: on PostgreSQL MiB * 1048576 overflows a 32-bit integer from 2 GiB.
    return Case(
        When(quota_mb__isnull=True, then=Value(settings.QUOTA_MB * MIB, BigIntegerField())),
        default=Cast("quota_mb", BigIntegerField()) * Value(MIB, BigIntegerField()),
        output_field=BigIntegerField(),
    )


def fits(size: int) -> Q:
    """Accounts with room for `size` more bytes (or no limit)."""
    return Q(_limit=0) | Q(_limit__gte=F("usage_bytes") + size)


def reserve(user_id: int, size: int) -> bool:
    """Add a new message's size to the account's usage if it fits; False if it does not.

    One conditional UPDATE: the check and the addition cannot be split by a
    concurrent delivery. Call inside the transaction that stores the message.
    """
    room = User.objects.filter(pk=user_id).alias(_limit=limit_expression()).filter(fits(size))
    if room.update(usage_bytes=F("usage_bytes") + size):
        return True
    if not User.objects.filter(pk=user_id).exists():
        # Removed meanwhile (an unused account's clean-up): not a full mailbox.
        raise User.DoesNotExist(f"account {user_id} was removed during delivery")
    return False


def add(user_id: int, size: int) -> None:
    """Count a stored message whatever the quota (a copy in Sent of mail already sent)."""
    User.objects.filter(pk=user_id).update(usage_bytes=F("usage_bytes") + size)


def lock_accounts(accounts: QuerySet[User]) -> list[int]:
    """Lock accounts' rows in address order, the order every transaction takes them in.

    Address order is by code point, as Python's sorted() in mailbox.store() has it.
    PostgreSQL's own collation may differ ("a-b" against "a_b", accented
    letters), which would let two transactions take the same rows in opposite
    orders: so it sorts in "C" here. SQLite sorts by code point already.
    """
    key = Collate("email", "C") if connection.vendor == "postgresql" else F("email")
    return list(accounts.select_for_update().order_by(key).values_list("pk", flat=True))


def release(freed: Mapping[int, int]) -> None:
    """Take removed messages' sizes off their accounts' usage, in the deleting transaction.

    The rows are locked in address order first, the order mailbox.store() takes
    them in, so a deletion and a delivery to the same accounts cannot deadlock;
    then one UPDATE sets them all.
    """
    if not freed:
        return
    ids = lock_accounts(User.objects.filter(pk__in=list(freed)))
    if not ids:
        return
    # A plain CASE: a When() per account costs the ORM far more than the database's work.
    # Only placeholders in the SQL; the ids and sizes (integers) go as parameters.
    less = RawSQL(  # noqa: S611
        "CASE id " + " ".join(["WHEN %s THEN %s"] * len(ids)) + " ELSE 0 END",
        [v for pk in ids for v in (pk, freed[pk])],
        output_field=BigIntegerField(),
    )
    User.objects.filter(pk__in=ids).update(usage_bytes=F("usage_bytes") - less)
    room_again(ids)


def room_again(ids: list[int]) -> None:
    """Accounts with room again: the next refusal is worth telling the recipient about."""
    User.objects.filter(pk__in=ids, quota_full_notified_at__isnull=False).alias(
        _limit=limit_expression()
    ).filter(fits(1)).update(quota_full_notified_at=None)


def larger_than_mailbox(user: User, size: int) -> bool:
    """Whether `size` bytes could never fit the account's mailbox, even empty.

    The one rule that tells "larger than the whole mailbox" (deleting mail cannot
    help; trying again cannot either) from "mailbox full" (making room can):
    the SMTP reply, the report to the sender, the portal and the recipient's
    email all ask here.
    """
    limit = user.quota_bytes
    return limit is not None and size > limit


def has_room(email: str, size: int) -> bool:
    """Whether the mailbox of an address can take `size` more bytes (a new address can).

    The same rule as reserve() (fits), without taking the room."""
    full = User.objects.filter(email=email).alias(_limit=limit_expression()).exclude(fits(size))
    return not full.exists()


def size_text(n: int) -> str:
    """A size for operators: "12.3 MiB", "850.0 KiB"."""
    return f"{n / MIB:,.1f} MiB" if n >= MIB or n == 0 else f"{n / 1024:,.1f} KiB"


def usage_share(user: User) -> int | None:
    """Usage in whole percent of the quota (may pass 100), or None for no limit."""
    quota = user.quota_bytes
    if not quota:
        return None
    return user.usage_bytes * 100 // quota


def recalc() -> list[tuple[str, int, int]]:
    """Set every account's usage to the sum of its messages; return the ones that were off."""
    changed = []
    ids = list(User.objects.order_by("pk").values_list("pk", flat=True))
    for start in range(0, len(ids), 500):
        batch = ids[start : start + 500]
        with transaction.atomic():
            lock_accounts(User.objects.filter(pk__in=batch))
            users = User.objects.filter(pk__in=batch)
            current = dict(users.values_list("pk", "usage_bytes"))
            sums = dict(
                Message.objects.filter(owner_id__in=batch)
                .values("owner_id")
                .annotate(total=Coalesce(Sum("size"), 0))
                .values_list("owner_id", "total")
            )
            for pk, email in users.values_list("pk", "email"):
                actual = sums.get(pk, 0)
                if current[pk] != actual:
                    User.objects.filter(pk=pk).update(usage_bytes=actual)
                    changed.append((email, current[pk], actual))
    for email, was, now in changed:
        log.warning("quota recalc: %s used %d bytes, counted as %d", email, now, was)
    return changed

"""Retention: how long messages are kept, and the clean-up that removes what ran out.

A message is removed SEALBOX_RETENTION_DAYS after it arrived, or after the
period its recipient chose in their settings; 0 keeps it. The clean-up runs
in the worker every SEALBOX_CLEANUP_INTERVAL and as `sealbox cleanup`. It
works in batches, each its own transaction, so it can stop anywhere and run
again; several at once share the work (on PostgreSQL each skips the rows
another is removing; SQLite runs one writer at a time anyway).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Count, Exists, OuterRef, Q, Sum
from django.dispatch import Signal
from django.utils import timezone

from sealbox.accounts import activity, emailcode, throttle
from sealbox.accounts.models import LinkToken, User
from sealbox.housekeeping import reseal
from sealbox.mailstore import blobs, expiry, mailbox, opened, quota
from sealbox.mailstore.models import Message

log = logging.getLogger(__name__)

# Sent by each clean-up (not a dry run), with `now`: parts above housekeeping that
# keep records of their own for a time (the operators' audit log) prune them here.
pruning = Signal()

BATCH = 500
# A file with no message row is a left-over only once no delivery could still be
# about to commit its row (a delivery writes its file first).
STRAY_FILE_AGE = timedelta(hours=24)


def unused_accounts(now: datetime | None = None) -> Q:
    """Recipient accounts never activated, with no message, older than SEALBOX_UNUSED_ACCOUNT_DAYS.

    A disabled account stays: an operator decided about it, and removing it would let the
    next mail to the address make a fresh, usable account.
    """
    now = now or timezone.now()
    return Q(
        ~Exists(Message.objects.filter(owner=OuterRef("pk"))),
        activated_at__isnull=True,
        is_staff=False,
        is_active=True,
        created__lt=now - timedelta(days=settings.UNUSED_ACCOUNT_DAYS),
    )


@dataclass
class Report:
    messages: int = 0
    bytes: int = 0
    # Per account address: messages removed (or that would be).
    by_account: dict[str, int] = field(default_factory=dict)
    links: int = 0
    accounts: int = 0
    stray_files: int = 0
    activity: int = 0
    skipped_files: bool = False


def cleanup(
    dry_run: bool = False, now: datetime | None = None, remove_strays: bool = False
) -> Report:
    """Remove what ran out; with dry_run, only count it.

    remove_strays: remove files without a message even when they are many.
    """
    now = now or timezone.now()
    report = Report()
    _messages(report, now, dry_run)
    links = LinkToken.objects.filter(expires_at__lt=now)
    if dry_run:
        report.links = links.count()
        report.accounts = User.objects.filter(unused_accounts(now)).count()
        report.stray_files = len(_stray_files(now)[0])
        return report
    report.links = links.delete()[1].get(LinkToken._meta.label, 0)
    report.accounts = _remove_accounts(now)
    report.stray_files, report.skipped_files = _sweep(now, force=remove_strays)
    report.activity = activity.prune()
    pruning.send(sender=None, now=now)
    throttle.prune()
    emailcode.prune()
    _log(report)
    return report


def _messages(report: Report, now: datetime, dry_run: bool) -> None:
    # Built once: it names the periods in use, and a period added meanwhile
    # only means those messages wait for the next run.
    is_expired = expiry.expired(now)
    due = Message.objects.filter(is_expired)
    if dry_run:
        rows = due.values("owner__email").annotate(n=Count("id"), size=Sum("size"))
        for row in rows:
            report.by_account[row["owner__email"]] = row["n"]
            report.messages += row["n"]
            report.bytes += row["size"] or 0
        return
    by_account: dict[str, int] = defaultdict(int)
    skip_locked = connection.features.has_select_for_update_skip_locked
    while True:
        with transaction.atomic():
            # The oldest expired rows no other clean-up holds: two clean-ups
            # at once take different batches (PostgreSQL); the check is made
            # as they are locked, so a period just made longer is honoured.
            batch = list(
                due.order_by("received_at")
                .select_for_update(skip_locked=skip_locked, of=("self",))
                .values_list("id", "size", "owner__email")[:BATCH]
            )
            if not batch:
                break
            # The owners too, in address order: a retention period made longer
            # meanwhile has committed, or waits until this batch is done.
            emails = {email for _, _, email in batch}
            quota.lock_accounts(User.objects.filter(email__in=emails))
            ids = [pk for pk, _, _ in batch]
            removed = mailbox.remove(Message.objects.filter(is_expired, id__in=ids))
            if removed < len(batch):
                left = set(Message.objects.filter(id__in=ids).values_list("id", flat=True))
                batch = [row for row in batch if row[0] not in left]
        for _, size, email in batch:
            by_account[email] += 1
            report.bytes += size
        report.messages += removed
    report.by_account = dict(by_account)


def _remove_accounts(now: datetime) -> int:
    removed = 0
    for pk in list(User.objects.filter(unused_accounts(now)).values_list("pk", flat=True)):
        with transaction.atomic():
            # Lock first, then check again in a statement of its own: it sees a
            # delivery that committed while we waited for the lock (a check in
            # the locking statement itself would not, on PostgreSQL).
            if not User.objects.select_for_update().filter(pk=pk).exists():
                continue
            user = User.objects.filter(unused_accounts(now), pk=pk).first()
            if user is None:
                continue
            user.delete()
            removed += 1
            log.info("removed account %s (%s): never activated and no messages", pk, user.email)
    return removed


def _stray_files(now: datetime) -> tuple[list[str], int]:
    """Message files no row names and no delivery is still writing; and how many files there are."""
    oldest = (now - STRAY_FILE_AGE).timestamp()
    strays: list[str] = []
    total = 0
    for current, files in reseal.stored_files():
        for message_id, rels in files.items():
            total += len(rels)
            for rel in rels:
                if current.get(message_id) == rel:
                    continue
                try:
                    if (blobs.root() / rel).stat().st_mtime < oldest:
                        strays.append(rel)
                except FileNotFoundError:
                    continue
    return strays, total


# The stray-file sweep stops rather than remove more than this share of the
# files: so many files without rows means a database that does not belong to
# this data directory (restored from an older backup, a wrong
# SEALBOX_DATABASE_URL), not left-overs of crashes.
STRAY_LIMIT = 0.01
STRAY_LIMIT_MIN = 50


def _sweep(now: datetime, force: bool = False) -> tuple[int, bool]:
    """Remove stray files; skipped while a storage command runs (it owns its new files)."""
    try:
        with reseal.exclusive():
            blobs.clear_stale_tmp()
            strays, total = _stray_files(now)
            if not force and len(strays) > max(STRAY_LIMIT_MIN, total * STRAY_LIMIT):
                log.error(
                    "clean-up: %d of %d message files belong to no message; not removing them. "
                    "Is this the database of this data directory? If so, run "
                    "`sealbox cleanup --remove-strays`.",
                    len(strays),
                    total,
                )
                return 0, True
            for rel in strays:
                blobs.delete(rel)
            opened.sweep_strays()
    except reseal.Busy:
        log.info("clean-up: stray files left for later, a storage command is running")
        return 0, True
    return len(strays), False


def _log(report: Report) -> None:
    for email, count in sorted(report.by_account.items()):
        log.info("clean-up: removed %d expired message(s) of %s", count, email)
    if report.messages or report.links or report.accounts or report.stray_files or report.activity:
        log.info(
            "clean-up: %d expired message(s) (%d bytes), %d expired link(s), "
            "%d unused account(s), %d stray file(s), %d old activity entries removed",
            report.messages,
            report.bytes,
            report.links,
            report.accounts,
            report.stray_files,
            report.activity,
        )

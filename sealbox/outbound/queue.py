"""The durable outgoing queue: enqueue in the caller's transaction, send from workers.

Any number of workers may run at once: each claims due rows in a short
transaction (SKIP LOCKED where the database has it) with a lease. A worker
killed mid-send leaves its rows claimed until the lease ends, or until another
worker on the same host sees that its process is gone; then they are sent
again (at least once).
"""

from __future__ import annotations

import logging
import socket
from datetime import timedelta
from email.message import EmailMessage
from email.policy import SMTP, SMTPUTF8

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from sealbox import processes
from sealbox.outbound import relay
from sealbox.outbound.models import OutgoingEmail
from sealbox.vault import seal

log = logging.getLogger(__name__)

BATCH = 20
MAX_BACKOFF = timedelta(hours=1)


def enqueue(
    message: EmailMessage,
    kind: str,
    recipients: list[str] | None = None,
    mail_from: str | None = None,
    data: bytes | None = None,
) -> OutgoingEmail:
    """Queue an email; call inside the transaction of the change that caused it.

    The envelope comes from the headers unless given: recipients from To, Cc
    and Bcc (Bcc is then removed), the sender from Return-Path, Sender or From;
    mail_from="" is the null sender of bounces and receipts. data, if given,
    is the message exactly as it is to be sent.
    """
    to = recipients
    if to is None:
        to = []
        for header in ("To", "Cc", "Bcc"):
            value = message.get(header)
            if value is not None:
                to.extend(a.addr_spec for a in value.addresses)
    del message["Bcc"]
    if mail_from is None:
        mail_from = message["Return-Path"] or ""
        if not mail_from:
            sender = message.get("Sender") or message.get("From")
            mail_from = (
                sender.addresses[0].addr_spec if sender is not None and sender.addresses else ""
            )
    del message["Return-Path"]
    mail_from = relay.ascii_address(str(mail_from)) if mail_from else ""
    to = [relay.ascii_address(a) for a in to]
    if data is None:
        utf8 = any(not a.isascii() for a in [mail_from, *to])
        data = message.as_bytes(policy=SMTPUTF8 if utf8 else SMTP)
    now = timezone.now()
    subject = str(message.get("Subject", ""))[:400]
    sealing = seal.sealing_to()
    if sealing is not None:
        # Replies and receipts carry message text, notifications sender names.
        data, subject = seal.seal(data, sealing), ""
    return OutgoingEmail.objects.create(
        kind=kind,
        mail_from=str(mail_from),
        recipients=to,
        subject=subject,
        data=data,
        next_attempt_at=now,
        give_up_at=now + timedelta(seconds=settings.OUTGOING_RETRY_FOR),
    )


def _lease() -> timedelta:
    """How long a claim on one email lasts: long enough to hand it to the relay once."""
    return timedelta(seconds=settings.RELAY_TIMEOUT * 3 + 60)


def _claim(me: str, limit: int) -> list[OutgoingEmail]:
    now = timezone.now()
    lease = now + _lease()
    due = Q(status=OutgoingEmail.Status.QUEUED, next_attempt_at__lte=now) | Q(
        status=OutgoingEmail.Status.SENDING, claimed_until__lt=now
    )
    with transaction.atomic():
        qs = OutgoingEmail.objects.filter(due).order_by("next_attempt_at")
        if connection.features.has_select_for_update_skip_locked:
            qs = qs.select_for_update(skip_locked=True)
        ids = list(qs.values_list("id", flat=True)[:limit])
        if not ids:
            return []
        OutgoingEmail.objects.filter(id__in=ids).update(
            status=OutgoingEmail.Status.SENDING, claimed_by=me, claimed_until=lease
        )
    return list(OutgoingEmail.objects.filter(id__in=ids, claimed_by=me).order_by("next_attempt_at"))


def release_dead_claims() -> int:
    """Make rows claimed by dead worker processes on this host due again."""
    host = socket.gethostname()
    released = 0
    claimed = OutgoingEmail.objects.filter(
        status=OutgoingEmail.Status.SENDING, claimed_by__startswith=host + "~"
    ).values_list("id", "claimed_by")
    for pk, owner in claimed:
        if processes.is_dead_local(owner):
            released += OutgoingEmail.objects.filter(
                id=pk, status=OutgoingEmail.Status.SENDING, claimed_by=owner
            ).update(status=OutgoingEmail.Status.QUEUED, claimed_by="", claimed_until=None)
    if released:
        log.warning("re-queued %d email(s) left mid-send by a stopped worker", released)
    return released


def backoff(attempts: int) -> timedelta:
    """1, 2, 4, 8 … minutes after each failed attempt, at most an hour apart."""
    return min(timedelta(minutes=2 ** max(attempts - 1, 0)), MAX_BACKOFF)


def send_one(item: OutgoingEmail) -> None:
    me = item.claimed_by
    # The batch was claimed at once; renew the lease for this email now, and
    # leave it alone if its lease ran out meanwhile and another worker took it.
    renewed = OutgoingEmail.objects.filter(
        id=item.id, status=OutgoingEmail.Status.SENDING, claimed_by=me
    ).update(claimed_until=timezone.now() + _lease())
    if not renewed:
        log.info("%s %s: taken over by another worker, not sent from here", item.kind, item.id)
        return
    try:
        data = seal.open_sealed(bytes(item.data))
    except seal.Locked:
        # Not a failed attempt: it goes as soon as this worker holds the key.
        OutgoingEmail.objects.filter(id=item.id, claimed_by=me).update(
            status=OutgoingEmail.Status.QUEUED,
            next_attempt_at=timezone.now() + timedelta(minutes=1),
            claimed_by="",
            claimed_until=None,
        )
        return
    except seal.Unreadable as e:
        log.error("%s %s cannot be opened with this worker's key: %s", item.kind, item.id, e)
        OutgoingEmail.objects.filter(id=item.id, claimed_by=me).update(
            status=OutgoingEmail.Status.FAILED, last_error=str(e)[:2000], claimed_by=""
        )
        return
    item.attempts += 1
    try:
        where = relay.hand_over(item.mail_from, list(item.recipients), data)
    except relay.RelayError as e:
        now = timezone.now()
        # The last try falls on the end of the retry period, not an hour before it.
        retry_at = min(now + backoff(item.attempts), item.give_up_at)
        if e.temporary and now < item.give_up_at:
            status, next_at = OutgoingEmail.Status.QUEUED, retry_at
            log.warning(
                "%s %s: attempt %d failed, retrying at %s: %s",
                item.kind,
                item.id,
                item.attempts,
                retry_at,
                e,
            )
        else:
            status, next_at = OutgoingEmail.Status.FAILED, now
            reason = "relay refused it" if not e.temporary else "gave up retrying"
            log.error(
                "%s %s to %s failed (%s): %s",
                item.kind,
                item.id,
                ", ".join(item.recipients),
                reason,
                e,
            )
        OutgoingEmail.objects.filter(id=item.id, claimed_by=me).update(
            status=status,
            attempts=item.attempts,
            next_attempt_at=next_at,
            last_error=str(e)[:2000],
            claimed_by="",
            claimed_until=None,
        )
        return
    OutgoingEmail.objects.filter(id=item.id, claimed_by=me).update(
        status=OutgoingEmail.Status.SENT,
        attempts=item.attempts,
        sent_at=timezone.now(),
        data=b"",
        last_error="",
        claimed_by="",
        claimed_until=None,
    )
    log.info("%s %s to %s sent via %s", item.kind, item.id, ", ".join(item.recipients), where)


def process_due(limit: int = BATCH) -> int:
    """Send what is due; return how many emails were attempted."""
    batch = _claim(processes.owner_tag(), limit)
    for item in batch:
        send_one(item)
    return len(batch)


STATES = ("pending", "retrying", "failed", "sent")


def in_state(qs: QuerySet[OutgoingEmail], state: str | None) -> QuerySet[OutgoingEmail]:
    """The states of `sealbox outbox list` and the admin: pending (not tried yet), retrying (tried, waiting for
    another try), failed (given up), sent; None: everything not sent."""
    waiting = [OutgoingEmail.Status.QUEUED, OutgoingEmail.Status.SENDING]
    if state == "pending":
        return qs.filter(status__in=waiting, attempts=0)
    if state == "retrying":
        return qs.filter(status=OutgoingEmail.Status.QUEUED, attempts__gt=0)
    if state in ("failed", "sent"):
        return qs.filter(status=state)
    return qs.exclude(status=OutgoingEmail.Status.SENT)


def retry(item: OutgoingEmail) -> bool:
    """Operator's retry of one failed or waiting email (see retry_now).

    False when there is nothing to retry: the email was sent, or a worker is sending it.
    """
    return retry_now(OutgoingEmail.objects.filter(id=item.id)) == 1


def retry_now(qs: QuerySet[OutgoingEmail]) -> int:
    """Make the waiting and failed emails in qs due now, say after a relay outage.

    Waiting ones keep their retry period; failed ones get a fresh one. Emails sent
    or being sent by a worker are left alone. Returns how many are due now.
    """
    now = timezone.now()
    with transaction.atomic():
        # Waiting ones first: the failed ones below are not to be counted twice.
        waiting = qs.filter(status=OutgoingEmail.Status.QUEUED).update(next_attempt_at=now)
        failed = qs.filter(status=OutgoingEmail.Status.FAILED).update(
            status=OutgoingEmail.Status.QUEUED,
            next_attempt_at=now,
            give_up_at=now + timedelta(seconds=settings.OUTGOING_RETRY_FOR),
        )
    return waiting + failed

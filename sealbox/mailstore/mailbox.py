"""The mailbox core: the one way messages are added to and removed from mailboxes.

Adding: one copy per recipient, each file written and synced before the
database rows that show it; the rows are written in one transaction that
takes the recipients' account rows in the one lock order (address order, by
code point: each copy's quota.reserve locks its account's row, in sorted order,
as quota.lock_accounts locks a set of them for the callers that change several
accounts at once: a reply, the clean-up), reserves each copy's size in its owner's quota
(quota.reserve) and announces each stored copy (events.delivered). Removing:
rows and usage in one transaction, files once it commits. Usage changes only
here, in the transactions that add or remove.

A crash at any point either keeps a message whole (file and row) or leaves
only a file that no row points to, which the clean-up sweeps.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from email.utils import format_datetime

from django.conf import settings
from django.db import models, transaction
from django.utils import timezone

from sealbox.accounts.models import User
from sealbox.diskspace import retry_when_full
from sealbox.mailstore import blobs, events, opened, parsing, quota, sealed
from sealbox.mailstore.models import Message
from sealbox.mailstore.summary import Summary, summarize
from sealbox.vault import seal


@dataclass
class Trace:
    """Who handed the message over, for the Received: trace header."""

    helo: str = ""
    client_ip: str = ""
    protocol: str = "ESMTP"


@dataclass
class Refused:
    """Copies that found no room: the mailboxes, and the size of the largest copy."""

    owners: list[User] = field(default_factory=list)
    # Of those, the addresses whose whole mailbox is smaller than the message
    # (quota.larger_than_mailbox): making room would not help them.
    too_large: list[str] = field(default_factory=list)
    size: int = 0


def _trace_header(
    mail_from: str, recipient: str, trace: Trace, message_id: uuid.UUID, eol: bytes
) -> bytes:
    when = format_datetime(timezone.now())
    # The client's HELO name is its own text: only printable characters, no
    # spaces or brackets, so that it can never add a line to the header.
    helo = "".join(ch for ch in trace.helo if ch.isprintable() and ch not in " ()[]<>;")[:255]
    client = helo or "unknown"
    if trace.client_ip:
        client += f" ([{trace.client_ip}])"
    lines = [
        f"Return-Path: <{mail_from}>",
        f"Received: from {client}",
        f"\tby {settings.SMTP_HOSTNAME} (Sealbox) with {trace.protocol} id {message_id.hex}",
        f"\tfor <{recipient}>; {when}",
    ]
    # Addresses may be UTF-8 (SMTPUTF8); they stay UTF-8 like the client sent them.
    return eol.join(line.encode("utf-8", "surrogateescape") for line in lines) + eol


def _index(
    owner: User,
    message_id: uuid.UUID,
    rel: str,
    size: int,
    now: datetime,
    mail_from: str,
    summary: Summary,
    folder: str = Message.Folder.INBOX,
) -> Message:
    content = {
        "message_id": summary.message_id,
        "from_name": summary.from_name,
        "from_address": summary.from_address,
        "subject": summary.subject,
        "sent_date": summary.sent_date,
        "to_display": summary.to_display,
        "attachment_names": summary.attachment_names,
    }
    to = seal.sealing_to()
    return Message.objects.create(
        id=message_id,
        owner=owner,
        folder=folder,
        blob=rel,
        size=size,
        received_at=now,
        envelope_from=mail_from[:400],
        attachment_count=summary.attachment_count,
        read_at=now if folder == Message.Folder.SENT else None,
        sealed_summary=sealed.seal_fields(content, to) if to else None,
        **content,
    )


def store(
    mail_from: str,
    recipients: Sequence[str],
    data: bytes,
    summary: Summary,
    trace: Trace,
    refused: Callable[[list[Message], Refused], None] | None = None,
) -> tuple[list[Message], Refused]:
    """Store a copy of data for each recipient (normalised addresses) with room.

    Returns the stored messages and the refused copies. When a mailbox has no
    room, `refused` is called inside the storing transaction with both: it may
    queue a report there, or raise to keep nothing. Files of copies not kept are
    removed; on any error nothing is kept (a failed COMMIT may still have reached
    the database: then the files stay, as a row without its file is worse than a
    file without its row).
    """
    eol = parsing.line_ending(data)
    now = timezone.now()
    written: list[str] = []
    result = Refused()
    committing = False
    try:
        plans = []
        # Every transaction takes its accounts' row locks in address order.
        for rcpt in sorted(recipients):
            message_id = uuid.uuid4()
            header = _trace_header(mail_from, rcpt, trace, message_id, eol)
            rel = blobs.write(message_id, (header, data))
            written.append(rel)
            plans.append((rcpt, message_id, rel, len(header) + len(data)))
        blobs.sync_dirs(written)
        stored: list[Message] = []
        with transaction.atomic():
            for rcpt, message_id, rel, size in plans:
                owner, _ = User.objects.recipient(rcpt)
                if not quota.reserve(owner.pk, size):
                    result.owners.append(owner)
                    result.size = max(result.size, size)
                    if quota.larger_than_mailbox(owner, size):
                        result.too_large.append(owner.email)
                    continue
                message = _index(owner, message_id, rel, size, now, mail_from, summary)
                events.delivered.send(Message, message=message)
                stored.append(message)
            if result.owners and refused is not None:
                refused(stored, result)
            committing = True
    except Exception:
        if not committing:
            for rel in written:
                blobs.delete(rel)
        raise
    kept = {m.blob for m in stored}
    for rel in written:
        if rel not in kept:
            blobs.delete(rel)
    return stored, result


def store_sent(owner: User, data: bytes, summary: Summary | None = None) -> Message:
    """Keep a copy of what a recipient sent from the portal in their Sent folder.

    Durable like store(): the file is in place before the row that shows it. It
    counts towards the owner's usage whatever the quota (the caller checked for
    room). Call inside the transaction that queues or delivers the message itself.
    """
    message_id = uuid.uuid4()
    rel = blobs.write(message_id, (data,))
    blobs.sync_dirs([rel])
    try:
        quota.add(owner.pk, len(data))
        return _index(
            owner, message_id, rel, len(data), timezone.now(), owner.email,
            summary or summarize(data),
            folder=Message.Folder.SENT,
        )  # fmt: skip
    except Exception:
        blobs.delete(rel)
        raise


@retry_when_full  # deleting is how recipients make room: it works on a full disk
def remove(qs: models.QuerySet[Message]) -> int:
    """Delete messages for good: rows and their owners' usage now, files once that commits.

    A crash between the two leaves only an unreferenced file behind (the
    clean-up sweeps those).
    """
    with transaction.atomic():
        doomed = list(qs.select_for_update().values_list("id", "blob", "owner_id", "size"))
        if not doomed:
            return 0
        Message.objects.filter(id__in=[row[0] for row in doomed]).delete()
        freed: dict[int, int] = defaultdict(int)
        for _, _, owner_id, size in doomed:
            freed[owner_id] += size
        quota.release(freed)
        blob_names = [row[1] for row in doomed]
        ids = [row[0] for row in doomed]

        def remove_files() -> None:
            for name in blob_names:
                blobs.delete(name)
            for message_id in ids:
                opened.remove(message_id)  # its parsed view too

        transaction.on_commit(remove_files)
    return len(doomed)

"""deliver(): the one way a message gets into Sealbox mailboxes.

SMTP intake, the pipe command and portal-to-portal mail all call it. It stores
one copy per recipient, durably, and records in the same database transaction
that each recipient is to be notified. It either succeeds for every recipient
or keeps nothing.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from email.utils import format_datetime

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from sealbox import addresses, diskspace
from sealbox.accounts.models import User
from sealbox.intake import loops
from sealbox.mailstore import blobs, quota, sealed
from sealbox.mailstore.models import Message
from sealbox.mailstore.summary import Summary, summarize
from sealbox.outbound import bounces, notify
from sealbox.vault import seal

log = logging.getLogger(__name__)


class DeliveryError(Exception):
    """A delivery that did not happen; says whether trying again may help."""

    def __init__(self, code: int, status: str, text: str, *, temporary: bool) -> None:
        super().__init__(text)
        self.code = code
        self.status = status
        self.text = text
        self.temporary = temporary

    @property
    def smtp_reply(self) -> str:
        return f"{self.code} {self.status} {self.text}"


def temporary_failure(
    text: str = "Temporary local problem, please try again later",
) -> DeliveryError:
    return DeliveryError(451, "4.3.0", text, temporary=True)


def insufficient_storage() -> DeliveryError:
    """The data directory is (nearly) full: SEALBOX_MIN_FREE_MB (diskspace.py)."""
    return DeliveryError(
        452, "4.3.1", "Insufficient system storage, please try again later", temporary=True
    )


def check_storage(size: int) -> None:
    """Raise insufficient_storage() unless `size` bytes of new mail leave enough free."""
    if not diskspace.has_room(size):
        log.warning(
            "refused new mail of %d bytes: %s (SEALBOX_MIN_FREE_MB)",
            size,
            diskspace.space().describe(),
        )
        raise insufficient_storage()


class MailboxFull(DeliveryError):
    """No room in the recipients' mailboxes: SEALBOX_QUOTA_FULL_REPLY says bounce or try later.

    `too_large`: those of `full` whose whole mailbox is smaller than the message
    (quota.larger_than_mailbox). When that is every one of them, trying again
    cannot help: the reply is permanent, 552 5.2.3 (RFC 3463: message length
    exceeds an administrative limit), whatever SEALBOX_QUOTA_FULL_REPLY says.
    """

    def __init__(self, full: Sequence[str], too_large: Sequence[str] = ()) -> None:
        names = ", ".join(f"<{a}>" for a in full)
        self.full = list(full)
        self.too_large = [a for a in full if a in set(too_large)]
        if self.too_large == self.full:
            text = (
                f"{names}: the message is larger than the recipient's whole secure mailbox"
                if len(full) == 1
                else f"{names}: the message is larger than the recipients' whole secure mailboxes"
            )
            super().__init__(552, "5.2.3", text, temporary=False)
            return
        text = (
            f"{names}: the recipient's secure mailbox is full"
            if len(full) == 1
            else f"{names}: the recipients' secure mailboxes are full"
        )
        if settings.QUOTA_FULL_REPLY == "temporary":
            super().__init__(452, "4.2.2", text, temporary=True)
        else:
            super().__init__(552, "5.2.2", text, temporary=False)


@dataclass
class Trace:
    """Who handed the message over, for the Received: trace header."""

    helo: str = ""
    client_ip: str = ""
    protocol: str = "ESMTP"


def check_recipient(address: str) -> str:
    """Normalise one envelope recipient or raise a permanent DeliveryError."""
    try:
        normalized = addresses.normalize(address)
    except addresses.InvalidAddress:
        raise DeliveryError(
            553, "5.1.3", f"<{addresses.printable(address)}>: not a valid address", temporary=False
        ) from None
    if addresses.is_internal(normalized):
        raise DeliveryError(
            550,
            "5.1.1",
            f"<{address}>: is in the organisation's own domain; "
            "Sealbox keeps mail only for outside recipients",
            temporary=False,
        )
    return normalized


def _line_ending(data: bytes) -> bytes:
    newline = data.find(b"\n")
    return b"\r\n" if newline > 0 and data[newline - 1 : newline] == b"\r" else b"\n"


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


def check_room(address: str, size: int) -> None:
    """Raise MailboxFull if the address's mailbox has no room for `size` bytes (at RCPT time).

    The recipient is told, as for a refusal at delivery.
    """
    if not quota.has_room(address, size):
        users = list(User.objects.filter(email=address))
        too_large = [u.email for u in users if quota.larger_than_mailbox(u, size)]
        refusal = MailboxFull([address], too_large)
        tell_full(users, retried=refusal.temporary, size=size)
        raise refusal


def store_sent(owner: User, data: bytes) -> Message:
    """Keep a copy of what a recipient sent from the portal in their Sent folder.

    Durable like deliver(): the file is in place before the row that shows it.
    Call inside the transaction that queues or delivers the message itself.
    """
    message_id = uuid.uuid4()
    rel = blobs.write(message_id, (data,))
    blobs.sync_dirs([rel])
    try:
        quota.add(owner.pk, len(data))
        return _index(
            owner, message_id, rel, len(data), timezone.now(), owner.email, summarize(data),
            folder=Message.Folder.SENT,
        )  # fmt: skip
    except Exception:
        blobs.delete(rel)
        raise


def deliver(
    mail_from: str,
    recipients: Sequence[str],
    data: bytes,
    trace: Trace | None = None,
    *,
    bounce_full: bool = True,
) -> list[Message]:
    """Store data for every recipient with room; return the stored messages.

    Raises DeliveryError when nothing was stored: permanent for a routing
    loop (Sealbox's own mail coming back, too many hops) or a recipient we
    never accept, temporary for a disk or database problem (452 4.3.1 when
    the disk is short of space), MailboxFull when no recipient has room. When only some have room, the message is stored
    for those and (with a permanent SEALBOX_QUOTA_FULL_REPLY and bounce_full)
    the sender is sent a delivery report for the others; otherwise nothing is
    stored and MailboxFull names the full mailboxes. Recipients refused for a
    full mailbox are told by email, once until they have room again.
    """
    trace = trace or Trace(protocol="local")
    try:
        loops.check(mail_from, data)
    except loops.LoopRefused as e:
        raise DeliveryError(554, "5.4.6", e.text, temporary=False) from None
    unique: dict[str, None] = {}
    for rcpt in recipients:
        unique[check_recipient(rcpt)] = None
    if not unique:
        raise DeliveryError(554, "5.5.1", "No valid recipients", temporary=False)

    # Every recipient gets a copy (a trace header of well under 1 KiB each).
    check_storage((len(data) + 1024) * len(unique))
    summary = summarize(data)
    eol = _line_ending(data)
    now = timezone.now()
    written: list[str] = []
    full: list[User] = []
    too_large: list[str] = []
    refused_size = 0  # the size the refused copies would have had, told to their recipients
    committing = False
    try:
        plans = []
        # Every delivery takes its recipients' row locks in the same order, so
        # that two concurrent deliveries to the same people cannot deadlock.
        for rcpt in sorted(unique):
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
                    full.append(owner)
                    refused_size = max(refused_size, size)
                    if quota.larger_than_mailbox(owner, size):
                        too_large.append(owner.email)
                    continue
                message = _index(owner, message_id, rel, size, now, mail_from, summary)
                notify.message_arrived(owner, message)
                stored.append(message)
            if full:
                partial = stored and bounce_full and settings.QUOTA_FULL_REPLY == "permanent"
                if not partial:
                    raise MailboxFull([u.email for u in full], too_large)
                bounces.mailbox_full(mail_from, [u.email for u in full], summary, trace, too_large)
            committing = True
    except MailboxFull as e:
        for rel in written:
            blobs.delete(rel)
        log.warning("delivery from <%s> refused: %s", mail_from, e.text)
        # A portal send (bounce_full off) tells its sender on the page, whatever the mode.
        tell_full(full, retried=bounce_full and e.temporary, size=refused_size)
        raise
    except Exception as e:
        # A failed COMMIT may still have reached the database: then the files
        # stay (an unreferenced file is harmless, a row without its file is not).
        if not committing:
            for rel in written:
                blobs.delete(rel)
        log.error(
            "delivery from <%s> to %d recipient(s) failed, nothing kept: %s",
            mail_from,
            len(unique),
            e,
        )
        if diskspace.is_full_error(e):
            raise insufficient_storage() from e
        raise temporary_failure() from e
    if full:
        kept = {m.blob for m in stored}
        for rel in written:
            if rel not in kept:
                blobs.delete(rel)
        log.warning(
            "delivery from <%s>: mailbox full for %s; the sender is sent a delivery report",
            mail_from,
            ", ".join(u.email for u in full),
        )
        tell_full(full, size=refused_size)
    for message in stored:
        log.info(
            "stored message %s for %s: %d bytes from <%s> message-id %s",
            message.id,
            message.owner.email,
            message.size,
            mail_from,
            summary.message_id or "-",
        )
    return stored


def tell_full(users: list[User], retried: bool = False, size: int = 0) -> None:
    """Tell recipients whose mailbox was full; a failure here must not change the reply.

    Call outside any transaction that may yet roll back (the email is queued in its own).
    """
    for user in users:
        try:
            quota.tell_full(user, retried, size)
        except Exception as e:  # the reply to the sender stands whatever happens here
            log.error("could not queue the mailbox-full email for account %s: %s", user.pk, e)

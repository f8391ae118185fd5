"""deliver(): the one way a message gets into Sealbox mailboxes.

SMTP intake, the pipe command and portal-to-portal mail all call it. It stores
one copy per recipient, durably, and records in the same database transaction
that each recipient is to be notified. It either succeeds for every recipient
or keeps nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from django.conf import settings

from sealbox import addresses, diskspace
from sealbox.accounts.models import User
from sealbox.intake import loops
from sealbox.mailstore import mailbox, quota
from sealbox.mailstore.mailbox import Trace
from sealbox.mailstore.models import Message
from sealbox.mailstore.summary import summarize
from sealbox.outbound import bounces, notify

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

    seen = mailbox.Refused()

    def refused(stored: list[Message], no_room: mailbox.Refused) -> None:
        nonlocal seen
        seen = no_room
        full = [u.email for u in no_room.owners]
        partial = stored and bounce_full and settings.QUOTA_FULL_REPLY == "permanent"
        if not partial:
            raise MailboxFull(full, no_room.too_large)
        bounces.mailbox_full(mail_from, full, summary, trace, no_room.too_large)

    try:
        stored, no_room = mailbox.store(mail_from, list(unique), data, summary, trace, refused)
    except MailboxFull as e:
        log.warning("delivery from <%s> refused: %s", mail_from, e.text)
        # A portal send (bounce_full off) tells its sender on the page, whatever the mode.
        tell_full(seen.owners, retried=bounce_full and e.temporary, size=seen.size)
        raise
    except Exception as e:
        log.error(
            "delivery from <%s> to %d recipient(s) failed, nothing kept: %s",
            mail_from,
            len(unique),
            e,
        )
        if diskspace.is_full_error(e):
            raise insufficient_storage() from e
        raise temporary_failure() from e
    if no_room.owners:
        log.warning(
            "delivery from <%s>: mailbox full for %s; the sender is sent a delivery report",
            mail_from,
            ", ".join(u.email for u in no_room.owners),
        )
        tell_full(no_room.owners, size=no_room.size)
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
            notify.tell_full(user, retried, size)
        except Exception as e:  # the reply to the sender stands whatever happens here
            log.error("could not queue the mailbox-full email for account %s: %s", user.pk, e)

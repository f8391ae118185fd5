"""What an operator may do to accounts and the outgoing queue: one function per action.

The admin site and `sealbox user ...` both call these, so an action does the
same and is audited the same whichever way it was taken. None of them reads
a message's content.
"""

from __future__ import annotations

import getpass
import logging
from dataclasses import dataclass

from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

from sealbox.accounts import activity, throttle, twofactor
from sealbox.accounts.clientip import client_ip
from sealbox.accounts.models import Activity, LinkToken, User
from sealbox.mailstore import mailbox, quota
from sealbox.mailstore.models import Message
from sealbox.operator.models import AuditEntry
from sealbox.outbound import accountmail, queue
from sealbox.outbound.models import OutgoingEmail

log = logging.getLogger("sealbox.operator")

BATCH = 500


@dataclass(frozen=True)
class Actor:
    """Who takes an action: an operator signed in to the admin site, or the command line."""

    label: str
    user: User | None = None
    ip: str | None = None

    @classmethod
    def of(cls, request: HttpRequest) -> Actor:
        user = request.user
        assert isinstance(user, User)
        return cls(user.email, user, client_ip(request))

    @classmethod
    def command_line(cls) -> Actor:
        try:
            who = getpass.getuser()
        except (KeyError, OSError):
            who = "?"
        return cls(f"command line ({who})")


def audit(actor: Actor, action: str, target: str = "", detail: str = "") -> AuditEntry:
    entry = AuditEntry.objects.create(
        actor=actor.label[:400],
        actor_user=actor.user,
        ip=actor.ip,
        action=action,
        target=target[:400],
        detail=detail[:400],
    )
    log.warning("operator %s: %s %s %s", actor.label, action, target, detail)
    return entry


def _quota_text(mb: int | None) -> str:
    if mb is None:
        return "the default"
    return "no limit" if mb == 0 else f"{mb} MiB"


def set_quota(actor: Actor, user: User, mb: int | None) -> None:
    """Give the account its own quota in MiB (0: no limit), or None for the default."""
    with transaction.atomic():
        before = user.quota_mb
        User.objects.filter(pk=user.pk).update(quota_mb=mb)
        user.quota_mb = mb
        quota.room_again([user.pk])
        audit(
            actor,
            "set quota",
            user.email,
            f"{_quota_text(before)} -> {_quota_text(mb)}",
        )


def disable(actor: Actor, user: User) -> bool:
    """Stop the account signing in (its sessions end); mail for it is still kept. False if it was."""
    with transaction.atomic():
        changed = User.objects.filter(pk=user.pk, is_active=True).update(is_active=False)
        if changed:
            user.is_active = False
            user.end_all_sessions()
            audit(actor, "disable", user.email)
    return bool(changed)


def enable(actor: Actor, user: User) -> bool:
    with transaction.atomic():
        changed = User.objects.filter(pk=user.pk, is_active=False).update(is_active=True)
        if changed:
            user.is_active = True
            audit(actor, "enable", user.email)
    return bool(changed)


def reset_two_factor(actor: Actor, user: User) -> bool:
    """Remove the app, passkeys and recovery codes; end every session. True if there were any."""
    had = user.has_two_factor
    with transaction.atomic():
        twofactor.reset(user)
        activity.record(user, Activity.Kind.TWO_FACTOR_RESET, detail=f"by {actor.label}")
        audit(actor, "reset two-factor", user.email, "" if had else "had none")
    return had


def unlock(actor: Actor, user: User) -> None:
    """Lift a sign-in pause after failed attempts."""
    throttle.clear([throttle.Key(throttle.ACCOUNT, user.email)])
    audit(actor, "lift sign-in pause", user.email)


class NotPossible(Exception):
    """The action does not apply to this account; the text says why."""


def resend_activation(actor: Actor, user: User) -> None:
    """Email a not yet activated recipient a new activation link (earlier ones stop working)."""
    if user.is_activated:
        raise NotPossible(f"{user.email} has already chosen a password")
    if not user.is_active:
        raise NotPossible(f"{user.email} is disabled")
    with transaction.atomic():
        LinkToken.objects.filter(user=user, purpose=LinkToken.Purpose.ACTIVATE).delete()
        accountmail.send_activation(user)
        audit(actor, "resend activation", user.email)


def delete_account(actor: Actor, user: User) -> int:
    """Remove the account with all its mail, files included; return how many messages went."""
    email, pk = user.email, user.pk
    # Audited before the first batch goes: an interrupted run still shows who began it.
    audit(actor, "delete account: started", email, f"account {pk}")
    removed = 0
    while True:
        batch = list(Message.objects.filter(owner=user).values_list("id", flat=True)[:BATCH])
        if not batch:
            break
        removed += mailbox.remove(Message.objects.filter(id__in=batch))
    with transaction.atomic():
        # Locked: a delivery in flight commits first (and its mail goes below)
        # or finds the account gone and is answered "try again later".
        if not User.objects.select_for_update().filter(pk=pk).exists():
            return removed
        removed += mailbox.remove(Message.objects.filter(owner_id=pk))
        User.objects.filter(pk=pk).delete()
        audit(actor, "delete account", email, f"account {pk} and {removed} message(s)")
    return removed


def retry_outgoing(actor: Actor, item: OutgoingEmail) -> bool:
    if not queue.retry(item):
        return False
    audit(
        actor, "retry outgoing email", str(item.id), f"{item.kind} to {', '.join(item.recipients)}"
    )
    return True


def discard_outgoing(actor: Actor, item: OutgoingEmail) -> bool:
    """Drop an email that was not sent (not one a worker is sending right now)."""
    waiting = [OutgoingEmail.Status.FAILED, OutgoingEmail.Status.QUEUED]
    with transaction.atomic():
        gone = OutgoingEmail.objects.filter(id=item.id, status__in=waiting).delete()[0]
        if gone:
            audit(
                actor,
                "discard outgoing email",
                str(item.id),
                f"{item.kind} to {', '.join(item.recipients)}, {item.attempts} attempt(s), "
                f"created {timezone.localtime(item.created):%Y-%m-%d %H:%M}",
            )
    return bool(gone)

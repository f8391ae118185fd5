"""Telling recipients that mail is waiting, at most once per SEALBOX_NOTIFY_INTERVAL.

A delivery only marks the recipient as due (in the delivery's transaction);
the worker turns due marks into notification emails. So a burst of messages
gives one notification that names them all, and nothing is lost if a process
dies in between.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.urls import reverse
from django.utils import timezone

from sealbox.accounts.models import LinkToken, User
from sealbox.mailstore import expiry, quota
from sealbox.mailstore.models import Message
from sealbox.outbound import emails
from sealbox.outbound.models import NotificationState

log = logging.getLogger(__name__)


def _locked_state(user: User) -> NotificationState:
    qs = NotificationState.objects.select_for_update()
    state = qs.filter(user=user).first()
    if state is None:
        try:
            with transaction.atomic():
                state = NotificationState.objects.create(user=user)
        except IntegrityError:
            state = qs.get(user=user)
    return state


def message_arrived(user: User, message: Message) -> None:
    """Mark the recipient as due for a notification; call inside the delivery transaction."""
    state = _locked_state(user)
    if state.pending_since is None or message.received_at < state.pending_since:
        state.pending_since = message.received_at
    if state.due_at is None:
        now = timezone.now()
        due = now
        if state.last_sent_at is not None:
            due = max(now, state.last_sent_at + timedelta(seconds=settings.NOTIFY_INTERVAL))
        state.due_at = due
    state.save(update_fields=["due_at", "pending_since"])


# At most this many messages are named in one notification; the rest are counted.
LISTED = 10


# The longest sender's name a notification repeats, and what in a name could pass for a
# link or an address of its own (a name is the sender's to choose, and it is printed
# beside the recipient's phrase).
NAME_LENGTH = 60
_LINK_LIKE = re.compile(r"://|www\.|@|[\w-]\.[a-z]{2,}\b", re.IGNORECASE)


def shown_name(name: str, address: str) -> str:
    """A sender's name as a notification may show it: without control or direction
    characters, at most NAME_LENGTH long, and never anything that reads as a link or
    an address (then the address alone)."""
    kept = "".join(
        " " if unicodedata.category(c) in ("Zl", "Zp") or c in "\t\r\n" else c
        for c in name[: NAME_LENGTH * 4]
        if unicodedata.category(c) not in ("Cc", "Cf", "Co", "Cs", "Cn") or c in "\t\r\n"
    )
    kept = " ".join(kept.split())
    if len(kept) > NAME_LENGTH:
        kept = kept[: NAME_LENGTH - 1].rstrip() + "…"
    if not kept or _LINK_LIKE.search(kept):
        return address or "?"
    return kept


def _listed(message: Message) -> dict[str, Any]:
    """What an email says of one message: who sent it (name and address) and when it came."""
    address = message.from_address or message.envelope_from
    return {
        "name": shown_name(message.from_name, address),
        "address": address,
        # When it reached us: the Date header is the sender's to write.
        "sent": message.received_at,
        "subject": message.subject if settings.NOTIFY_INCLUDE_SUBJECT else "",
    }


def listing(messages: Sequence[Message], count: int | None = None) -> dict[str, Any]:
    """The messages an email names (emails/messages.html and .txt): at most LISTED of
    them, each as _listed() has it, and `more`, how many of `count` are not named."""
    named = [_listed(m) for m in messages[:LISTED]]
    total = len(messages) if count is None else count
    return {"messages": named, "more": total - len(named)}


def portal_link(user: User, messages: Sequence[Message] = ()) -> tuple[str, bool]:
    """Where an email to a recipient leads, and whether that is a new activation link.

    A recipient who never chose a password cannot sign in: they get a fresh
    activation link (their first one may have run out long ago). Others get
    the one message, or the inbox. A disabled account never gets a new link:
    it would open the mailbox once an operator enables it again.
    """
    if not user.is_activated and user.is_active:
        token = LinkToken.issue(user, LinkToken.Purpose.ACTIVATE)
        return settings.BASE_URL + reverse("activate", args=[token]), True
    if len(messages) == 1:
        return settings.BASE_URL + reverse("message", args=[messages[0].id]), False
    return settings.BASE_URL + reverse("inbox"), False


def _notify(state: NotificationState, now: datetime) -> bool:
    user = state.user
    since = state.pending_since
    state.due_at = None
    state.pending_since = None
    pending = []
    if since is not None:
        pending = list(
            Message.objects.filter(
                owner=user,
                folder=Message.Folder.INBOX,
                read_at__isnull=True,
                received_at__gte=since,
            ).order_by("received_at")[:50]
        )
    if not pending or not user.is_active:
        state.save(update_fields=["due_at", "pending_since"])
        return False
    link, activation = portal_link(user, pending)
    named = listing(pending)

    first_removal = expiry.expires_at(pending[0].received_at, user.effective_retention_days)
    emails.notification(
        user,
        {
            "count": len(pending),
            "sender": named["messages"][0]["name"],
            **named,
            "link": link,
            "activation": activation,
            **link_lifetime(activation, first_removal, now),
        },
    )
    state.last_sent_at = now
    state.save(update_fields=["due_at", "pending_since", "last_sent_at"])
    return True


def link_lifetime(
    activation: bool, first_removal: datetime | None, now: datetime
) -> dict[str, Any]:
    """What an email says of how long its activation link works: `activation_days`,
    or, when the first message it leads to is removed before the link runs out,
    `use_before` (that date) instead: never "14 days" for mail that goes in 3."""
    link_until = now + LinkToken.lifetime(LinkToken.Purpose.ACTIVATE)
    soon = activation and first_removal is not None and first_removal < link_until
    return {
        "activation_days": settings.ACTIVATION_DAYS,
        "use_before": first_removal if soon else None,
    }


def send_due(limit: int = 50) -> int:
    """Queue notifications for every recipient that is due; return how many."""
    now = timezone.now()
    sent = 0
    with transaction.atomic():
        qs = NotificationState.objects.filter(due_at__lte=now).select_related("user")
        if connection.features.has_select_for_update_skip_locked:
            qs = qs.select_for_update(skip_locked=True, of=("self",))
        for state in qs.order_by("due_at")[:limit]:
            if _notify(state, now):
                sent += 1
    if sent:
        log.info("queued %d notification(s)", sent)
    return sent


def tell_full(user: User, retried: bool = False, size: int = 0) -> bool:
    """Email the recipient that mail for them was refused: once until there is room again.

    `retried`: the refusal was temporary (452), so the sender's server tries again and the
    sender has not been told yet. `size`: the refused message's size, when known; one larger
    than the whole mailbox is told as such (deleting mail would not help). A disabled
    account is not written to, as for notifications.
    """
    with transaction.atomic():
        first = User.objects.filter(
            pk=user.pk, is_active=True, quota_full_notified_at__isnull=True
        ).update(quota_full_notified_at=timezone.now())
        if not first:
            return False
        link, activation = portal_link(user)
        context = {
            "link": link,
            "activation": activation,
            "activation_days": settings.ACTIVATION_DAYS,
            # Sizes in bytes: the templates write them with Django's filesizeformat, in
            # the email's language, as the portal writes message sizes.
            "used_bytes": user.usage_bytes,
            "quota_bytes": user.quota_bytes or 0,
            "size_bytes": size,
            "too_large": quota.larger_than_mailbox(user, size),
            "retried": retried,
        }
        emails.quota_full(user, context)
    log.info("account %s: told that mail was refused for a full mailbox", user.pk)
    return True


def on_delivered(sender: object, message: Message, **kwargs: object) -> None:
    """events.delivered: the message's owner is due for a notification."""
    message_arrived(message.owner, message)

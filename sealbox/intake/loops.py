"""Refusing mail that goes round in circles, at intake, and counting each refusal.

Two rules, checked by deliver() before anything is stored, so SMTP and the
pipe command both apply them: Sealbox's own outgoing mail coming back (its
mark verifies, see outbound/loopmark), and more Received: lines than
HOP_LIMIT. Both answer 554 5.4.6: retrying cannot help, the route is wrong.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.utils import timezone

from sealbox.intake.models import RoutingLoop
from sealbox.outbound import loopmark

log = logging.getLogger(__name__)

# Postfix's hopcount_limit: more Received: lines than this is a loop.
HOP_LIMIT = 50
# Refusals older than this are forgotten (stats show the last day at most).
KEEP = timedelta(days=7)


class LoopRefused(Exception):
    """The message is looping; text is the SMTP reply text after 554 5.4.6."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.text = text


def check(mail_from: str, data: bytes) -> None:
    """Raise LoopRefused (after logging and counting it) for a looping message."""
    headers = loopmark.read_headers(data)
    if loopmark.is_own(headers):
        log.error(
            "ROUTING LOOP: Sealbox's own outgoing mail came back to its intake and was "
            "refused (Message-ID %s, envelope sender <%s>). The mail gateway routes mail "
            "that Sealbox sends back into Sealbox: route by a header or subject tag the "
            "gateway sets, not by recipient domain (docs/operations.md, Routing loops).",
            headers.message_id,
            mail_from,
        )
        _count(RoutingLoop.Reason.OWN_MAIL)
        raise LoopRefused(
            "Routing loop: this is Sealbox's own outgoing mail coming back; "
            "the gateway must not route Sealbox's mail to Sealbox"
        )
    if headers.received > HOP_LIMIT:
        log.error(
            "ROUTING LOOP: refused a message with %d Received: lines (limit %d), "
            "Message-ID %s, envelope sender <%s>",
            headers.received,
            HOP_LIMIT,
            headers.message_id or "-",
            mail_from,
        )
        _count(RoutingLoop.Reason.HOPS)
        raise LoopRefused(
            f"Routing loop: too many hops ({headers.received} Received: headers, "
            f"the limit is {HOP_LIMIT})"
        )


def _count(reason: str) -> None:
    # The refusal stands whatever happens here (the database may be down).
    try:
        now = timezone.now()
        RoutingLoop.objects.create(reason=reason, created=now)
        RoutingLoop.objects.filter(created__lt=now - KEEP).delete()
    except Exception as e:
        log.error("could not count a routing loop refusal: %s", e)


def recent(hours: int) -> int:
    """How many messages were refused as routing loops in the last `hours`."""
    since = timezone.now() - timedelta(hours=hours)
    return RoutingLoop.objects.filter(created__gte=since).count()

"""The message's frame document: its HTML sanitised, made once per message and kept.

Without remote images the sanitised HTML is the same for every request: it is
kept with the message's view (opened.keep_cleaned_html, sealed like it) under
the name of what made it (MADE_BY), and made again only when that changes. The
worker makes it for new messages before a reader asks (prepare_new), so that a
frame's first load reads it instead of sanitising; a message it has not reached
yet is sanitised on its first load. With remote images the result depends on
the portal's host names: made for each request, never kept.
"""

from __future__ import annotations

import base64
import functools
import logging
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.http import Http404
from django.template.loader import render_to_string
from django.utils import timezone

from sealbox import diskspace
from sealbox.mailstore import opened
from sealbox.mailstore.models import Message
from sealbox.mailstore.sanitize import (
    SAFE_IMAGE_TYPES,
    clean_html_in_time,
    declared_direction,
    fingerprint,
)
from sealbox.portal.textview import text_to_html
from sealbox.vault import seal

log = logging.getLogger(__name__)

MAX_INLINE_IMAGE = 10 * 1024 * 1024
MAX_INLINE_IMAGES_TOTAL = 20 * 1024 * 1024
# What made a frame's HTML (the sanitiser and this module, which names its images):
# kept with the message (opened.keep_cleaned_html), it is used until either changes.
MADE_BY = fingerprint(Path(__file__))


def document(
    msg: Message, remote: bool, own: frozenset[str]
) -> tuple[str, Callable[[], None] | None]:
    """The frame's document, and what keeps its sanitised HTML once it is sent (or None)."""
    view = opened.read(msg)
    if view.html is None:
        raise Http404("This message has no HTML part")
    inline = {a.index: a for a in view.attachments if a.content_type in SAFE_IMAGE_TYPES}
    encoded: dict[int, str | None] = {}
    budget = [MAX_INLINE_IMAGES_TOTAL]

    def cid_url(cid: str) -> str | None:
        # The image travels inside the frame's document, as a data: URL the
        # frame's CSP allows: the message itself asks the portal for nothing
        # (a redirect from a remote image is refused: web/fetchmeta.py).
        # Each image is encoded once however often it is used, and all of them
        # together stay within a budget, so a small message cannot make a
        # frame of gigabytes.
        index = view.content_ids.get(cid)
        item = inline.get(index) if index is not None else None
        if item is None or item.size > MAX_INLINE_IMAGE or item.size > budget[0]:
            return None
        if item.index not in encoded:
            data = base64.b64encode(opened.attachment_bytes(msg, item)).decode("ascii")
            encoded[item.index] = f"data:{item.content_type};base64,{data}" if data else None
        if encoded[item.index] is not None:
            budget[0] -= item.size  # every use is in the document: every use counts
        return encoded[item.index]

    # Without remote images the result is the same for every request: made once per
    # message and kept. With them it depends on the portal's host names: made each time.
    cleaned = None if remote else opened.cleaned_html(msg, MADE_BY)
    keep = None
    if cleaned is None:
        made = clean_html_in_time(view.html, cid_url, remote, settings.HTML_TIME_LIMIT, own)
        if made is None:  # too large or too slow to sanitise: its text, and why
            context = {"too_costly": True, "text_html": text_to_html(view.body_text())}
            return render_to_string("portal/frame.html", context), None
        cleaned = made.html
        if not remote:
            keep = functools.partial(opened.keep_cleaned_html, msg, MADE_BY, cleaned)
    context = {"html": cleaned, "dir": declared_direction(view.html)}
    return render_to_string("portal/frame.html", context), keep


def prepare(msg: Message) -> bool:
    """Make and keep the message's sanitised HTML unless it is kept already; True if made."""
    if opened.read(msg).html is None:
        return False
    _, keep = document(msg, remote=False, own=frozenset())
    if keep is None:  # kept already, or too large or slow to sanitise (its text is shown)
        return False
    keep()
    return True


# New messages are looked for this far back (a delivery's row commits after the
# time it records), and the ones this process prepared are remembered.
LOOK_BACK = timedelta(hours=1)
BATCH = 200
_prepared: OrderedDict[uuid.UUID, None] = OrderedDict()
MAX_REMEMBERED = 10_000


def prepare_new(seconds: float = 1.0) -> int:
    """Prepare the frames of messages that arrived lately, for at most about `seconds`.

    Called by the worker before it sends notifications: a reader who follows
    one finds the frame made. Another worker doing the same makes the same file
    (written atomically). A message that cannot be read (the key is locked, or
    it is damaged) is left for its first load to say so. Returns how many were made.
    """
    started = time.monotonic()
    made = 0
    recent = (
        Message.objects.filter(
            folder=Message.Folder.INBOX, received_at__gte=timezone.now() - LOOK_BACK
        )
        .order_by("-received_at")
        .only("id", "blob", "owner_id", "received_at", "size")[:BATCH]
    )
    for msg in recent:
        if msg.id in _prepared:
            continue
        if time.monotonic() - started > seconds:
            break
        if not diskspace.has_room(2 * msg.size):  # new mail comes first (diskspace.py)
            break  # tried again next round
        try:
            made += prepare(msg)
        except (seal.Locked, opened.Busy):
            break  # nothing more to do in this round
        except Exception as e:  # its first load says what is wrong with it
            log.warning("could not prepare message %s for reading: %s", msg.id, e)
        _prepared[msg.id] = None
        if len(_prepared) > MAX_REMEMBERED:
            _prepared.popitem(last=False)
    if made:
        log.info("prepared %d new message(s) for reading", made)
    return made

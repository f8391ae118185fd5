"""The recipient's mailbox: inbox, message page, message frame, downloads."""

from __future__ import annotations

import itertools
import logging
import re
import unicodedata
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

from django.conf import settings
from django.contrib import messages as flash
from django.contrib.auth.decorators import login_required
from django.core.cache import caches
from django.core.paginator import Paginator
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.http.request import split_domain_port
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import get_language, ngettext
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.clickjacking import xframe_options_sameorigin
from django.views.decorators.http import require_GET, require_POST

from sealbox import diskspace
from sealbox.accounts.models import User
from sealbox.accounts.signin import PREVIOUS
from sealbox.mailstore import expiry, mailbox, opened, search
from sealbox.mailstore.models import Message
from sealbox.mailstore.sanitize import (
    SAFE_IMAGE_TYPES,
    has_remote_images,
)
from sealbox.outbound import receipts
from sealbox.portal import bundle, filetypes, frame, headline, listing, thumbnails
from sealbox.portal.lookup import owned_message
from sealbox.portal.textview import text_to_html

log = logging.getLogger(__name__)

PAGE_SIZE = 50
MAX_CACHED_FRAME = 4 * 1024 * 1024
# Sanitising a big newsletter takes a fraction of a second; a stored message
# never changes, so each process keeps its latest frames (settings.CACHES).
frames = caches["frames"]

# The message frame's own policy: nothing runs, nothing is sent, images only
# from the message itself (data:) unless the reader asked for remote ones.
# allow-same-origin lets the portal's own script (reader.js) measure the frame
# to size it; without allow-scripts nothing in the frame runs (docs/reading.md).
# FRAME_SANDBOX is the iframe's sandbox attribute too (message.html).
FRAME_SANDBOX = "allow-same-origin allow-popups allow-popups-to-escape-sandbox"
FRAME_CSP = (
    "default-src 'none'; img-src data:{remote}; style-src 'unsafe-inline'; "
    "font-src 'none'; form-action 'none'; base-uri 'none'; frame-ancestors 'self'; "
    f"sandbox {FRAME_SANDBOX}"
)
# A downloaded part never renders in the portal's origin.
DOWNLOAD_CSP = "default-src 'none'; sandbox"
# Types a browser could render or run as a page get a neutral type on download.
# One plain type/subtype: "text/javascript,a" and other lists are not served as given.
_SIMPLE_TYPE = re.compile(r"^[a-z0-9][a-z0-9!#$&^_.+-]{0,63}/[a-z0-9][a-z0-9!#$&^_.+-]{0,127}$")
ACTIVE_TYPES = (
    "text/html",
    "image/svg+xml",
    "application/xhtml+xml",
    "text/xml",
    "application/xml",
)


def index(request: HttpRequest) -> HttpResponse:
    return redirect("inbox" if request.user.is_authenticated else "signin")


@login_required
@never_cache
def inbox(request: HttpRequest) -> HttpResponse:
    return _folder(request, Message.Folder.INBOX)


@login_required
@never_cache
def sent(request: HttpRequest) -> HttpResponse:
    return _folder(request, Message.Folder.SENT)


# What the inbox and Sent lists show of a message.
LIST_COLUMNS = (
    "id",
    "received_at",
    "from_name",
    "from_address",
    "envelope_from",
    "subject",
    "size",
    "attachment_count",
    "read_at",
    "sent_date",
    "to_display",
    "sealed_summary",
)


def _folder(request: HttpRequest, folder: str) -> HttpResponse:
    if request.method == "POST":
        return inbox_action(request, folder)
    qs = Message.objects.filter(owner_id=request.user.pk, folder=folder).order_by(
        "-received_at", "-id"
    )
    query = request.GET.get("q", "").strip()[: search.MAX_QUERY]
    number = request.GET.get("page")
    if query:
        try:
            wanted = int(number or 1)
        except ValueError:
            wanted = 1
        found = search.search(qs, query, wanted, PAGE_SIZE, LIST_COLUMNS)
        page = Paginator(found, PAGE_SIZE).get_page(number)
    else:
        page = Paginator(qs.only(*LIST_COLUMNS), PAGE_SIZE).get_page(number)
    assert isinstance(request.user, User)
    now = timezone.now()
    rows = [(m, deletion_date(m.received_at, request.user, now)) for m in page.object_list]
    context = {
        "page": page,
        "rows": rows,
        "rows_html": listing.rows(rows, folder),
        "folder": folder,
        "query": query,
        # The pager's links keep the search: "?q=...&page=" and the number.
        "page_link": f"?{urlencode({'q': query})}&page=" if query else "?page=",
        "previous_signin": request.session.get(PREVIOUS),
    }
    return render(request, "portal/inbox.html", context)


def deletion_date(received_at: datetime, owner: User, now: datetime) -> datetime | None:
    """When the clean-up removes a message, if that is within expiry.SHOW_EXPIRY_WITHIN."""
    when = expiry.expires_at(received_at, owner.effective_retention_days)
    if when is None or when - now > expiry.SHOW_EXPIRY_WITHIN:
        return None
    return max(when, now)  # overdue: it goes at the next clean-up


def inbox_action(request: HttpRequest, folder: str) -> HttpResponse:
    ids = []
    for value in request.POST.getlist("ids"):
        try:
            ids.append(uuid.UUID(value))
        except ValueError:
            continue
    action = request.POST.get("action")
    mine = Message.objects.filter(owner_id=request.user.pk, folder=folder, id__in=ids)
    if not ids:
        flash.info(request, _("Select one or more messages first."))
    elif action == "delete":
        count = mailbox.remove(mine)
        flash.success(
            request,
            ngettext("%(n)d message deleted.", "%(n)d messages deleted.", count) % {"n": count},
        )
    elif action == "unread":
        mine.update(read_at=None)
    elif action == "read":
        mine.filter(read_at__isnull=True).update(read_at=timezone.now())
    # Back to the list the action was taken on: the same page, the same search.
    back = {
        "q": request.POST.get("q", "").strip()[: search.MAX_QUERY],
        "page": request.POST.get("page", ""),
    }
    back = {key: value for key, value in back.items() if value and (key == "q" or value.isdigit())}
    url = reverse("inbox" if folder == Message.Folder.INBOX else "sent")
    url += f"?{urlencode(back)}" if back else ""
    return redirect(url)


@login_required
@never_cache
@require_GET
def message(request: HttpRequest, message_id: uuid.UUID) -> HttpResponse:
    msg = owned_message(request, message_id)
    owner = request.user
    assert isinstance(owner, User)
    view = opened.read(msg)
    remote = request.GET.get("remote") == "1"
    show = request.GET.get("view", "html" if view.html is not None else "text")
    if view.html is None or view.text is None or show not in ("html", "text"):
        show = "html" if view.html is not None else "text"
    blocked = show == "html" and not remote and has_remote_images(view.html or "")
    text_html = text_to_html(view.text.text) if show == "text" and view.text else ""
    # Decided once: the question and the receipt sent on opening share one read of the file.
    receipt = receipts.decision(msg)
    if msg.read_at is None:
        # Marked read and the read receipt queued together, or neither (on a
        # full disk: neither, until it is opened again with room).
        with diskspace.unless_full("read mark"), transaction.atomic():
            first = Message.objects.filter(id=msg.id, read_at__isnull=True).update(
                read_at=timezone.now()
            )
            if first:
                receipts.message_opened(msg, receipt)
    context = {
        "receipt_asker": receipts.question(msg, receipt),  # portal/message_receipt.html
        "message": msg,
        "view": view,
        "show": show,
        "remote": remote,
        "blocked": blocked,
        "text_html": text_html,
        "more_text": [text_to_html(t.text) for t in view.more_text],
        "deleted_on": deletion_date(msg.received_at, owner, timezone.now()),
        "sandbox": FRAME_SANDBOX,
        "from_names": headline.sender(view, msg.envelope_from or _("(unknown sender)")),
        "to_names": headline.recipients(view, owner.email),
    }
    return render(request, "portal/message.html", context)


@login_required
@never_cache
@require_GET
@xframe_options_sameorigin
def message_body(request: HttpRequest, message_id: uuid.UUID) -> HttpResponse:
    """The message's HTML, sanitised, as a document for the sandboxed frame."""
    msg = owned_message(request, message_id)
    remote = request.GET.get("remote") == "1"
    own = own_hosts(request)
    # The document names the portal's language and a title in it (for screen readers).
    key = f"{msg.id}:{int(remote)}:{get_language()}:{','.join(sorted(own))}"
    body = frames.get(key)
    keep = None
    if body is None:
        body, keep = frame.document(msg, remote, own)
        if len(body) <= MAX_CACHED_FRAME:
            frames.set(key, body)
    response = FrameResponse(body, keep, content_type="text/html; charset=utf-8")
    response["Content-Security-Policy"] = FRAME_CSP.format(remote=" https: http:" if remote else "")
    response["Referrer-Policy"] = "no-referrer"
    return response


class FrameResponse(HttpResponse):
    """The frame's document. Keeping its sanitised HTML with the message (then) is done
    once the document is sent, in close(), which the WSGI server calls after its last
    byte: the reader does not wait for it."""

    def __init__(self, body: str, then: Callable[[], None] | None, **kwargs: Any) -> None:
        super().__init__(body, **kwargs)
        self.then = then

    def close(self) -> None:
        # Before the request's own close (request_finished), which lets go of its database
        # connection: keeping asks whether the message still exists.
        then, self.then = self.then, None
        if then is not None:
            try:
                then()
            except Exception:  # made again at the next view
                log.warning("could not keep a message's sanitised HTML", exc_info=True)
        super().close()


def own_hosts(request: HttpRequest) -> frozenset[str]:
    """The portal's host names: the public one and the one this request came to.
    Remote images there are left out of the frame (sanitize.may_load_from)."""
    hosts = {urlsplit(settings.BASE_URL).hostname or "", split_domain_port(request.get_host())[0]}
    return frozenset(h.strip("[]").rstrip(".").lower() for h in hosts if h)


@login_required
@never_cache
@require_GET
def attachment(request: HttpRequest, message_id: uuid.UUID, index: int) -> StreamingHttpResponse:
    """One attachment, decoded from the stored file as it is sent."""
    msg = owned_message(request, message_id)
    found = opened.attachment(msg, index)
    if found is None:
        raise Http404("No such attachment")
    item, chunks = found
    ctype = item.content_type
    if not _SIMPLE_TYPE.match(ctype) or ctype in ACTIVE_TYPES or ctype.endswith(("+xml", "script")):
        ctype = "application/octet-stream"
    name = item.filename or _("attachment")
    return _download(chunks, item.size, ctype, name)


@login_required
@never_cache
@require_GET
def eml(request: HttpRequest, message_id: uuid.UUID) -> StreamingHttpResponse:
    """The stored message, byte for byte."""
    msg = owned_message(request, message_id)
    stored = opened.reader(msg)
    return _download(stored.chunks(), stored.size, "message/rfc822", download_stem(msg) + ".eml")


def download_stem(msg: Message) -> str:
    """A download's file name for the whole message, before its extension: the subject."""
    stem = "".join(ch for ch in (msg.subject or "message")[:80] if ch.isalnum() or ch in " -_.,()")
    return " ".join(stem.split()).strip(" .") or "message"


def disposition(filename: str, how: str = "attachment") -> str:
    """Content-Disposition: attachment (or inline) with an ASCII fallback name and the
    exact Unicode name (RFC 6266, RFC 8187)."""
    fallback = unicodedata.normalize("NFKD", filename).encode("ascii", "ignore").decode("ascii")
    fallback = "".join(ch if ch.isprintable() and ch not in '"\\;' else "_" for ch in fallback)
    stem, dot, ext = fallback.rpartition(".")
    if dot and not stem.strip(" ._"):
        fallback = "attachment." + ext
    fallback = fallback.strip(" .") or "attachment"
    if fallback == filename:
        return f'{how}; filename="{fallback}"'
    return f"{how}; filename=\"{fallback}\"; filename*=utf-8''{quote(filename, safe='')}"


def _download(
    chunks: Iterator[bytes],
    size: int | None,
    content_type: str,
    filename: str,
    how: str = "attachment",
    csp: str = DOWNLOAD_CSP,
) -> StreamingHttpResponse:
    response = StreamingHttpResponse(chunks, content_type=content_type)
    if size is not None:
        response["Content-Length"] = str(size)
    response["Content-Disposition"] = disposition(filename, how)
    response["Content-Security-Policy"] = csp
    return response


@login_required
@require_POST
def delete(request: HttpRequest, message_id: uuid.UUID) -> HttpResponse:
    msg = owned_message(request, message_id)
    mailbox.remove(Message.objects.filter(id=msg.id))
    flash.success(request, _("Message deleted."))
    return redirect("inbox" if msg.folder == Message.Folder.INBOX else "sent")


@login_required
@require_POST
def mark_unread(request: HttpRequest, message_id: uuid.UUID) -> HttpResponse:
    msg = owned_message(request, message_id)
    Message.objects.filter(id=msg.id).update(read_at=None)
    return redirect("inbox" if msg.folder == Message.Folder.INBOX else "sent")


# --- Attachments: preview, thumbnail, all at once -------------------------------------------

# A previewed part is a document of its own in an opaque origin: it can never
# reach the portal's cookies, storage or pages, whatever it contains.
PREVIEW_CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'; sandbox"
THUMBNAIL_CSP = "default-src 'none'; sandbox"
# An image's currentColor is black whatever the page's colours: a fixed grey
# with 3:1 contrast or more on the tile in light (--bg2 #f4f6f8) and dark (#1e2227).
THUMBNAIL_ICON_GREY = "#7d8590"


def _leading(chunks: Iterator[bytes], count: int) -> tuple[bytes, Iterator[bytes]]:
    """The first count bytes of a stream of chunks, and the whole stream again."""
    head: list[bytes] = []
    seen = 0
    for chunk in chunks:
        head.append(chunk)
        seen += len(chunk)
        if seen >= count:
            break
    return b"".join(head)[:count], itertools.chain(head, chunks)


@login_required
@never_cache
@require_GET
def attachment_preview(
    request: HttpRequest, message_id: uuid.UUID, index: int
) -> StreamingHttpResponse:
    """An image or PDF attachment shown by the browser itself, in a sandbox of its own."""
    msg = owned_message(request, message_id)
    found = opened.attachment(msg, index)
    if found is None or found[0].inline:
        raise Http404("No such attachment")
    item, chunks = found
    if item.content_type in SAFE_IMAGE_TYPES:
        ctype = item.content_type
    elif filetypes.looks_like_pdf(item.content_type, item.filename):
        head, chunks = _leading(chunks, len(filetypes.PDF_MAGIC))
        if head != filetypes.PDF_MAGIC:
            raise Http404("Not a PDF")
        ctype = filetypes.PDF
    else:
        raise Http404("No preview for this type")
    name = item.filename or _("attachment")
    return _download(chunks, item.size, ctype, name, how="inline", csp=PREVIEW_CSP)


@login_required
@never_cache
@require_GET
def attachment_thumbnail(request: HttpRequest, message_id: uuid.UUID, index: int) -> HttpResponse:
    """A small picture of an image attachment; the image icon when none can be made."""
    msg = owned_message(request, message_id)
    listed = opened.read(msg).listed_attachments
    item = next((a for a in listed if a.index == index), None)
    if item is None or index not in thumbnails.chosen(listed):
        raise Http404("No thumbnail for this attachment")
    made = thumbnails.of(msg, item)
    if made is None:  # the icon, in a grey that shows on the light and the dark tile
        context = {"kind": "image", "stroke": THUMBNAIL_ICON_GREY}
        made = (render_to_string("portal/filetype_icon.svg", context).encode(), "image/svg+xml")
    body, ctype = made
    response = HttpResponse(body, content_type=ctype)
    response["Content-Security-Policy"] = THUMBNAIL_CSP
    return response


@login_required
@never_cache
@require_GET
def attachments_zip(request: HttpRequest, message_id: uuid.UUID) -> StreamingHttpResponse:
    """Every listed attachment in one ZIP file, under the names they were sent with."""
    msg = owned_message(request, message_id)
    items = opened.read(msg).listed_attachments
    if not items:
        raise Http404("No attachments")
    names = bundle.safe_names(a.filename for a in items)

    def chunks_of(index: int) -> Callable[[], Iterator[bytes]]:
        def chunks() -> Iterator[bytes]:
            found = opened.attachment(msg, index)
            return found[1] if found is not None else iter(())

        return chunks

    entries = [(name, chunks_of(a.index), a.size) for name, a in zip(names, items, strict=True)]
    when = timezone.localtime(msg.received_at)
    return _download(
        bundle.stream(entries, when), None, "application/zip", download_stem(msg) + ".zip"
    )

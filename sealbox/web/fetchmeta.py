"""The portal's resource-isolation policy: requests it refuses by their Fetch Metadata.

Browsers say where a request comes from (Sec-Fetch-Site, over the whole
redirect chain) and what it is for (Sec-Fetch-Mode, Sec-Fetch-Dest). The
message frame shares the portal's origin (docs/reading.md), so a remote image
in a message that redirects to a portal address would be requested with the
reader's session cookie: SameSite=Lax does not look at the redirect chain. Such
a request is refused here, before the session is read:

- from another site, only a top-level navigation by GET or HEAD (a link in a
  notification, clicked in a webmail) reaches the portal;
- as an image, style sheet, script, font, media or plugin, only the attachment
  thumbnails and previews (and the admin's translations script) do, whoever
  asks: no page of the portal is ever one;
- in a frame, only a page of the portal's own origin (the message frame).

A request without these headers (an older browser, curl, a health check) passes.
Static files and the brand's files are served before this middleware
(settings.MIDDLEWARE): the same bytes for everyone, no cookie read.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.urls import Resolver404, resolve

log = logging.getLogger(__name__)

# What a page, a fetch() or a form is not: a subresource that loads into a page.
RESOURCE_DESTS = frozenset(
    {
        "image",
        "style",
        "script",
        "font",
        "audio",
        "video",
        "track",
        "object",
        "embed",
        "manifest",
        "xslt",
        "worker",
        "sharedworker",
        "serviceworker",
        "audioworklet",
        "paintworklet",
        "json",
    }
)
FRAME_DESTS = frozenset({"iframe", "frame", "fencedframe"})
# The portal's own addresses that are images, embedded documents or scripts by design.
RESOURCE_VIEWS = frozenset({"attachment-thumbnail", "attachment-preview", "admin:jsi18n"})


def refusal(request: HttpRequest) -> str | None:
    """Why the portal refuses this request, or None when it may go on."""
    site = request.headers.get("Sec-Fetch-Site", "")
    mode = request.headers.get("Sec-Fetch-Mode", "")
    dest = request.headers.get("Sec-Fetch-Dest", "")
    if site == "cross-site" and not (
        mode == "navigate" and dest == "document" and request.method in ("GET", "HEAD")
    ):
        return "from another site"
    if dest in RESOURCE_DESTS and _view_name(request) not in RESOURCE_VIEWS:
        return f"as {dest}"
    if dest in FRAME_DESTS and site != "same-origin":
        return f"in a frame of {site or 'unknown'}"
    return None


def _view_name(request: HttpRequest) -> str | None:
    try:
        return resolve(request.path_info).view_name
    except Resolver404:
        return None


class FetchMetadataMiddleware:
    """Refuses (403) what refusal() names; placed before sessions (settings.MIDDLEWARE)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        reason = refusal(request)
        if reason is None:
            return self.get_response(request)
        # The view's name, never the address: an address may hold a token.
        # (A browser asks for /favicon.ico, no page, of its own accord: not worth a line.)
        view = _view_name(request)
        log.log(logging.INFO if view else logging.DEBUG, "refused %s %s", view, reason)
        response = HttpResponse(b"Refused.\n", status=403, content_type="text/plain")
        response["Cache-Control"] = "no-store"
        return response

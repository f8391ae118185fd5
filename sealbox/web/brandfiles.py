"""The organisation's logo and accent colour as files the portal serves: /brand/logo, /brand.css.

A logo is a PNG or an SVG by its content (never by its name). It is served as an
image only: an SVG gets a sandbox policy so that nothing in it can run, and no
page ever inlines it. Both files carry a version in their address (a short hash
of what they serve) and may be cached for a year.
"""

from __future__ import annotations

import functools
import hashlib
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotFound
from django.urls import reverse
from django.views.decorators.http import require_GET

from sealbox import branding
from sealbox.web import contrast

LOGO_MAX_BYTES = 512 * 1024
PNG = "image/png"
SVG = "image/svg+xml"
LOGO_CSP = "default-src 'none'; style-src 'unsafe-inline'; sandbox"
YEAR = 365 * 24 * 3600


def logo_type(data: bytes) -> str | None:
    """image/png or image/svg+xml by the file's content (SVG: XML whose root is <svg>), else None."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    parser = ET.XMLPullParser(events=("start",))
    try:
        for start in range(0, len(data), 4096):
            parser.feed(data[start : start + 4096])
            for _event, element in parser.read_events():  # type: ignore[misc]
                # The first element is the root; what follows it is not read.
                tag = getattr(element, "tag", "")
                return SVG if tag.rsplit("}", 1)[-1] == "svg" else None
    except ET.ParseError:
        return None
    return None


@dataclass(frozen=True)
class Logo:
    data: bytes
    content_type: str
    version: str


@functools.lru_cache(maxsize=4)
def _read(path: Path, mtime_ns: int, size: int) -> Logo | None:
    del mtime_ns, size  # in the cache key only: a replaced file is read again
    data = path.read_bytes()
    kind = logo_type(data)
    if kind is None or len(data) > LOGO_MAX_BYTES:
        return None
    return Logo(data, kind, hashlib.sha256(data).hexdigest()[:12])


def logo() -> Logo | None:
    """SEALBOX_ORG_LOGO as served, or None if there is none or it is not a usable logo."""
    path = branding.current().logo
    if path is None:
        return None
    try:
        stat = path.stat()
        if stat.st_size > LOGO_MAX_BYTES:
            return None
        return _read(path, stat.st_mtime_ns, stat.st_size)
    except OSError:
        return None


def stylesheet() -> str:
    """CSS custom properties for the accent in light and dark mode ('' without a colour).

    portal.css takes --brand-accent and --brand-accent-fg for links, focus
    rings and primary buttons, and has its own blue where they are not set.
    """
    brand = branding.current()
    return _stylesheet(brand.color_light, brand.color_dark)[0]


@functools.lru_cache(maxsize=4)
def _stylesheet(light: str, dark: str) -> tuple[str, str]:
    """The stylesheet for these colours and its version: made once, not on every page."""
    if not light:
        return "", ""
    rules = []
    for color, media in ((light, ""), (dark, "dark")):
        props = f":root {{ --brand-accent: {color}; --brand-accent-fg: {contrast.button_text(color)}; }}"
        rules.append(f"@media (prefers-color-scheme: dark) {{ {props} }}" if media else props)
    css = "\n".join(rules) + "\n"
    return css, hashlib.sha256(css.encode()).hexdigest()[:12]


def _versioned(name: str, version: str) -> str:
    return f"{reverse(name)}?v={version}"


def urls() -> dict[str, str]:
    """Addresses of the brand's files for pages ('' for a file there is none of)."""
    found = logo()
    brand = branding.current()
    css_version = _stylesheet(brand.color_light, brand.color_dark)[1]
    return {
        "logo": _versioned("brand-logo", found.version) if found else "",
        "css": _versioned("brand-css", css_version) if css_version else "",
    }


def _cache_for_a_year(response: HttpResponse) -> HttpResponse:
    response["Cache-Control"] = f"public, max-age={YEAR}, immutable"
    response["X-Content-Type-Options"] = "nosniff"
    return response


@require_GET
def logo_view(request: HttpRequest) -> HttpResponse:
    found = logo()
    if found is None:
        raise Http404("no logo")
    response = HttpResponse(found.data, content_type=found.content_type)
    response["Content-Security-Policy"] = LOGO_CSP
    return _cache_for_a_year(response)


@require_GET
def stylesheet_view(request: HttpRequest) -> HttpResponse:
    return _cache_for_a_year(HttpResponse(stylesheet(), content_type="text/css; charset=utf-8"))


class BrandFilesMiddleware:
    """Serves the brand's files as static files are served: before sessions and sign-in.

    A response cached for a year by any proxy must never carry a cookie: behind
    the session middleware, a signed-in reader's request for the logo renewed
    their session and sent its cookie with it. Placed right after WhiteNoise.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.views = {reverse("brand-logo"): logo_view, reverse("brand-css"): stylesheet_view}

    def __call__(self, request: HttpRequest) -> HttpResponse:
        view = self.views.get(request.path_info)
        if view is None:
            return self.get_response(request)
        try:
            return view(request)
        except Http404:
            return HttpResponseNotFound(b"", content_type="text/plain")

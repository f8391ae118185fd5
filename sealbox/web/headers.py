"""Response headers every page gets, beyond Django's own and the CSP."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.utils.cache import add_never_cache_headers

# Browser features the portal never uses are off, for it and anything it
# shows; passkeys (publickey-credentials) are for the portal's own pages only.
PERMISSIONS_POLICY = ", ".join(
    [
        "accelerometer=()",
        "autoplay=()",
        "camera=()",
        "display-capture=()",
        "geolocation=()",
        "gyroscope=()",
        "hid=()",
        "magnetometer=()",
        "microphone=()",
        "midi=()",
        "payment=()",
        "publickey-credentials-create=(self)",
        "publickey-credentials-get=(self)",
        "screen-wake-lock=()",
        "serial=()",
        "usb=()",
        "xr-spatial-tracking=()",
        "browsing-topics=()",
    ]
)


class SecurityHeadersMiddleware:
    """Permissions-Policy on every response; no-store on what a signed-in person sees.

    Views that show mail say never_cache themselves; this is the net under
    them, so that no page of a mailbox is ever kept by a browser or a proxy.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        response.headers.setdefault("Permissions-Policy", PERMISSIONS_POLICY)
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            # The brand's files never get here (brandfiles.BrandFilesMiddleware).
            if "no-store" not in response.headers.get("Cache-Control", ""):
                add_never_cache_headers(response)
        return response

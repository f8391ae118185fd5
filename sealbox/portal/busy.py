"""A clear "busy, try again" (503) when every slot for parsing a big message stays taken."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from sealbox.mailstore import opened
from sealbox.web.unavailable import unavailable

RETRY_AFTER_SECONDS = 10


class BusyMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not isinstance(exception, opened.Busy):
            return None
        return unavailable(request, "portal/busy.html", RETRY_AFTER_SECONDS)

"""Keeping a signed-in session alive while it is used, without a write per request."""

from __future__ import annotations

import time
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

# How often a used session's expiry moves forward. The idle timeout is
# therefore exact to within this many seconds.
RENEW_EVERY = 60


class SessionIdleMiddleware:
    """Renew the session's expiry (SEALBOX_SESSION_IDLE_MINUTES) at most once a minute.

    Django's SESSION_SAVE_EVERY_REQUEST would write the session on every page,
    frame and image; marking it modified once a minute gives the same idle
    timeout for a fraction of the writes.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        session = request.session
        if session.get("_auth_user_id") is not None:
            now = int(time.time())
            if now - int(session.get("renewed", 0)) >= RENEW_EVERY:
                session["renewed"] = now
        return self.get_response(request)

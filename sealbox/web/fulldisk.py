"""The site on a full data directory: SQLite's connection opened with the reserve
behind it, and a 503 page that says what happened (the rules are in diskspace.py)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from contextlib import suppress

from django.db import DatabaseError, connection
from django.http import HttpRequest, HttpResponse

from sealbox.diskspace import RETRY_AFTER_SECONDS, is_full_error, retry_when_full
from sealbox.web.unavailable import unavailable

log = logging.getLogger("sealbox.diskspace")


class FullDiskMiddleware:
    """Open SQLite's connection before the view, with the reserve behind it.

    SQLite removes its -wal and -shm files when the last connection closes;
    the next one must create them, which a full disk refuses. Any other
    failure to connect is left for the view to meet and answer as before.
    A view that fails for lack of space even so (the reserve is used up)
    answers 503 with a page that says so, not "something went wrong".
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if connection.vendor == "sqlite" and connection.connection is None:
            with suppress(DatabaseError):
                retry_when_full(connection.ensure_connection)()
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not is_full_error(exception):
            return None
        log.error(
            "%s %s not done: the data directory is full (%s)",
            request.method,
            request.path,
            exception,
        )
        return unavailable(request, "service/disk_full.html", RETRY_AFTER_SECONDS)

"""The portal while the storage key is locked, and mail that the key does not open."""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.cache import add_never_cache_headers

from sealbox.vault import seal
from sealbox.web.unavailable import unavailable

log = logging.getLogger("sealbox.vault")

# Left to work while locked: the health check and the pages' own files.
_OPEN_WHILE_LOCKED = ("/healthz", "/static/", "/brand/logo", "/brand.css")
RETRY_AFTER_SECONDS = 30


def locked_page(request: HttpRequest) -> HttpResponse:
    # Waiting for the password is a known state, logged once when it begins.
    return unavailable(request, "vault/locked.html", RETRY_AFTER_SECONDS)


class LockedMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not request.path.startswith(_OPEN_WHILE_LOCKED) and seal.locked():
            return locked_page(request)
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if isinstance(exception, seal.Locked):
            return locked_page(request)
        if isinstance(exception, seal.Unreadable):
            log.error(
                "%s %s: stored data does not open: %s", request.method, request.path, exception
            )
            response = render(request, "vault/unreadable.html", status=500)
            add_never_cache_headers(response)
            return response
        return None

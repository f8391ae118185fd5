"""The 503 page of a known state (busy, storage full, key locked): said once, not logged per request."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.cache import add_never_cache_headers


def quiet(response: HttpResponse) -> None:
    """Keep django.request from logging an error for this response.

    The state it answers is known and logged where it begins (or where it is
    met); Django skips responses it has marked as logged already.
    """
    response._has_been_logged = True  # type: ignore[attr-defined]


def unavailable(request: HttpRequest, template: str, retry_after: int) -> HttpResponse:
    """The 503 page `template`, never cached, asking to come back in retry_after seconds."""
    response = render(request, template, status=503)
    response["Retry-After"] = str(retry_after)
    add_never_cache_headers(response)
    quiet(response)
    return response

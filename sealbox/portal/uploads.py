"""What a browser uploads: kept in memory only, and refused unread above the limit.

Django writes an uploaded file to a temporary file once the request is larger
than FILE_UPLOAD_MAX_MEMORY_SIZE; a reply's attachments are message content
and, with encryption at rest, must never reach the disk in the clear. So every
upload stays in memory (MemoryOnlyUploadHandler), whatever the encryption
setting, and memory is bounded instead: a request whose Content-Length is
above the attachment limit (SEALBOX_MAX_UPLOAD_MB) plus room for the form's
other fields is answered 413 before its body is read (RequestSizeMiddleware).
A body of unknown length (chunked) is refused with 411: Django would read
none of it, and the handler's own count cuts off anything past the limit.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.core.files.uploadhandler import MemoryFileUploadHandler
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

MIB = 1024 * 1024
# Multipart framing: boundaries and part headers, a few hundred bytes per file.
FRAMING = MIB


def request_limit() -> int:
    """The largest request body accepted: the attachments, the other fields, the framing."""
    return int(settings.MAX_UPLOAD_MB) * MIB + int(settings.DATA_UPLOAD_MAX_MEMORY_SIZE) + FRAMING


class MemoryOnlyUploadHandler(MemoryFileUploadHandler):
    """Every uploaded file in memory, however large the request: never a temporary file."""

    def handle_raw_input(
        self,
        input_data: Any,
        META: dict[str, Any],
        content_length: int,
        boundary: str,
        encoding: str | None = None,
    ) -> None:
        self.activated = True
        self.received = 0

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes | None:
        self.received += len(raw_data)
        if self.received > request_limit():
            # Not reached through RequestSizeMiddleware; a safety net all the same.
            raise RequestDataTooBig("upload over SEALBOX_MAX_UPLOAD_MB")
        return super().receive_data_chunk(raw_data, start)


def _refusal(request: HttpRequest, status: int) -> HttpResponse:
    # The unread body is the server's to discard (gunicorn drains a little, then
    # closes the connection); WSGI leaves "Connection: close" to the server.
    context = {"max_upload_mb": settings.MAX_UPLOAD_MB, "unknown_length": status == 411}
    return render(request, "portal/too_large.html", context, status=status)


def declared_length(request: HttpRequest) -> int | None:
    """The body's Content-Length; None when it has none (or not a number)."""
    try:
        return int(request.META.get("CONTENT_LENGTH") or "")
    except ValueError:
        return None


class RequestSizeMiddleware:
    """Refuse a request body over request_limit() (413), or of unknown length (411), unread."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        length = declared_length(request)
        if length is None:
            if request.META.get("HTTP_TRANSFER_ENCODING"):
                return _refusal(request, 411)
        elif length > request_limit():
            return _refusal(request, 413)
        return self.get_response(request)

"""Reading back what the intake stored, as an operator would find it."""

from __future__ import annotations

from pathlib import Path

from django.conf import settings

from sealbox.mailstore import blobs
from sealbox.mailstore.models import Message


def split_trace(stored: bytes) -> tuple[bytes, bytes]:
    """The trace header Sealbox put on top (Return-Path, Received), and what follows it."""
    assert stored.startswith(b"Return-Path: <"), stored[:80]
    end = stored.index(b"\n") + 1
    assert stored[end:].startswith(b"Received: from "), stored[:200]
    end = stored.index(b"\n", end) + 1
    while stored[end : end + 1] == b"\t":
        end = stored.index(b"\n", end) + 1
    return stored[:end], stored[end:]


def messages_for(email: str) -> list[Message]:
    return list(Message.objects.filter(owner__email=email).order_by("received_at"))


def client_bytes(message: Message) -> bytes:
    """The stored message without its trace header: what the client sent."""
    return split_trace(blobs.read(message.blob))[1]


def files_under(*parts: str) -> list[Path]:
    top = Path(settings.DATA_DIR).joinpath(*parts)
    return sorted(p for p in top.rglob("*") if p.is_file()) if top.exists() else []

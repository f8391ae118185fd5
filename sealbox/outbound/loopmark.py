"""Sealbox's mark on its own outgoing mail, and the one test that recognises it.

relay.hand_over() puts `Sealbox-Loop: v1 <mac>` at the top of every email it
hands over (notifications, replies, receipts, reports, reminders). The mac is
an HMAC-SHA256 of the email's Message-ID under a key derived from SECRET_KEY
(Django's salted_hmac with this module's salt), so only a Sealbox sharing that
key can make or check one, and a mark copied onto other mail does not verify:
it belongs to one Message-ID. When a misrouted gateway sends such an email
back to the intake, is_own() says so and the intake refuses it.

The header block is read in one pass over its lines, never the body.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from email.utils import make_msgid

from django.conf import settings
from django.utils.crypto import constant_time_compare, salted_hmac

from sealbox.mailstore import parsing
from sealbox.mailstore.headblock import header_end

HEADER = "Sealbox-Loop"
VERSION = "v1"
_SALT = "sealbox.outbound.loopmark"


@dataclass
class Headers:
    """What loop detection reads from a message's header block."""

    received: int = 0  # Received: lines, one per hop
    message_id: str = ""  # the first Message-ID, unfolded
    marks: list[str] = field(default_factory=list)  # every Sealbox-Loop value


def read_headers(data: bytes) -> Headers:
    """Count Received: lines and pick out the Message-ID and marks, in linear time."""
    found = Headers()
    name = ""
    value: list[bytes] = []

    def close() -> None:
        if name == "message-id" and not found.message_id:
            found.message_id = _unfold(value)
        elif name == "sealbox-loop":
            found.marks.append(_unfold(value))

    for line in data[: header_end(data)].split(b"\n"):
        if line[:1] in (b" ", b"\t"):
            value.append(line)
            continue
        close()
        head, colon, rest = line.partition(b":")
        name = head.strip().lower().decode("latin-1") if colon else ""
        value = [rest]
        if name == "received":
            found.received += 1
    close()
    return found


def _unfold(parts: list[bytes]) -> str:
    return " ".join(b" ".join(parts).decode("latin-1").split())


def _mac(message_id: str, secret: str | bytes) -> str:
    # Whitespace is dropped: a relay may fold or re-space a long Message-ID.
    text = "".join(message_id.split())
    return salted_hmac(_SALT, text, secret=secret, algorithm="sha256").hexdigest()[:32]


def mark(data: bytes) -> bytes:
    """The email with Sealbox's mark on top (and a Message-ID, if it had none)."""
    eol = parsing.line_ending(data)
    message_id = read_headers(data).message_id
    added = b""
    if not message_id:
        message_id = make_msgid(domain=settings.BASE_HOST)
        added = f"Message-ID: {message_id}".encode("ascii") + eol
    line = f"{HEADER}: {VERSION} {_mac(message_id, settings.SECRET_KEY)}".encode("ascii")
    return line + eol + added + data


def is_own(headers: Headers) -> bool:
    """Whether a mark in these headers was made by this Sealbox for this Message-ID.

    Keys in SECRET_KEY_FALLBACKS count too, so a key change does not hide a loop.
    """
    if not headers.marks or not headers.message_id:
        return False
    secrets = [settings.SECRET_KEY, *settings.SECRET_KEY_FALLBACKS]
    expected = [f"{VERSION} {_mac(headers.message_id, s)}" for s in secrets]
    return any(constant_time_compare(m, e) for m in headers.marks for e in expected)

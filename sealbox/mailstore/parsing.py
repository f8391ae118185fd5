"""The one parser of stored mail: every reader of a message's headers, parts or date uses it.

A stored message is read with the tolerant compat32 policy (READ_POLICY), after
the lone-CR guard (one_line_ending): whatever reads it, the inbox's summary,
the message page, the reply form or a read receipt, sees the same headers, and
never one that only the email package would see. parse_headers() reads the
header block alone, parse() the whole message, parse_date() a Date header.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from email import message_from_bytes
from email.header import Header
from email.message import Message as EmailMessage
from email.parser import BytesHeaderParser
from email.policy import Compat32
from email.utils import parsedate_to_datetime

from sealbox.mailstore.headblock import header_end

# Headers whose parameters the email package splits (boundary, charset, name,
# filename), and how much of each it is given: it splits them in time quadratic
# in their number (email.message._parseparam: 400 KB of "; a=b" took 1.6 s, 4 MB
# would take minutes), and no real Content-Type or Content-Disposition, RFC 2231
# continuations included, comes near this.
_PARAM_HEADERS = frozenset({"content-type", "content-disposition"})
MAX_PARAM_HEADER = 32 * 1024


class _ReadPolicy(Compat32):
    """compat32, the tolerant policy stored mail is read with, with the parameter
    headers cut at MAX_PARAM_HEADER characters whenever they are read."""

    def header_fetch_parse(self, name: str, value: str) -> str | Header:  # type: ignore[override]
        if len(value) > MAX_PARAM_HEADER and name.lower() in _PARAM_HEADERS:
            value = value[:MAX_PARAM_HEADER]
        return super().header_fetch_parse(name, value)


READ_POLICY = _ReadPolicy()

LONE_CR = re.compile(rb"\r(?!\n)")


def line_ending(raw: bytes) -> bytes:
    """The message's own line ending, as its first line has it: CRLF or LF."""
    newline = raw.find(b"\n")
    return b"\r\n" if newline > 0 and raw[newline - 1 : newline] == b"\r" else b"\n"


def one_line_ending(raw: bytes) -> bytes:
    """A lone CR is not a line break in a header (RFC 5322), but the email
    package takes it for one: "X: a\\rFrom: CEO" would show a From that no
    other mail system sees. For reading, a lone CR in the header section
    becomes a space; the stored bytes stay as received. The result has the
    same length, so offsets in it are offsets in raw."""
    head = raw[: header_end(raw)]
    if b"\r" not in head or not LONE_CR.search(head):
        return raw
    return LONE_CR.sub(b" ", head) + raw[len(head) :]


def parse_headers(raw: bytes) -> EmailMessage:
    """Only the top-level headers of a message: cheap, and safe on any body.

    The body is not parsed, nor kept: what comes back holds the header block only.
    """
    block = raw[: header_end(raw)]
    return BytesHeaderParser(policy=READ_POLICY).parsebytes(one_line_ending(block))


def parse(raw: bytes) -> EmailMessage:
    """Parse a stored message with the tolerant compat32 policy."""
    return message_from_bytes(one_line_ending(raw), policy=READ_POLICY)


def parse_date(value: object) -> datetime | None:
    """A Date header as a timezone-aware datetime (UTC when it names no zone), or None.

    Anything a sender may write gives an answer or None, never an error: junk,
    an impossible day or hour, an offset of a day or more, a year past 9999 or
    one whose time in UTC would be.
    """
    if value is None:
        return None
    try:
        parsed = parsedate_to_datetime(str(value))
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)
        parsed.astimezone(UTC)  # stored in UTC: it must have a time there
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    return parsed

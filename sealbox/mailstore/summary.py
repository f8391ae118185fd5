"""What the inbox shows of a message, decoded best effort from its raw bytes.

Nothing here may fail a delivery: broken headers, unknown charsets and
malformed MIME all give something readable, with replacement characters where
the bytes cannot be decoded.
"""

from __future__ import annotations

import codecs
import logging
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from email import message_from_bytes
from email.header import decode_header
from email.message import Message as EmailMessage
from email.utils import getaddresses, parsedate_to_datetime

log = logging.getLogger(__name__)

MAX_FIELD = 400
_WS = re.compile(r"\s+")


@dataclass(frozen=True)
class Summary:
    subject: str = ""
    from_name: str = ""
    from_address: str = ""
    sent_date: datetime | None = None
    message_id: str = ""
    attachment_count: int = 0


def _charset(label: str | None) -> str:
    """A codec name Python knows for a MIME charset label; lying labels are widened."""
    if not label:
        return "utf-8"
    label = label.strip().strip('"').lower()
    try:
        name = codecs.lookup(label).name
    except LookupError:
        return "utf-8"
    # Mail labelled Latin-1 or ASCII is, in practice, very often Windows-1252.
    if name in ("iso8859-1", "latin-1", "ascii"):
        return "cp1252"
    return name


def decode_bytes(data: bytes, label: str | None) -> str:
    codec = _charset(label)
    try:
        return data.decode(codec)
    except UnicodeDecodeError:
        if codec != "utf-8":
            try:
                return data.decode("utf-8")
            except UnicodeDecodeError:
                pass
        return data.decode(codec, errors="replace")
    except LookupError:
        return data.decode("utf-8", errors="replace")


def decode_header_value(value: object) -> str:
    """Decode a raw header (RFC 2047 words, raw 8-bit UTF-8 or legacy bytes) to text."""
    if value is None:
        return ""
    text = str(value)
    # Raw 8-bit bytes reach us as surrogate escapes (compat32 parser).
    raw = text.encode("ascii", "surrogateescape") if _has_surrogates(text) else None
    if raw is not None:
        text = decode_bytes(raw, "utf-8")
    pieces: list[str] = []
    try:
        parts = decode_header(text)
    except Exception:  # the email package raises assorted errors on junk
        parts = [(text, None)]
    previous_encoded = False
    for chunk, charset in parts:
        if isinstance(chunk, bytes):
            if charset is None:
                piece = decode_bytes(chunk, "utf-8")
                encoded = False
            else:
                piece = decode_bytes(chunk, charset)
                encoded = True
        else:
            piece, encoded = chunk, False
        if pieces and not (previous_encoded and encoded):
            # decode_header drops the space between an encoded word and plain text.
            if not pieces[-1].endswith(" ") and not piece.startswith(" "):
                piece = " " + piece
        pieces.append(piece)
        previous_encoded = encoded
    return _WS.sub(" ", "".join(pieces)).strip()


def _has_surrogates(text: str) -> bool:
    return any("\udc80" <= ch <= "\udcff" for ch in text)


def _clip(text: str, limit: int = MAX_FIELD) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def parse(raw: bytes) -> EmailMessage:
    """Parse a stored message with the tolerant compat32 policy."""
    return message_from_bytes(raw)


def count_attachments(msg: EmailMessage, depth: int = 0) -> int:
    if depth > 50:
        return 0
    if msg.is_multipart():
        payload = msg.get_payload()
        if not isinstance(payload, list):
            return 0
        return sum(
            count_attachments(part, depth + 1) for part in payload if isinstance(part, EmailMessage)
        )
    disposition = (msg.get("Content-Disposition") or "").split(";")[0].strip().lower()
    if disposition == "attachment":
        return 1
    if msg.get_filename() or msg.get_param("name"):
        return 1
    maintype = msg.get_content_maintype()
    return 1 if maintype not in ("text", "multipart") and disposition != "inline" else 0


def summarize(raw: bytes) -> Summary:
    try:
        msg = parse(raw)
    except Exception:
        log.warning("could not parse a message for its summary", exc_info=True)
        return Summary()
    subject = decode_header_value(msg.get("Subject"))
    from_name, from_address = "", ""
    try:
        pairs = getaddresses([decode_header_value(msg.get("From"))])
        if pairs:
            from_name, from_address = pairs[0]
    except Exception:
        from_name = decode_header_value(msg.get("From"))
    sent_date = None
    try:
        date_header = msg.get("Date")
        if date_header:
            sent_date = parsedate_to_datetime(str(date_header))
            if sent_date.tzinfo is None:
                sent_date = sent_date.replace(tzinfo=UTC)
    except (TypeError, ValueError, IndexError):
        sent_date = None
    try:
        attachments = count_attachments(msg)
    except Exception:
        attachments = 0
    return Summary(
        subject=_clip(subject, 2000),
        from_name=_clip(from_name),
        from_address=_clip(from_address),
        sent_date=sent_date,
        message_id=_clip(decode_header_value(msg.get("Message-ID")), 998),
        attachment_count=attachments,
    )

"""Reading a stored message for display: headers, the body to show, attachments.

Any message that could be stored must open. Broken MIME, unknown or lying
charsets, huge parts and deep nesting degrade (replacement characters, fewer
parts shown, a raw view) rather than fail.

Each attachment records where its bytes lie in the message as received (a
byte range, and its transfer encoding), so that it can be read and decoded in
chunks later without parsing the message again (attachment_chunks). A message
read from a file is parsed as its skeleton (skeleton.py): the email package
never holds its big base64 runs.
"""

from __future__ import annotations

import binascii
import copy
import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from email.message import Message as EmailMessage
from email.policy import compat32
from email.utils import getaddresses

from sealbox.mailstore import parsing, skeleton
from sealbox.mailstore.blobs import BytesReader, Reader
from sealbox.mailstore.headblock import header_end
from sealbox.mailstore.parsing import LONE_CR, one_line_ending, parse, parse_date, parse_headers
from sealbox.mailstore.sanitize import html_as_text
from sealbox.mailstore.summary import (
    ATTACHMENT,
    BROKEN,
    HTML,
    IN_TEXT,
    MAX_PARTS,
    MORE_TEXT,
    TEXT,
    TOO_DEEP,
    _header_text,
    attachment_name,
    content_id,
    decode_bytes,
    decode_header_value,
    layout,
    maybe_inline,
)

log = logging.getLogger(__name__)

MAX_TEXT_CHARS = 4 * 1024 * 1024  # what is shown of one text part; the rest is in the download
# What is read of one text part to show MAX_TEXT_CHARS of it (base64 of 4-byte characters).
MAX_TEXT_READ = 6 * MAX_TEXT_CHARS
# A forwarded message is saved from its parsed form: the pieces that are not
# ranges of the stored file are kept with the view up to this size; above it
# its download parses the message again.
MAX_KEPT_LITERAL = 1024 * 1024

# Bytes, or a range [start, end) of the stored message.
Segment = bytes | tuple[int, int]


@dataclass
class Address:
    name: str
    address: str

    def __str__(self) -> str:
        if self.name and self.address:
            return f"{self.name} <{self.address}>"
        return self.name or self.address


@dataclass
class Attachment:
    index: int  # position of the part in a depth-first walk of the message
    filename: str
    content_type: str
    size: int
    content_id: str = ""
    inline: bool = False  # shown in the body (a cid: image), listed only if not referenced
    encoding: str = ""  # the transfer encoding its body is in ("" none, "base64", ...)
    body: list[Segment] | None = None  # where its bytes are; None: parse the message again


@dataclass
class TextPart:
    text: str
    truncated: bool = False


@dataclass
class MessageView:
    subject: str = ""
    sender: list[Address] = field(default_factory=list)
    to: list[Address] = field(default_factory=list)
    cc: list[Address] = field(default_factory=list)
    reply_to: list[Address] = field(default_factory=list)
    date: datetime | None = None
    message_id: str = ""
    html: str | None = None
    text: TextPart | None = None
    more_text: list[TextPart] = field(default_factory=list)
    attachments: list[Attachment] = field(default_factory=list)
    content_ids: dict[str, int] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    linesep: str = "\n"  # the stored message's line end, for parts saved on their own
    parts: list[EmailMessage] = field(default_factory=list, repr=False)

    def part(self, index: int) -> EmailMessage | None:
        """The part at a walk position, as numbered in attachments."""
        return self.parts[index] if 0 <= index < len(self.parts) else None

    @property
    def listed_attachments(self) -> list[Attachment]:
        return [a for a in self.attachments if not a.inline]

    def body_text(self, max_html: int | None = None) -> str:
        """The message as text: its plain text part, else the words of its HTML
        (of its first max_html characters, if given)."""
        if self.text is not None:
            return self.text.text
        return html_as_text((self.html or "")[:max_html])


def _addresses(msg: EmailMessage, name: str) -> list[Address]:
    values = msg.get_all(name) or []
    try:
        pairs = getaddresses([_header_text(v) for v in values])
    except Exception:
        return [Address(decode_header_value(v), "") for v in values]
    result = []
    for display, addr in pairs:
        if display or addr:
            result.append(Address(decode_header_value(display), addr))
    return result


def payload_bytes(part: EmailMessage) -> bytes:
    try:
        data = part.get_payload(decode=True)
    except Exception:
        data = None
    if isinstance(data, bytes):
        return data
    raw = part.get_payload()
    return raw.encode("utf-8", "surrogateescape") if isinstance(raw, str) else b""


def part_text(part: EmailMessage) -> TextPart:
    data = payload_bytes(part)
    try:
        charset = part.get_content_charset()
    except Exception:  # a charset parameter the email package cannot even read
        charset = None
    text = decode_bytes(data, charset).replace("\r\n", "\n")
    if part.get_content_type() == "text/plain":
        if str(part.get_param("format") or "").lower() == "flowed":
            delsp = str(part.get_param("delsp") or "").lower() == "yes"
            text = unflow(text, delsp)
    truncated = len(text) > MAX_TEXT_CHARS
    return TextPart(text[:MAX_TEXT_CHARS] if truncated else text, truncated)


def rfc822_bytes(part: EmailMessage, linesep: str = "\n") -> bytes:
    """The message inside a message/rfc822 part, as it would be saved to a file:
    with the outer message's line ends and its header lines as they were."""
    inner = part.get_payload()
    first = inner[0] if isinstance(inner, list) and inner else None
    if isinstance(first, EmailMessage):
        try:
            return first.as_bytes(policy=compat32.clone(linesep=linesep, max_line_length=0))
        except Exception:
            log.info("could not serialise a forwarded message", exc_info=True)
    return b""


def unflow(text: str, delsp: bool = False) -> str:
    """Join the soft line breaks of a format=flowed (RFC 3676) text."""
    out: list[str] = []
    current: str | None = None
    current_depth = 0
    for line in text.replace("\r\n", "\n").split("\n"):
        depth = len(line) - len(line.lstrip(">"))
        content = line[depth:]
        if content.startswith(" "):
            content = content[1:]  # space-stuffing
        if current is not None and depth != current_depth:
            out.append(">" * current_depth + (" " if current_depth else "") + current)
            current = None
        flowed = content.endswith(" ") and content != "-- "
        if flowed and delsp:
            content = content[:-1]
        current = content if current is None else current + content
        current_depth = depth
        if not flowed:
            out.append(">" * depth + (" " if depth and current else "") + current)
            current = None
    if current is not None:
        out.append(">" * current_depth + (" " if current_depth else "") + current)
    return "\n".join(out)


class _Locator:
    """Where each part's payload lies in the message, found in what the parser read."""

    def __init__(self, shape: skeleton.Skeleton, reader: Reader, parts: list[EmailMessage]):
        self.shape = shape
        self.reader = reader
        self.ranges: dict[int, tuple[int, int]] = {}  # id(part) -> range in the skeleton
        parsed = one_line_ending(shape.data)  # what parse() read: same length, same offsets
        # Where one_line_ending() stops changing lone CRs, in the message.
        changed = header_end(shape.data) if parsed is not shape.data else 0
        self.changed_until = shape.to_original(changed) or 0
        cursor = 0
        for part in parts:
            # The payload as parsed: get_payload() would decode 8-bit text by its charset.
            payload = part._payload  # type: ignore[attr-defined]
            if not isinstance(payload, str):
                continue
            try:
                data = payload.encode("ascii", "surrogateescape")
            except UnicodeError:
                continue
            # The parts come in the order of the message, so each payload is
            # found at or after the end of the one before. An earlier match
            # is the same bytes (a token can only match where it is).
            pos = parsed.find(data, cursor)
            while pos >= 0 and (
                shape.to_original(pos) is None or shape.to_original(pos + len(data)) is None
            ):
                pos = parsed.find(data, pos + 1)
            if pos < 0:
                continue
            self.ranges[id(part)] = (pos, pos + len(data))
            cursor = pos + len(data)

    def original(self, part: EmailMessage) -> tuple[int, int] | None:
        found = self.ranges.get(id(part))
        if found is None:
            return None
        start, end = (self.shape.to_original(x) for x in found)
        assert start is not None and end is not None
        return start, end

    def readable(self, part: EmailMessage) -> EmailMessage:
        """The part with its whole payload as received (up to MAX_TEXT_READ bytes), for text."""
        found = self.ranges.get(id(part))
        if found is None or not self.shape.has_cuts(*found):
            return part
        start, end = self.original(part) or (0, 0)
        data = b"".join(self.reader.chunks(start, min(end, start + MAX_TEXT_READ)))
        if start < self.changed_until:  # as parse() read it
            cut = self.changed_until - start
            data = LONE_CR.sub(b" ", data[:cut]) + data[cut:]
        clone = copy.copy(part)
        clone.set_payload(data.decode("ascii", "surrogateescape"))
        return clone


class _Builder:
    def __init__(self, msg: EmailMessage, shape: skeleton.Skeleton, reader: Reader) -> None:
        self.view = MessageView()
        self._html_lower: tuple[str, str] = ("", "")
        self.index: dict[int, int] = {}
        for i, part in enumerate(msg.walk()):
            if i >= MAX_PARTS:
                self.view.problems.append("too-many-parts")
                break
            self.index[id(part)] = i
            self.view.parts.append(part)
        self.where = _Locator(shape, reader, self.view.parts)

    def text(self, part: EmailMessage) -> TextPart:
        return part_text(self.where.readable(part))

    def attachment(self, part: EmailMessage, inline: bool = False) -> None:
        i = self.index.get(id(part))
        if i is None:
            return
        ctype = part.get_content_type()
        name = attachment_name(part)
        cid = content_id(part)
        encoding = ""
        body: list[Segment] | None = None
        if ctype == "message/rfc822":
            shape = self.where.shape
            saved = rfc822_bytes(part, self.view.linesep)
            body = shape.segments(saved)
            size = sum(len(s) if isinstance(s, bytes) else s[1] - s[0] for s in body)
            kept = sum(len(s) for s in body if isinstance(s, bytes))
            whole_tokens = sum(isinstance(s, tuple) for s in body)
            if kept > MAX_KEPT_LITERAL or (shape.nonce and saved.count(shape.nonce) > whole_tokens):
                body = None  # too big to keep, or a token not written back whole: parse again
        else:
            found = self.where.original(part)
            encoding = transfer_encoding(part)
            if found is None:
                data = payload_bytes(part)
                body, encoding = [data], ""
            else:
                body = [found]
                if encoding == "base64" and not _plain_base64(_raw(self.where.reader, body)):
                    encoding = WHOLE + encoding  # decoded as the email package does, at once
            size = sum(len(c) for c in attachment_chunks(self.where.reader, body, encoding))
        self.view.attachments.append(Attachment(i, name, ctype, size, cid, inline, encoding, body))
        if cid:
            self.view.content_ids.setdefault(cid, i)

    def lay_out(self, msg: EmailMessage) -> None:
        """Show and list the parts of the message as summary.layout() says."""
        for role, part in layout(msg):
            if role == HTML:
                self.view.html = self.text(part).text
            elif role == TEXT:
                self.view.text = self.text(part)
            elif role == MORE_TEXT:
                self.view.more_text.append(self.text(part))
            elif role == ATTACHMENT:
                self.attachment(part)
            elif role == IN_TEXT:
                self.attachment(part, inline=self.shown_in_html(part))
            elif role == BROKEN:
                self.view.problems.append("broken")
                self.view.text = self.text(part)
            elif role == TOO_DEEP:
                self.view.problems.append("too-deep")

    def shown_in_html(self, part: EmailMessage) -> bool:
        """Whether an image of a multipart/related is shown by the HTML body
        (and so is not listed); anything else in it is listed, never lost."""
        if not maybe_inline(part):
            return False
        html = self.view.html or ""
        if self._html_lower[0] is not html:  # lower-case each body once, not once per part
            self._html_lower = (html, html.lower())
        return f"cid:{content_id(part)}".lower() in self._html_lower[1]


def _headers(result: MessageView, msg: EmailMessage) -> None:
    result.subject = decode_header_value(msg.get("Subject"))
    result.sender = _addresses(msg, "From")
    result.to = _addresses(msg, "To")
    result.cc = _addresses(msg, "Cc")
    result.reply_to = _addresses(msg, "Reply-To")
    result.date = parse_date(msg.get("Date"))
    result.message_id = str(msg.get("Message-ID") or "").strip()


def view(raw: bytes) -> MessageView:
    """Everything the message page shows, from the stored bytes."""
    return _view(skeleton.whole(raw), BytesReader(raw))


def view_of(reader: Reader) -> MessageView:
    """view() of a message read in chunks: parsed as its skeleton, never held whole.

    Its parts are not kept: attachments are read with attachment_chunks().
    """
    result = _view(skeleton.build(reader.chunks()), reader)
    result.parts = []
    return result


def _head(reader: Reader) -> bytes:
    return b"".join(reader.chunks(0, MAX_TEXT_CHARS))


def _view(shape: skeleton.Skeleton, reader: Reader) -> MessageView:
    raw = shape.data
    try:
        msg = parse(raw)
    except Exception:
        log.warning("a stored message could not be parsed at all", exc_info=True)
        head = _head(reader)
        result = MessageView(text=TextPart(decode_bytes(head, "utf-8")), problems=["unparsable"])
        try:  # the header block alone may still be readable
            _headers(result, parse_headers(head))
        except Exception:
            log.info("nor could its headers", exc_info=True)
        return result
    builder = _Builder(msg, shape, reader)
    result = builder.view
    result.linesep = parsing.line_ending(raw).decode("ascii")
    _headers(result, msg)
    try:
        builder.lay_out(msg)
    except RecursionError:
        result.problems.append("too-deep")
    except Exception:
        log.warning("could not take a stored message apart", exc_info=True)
        result.problems.append("broken")
    if msg.defects:
        result.problems.append("defects")
    if result.html is None and result.text is None and not result.attachments:
        # Nothing recognisable: show the raw message rather than nothing.
        result.text = TextPart(decode_bytes(_head(reader), "utf-8"), reader.size > MAX_TEXT_CHARS)
        result.problems.append("raw")
    return result


# --- Attachment bytes, decoded in chunks ------------------------------------------------

_NOT_BASE64 = bytes(
    b
    for b in range(256)
    if chr(b) not in "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/="
)
_UUENCODE = ("x-uuencode", "uuencode", "uue", "x-uue")
# Before an encoding: the body is decoded at once by the email package (damaged base64).
WHOLE = "whole "


def transfer_encoding(part: EmailMessage) -> str:
    """The encoding get_payload(decode=True) undoes; "" for none."""
    cte = str(part.get("content-transfer-encoding", "")).lower().strip()
    return cte if cte in ("base64", "quoted-printable", *_UUENCODE) else ""


def _plain_base64(chunks: Iterable[bytes]) -> bool:
    """Whether _base64() decodes it as the email package does: no data after
    the padding, and no single character left over at the end."""
    count = 0
    padded = False
    for chunk in chunks:
        data = chunk.translate(None, _NOT_BASE64)
        if padded:
            if data.strip(b"="):
                return False
            continue
        pad = data.find(b"=")
        if pad < 0:
            count += len(data)
            continue
        if data[pad:].strip(b"="):
            return False
        count += pad
        padded = True
    return count % 4 != 1


def _base64(chunks: Iterable[bytes]) -> Iterator[bytes]:
    """As the email package decodes base64: characters outside the alphabet
    skipped, the end padded, nothing after the padding."""
    carry = b""
    for chunk in chunks:
        data = carry + chunk.translate(None, _NOT_BASE64)
        pad = data.find(b"=")
        if pad >= 0:
            data = data[:pad]
            whole = len(data) - len(data) % 4
            yield binascii.a2b_base64(data[:whole])
            carry = data[whole:]
            break
        whole = len(data) - len(data) % 4
        if whole:
            yield binascii.a2b_base64(data[:whole])
        carry = data[whole:]
    if len(carry) in (2, 3):
        yield binascii.a2b_base64(carry + b"=" * (4 - len(carry)))


def _quoted_printable(chunks: Iterable[bytes]) -> Iterator[bytes]:
    """quopri.decodestring() a line at a time (it reads each line on its own)."""
    carry = b""
    for chunk in chunks:
        data = carry + chunk
        cut = data.rfind(b"\n") + 1
        carry = data[cut:]
        if cut:
            yield binascii.a2b_qp(data[:cut])
    if carry:
        yield binascii.a2b_qp(carry)


def _raw(reader: Reader, body: list[Segment]) -> Iterator[bytes]:
    for segment in body:
        if isinstance(segment, bytes):
            yield segment
        else:
            yield from reader.chunks(*segment)


def attachment_chunks(reader: Reader, body: list[Segment], encoding: str) -> Iterator[bytes]:
    """An attachment's bytes, decoded, a chunk at a time."""
    raw = _raw(reader, body)
    if encoding == "base64":
        yield from _base64(raw)
    elif encoding == "quoted-printable":
        yield from _quoted_printable(raw)
    elif encoding in _UUENCODE or encoding.startswith(WHOLE):
        part = EmailMessage()
        part["Content-Transfer-Encoding"] = encoding.removeprefix(WHOLE)
        part.set_payload(b"".join(raw).decode("ascii", "surrogateescape"))
        yield payload_bytes(part)
    else:
        yield from raw

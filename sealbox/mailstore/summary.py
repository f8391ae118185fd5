"""What the inbox shows of a message, decoded best effort from its raw bytes.

Nothing here may fail a delivery: broken headers, unknown charsets and
malformed MIME all give something readable, with replacement characters where
the bytes cannot be decoded.
"""

from __future__ import annotations

import codecs
import logging
import re
from collections.abc import Generator, Iterator
from dataclasses import dataclass
from datetime import datetime
from email.header import Header, decode_header
from email.message import Message as EmailMessage
from email.utils import getaddresses

from sealbox.mailstore import skeleton as skeletons
from sealbox.mailstore.parsing import parse, parse_date
from sealbox.mailstore.sanitize import SAFE_IMAGE_TYPES

log = logging.getLogger(__name__)

MAX_FIELD = 400
MAX_NAMES = 2000  # of the attachment names kept for search, in characters
MAX_HEADER_DECODE = 16 * 1024
_WS = re.compile(r"\s+")
_FOLD = re.compile(r"\r?\n(?=[ \t])")


@dataclass(frozen=True)
class Summary:
    subject: str = ""
    from_name: str = ""
    from_address: str = ""
    sent_date: datetime | None = None
    message_id: str = ""
    attachment_count: int = 0
    to_display: str = ""
    attachment_names: str = ""  # one a line (names_label)


def _charset(label: str | None) -> str:
    """A codec name Python knows for a MIME charset label; lying labels are widened."""
    if not label:
        return "utf-8"
    label = label.strip().strip('"').lower()
    try:
        name = codecs.lookup(label).name
    except (LookupError, ValueError):  # ValueError: a NUL in the label
        return "utf-8"
    # Mail labelled Latin-1 is, in practice, very often Windows-1252.
    if name in ("iso8859-1", "latin-1"):
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
        # 8-bit text labelled ASCII that is not UTF-8 is most likely Windows-1252.
        return data.decode("cp1252" if codec == "ascii" else codec, errors="replace")
    except LookupError:
        return data.decode("utf-8", errors="replace")


def _header_text(value: object) -> str:
    """A raw header as text, raw 8-bit bytes decoded, RFC 2047 words left as they are."""
    if value is None:
        return ""
    if isinstance(value, Header):
        # compat32 hands out a header with raw 8-bit bytes as a Header in the
        # unknown-8bit charset, whose str() is replacement characters: take
        # its bytes back instead.
        return decode_bytes(b"".join(chunk for chunk, _ in decode_header(value)), "utf-8")
    text = str(value)
    # Raw 8-bit bytes may also reach us as surrogate escapes.
    if _has_surrogates(text):
        text = decode_bytes(text.encode("ascii", "surrogateescape"), "utf-8")
    return text


def decode_header_value(value: object) -> str:
    """Decode a raw header (RFC 2047 words, raw 8-bit UTF-8 or legacy bytes) to text."""
    # decode_header() takes time quadratic in the number of encoded words: a
    # header longer than any reader would read is cut before decoding.
    text = _header_text(value)[:MAX_HEADER_DECODE]
    if not text:
        return ""
    # Unfold first: decode_header() reads a folded header line by line and
    # loses the space of the fold. Spaces between encoded words still go, as
    # RFC 2047 says; "=?...?=.pdf" stays without one.
    text = _FOLD.sub("", text)
    pieces: list[str] = []
    try:
        parts = decode_header(text)
    except Exception:  # the email package raises assorted errors on junk
        parts = [(text, None)]
    for chunk, charset in parts:
        if isinstance(chunk, bytes):
            pieces.append(_plain_text(chunk) if charset is None else decode_bytes(chunk, charset))
        else:
            pieces.append(chunk)
    return _WS.sub(" ", "".join(pieces)).strip()


def _plain_text(chunk: bytes) -> str:
    """Undo decode_header(), which hands back the text between encoded words as
    raw-unicode-escape bytes."""
    try:
        return chunk.decode("raw-unicode-escape")
    except UnicodeDecodeError:  # a stray backslash-u in the text
        return chunk.decode("latin-1")


def _has_surrogates(text: str) -> bool:
    return any("\udc80" <= ch <= "\udcff" for ch in text)


def _clip(text: str, limit: int = MAX_FIELD) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


# RFC 5322 msg-id, strictly: it is copied into In-Reply-To, References and
# read receipts, so nothing that could be decoded or folded into more gets in.
_MSG_ID = re.compile(r"<[\x21-\x3b\x3d\x3f-\x7e]{1,900}>")


def message_id(value: object) -> str:
    """The Message-ID if it is a well-formed msg-id, else nothing."""
    text = str(value or "").strip()
    return text if _MSG_ID.fullmatch(text) and "=?" not in text else ""


def _param(headers: EmailMessage, name: str, header: str) -> str:
    """A header parameter, an RFC 2231 value decoded from its charset (or UTF-8
    where the charset is unknown)."""
    try:
        value = headers.get_param(name, header=header)
    except Exception:
        return ""
    if isinstance(value, tuple):
        charset, _, text = value
        return decode_bytes(text.encode("latin-1", "replace"), charset or "utf-8")
    return str(value or "")


def part_filename(part: EmailMessage) -> str:
    """The part's file name, decoded from RFC 2231 or RFC 2047, without any path."""
    # The parameters are read from the headers as text: compat32 turns a raw
    # 8-bit (UTF-8) header into replacement characters when it parses it itself.
    headers = EmailMessage()
    for name in ("Content-Type", "Content-Disposition"):
        value = part.get(name)
        if value is not None:
            headers[name] = _header_text(value)
    raw = _param(headers, "filename", "content-disposition") or _param(
        headers, "name", "content-type"
    )
    name = decode_header_value(str(raw))
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if ch.isprintable())
    return name.strip(" .")[:255]


def attachment_name(part: EmailMessage) -> str:
    """The name an attachment is listed and saved under: its file name, or for a
    forwarded message without one, its subject as a .eml file."""
    name = part_filename(part)
    if not name and part.get_content_type() == "message/rfc822":
        inner = part.get_payload()
        if isinstance(inner, list) and inner and isinstance(inner[0], EmailMessage):
            subject = decode_header_value(inner[0].get("Subject"))
            name = (subject or "message")[:100] + ".eml"
    return name


# How deep the parts of a message are followed, and how many are numbered.
MAX_DEPTH = 40
MAX_PARTS = 2000

# What the reader makes of each part of a message (layout()).
HTML = "html"  # the HTML body
TEXT = "text"  # the plain text body
MORE_TEXT = "more text"  # text shown after the body
ATTACHMENT = "attachment"  # listed, offered for download
IN_TEXT = "in text"  # a part of a multipart/related after its first: listed unless
# it is an image the HTML body shows by its cid (shown_inline())
BROKEN = "broken"  # a multipart without its boundary: its body shown as plain text
TOO_DEEP = "too deep"  # nested deeper than MAX_DEPTH: not followed

Step = tuple[str, EmailMessage]


def content_id(part: EmailMessage) -> str:
    return str(part.get("Content-ID") or "").strip().strip("<>")


def maybe_inline(part: EmailMessage) -> bool:
    """Whether a part of a multipart/related can be shown in the HTML in place
    (an image with a Content-ID). The page shows it, and does not list it, if
    the HTML refers to it (cid:); the summary, which does not decode the HTML,
    takes it as shown."""
    return bool(content_id(part)) and part.get_content_type() in SAFE_IMAGE_TYPES


def is_text(part: EmailMessage) -> bool:
    """A part shown as text: text but not HTML, neither marked as an attachment
    nor given a file name (a named text part is a file, as mail clients list it)."""
    if part.is_multipart() or part.get_content_maintype() != "text":
        return False
    if part.get_content_type() == "text/html":
        return False
    return (part.get_content_disposition() or "") != "attachment" and not part_filename(part)


def layout(msg: EmailMessage) -> Iterator[Step]:
    """The one rule of what a message shows and what it lists: each part the
    reader uses, in the order of the message, with what it is for. It reads
    headers and structure only, never a body, so it gives the same on a
    skeleton (summarize()) as on the whole message (mime.view())."""
    yield from _body(msg, 0)


def _body(part: EmailMessage, depth: int) -> Generator[Step, None, bool]:
    """The body to show in part, and the rest; True if a body was found."""
    if depth > MAX_DEPTH:
        yield TOO_DEEP, part
        return False
    ctype = part.get_content_type()
    if ctype == "message/rfc822":
        yield ATTACHMENT, part  # a forwarded message: offered whole, as .eml
        return False
    if part.is_multipart():
        children = [p for p in part.get_payload() if isinstance(p, EmailMessage)]
        subtype = part.get_content_subtype()
        if subtype == "alternative":
            return (yield from _alternative(children, depth))
        if subtype == "related" and children:
            found = yield from _body(children[0], depth + 1)
            for child in children[1:]:
                yield IN_TEXT, child
            return found
        found = False
        for child in children:
            if not found:
                found = yield from _body(child, depth + 1)
            elif is_text(child):
                yield MORE_TEXT, child
            else:
                yield from _other(child, depth + 1)
        return found
    if part.get_content_maintype() == "multipart":
        yield BROKEN, part  # a multipart whose boundary never occurs
        return True
    disposition = (part.get_content_disposition() or "").lower()
    if ctype == "text/html" and disposition != "attachment" and not part_filename(part):
        yield HTML, part
        return True
    # Where the body belongs, plain text is the body unless marked as an attachment,
    # even with a file name (some mailers name every part): shown, as it always was.
    if is_text(part) or (ctype == "text/plain" and disposition != "attachment"):
        yield TEXT, part
        return True
    yield from _other(part, depth)
    return False


def _other(part: EmailMessage, depth: int) -> Iterator[Step]:
    if depth > MAX_DEPTH:
        return
    if part.is_multipart() and part.get_content_type() != "message/rfc822":
        for child in part.get_payload():
            if isinstance(child, EmailMessage):
                if is_text(child):
                    yield MORE_TEXT, child
                else:
                    yield from _other(child, depth + 1)
        return
    yield ATTACHMENT, part


def _alternative(children: list[EmailMessage], depth: int) -> Generator[Step, None, bool]:
    html = next((c for c in reversed(children) if _has(c, "text/html")), None)
    plain = next((c for c in children if _has(c, "text/plain")), None)
    found = False
    if plain is not None:
        found = yield from _body(plain, depth + 1)
    if html is not None:
        found = (yield from _body(html, depth + 1)) or found
    if not found and children:
        found = yield from _body(children[-1], depth + 1)
    return found


def _has(part: EmailMessage, ctype: str) -> bool:
    if part.get_content_type() == ctype:
        return True
    if part.get_content_type() == "multipart/related":
        kids = part.get_payload()
        first = kids[0] if isinstance(kids, list) and kids else None
        return isinstance(first, EmailMessage) and _has(first, ctype)
    return False


def attachment_parts(msg: EmailMessage) -> list[EmailMessage]:
    """The parts the inbox counts (and search finds by name) as attachments:
    those the message page lists (layout()), images of a multipart/related
    with a Content-ID taken as shown by the HTML (maybe_inline())."""
    numbered = {id(part) for _, part in zip(range(MAX_PARTS), msg.walk(), strict=False)}
    found: list[EmailMessage] = []
    try:
        for role, part in layout(msg):
            if role == ATTACHMENT or (role == IN_TEXT and not maybe_inline(part)):
                if id(part) in numbered:  # the page lists the numbered parts only
                    found.append(part)
    except Exception:  # RecursionError, or junk the email package chokes on
        log.info("could not take a message apart for its summary", exc_info=True)
    return found


def names_label(names: list[str]) -> str:
    """Attachment names as the index keeps them: one a line, up to MAX_NAMES characters."""
    kept: list[str] = []
    length = 0
    for name in dict.fromkeys(n for n in names if n):
        length += len(name) + 1
        if length > MAX_NAMES:
            break
        kept.append(name)
    return "\n".join(kept)


# Lines of base64 body text: nothing in them matters to the summary.
SKELETON_ABOVE = 256 * 1024


def skeleton(raw: bytes) -> bytes:
    """The message with its long base64 runs cut out, for a cheap parse (skeleton.py).

    Headers, MIME boundaries and short parts stay, so structure, names and
    attachment counts come out the same; a 50 MiB attachment costs kilobytes
    instead of several times its size in parsed objects.
    """
    if len(raw) <= SKELETON_ABOVE:
        return raw
    return skeletons.build((raw,)).data


def summarize(raw: bytes) -> Summary:
    try:
        msg = parse(skeleton(raw))
    except Exception:
        log.warning("could not parse a message for its summary", exc_info=True)
        return Summary()
    subject = decode_header_value(msg.get("Subject"))
    from_name, from_address = "", ""
    try:
        # Split the address off before decoding: a decoded name may hold a comma.
        pairs = getaddresses([_header_text(msg.get("From"))])
        if pairs:
            from_name, from_address = decode_header_value(pairs[0][0]), pairs[0][1]
    except Exception:
        from_name = decode_header_value(msg.get("From"))
    sent_date = parse_date(msg.get("Date"))
    try:
        parts = attachment_parts(msg)
    except Exception:
        parts = []
    try:
        names = names_label([attachment_name(part) for part in parts])
    except Exception:
        names = ""
    return Summary(
        subject=_clip(subject, 2000),
        from_name=_clip(from_name),
        from_address=_clip(from_address),
        sent_date=sent_date,
        message_id=message_id(msg.get("Message-ID")),
        attachment_count=len(parts),
        attachment_names=names,
        to_display=_clip(_recipients_label(msg)),
    )


def _recipients_label(msg: EmailMessage) -> str:
    """Who a message went to, for the Sent folder: names where given, else addresses."""
    try:
        pairs = getaddresses(
            [_header_text(v) for v in msg.get_all("To", []) + msg.get_all("Cc", [])]
        )
    except Exception:
        return ""
    labels = [decode_header_value(name) or addr for name, addr in pairs if name or addr]
    return ", ".join(dict.fromkeys(labels))

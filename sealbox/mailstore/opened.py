"""The one way a stored message is opened for reading: parsed once, its view kept beside it.

read() is what the pages show (the message page, its frame, its attachments,
the reply form's quote); read_headers() is its top-level header lines as received,
for what needs more than the view holds (a read receipt's target, a reply's
References, who a reply may go to). Both are parsed by the one parser
(parsing.py) and kept in memory, so a page, its frame and its attachments
parse the message once, and its header block is read once.

A stored message never changes, so it is parsed once (mime.view_of, in little
memory) and what the pages need is kept: headers, the text and HTML to show,
and each attachment's place in the stored file (a byte range and its transfer
encoding). The view is kept in memory per process (a few of the latest) and in
a derived file, derived/xx/<id>.json, so that other processes and later
requests read it instead of parsing again. With encryption at rest on, that
file is sealed like the message (<id>.<set id>.p7m) and a plain one is never
written; a plain one left from before is removed when found.

Attachments and the .eml download are read from the stored file in chunks:
a sealed file is decrypted range by range (sealbox/vault/stream.py), so no
decoded copy of an attachment is ever written.

read_headers() reads the start of the file only (blobs.read_head) and keeps the
parsed header blocks of the latest messages in memory (HEADER_BUDGET bytes of
them), never on disk. It is not taken from the view: the view keeps what the
page shows, decoded, not the header lines as received.

Parsing a big message takes memory and seconds: each process parses at most
SEALBOX_PARSE_SLOTS messages over LARGE bytes at once, one request per message
parses it while others for the same message wait for its result, and a request
that waits more than PARSE_WAIT_SECONDS for a slot gets Busy (503, try again).

The frame's sanitised HTML (without remote content) is kept in the same
derived file once made (keep_cleaned_html, cleaned_html), under the name of
what made it: a change to the sanitiser makes it again, and no other process
sanitises the message again meanwhile.

The derived file is removed with its message (mailbox.remove),
left-overs by the clean-up (sweep_strays), and it does not count against the
owner's quota: its size is bounded by what is shown (MAX_TEXT_CHARS per text part,
MAX_CLEANED of sanitised HTML).
"""

from __future__ import annotations

import base64
import dataclasses
import datetime
import json
import logging
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Iterator
from email.message import Message as EmailMessage
from pathlib import Path
from typing import TYPE_CHECKING, Any

from django.conf import settings

from sealbox import diskspace
from sealbox.mailstore import blobs, mime, parsing
from sealbox.mailstore.headblock import header_end
from sealbox.vault import seal

if TYPE_CHECKING:
    from sealbox.mailstore.models import Message

log = logging.getLogger(__name__)

FORMAT = 1  # of the derived file; another number is parsed again
LARGE = 8 * 1024 * 1024  # messages above this take one of the parse slots
PARSE_WAIT_SECONDS = 20
MEMORY_BUDGET = 16 * 1024 * 1024  # characters of the views kept in memory per process
STRAY_AGE_SECONDS = 3600
HEADER_BUDGET = 4 * 1024 * 1024  # bytes of header blocks kept in memory per process
HEADER_OVERHEAD = 1024  # counted for each kept block besides its bytes
MAX_CLEANED = 4 * 1024 * 1024  # characters of sanitised HTML kept in a derived file

_memory: OrderedDict[uuid.UUID, tuple[mime.MessageView, int]] = OrderedDict()
_memory_used = 0
_lock = threading.Lock()
_opening: dict[uuid.UUID, tuple[threading.Lock, list[int]]] = {}
_slots: tuple[int, threading.BoundedSemaphore] | None = None
# Message id -> (its blob, its parsed headers, their weight).
_headers: OrderedDict[uuid.UUID, tuple[str, EmailMessage, int]] = OrderedDict()
_headers_used = 0
# Derived files this process read or wrote without sanitised HTML in them, with their
# (mtime, size) then: while unchanged, cleaned_html() need not read one to find none.
_uncleaned: dict[uuid.UUID, tuple[Path, tuple[int, int] | None]] = {}
MAX_UNCLEANED = 10_000
# The sanitised HTML of the derived file _load read last, per thread (see _kept_cleaned).
_handed = threading.local()
# How many messages this process has parsed (tests and benchmarks read it).
parses = 0


class Busy(Exception):
    """Every parse slot stayed taken: answer "busy, try again"."""


def read(message: Message) -> mime.MessageView:
    """What the pages show of a stored message (raises seal.Locked, seal.Unreadable, Busy)."""
    found = _remembered(message.id)
    if found is not None:
        return found
    lock = _lock_for(message.id)
    try:
        with lock:  # one request per message parses it; the others get its result
            found = _remembered(message.id) or _load(message)
            if found is None:
                found = _parse(message)
                _store(message, found)
            _remember(message.id, found)
            return found
    finally:
        _release(message.id)


def read_headers(message: Message) -> EmailMessage:
    """The stored message's top-level headers, as received (raises seal.Locked, seal.Unreadable).

    Shared by every caller in this process: read it, never change it.
    """
    found = _known_headers(message)
    if found is not None:
        return found
    head = blobs.read_head(message.blob)
    found = parsing.parse_headers(head)
    _remember_headers(message, found, HEADER_OVERHEAD + header_end(head))
    return found


def cleaned_html(message: Message, made_by: str) -> str | None:
    """The message's sanitised HTML as keep_cleaned_html() kept it with the view, if it
    was made by made_by (the sanitiser's fingerprint); None when there is none."""
    read(message)  # the derived file, made (or checked) first
    return _kept_cleaned(message, made_by)


def keep_cleaned_html(message: Message, made_by: str, html: str) -> None:
    """Keep a message's sanitised HTML with its view, in the derived file (sealed like
    it), so that no process sanitises it again. Not kept when longer than MAX_CLEANED
    characters, or when the data directory has no room for it beside new mail
    (diskspace.has_room): it is made again when next shown."""
    if len(html) <= MAX_CLEANED and diskspace.has_room(4 * len(html)):
        _store(message, read(message), (made_by, html))


def reader(message: Message) -> blobs.Reader:
    """The stored message as received, to read in ranges (decrypting only what is read)."""
    return blobs.reader(message.blob)


def attachment(message: Message, index: int) -> tuple[mime.Attachment, Iterator[bytes]] | None:
    """An attachment listed in the view, and its decoded bytes in chunks; None if no such one."""
    item = next((a for a in read(message).attachments if a.index == index), None)
    if item is None:
        return None
    if item.body is None:  # a forwarded message too big to keep its pieces: parse again
        data = _reparsed(message, index)
        return dataclasses.replace(item, size=len(data)), iter((data,))
    return item, mime.attachment_chunks(reader(message), item.body, item.encoding)


def attachment_bytes(message: Message, item: mime.Attachment) -> bytes:
    """A (small) attachment's bytes at once, e.g. an inline image."""
    if item.body is None:
        return _reparsed(message, item.index)
    return b"".join(mime.attachment_chunks(reader(message), item.body, item.encoding))


def remove(message_id: uuid.UUID) -> None:
    """Forget a message's view: in memory here, and its derived files."""
    _forget(message_id)
    blobs.delete_derived(message_id)


def sweep_strays(now: float | None = None) -> int:
    """Remove derived files whose message is gone (a view written while it was deleted)."""
    from sealbox.mailstore.models import Message

    now = time.time() if now is None else now
    found: dict[uuid.UUID, list[Any]] = {}
    for message_id, path in blobs.all_derived():
        found.setdefault(message_id, []).append(path)
    removed = 0
    ids = list(found)
    for i in range(0, len(ids), 500):
        batch = ids[i : i + 500]
        alive = set(Message.objects.filter(id__in=batch).values_list("id", flat=True))
        for message_id in batch:
            if message_id in alive:
                continue
            for path in found[message_id]:
                try:
                    if now - path.stat().st_mtime < STRAY_AGE_SECONDS:
                        continue
                    path.unlink()
                    removed += 1
                except FileNotFoundError:
                    continue
    return removed


def remove_derived_except(set_id: str | None) -> int:
    """Remove every derived file not sealed to the certificate set set_id (after
    encrypt-existing or a rotation: nothing stays plain or sealed to old keys)."""
    keep = f"{set_id}{blobs.SEALED_SUFFIX}" if set_id else None
    removed = 0
    for _, path in list(blobs.all_derived()):
        if keep is None or path.name.partition(".")[2] != keep:
            path.unlink(missing_ok=True)
            removed += 1
    clear_memory()
    return removed


def clear_memory() -> None:
    global _memory_used, _headers_used
    with _lock:
        _memory.clear()
        _memory_used = 0
        _headers.clear()
        _headers_used = 0
        _uncleaned.clear()


# --- Parsing, bounded ----------------------------------------------------------------


def _slot() -> threading.BoundedSemaphore:
    global _slots
    with _lock:
        if _slots is None or _slots[0] != settings.PARSE_SLOTS:
            _slots = (settings.PARSE_SLOTS, threading.BoundedSemaphore(settings.PARSE_SLOTS))
        return _slots[1]


def _parse(message: Message) -> mime.MessageView:
    global parses
    large = message.size > LARGE
    slots = _slot()
    if large and not slots.acquire(timeout=PARSE_WAIT_SECONDS):
        log.warning("message %s: no parse slot free for %ds", message.id, PARSE_WAIT_SECONDS)
        raise Busy
    try:
        started = time.monotonic()
        result = mime.view_of(reader(message))
        with _lock:
            parses += 1
        if large:
            log.info(
                "message %s: parsed %d bytes in %.1fs",
                message.id,
                message.size,
                time.monotonic() - started,
            )
        return result
    finally:
        if large:
            slots.release()


def _reparsed(message: Message, index: int) -> bytes:
    global parses
    slots = _slot()
    if not slots.acquire(timeout=PARSE_WAIT_SECONDS):
        raise Busy
    try:
        whole = mime.view(blobs.read(message.blob))
        with _lock:
            parses += 1
    finally:
        slots.release()
    part = whole.part(index)
    return mime.rfc822_bytes(part, whole.linesep) if part is not None else b""


def _lock_for(message_id: uuid.UUID) -> threading.Lock:
    with _lock:
        entry = _opening.get(message_id)
        if entry is None:
            entry = _opening[message_id] = (threading.Lock(), [0])
        entry[1][0] += 1
        return entry[0]


def _release(message_id: uuid.UUID) -> None:
    with _lock:
        entry = _opening[message_id]
        entry[1][0] -= 1
        if not entry[1][0]:
            del _opening[message_id]


# --- Kept in memory ----------------------------------------------------------------------


def _weight(found: mime.MessageView) -> int:
    text = found.text.text if found.text else ""
    return len(found.html or "") + len(text) + sum(len(t.text) for t in found.more_text) + 1000


def _remembered(message_id: uuid.UUID) -> mime.MessageView | None:
    with _lock:
        entry = _memory.get(message_id)
        if entry is None:
            return None
        _memory.move_to_end(message_id)
        return entry[0]


def _remember(message_id: uuid.UUID, found: mime.MessageView) -> None:
    global _memory_used
    weight = _weight(found)
    with _lock:
        if message_id in _memory:
            return
        _memory[message_id] = (found, weight)
        _memory_used += weight
        while _memory_used > MEMORY_BUDGET and len(_memory) > 1:
            _, (_, gone) = _memory.popitem(last=False)
            _memory_used -= gone


def _forget(message_id: uuid.UUID) -> None:
    global _memory_used, _headers_used
    with _lock:
        _uncleaned.pop(message_id, None)
        entry = _memory.pop(message_id, None)
        if entry is not None:
            _memory_used -= entry[1]
        kept = _headers.pop(message_id, None)
        if kept is not None:
            _headers_used -= kept[2]


def _known_headers(message: Message) -> EmailMessage | None:
    with _lock:
        entry = _headers.get(message.id)
        if entry is None or entry[0] != message.blob:  # its file was replaced (sealed) since
            return None
        _headers.move_to_end(message.id)
        return entry[1]


def _remember_headers(message: Message, found: EmailMessage, weight: int) -> None:
    global _headers_used
    with _lock:
        old = _headers.pop(message.id, None)
        if old is not None:
            _headers_used -= old[2]
        _headers[message.id] = (message.blob, found, weight)
        _headers_used += weight
        while _headers_used > HEADER_BUDGET and len(_headers) > 1:
            _, (_, _, gone) = _headers.popitem(last=False)
            _headers_used -= gone


# --- The derived file -----------------------------------------------------------------


def _load(message: Message) -> mime.MessageView | None:
    """The view from the derived file, or None (missing, stale, of no use: then removed)."""
    to = seal.sealing_to()
    for path in blobs.derived_files(message.id):
        sealed_file = path.suffix == blobs.SEALED_SUFFIX
        if to is not None and not sealed_file:
            path.unlink(missing_ok=True)  # plain, from before encryption at rest was on
            continue
        try:
            data = path.read_bytes()
            if sealed_file or seal.is_sealed(data):
                data = seal.open_sealed(data)
            doc = json.loads(data)
            found = _decode(doc)
        except seal.Locked:
            if message.blob.endswith(blobs.SEALED_SUFFIX):
                raise
            continue  # sealed while encryption was on; the plain message parses again
        except FileNotFoundError:
            continue
        except Exception as e:  # damaged, cut short, of another format, another key
            log.info("message %s: derived file %s not used: %s", message.id, path.name, e)
            path.unlink(missing_ok=True)
            continue
        if found is not None:
            _note_derived(message.id, path, doc)
            # The sanitised HTML came in the same file: the frame that asks for it
            # next, in this thread, takes it from here instead of reading the file again.
            _handed.kept = (message.id, path, _file_state(path), doc.get("cleaned"))
            return found
        path.unlink(missing_ok=True)
    return None


def _kept_cleaned(message: Message, made_by: str) -> str | None:
    """The sanitised HTML kept in the derived file by made_by, if any (a file of no use
    is left to _load, which removes it)."""
    handed, _handed.kept = getattr(_handed, "kept", None), None
    if handed is not None and handed[0] == message.id and _file_state(handed[1]) == handed[2]:
        kept = handed[3]  # as _load read it, just now in this thread
        return str(kept[1]) if _made_by(kept, made_by) else None
    with _lock:
        seen = _uncleaned.get(message.id)
    if seen is not None and _file_state(seen[0]) == seen[1]:
        return None  # the file as this process read or wrote it: no sanitised HTML in it
    to = seal.sealing_to()
    for path in blobs.derived_files(message.id):
        sealed_file = path.suffix == blobs.SEALED_SUFFIX
        if to is not None and not sealed_file:
            continue
        try:
            data = path.read_bytes()
            if sealed_file or seal.is_sealed(data):
                data = seal.open_sealed(data)
            doc = json.loads(data)
            if doc.get("format") != FORMAT:  # made from another kind of view: made again
                continue
            kept = doc.get("cleaned")
        except Exception as e:  # gone, locked, damaged: made again
            log.info("message %s: kept sanitised HTML not used: %s", message.id, e)
            continue
        if _made_by(kept, made_by):
            return str(kept[1])
    return None


def _made_by(kept: object, made_by: str) -> bool:
    """Whether a derived file's "cleaned" entry is sanitised HTML made by made_by."""
    return isinstance(kept, list) and len(kept) == 2 and kept[0] == made_by


def _file_state(path: Path) -> tuple[int, int] | None:
    try:
        stat = path.stat()
    except OSError:
        return None
    return stat.st_mtime_ns, stat.st_size


def _note_derived(message_id: uuid.UUID, path: Path, doc: dict[str, Any]) -> None:
    """Remember a derived file read or written without sanitised HTML (see _uncleaned)."""
    state = None if "cleaned" in doc else _file_state(path)
    with _lock:
        if state is None:
            _uncleaned.pop(message_id, None)
            return
        if len(_uncleaned) >= MAX_UNCLEANED:
            _uncleaned.clear()
        _uncleaned[message_id] = (path, state)


def _store(
    message: Message, found: mime.MessageView, cleaned: tuple[str, str] | None = None
) -> None:
    from sealbox.mailstore.models import Message as MessageModel

    to = seal.sealing_to()
    if to is None and message.blob.endswith(blobs.SEALED_SUFFIX) and settings.ENCRYPTION_CERTS:
        to = seal.recipients()  # encryption turned off since: sealed like the message still
    doc = _encode(found)
    if cleaned is not None:
        doc["cleaned"] = list(cleaned)  # [made_by, html]; _decode leaves it out
    data = json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode()
    if to is not None:
        data = seal.seal(data, to)
    try:
        path = blobs.write_derived(message.id, data, to.set_id if to else None)
    except OSError as e:
        log.warning("message %s: could not keep its view: %s", message.id, e)
        return
    _note_derived(message.id, path, doc)
    # Deleted meanwhile: its files went before this one was written.
    if not MessageModel.objects.filter(id=message.id).exists():
        blobs.delete_derived(message.id)


def _encode(found: mime.MessageView) -> dict[str, Any]:
    def addresses(items: list[mime.Address]) -> list[list[str]]:
        return [[a.name, a.address] for a in items]

    def segment(s: mime.Segment) -> Any:
        return [s[0], s[1]] if isinstance(s, tuple) else base64.b64encode(s).decode("ascii")

    def text(part: mime.TextPart | None) -> Any:
        return None if part is None else [part.text, part.truncated]

    return {
        "format": FORMAT,
        "subject": found.subject,
        "sender": addresses(found.sender),
        "to": addresses(found.to),
        "cc": addresses(found.cc),
        "reply_to": addresses(found.reply_to),
        "date": found.date.isoformat() if found.date else None,
        "message_id": found.message_id,
        "html": found.html,
        "text": text(found.text),
        "more_text": [text(t) for t in found.more_text],
        "attachments": [
            {
                "index": a.index,
                "filename": a.filename,
                "content_type": a.content_type,
                "size": a.size,
                "content_id": a.content_id,
                "inline": a.inline,
                "encoding": a.encoding,
                "body": None if a.body is None else [segment(s) for s in a.body],
            }
            for a in found.attachments
        ],
        "content_ids": found.content_ids,
        "problems": found.problems,
        "linesep": found.linesep,
    }


def _decode(doc: dict[str, Any]) -> mime.MessageView | None:
    if doc.get("format") != FORMAT:
        return None

    def addresses(items: list[list[str]]) -> list[mime.Address]:
        return [mime.Address(name, address) for name, address in items]

    def segment(s: Any) -> mime.Segment:
        return (int(s[0]), int(s[1])) if isinstance(s, list) else base64.b64decode(s)

    def text(value: Any) -> mime.TextPart | None:
        return None if value is None else mime.TextPart(value[0], bool(value[1]))

    more = [text(t) for t in doc["more_text"]]
    return mime.MessageView(
        subject=doc["subject"],
        sender=addresses(doc["sender"]),
        to=addresses(doc["to"]),
        cc=addresses(doc["cc"]),
        reply_to=addresses(doc["reply_to"]),
        date=datetime.datetime.fromisoformat(doc["date"]) if doc["date"] else None,
        message_id=doc["message_id"],
        html=doc["html"],
        text=text(doc["text"]),
        more_text=[t for t in more if t is not None],
        attachments=[
            mime.Attachment(
                a["index"],
                a["filename"],
                a["content_type"],
                a["size"],
                a["content_id"],
                a["inline"],
                a["encoding"],
                None if a["body"] is None else [segment(s) for s in a["body"]],
            )
            for a in doc["attachments"]
        ],
        content_ids={k: int(v) for k, v in doc["content_ids"].items()},
        problems=list(doc["problems"]),
        linesep=doc["linesep"],
    )

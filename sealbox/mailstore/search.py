"""Finding messages in a folder by sender, recipients, subject and attachment names.

The one rule of what matches: every word of the query is found, as a substring,
in one of the searched fields, both sides normalised (NFKC, then case-folded,
so "GRÖSSE" finds "Größe" and a decomposed "é" finds a composed one).

A plain row keeps its searched fields normalised in one column, search_text, set
on every save: the database matches it (LIKE on SQLite and PostgreSQL alike,
the words already folded) and pages the result. A sealed row has no such column:
its fields are opened in memory (sealed.reveal) while the folder is read in
chunks, and only the matches on the page asked for are kept, so a request holds
a bounded number of rows whatever the size of the mailbox. Nothing opened is
written anywhere.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any, overload

from django.db.models import BooleanField, ExpressionWrapper, Q, QuerySet

from sealbox.mailstore import sealed
from sealbox.mailstore.models import Message
from sealbox.mailstore.searchtext import FIELDS, index_text, normalise
from sealbox.vault import seal

log = logging.getLogger(__name__)

MAX_QUERY = 200  # characters of a query that are read
MAX_WORDS = 10
CHUNK = 500  # sealed rows read from the database at a time


def words(query: str) -> list[str]:
    """The words of a query, normalised, each once, at most MAX_WORDS."""
    return list(dict.fromkeys(normalise(query[:MAX_QUERY]).split()))[:MAX_WORDS]


def matches(terms: Sequence[str], values: Mapping[str, Any]) -> bool:
    text = index_text(values)
    return all(term in text for term in terms)


class Found(Sequence["Message"]):
    """The matches of a sealed folder as Paginator reads them: their number, and
    the rows of the page asked for (or, past the end, of the last page)."""

    def __init__(self) -> None:
        self.total = 0
        self.pages: dict[int, list[uuid.UUID]] = {}  # first position -> ids
        self.fetch: Callable[[list[uuid.UUID]], Iterable[Message]] = lambda ids: []

    def __len__(self) -> int:
        return self.total

    @overload
    def __getitem__(self, index: int) -> Message: ...
    @overload
    def __getitem__(self, index: slice) -> list[Message]: ...
    def __getitem__(self, index: int | slice) -> Message | list[Message]:
        if isinstance(index, int):
            return self[index : index + 1][0]
        ids = self.pages.get(index.start or 0)
        if ids is None:
            raise IndexError("only the page searched for is kept")
        return list(self.fetch(ids)) if ids else []


# Normalised fields of sealed rows (index_text), kept in memory like the opened
# summaries they come from, and only while that summary is the one in memory.
_texts: OrderedDict[uuid.UUID, tuple[dict[str, Any], str]] = OrderedDict()
_texts_lock = threading.Lock()


def _sealed_text(message_id: uuid.UUID, values: dict[str, Any], envelope_from: str) -> str:
    with _texts_lock:
        kept = _texts.get(message_id)
    if kept is not None and kept[0] is values:
        return kept[1]
    text = index_text({**values, "envelope_from": envelope_from})
    with _texts_lock:
        _texts[message_id] = (values, text)
        while len(_texts) > sealed.CACHE_SIZE:
            _texts.popitem(last=False)
    return text


def _texts_of(rows: QuerySet[Message]) -> Iterator[tuple[uuid.UUID, str]]:
    """Each row's normalised fields, in order: a plain row's column, a sealed row's
    fields opened in memory (summaries loaded only for rows this process has not
    opened yet, CHUNK at a time)."""

    listed = rows.annotate(
        is_sealed=ExpressionWrapper(Q(sealed_summary__isnull=False), output_field=BooleanField())
    ).values_list("id", "is_sealed", "search_text", "envelope_from")
    chunk: list[tuple[uuid.UUID, bool, str, str]] = []
    for row in listed.iterator(chunk_size=CHUNK):
        chunk.append(row)
        if len(chunk) == CHUNK:
            yield from _chunk_texts(Message, chunk)
            chunk = []
    yield from _chunk_texts(Message, chunk)


def _chunk_texts(
    model: type[Message], chunk: list[tuple[uuid.UUID, bool, str, str]]
) -> Iterator[tuple[uuid.UUID, str]]:
    values = {mid: sealed.cached(mid) for mid, is_sealed, _, _ in chunk if is_sealed}
    missing = [mid for mid, found in values.items() if found is None]
    if missing:
        summaries = model.objects.filter(id__in=missing).values_list("id", "sealed_summary")
        for mid, summary in summaries:
            try:
                values[mid] = sealed.opened(mid, bytes(summary or b""))
            except (seal.Unreadable, ValueError):
                pass  # logged; found by its envelope sender only
    for mid, is_sealed, text, envelope_from in chunk:
        if not is_sealed:
            yield mid, text
        else:
            yield mid, _sealed_text(mid, values.get(mid) or {}, envelope_from)


def _sealed_matches(rows: QuerySet[Message], terms: Sequence[str], start: int, size: int) -> Found:
    """Scan a folder in order; count the matches, keep those at [start, start+size)
    and those of the last page (which Paginator shows for a page past the end)."""
    found = Found()
    last: list[uuid.UUID] = []
    wanted: list[uuid.UUID] = []
    for message_id, text in _texts_of(rows):
        if not all(term in text for term in terms):
            continue
        if found.total % size == 0:
            last = []
        last.append(message_id)
        if start <= found.total < start + size:
            wanted.append(message_id)
        found.total += 1
    found.pages = {start: wanted}
    if found.total:
        found.pages.setdefault((found.total - 1) // size * size, last)
    return found


def search(
    folder: QuerySet[Message], query: str, page_number: int, page_size: int, columns: Sequence[str]
) -> QuerySet[Message] | Found:
    """The messages of an owner's folder (a query set in display order) matching
    query, for Paginator(result, page_size).page(page_number), with `columns` loaded."""
    terms = words(query)
    if not terms:
        return folder.none()
    if not folder.filter(sealed_summary__isnull=False).exists():
        where = Q()
        for term in terms:
            where &= Q(search_text__contains=term)
        return folder.filter(where).only(*columns)
    start = (max(page_number, 1) - 1) * page_size
    result = _sealed_matches(folder, terms, start, page_size)

    def fetch(ids: list[uuid.UUID]) -> QuerySet[Message]:
        return folder.filter(id__in=ids).only(*columns)

    result.fetch = fetch
    return result


def index_attachment_names() -> tuple[int, int]:
    """Give mail stored before attachment names were kept its names, read from its
    file (`sealbox mailbox index`; idempotent, resumable). With encryption at rest
    the key must be held: a sealed row's summary is opened, completed and sealed
    again to its file's certificate set. Returns (completed, skipped): skipped
    rows are sealed to another set than the configured one (run `sealbox storage
    rotate` first) or their file does not open."""
    from sealbox.mailstore import blobs
    from sealbox.mailstore.summary import summarize

    to = seal.sealing_to()
    done = skipped = 0
    rows = Message.objects.filter(attachment_count__gt=0, attachment_names="").order_by("id")
    after: uuid.UUID | None = None
    while True:
        batch = list(
            (rows if after is None else rows.filter(id__gt=after)).values(
                "id", "blob", "sealed_summary", *FIELDS
            )[:CHUNK]
        )
        if not batch:
            return done, skipped
        after = batch[-1]["id"]
        for row in batch:
            content = sealed.open_fields(row["sealed_summary"]) if row["sealed_summary"] else None
            if content is not None and content["attachment_names"]:
                continue  # sealed with its names already
            if content is not None and (
                to is None or row["blob"] != blobs.relative_path(row["id"], to.set_id)
            ):
                skipped += 1
                continue
            try:
                names = summarize(blobs.read(row["blob"])).attachment_names
            except (OSError, seal.Unreadable) as e:
                log.warning("message %s: not indexed, its file does not open: %s", row["id"], e)
                skipped += 1
                continue
            if not names:
                continue
            message = Message.objects.filter(id=row["id"], blob=row["blob"])
            if content is None:
                values = {**row, "attachment_names": names}
                message.update(attachment_names=names, search_text=index_text(values))
            else:
                assert to is not None
                summary = sealed.seal_fields({**content, "attachment_names": names}, to)
                message.update(sealed_summary=summary)
                sealed.forget(row["id"])
            done += 1

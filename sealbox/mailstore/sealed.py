"""Index fields taken from a message's content, sealed like the message itself.

With encryption at rest on, a message's row keeps its subject, sender, recipients,
date, Message-ID and attachment names only inside `sealed_summary`: a small CMS envelope of a JSON document,
padded to 64-byte steps so that its length says little. The plain columns stay
empty. A process that holds the key opens the envelope when the row is loaded;
opened summaries are kept in memory, since a message never changes, so an
inbox page costs one RSA operation per message once per process.
"""

from __future__ import annotations

import datetime
import json
import logging
import threading
import uuid
from collections import OrderedDict
from typing import TYPE_CHECKING, Any

from django.db import models
from django.utils.translation import gettext

from sealbox.vault import seal

if TYPE_CHECKING:
    from sealbox.mailstore.models import Message

log = logging.getLogger(__name__)

# The content fields, as the database keeps them when they are sealed.
_BLANK: dict[str, Any] = {
    "message_id": "",
    "subject": "",
    "from_name": "",
    "from_address": "",
    "to_display": "",
    "sent_date": None,
    "attachment_names": "",
}
FIELDS = tuple(_BLANK)
# Columns derived from the content fields (the search column, mailstore/search.py):
# empty in a sealed row, and never inside its sealed summary.
_DERIVED: dict[str, Any] = {"search_text": ""}
CACHE_SIZE = 50_000
_cache: OrderedDict[uuid.UUID, dict[str, Any]] = OrderedDict()
_cache_lock = threading.Lock()


def blank_columns() -> dict[str, Any]:
    """The content columns as a sealed row has them (for QuerySet.update)."""
    return {**_BLANK, **_DERIVED}


def seal_fields(values: dict[str, Any], to: seal.Recipients | None = None) -> bytes:
    document = {name: values.get(name, _BLANK[name]) for name in FIELDS}
    if isinstance(document["sent_date"], datetime.datetime):
        document["sent_date"] = document["sent_date"].isoformat()
    raw = json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    raw += b" " * (-len(raw) % 64)
    return seal.seal(raw, to)


def open_fields(sealed: bytes) -> dict[str, Any]:
    document = json.loads(seal.open_sealed(bytes(sealed)))
    values = {name: document.get(name, _BLANK[name]) for name in FIELDS}
    if values["sent_date"]:
        values["sent_date"] = datetime.datetime.fromisoformat(values["sent_date"])
    return values


def reveal(message: Message) -> None:
    """Fill in the message's content fields from its sealed summary (raises seal.Locked)."""
    try:
        values = opened(message.id, message.__dict__["sealed_summary"])
    except (seal.Unreadable, ValueError):
        message.__dict__.update(_BLANK, subject=gettext("(this message cannot be opened)"))
        return
    message.__dict__.update(values)


def cached(message_id: uuid.UUID) -> dict[str, Any] | None:
    """A message's opened content fields if this process has them (do not change them)."""
    with _cache_lock:
        values = _cache.get(message_id)
        if values is not None:
            _cache.move_to_end(message_id)
    return values


def opened(message_id: uuid.UUID, summary: bytes) -> dict[str, Any]:
    """A message's content fields, from memory or opened from its sealed summary
    (raises seal.Locked; seal.Unreadable or ValueError, logged, when it does not open)."""
    values = cached(message_id)
    if values is None:
        try:
            values = open_fields(summary)
        except (seal.Unreadable, ValueError) as e:
            # One damaged row must not take the whole inbox (or the worker) with it.
            log.error("message %s: its sealed summary does not open: %s", message_id, e)
            raise
        with _cache_lock:
            _cache[message_id] = values
            while len(_cache) > CACHE_SIZE:
                _cache.popitem(last=False)
    return values


def blank_before_save(message: Message) -> None:
    """pre_save: the content fields go to the database only inside the sealed summary.

    A signal, not a save() override, so that every way of saving, loaddata's
    raw saves included, keeps them out. after_save() puts them back.
    """
    if message.__dict__.get("sealed_summary"):
        kept = {name: message.__dict__[name] for name in FIELDS if name in message.__dict__}
        message.__dict__["_sealed_kept"] = kept
        message.__dict__.update({name: _BLANK[name] for name in kept})
        message.__dict__.update(_DERIVED)


def after_save(message: Message) -> None:
    message.__dict__.update(message.__dict__.pop("_sealed_kept", {}))


class SealedFieldMixin:
    """A content field: as stored (empty) to serialisers and forms when the row is sealed.

    `sealbox dumpdata` then writes the sealed summary, not what it says.
    """

    attname: str

    def value_from_object(self, obj: Any) -> Any:
        if obj.__dict__.get("sealed_summary"):
            return _BLANK[self.attname]
        return super().value_from_object(obj)  # type: ignore[misc]


class SealedCharField(SealedFieldMixin, models.CharField):
    pass


class SealedTextField(SealedFieldMixin, models.TextField):
    pass


class SealedDateTimeField(SealedFieldMixin, models.DateTimeField):
    pass


def forget(message_id: uuid.UUID) -> None:
    """Drop one message's opened summary from memory (its summary was sealed again)."""
    with _cache_lock:
        _cache.pop(message_id, None)


def clear_cache() -> None:
    with _cache_lock:
        _cache.clear()

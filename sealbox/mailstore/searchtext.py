"""What a message's searched text is: its searched fields, normalised (search.py finds with it).

Kept apart from search.py so that the model can set its search_text column on
every save without importing the queries that read the model.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from typing import Any

# What is searched, as Message fields.
FIELDS = (
    "from_name",
    "from_address",
    "envelope_from",
    "to_display",
    "subject",
    "attachment_names",
)


def normalise(text: str) -> str:
    return unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", text).casefold())


def index_text(values: Mapping[str, Any]) -> str:
    """The searched fields of a message, normalised, one a line (no word spans two)."""
    return "\n".join(normalise(str(values.get(name) or "")) for name in FIELDS)

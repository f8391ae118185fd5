"""Plain text mail as HTML: escaped, whitespace kept, links clickable."""

from __future__ import annotations

import re

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

_URL = re.compile(
    r"(?P<url>(?:https?://|www\.)[^\s<>\"'`]+)|(?P<mail>mailto:[^\s<>\"'`]+)",
    re.IGNORECASE,
)
_TRAILING = ".,;:!?)]}'\""
MAX_URL = 2048


def _link(url: str) -> str:
    href = url if "://" in url or url.lower().startswith("mailto:") else "https://" + url
    return f'<a href="{escape(href)}" target="_blank" rel="noopener noreferrer">{escape(url)}</a>'


def text_to_html(text: str) -> SafeString:
    """Escape text and turn http(s), www. and mailto: links into links that open in a new tab."""
    out: list[str] = []
    pos = 0
    for match in _URL.finditer(text):
        url = match.group(0)[:MAX_URL]
        # Leave sentence punctuation after a link out of it, but keep balanced
        # brackets; the counts are kept as it goes, so this stays linear.
        opened, closed = url.count("("), url.count(")")
        while url and url[-1] in _TRAILING and not (url[-1] == ")" and opened >= closed):
            if url[-1] == ")":
                closed -= 1
            url = url[:-1]
        if not url or url.lower() in ("http://", "https://", "www.", "mailto:"):
            continue
        start = match.start()
        out.append(escape(text[pos:start]))
        out.append(_link(url))
        pos = start + len(url)
    out.append(escape(text[pos:]))
    return mark_safe("".join(out))  # noqa: S308 (every piece is escaped above)

"""Where a message's header block ends: the one rule every reader of headers uses.

The block ends at the first empty line, written `\\n\\n` or `\\n\\r\\n`, whichever
comes first; a message that starts with an empty line has no headers.
"""

from __future__ import annotations


def header_end(data: bytes) -> int:
    """Where the header block ends: the index of the empty line after it (len(data) if none)."""
    if data.startswith((b"\n", b"\r\n")):
        return 0
    ends = [i + 1 for i in (data.find(b"\n\n"), data.find(b"\n\r\n")) if i >= 0]
    return min(ends) if ends else len(data)

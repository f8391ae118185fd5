"""Every attachment of a message in one ZIP file, streamed as it is written.

The archive is written by the standard library's zipfile to a stream that cannot
seek: each entry's sizes and checksum follow its data (a data descriptor), so
nothing is held but the chunk being compressed, however large the attachments.
Entries are named as the sender named the files, made safe to unpack anywhere
(safe_names): no folders, no "..", no hidden or unnamed files, no device names, no two alike.
"""

from __future__ import annotations

import unicodedata
import zipfile
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime

MAX_NAME = 150  # characters; longer names keep their extension
# Not allowed in a file name on Windows; "/" and "\" separate folders.
_FORBIDDEN = set('<>:"|?*')
_SEPARATORS = ("/", "\\")
# Windows' device names: a file named so (whatever its extension or case, "aux.txt",
# "Con .pdf") cannot be made there, and Explorer stops unpacking at it.
_DEVICES = {
    "CON",
    "PRN",
    "AUX",
    "NUL",
    "CONIN$",
    "CONOUT$",
    *(port + n for port in ("COM", "LPT") for n in "0123456789\u00b9\u00b2\u00b3"),
}


class _Pipe:
    """A write-only file that hands what was written to the next read of it."""

    def __init__(self) -> None:
        self.pieces: list[bytes] = []
        self.written = 0

    def write(self, data: bytes, /) -> int:
        if data:
            self.pieces.append(bytes(data))
            self.written += len(data)
        return len(data)

    def tell(self) -> int:
        return self.written

    def flush(self) -> None:
        pass

    def close(self) -> None:
        pass

    def take(self) -> bytes:
        data = b"".join(self.pieces)
        self.pieces.clear()
        return data


def safe_name(name: str, position: int) -> str:
    """A file name as sent, made safe to unpack: its last path piece, no control
    characters, no leading dots, no Windows device name ("CON.txt" becomes
    "_CON.txt"); "attachment-<position>" when nothing is left."""
    name = unicodedata.normalize("NFC", name)
    for sep in _SEPARATORS:
        name = name.rpartition(sep)[2]
    name = "".join(
        " " if ch.isspace() else "_" if ch in _FORBIDDEN or not ch.isprintable() else ch
        for ch in name
        if ch != "\x00"
    )
    name = " ".join(name.split())  # no tabs, newlines or runs of spaces
    name = name.lstrip(". ").rstrip(". ")  # no hidden files, "..", or Windows' trailing dots
    if name.partition(".")[0].rstrip(" ").upper() in _DEVICES:
        name = "_" + name
    if len(name) > MAX_NAME:
        stem, dot, ext = name.rpartition(".")
        ext = ext if dot and len(ext) <= 10 else ""
        name = (stem if ext else name)[: MAX_NAME - len(ext) - 1].rstrip(". ") + (
            "." + ext if ext else ""
        )
    return name or f"attachment-{position}"


def safe_names(names: Iterable[str]) -> list[str]:
    """safe_name() of each, and "name (2).ext" for the second of two alike (ignoring
    case, as Windows and macOS do)."""
    result: list[str] = []
    taken: set[str] = set()
    for position, original in enumerate(names, 1):
        name = safe_name(original, position)
        stem, dot, ext = name.rpartition(".")
        if not dot or not stem:
            stem, ext = name, ""
        number = 1
        while name.casefold() in taken:
            number += 1
            name = f"{stem} ({number})" + (f".{ext}" if ext else "")
        taken.add(name.casefold())
        result.append(name)
    return result


def stream(
    entries: Iterable[tuple[str, Callable[[], Iterator[bytes]], int]], when: datetime
) -> Iterator[bytes]:
    """A ZIP file of (name, chunks, size) entries, in pieces as it is written.
    chunks is called when its entry is written: one attachment is open at a time."""
    pipe = _Pipe()
    stamp = (max(when.year, 1980), when.month, when.day, when.hour, when.minute, when.second)
    with zipfile.ZipFile(pipe, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, chunks, size in entries:
            info = zipfile.ZipInfo(name, date_time=stamp)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            # Past 2 GiB an entry needs ZIP64 fields, which must be chosen before it is written.
            big = size > zipfile.ZIP64_LIMIT // 2
            with archive.open(info, "w", force_zip64=big) as entry:
                for chunk in chunks():
                    entry.write(chunk)
                    piece = pipe.take()
                    if piece:
                        yield piece
            yield pipe.take()  # the entry's last compressed bytes and its data descriptor
    yield pipe.take()  # the central directory

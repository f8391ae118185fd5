"""The blob store: one file per stored message under $SEALBOX_DATA_DIR/messages.

This module is the only place that writes or reads a stored message's bytes.
With encryption at rest on, a message is written as CMS EnvelopedData sealed
to the configured certificates (sealbox/vault), named <id>.<set id>.p7m after
the certificate set; a plain message is <id>.eml. Reading tells the two apart
by their content, so mail stored before encryption was turned on stays readable.

Durability: a message is written to a temporary file in the same file system,
fsynced, renamed into place, and its directory fsynced before the caller
commits the database row that makes it visible. A crash leaves either nothing
visible or a complete file.
"""

from __future__ import annotations

import logging
import os
import time
import uuid
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Protocol

from django.conf import settings

from sealbox import processes
from sealbox.mailstore.headblock import header_end
from sealbox.vault import seal, stream

log = logging.getLogger(__name__)

MESSAGES = "messages"
# What is derived from a message (its parsed view, sealbox/mailstore/opened.py):
# derived/xx/<id>.json, or <id>.<set id>.p7m sealed like the message.
DERIVED = "derived"
SEALED_SUFFIX = ".p7m"
TMP = "tmp"
# Temporary files older than this are left-overs whatever process made them.
STALE_TMP_SECONDS = 24 * 3600


def root() -> Path:
    return Path(settings.DATA_DIR)


def _tmp_name() -> str:
    return f"{processes.owner_tag()}~{uuid.uuid4().hex}.tmp"


def relative_path(message_id: uuid.UUID, set_id: str | None = None) -> str:
    hexid = message_id.hex
    name = f"{hexid}.{set_id}{SEALED_SUFFIX}" if set_id else f"{hexid}.eml"
    return f"{MESSAGES}/{hexid[:2]}/{name}"


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write(message_id: uuid.UUID, chunks: Iterable[bytes], to: seal.Recipients | None = None) -> str:
    """Write a message durably and return its path relative to the data directory.

    Sealed to `to`, by default to the configured certificates when encryption
    at rest is on. The caller must call sync_dirs() for the returned paths
    before committing the rows that point at them.
    """
    to = to or seal.sealing_to()
    if to is not None:
        chunks = (seal.seal(b"".join(chunks), to),)
    rel = relative_path(message_id, to.set_id if to else None)
    _write_atomically(root() / rel, chunks, fsync=True)
    return rel


def _write_atomically(final: Path, chunks: Iterable[bytes], fsync: bool) -> None:
    """Write a file under tmp/ (0600), fsynced if asked, then rename it to final.

    A reader sees the whole file or none; a failure leaves no temporary file.
    The rename is durable once final's directory is fsynced (sync_dirs()).
    """
    tmp_dir = root() / TMP
    tmp_dir.mkdir(parents=True, exist_ok=True)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = tmp_dir / _tmp_name()
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as f:
            for chunk in chunks:
                f.write(chunk)
            if fsync:
                f.flush()
                os.fsync(f.fileno())
        os.rename(tmp, final)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def sync_dirs(rels: Iterable[str]) -> None:
    for directory in {(root() / rel).parent for rel in rels}:
        fsync_dir(directory)


def read(rel: str) -> bytes:
    """The stored message, exactly as it was received (opened if it is sealed).

    Raises seal.Locked when it is sealed and this process does not hold the key,
    and seal.Unreadable when a file stored sealed no longer is: damaged or
    replaced data must not pass for a plain message.
    """
    stored = read_stored(rel)
    if rel.endswith(SEALED_SUFFIX) and not seal.is_sealed(stored):
        raise seal.Unreadable("the file is not encrypted data")
    return seal.open_sealed(stored)


def read_stored(rel: str) -> bytes:
    """The file's bytes as they are on disk."""
    return (root() / rel).read_bytes()


CHUNK = stream.CHUNK


class Reader(Protocol):
    """A stored message's bytes as received, read a range at a time."""

    size: int

    def chunks(
        self, start: int = 0, end: int | None = None, size: int = CHUNK
    ) -> Iterator[bytes]: ...


class PlainReader:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.size = path.stat().st_size

    def chunks(self, start: int = 0, end: int | None = None, size: int = CHUNK) -> Iterator[bytes]:
        end = self.size if end is None else min(end, self.size)
        with open(self.path, "rb") as f:
            f.seek(start)
            left = end - start
            while left > 0:
                data = f.read(min(size, left))
                if not data:
                    return
                left -= len(data)
                yield data


class BytesReader:
    """A message already in memory (a sealed file of a shape stream.py does not read)."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.size = len(data)

    def chunks(self, start: int = 0, end: int | None = None, size: int = CHUNK) -> Iterator[bytes]:
        end = self.size if end is None else min(end, self.size)
        view = memoryview(self.data)
        for pos in range(start, end, size):
            yield bytes(view[pos : min(pos + size, end)])


def reader(rel: str) -> Reader:
    """The stored message as received, for reading in ranges without loading all of it.

    A sealed file is decrypted range by range (sealbox/vault/stream.py); raises
    like read().
    """
    path = root() / rel
    if not rel.endswith(SEALED_SUFFIX):
        with open(path, "rb") as f:
            if seal.is_sealed(f.read(32)):  # sealed but named plain: open it as read() does
                return BytesReader(read(rel))
        return PlainReader(path)
    with open(path, "rb") as f:
        if not seal.is_sealed(f.read(32)):
            raise seal.Unreadable("the file is not encrypted data")
    try:
        return stream.SealedReader(path)
    except stream.Unsupported:
        return BytesReader(read(rel))


MAX_HEAD = 1024 * 1024


def read_head(rel: str) -> bytes:
    """The start of the stored message, through its header block (at most MAX_HEAD bytes):
    for reading headers without reading, or decrypting, a big message whole."""
    data = b""
    for chunk in reader(rel).chunks(0, MAX_HEAD, 64 * 1024):
        data += chunk
        if header_end(data) < len(data):
            break
    return data


def delete(rel: str) -> None:
    (root() / rel).unlink(missing_ok=True)


def derived_path(message_id: uuid.UUID, set_id: str | None = None) -> Path:
    hexid = message_id.hex
    name = f"{hexid}.{set_id}{SEALED_SUFFIX}" if set_id else f"{hexid}.json"
    return root() / DERIVED / hexid[:2] / name


def derived_files(message_id: uuid.UUID) -> list[Path]:
    """The files derived from a message, of any certificate set or none."""
    hexid = message_id.hex
    directory = root() / DERIVED / hexid[:2]
    try:
        return [directory / e.name for e in os.scandir(directory) if e.name.split(".")[0] == hexid]
    except FileNotFoundError:
        return []


def write_derived(message_id: uuid.UUID, data: bytes, set_id: str | None) -> Path:
    """Write a derived file in place (atomically, not fsynced: it can be made again)."""
    final = derived_path(message_id, set_id)
    _write_atomically(final, (data,), fsync=False)
    return final


def delete_derived(message_id: uuid.UUID) -> None:
    for path in derived_files(message_id):
        path.unlink(missing_ok=True)


def all_derived() -> Iterator[tuple[uuid.UUID, Path]]:
    """Every derived file, with the id of its message."""
    top = root() / DERIVED
    if not top.is_dir():
        return
    for directory in os.scandir(top):
        if not directory.is_dir():
            continue
        for entry in os.scandir(directory.path):
            try:
                yield uuid.UUID(entry.name.split(".")[0]), Path(entry.path)
            except ValueError:
                continue


def clear_stale_tmp() -> int:
    """Remove temporary files that no running writer owns.

    Files of dead processes on this host go at once; files of other hosts (a
    shared volume) only once they are older than any delivery could take.
    """
    tmp_dir = root() / TMP
    if not tmp_dir.is_dir():
        return 0
    now = time.time()
    removed = 0
    for entry in os.scandir(tmp_dir):
        owner = entry.name.rpartition("~")[0]
        stale = processes.is_dead_local(owner)
        try:
            stale = stale or now - entry.stat().st_mtime > STALE_TMP_SECONDS
        except FileNotFoundError:
            continue
        if stale:
            Path(entry.path).unlink(missing_ok=True)
            removed += 1
    if removed:
        log.info("removed %d stale temporary file(s) from %s", removed, tmp_dir)
    return removed

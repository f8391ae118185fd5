"""Bringing what is stored to a certificate set: encrypt-existing, rotate, verify.

Each message is re-sealed on its own: the new file is written under a new
name (<id>.<set id>.p7m) and made durable, then the row is switched to it and
its sealed summary replaced in one transaction, and only after that commits is
the old file removed. Interrupted anywhere, the row points at a complete file;
a file left behind by an interruption is swept at the next run. Running again
carries on where the last run stopped, since done messages already name the
target set.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import IO, Any

from django.db import transaction
from django.db.models import Q

from sealbox.mailstore import blobs, opened, sealed
from sealbox.mailstore.models import Message
from sealbox.outbound.models import OutgoingEmail
from sealbox.vault import seal

# Re-sealing logs with the rest of encryption at rest, as before it moved here.
log = logging.getLogger("sealbox.vault")

BATCH = 500
LOCK_FILE = "storage.lock"


class Busy(Exception):
    """Another storage command is running on this data directory."""


@contextlib.contextmanager
def exclusive() -> Iterator[None]:
    """One storage command at a time per data directory (two could remove each other's files)."""
    path = blobs.root() / LOCK_FILE
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise Busy(f"another storage command holds {path}") from None
        yield
    finally:
        os.close(fd)


class Progress:
    """A progress line on a terminal; a line every tenth of the way otherwise."""

    def __init__(self, what: str, total: int, stream: IO[str] | None = None) -> None:
        self.what, self.total, self.done = what, total, 0
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty()
        self.started = self.shown = time.monotonic()
        self.step = max(1, total // 10)
        self.printed = -1

    def advance(self, count: int = 1) -> None:
        self.done += count
        now = time.monotonic()
        if self.tty and now - self.shown >= 0.2:
            self.shown = now
            self.stream.write(f"\r{self.line()}")
            self.stream.flush()
        elif not self.tty and (self.done % self.step == 0):
            self.stream.write(self.line() + "\n")
            self.stream.flush()
            self.printed = self.done

    def line(self) -> str:
        share = 100 * self.done // self.total if self.total else 100
        rate = self.done / max(time.monotonic() - self.started, 1e-9)
        return f"{self.what}: {self.done}/{self.total} ({share}%), {rate:.0f}/s"

    def finish(self) -> None:
        if self.tty or self.printed != self.done:
            self.stream.write(("\r" if self.tty else "") + self.line() + "\n")
            self.stream.flush()


def _in_batches(matching: Q, *fields: str) -> Iterator[dict[str, Any]]:
    """Rows of the messages matching, by id, a batch per query (new ones included)."""
    after: uuid.UUID | None = None
    while True:
        qs = Message.objects.filter(matching).order_by("id")
        if after is not None:
            qs = qs.filter(id__gt=after)
        rows = list(qs.values("id", *fields)[:BATCH])
        if not rows:
            return
        yield from rows
        after = rows[-1]["id"]


def _content(row: dict[str, Any]) -> dict[str, Any]:
    if row["sealed_summary"]:
        return sealed.open_fields(row["sealed_summary"])
    return {name: row[name] for name in sealed.FIELDS}


def reseal(message_id: uuid.UUID, to: seal.Recipients) -> bool:
    """Seal one message's file and summary to `to`; False if it was already (or is gone)."""
    row = (
        Message.objects.filter(id=message_id)
        .values("blob", "sealed_summary", *sealed.FIELDS)
        .first()
    )
    target = blobs.relative_path(message_id, to.set_id)
    if row is None or row["blob"] == target:
        return False
    old = row["blob"]
    data = blobs.read(old)
    content = _content(row)
    new = blobs.write(message_id, (data,), to=to)
    blobs.sync_dirs([new])
    with transaction.atomic():
        switched = Message.objects.filter(id=message_id, blob=old).update(
            blob=new,
            sealed_summary=sealed.seal_fields(content, to),
            **sealed.blank_columns(),
        )
        if switched:
            transaction.on_commit(lambda: blobs.delete(old))
    if not switched and Message.objects.filter(id=message_id, blob=new).exists() is False:
        blobs.delete(new)  # deleted, or changed meanwhile: the new file is nobody's
    return bool(switched)


def stored_files() -> Iterator[tuple[dict[uuid.UUID, str], dict[uuid.UUID, list[str]]]]:
    """Per directory of the blob store: the rows' current files, and the files there by id."""
    root = blobs.root() / blobs.MESSAGES
    if not root.is_dir():
        return
    for directory in sorted(os.scandir(root), key=lambda e: e.name):
        if not directory.is_dir():
            continue
        files: dict[uuid.UUID, list[str]] = {}
        for entry in os.scandir(directory.path):
            try:
                message_id = uuid.UUID(entry.name.split(".", 1)[0])
            except ValueError:
                continue
            rel = f"{blobs.MESSAGES}/{directory.name}/{entry.name}"
            files.setdefault(message_id, []).append(rel)
        current = dict(Message.objects.filter(id__in=list(files)).values_list("id", "blob"))
        yield current, files


def sweep_superseded() -> int:
    """Remove files of messages whose row names another file (left by an interruption).

    Files without any row are left alone: a delivery writes its file before
    its row commits. Temporary files of a run that was killed go too.
    """
    blobs.clear_stale_tmp()
    removed = 0
    for current, files in stored_files():
        for message_id, rels in files.items():
            if message_id not in current:
                continue
            for rel in rels:
                if rel != current[message_id]:
                    blobs.delete(rel)
                    removed += 1
    if removed:
        log.info("removed %d superseded message file(s)", removed)
    return removed


@dataclass
class Outcome:
    changed: int = 0
    # Messages that could not be read: left as they are, for `storage verify` to list.
    failed: int = 0
    queued: int = 0


# What one message's problem looks like: it is skipped, the run goes on.
_UNREADABLE = (OSError, seal.Unreadable, ValueError)


def _reseal_all(pending: Q, to: seal.Recipients, what: str, stream: IO[str] | None) -> Outcome:
    outcome = Outcome()
    progress = Progress(what, Message.objects.filter(pending).count(), stream)
    try:
        for row in _in_batches(pending):
            message_id = row["id"]
            try:
                outcome.changed += reseal(message_id, to)
            except _UNREADABLE as e:
                outcome.failed += 1
                log.warning("message %s left as it is: %s", message_id, e)
            progress.advance()
    finally:
        progress.finish()
    return outcome


def _reseal_queue(to: seal.Recipients, plain_only: bool) -> int:
    """Seal outgoing emails not yet sent (their data is emptied once sent)."""
    changed = 0
    unsent = OutgoingEmail.objects.exclude(status=OutgoingEmail.Status.SENT)
    for pk in unsent.values_list("id", flat=True):
        with transaction.atomic():
            item = OutgoingEmail.objects.select_for_update().filter(id=pk).first()
            if item is None or not item.data:
                continue
            data = bytes(item.data)
            if plain_only and seal.is_sealed(data):
                continue
            item.data = seal.seal(seal.open_sealed(data), to)
            item.subject = ""
            item.save(update_fields=["data", "subject"])
            changed += 1
    return changed


def encrypt_existing(stream: IO[str] | None = None) -> Outcome:
    """Seal every message still stored unencrypted to the configured certificates.

    Needs only the certificates: plain messages are read as they are. Raises
    Busy while another storage command runs.
    """
    to = seal.recipients()
    with exclusive():
        sweep_superseded()
        outcome = _reseal_all(Q(blob__endswith=".eml"), to, "encrypting", stream)
        outcome.queued = _reseal_queue(to, plain_only=True)
        opened.remove_derived_except(to.set_id)  # parsed views are made again, sealed
        # Sent emails keep only their envelope; their subjects go too.
        OutgoingEmail.objects.filter(status=OutgoingEmail.Status.SENT).exclude(subject="").update(
            subject=""
        )
    log.info(
        "encrypt-existing: %d message(s) and %d queued email(s) encrypted, %d left unreadable",
        outcome.changed,
        outcome.queued,
        outcome.failed,
    )
    return outcome


def rotate(to: seal.Recipients, stream: IO[str] | None = None) -> Outcome:
    """Re-seal every message, plain or sealed to another set, to `to` (needs the key)."""
    seal.holder()
    with exclusive():
        sweep_superseded()
        pending = ~Q(blob__endswith=f".{to.set_id}{blobs.SEALED_SUFFIX}")
        outcome = _reseal_all(pending, to, "re-encrypting", stream)
        outcome.queued = _reseal_queue(to, plain_only=False)
        opened.remove_derived_except(to.set_id)  # parsed views are made again, sealed
    log.info(
        "rotate: %d message(s) and %d queued email(s) sealed to set %s, %d left unreadable",
        outcome.changed,
        outcome.queued,
        to.set_id,
        outcome.failed,
    )
    return outcome


@dataclass
class Problem:
    message_id: uuid.UUID
    owner: str
    blob: str
    reason: str


@dataclass
class Report:
    checked: int = 0
    plain: int = 0
    other_sets: dict[str, int] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    # Files no message row names: left by a crash, or a delivery still in progress.
    orphans: int = 0


def verify(stream: IO[str] | None = None) -> Report:
    """Open every stored message and its summary; report what does not open."""
    report = Report()
    configured = seal.recipients().set_id if seal.sealing_to() else None
    progress = Progress("verifying", Message.objects.count(), stream)
    for row in _in_batches(Q(), "blob", "sealed_summary", "owner__email", *sealed.FIELDS):
        message_id = row["id"]
        report.checked += 1
        progress.advance()
        blob = row["blob"]
        if blob.endswith(".eml"):
            report.plain += 1
        else:
            set_id = blob.rsplit(".", 2)[-2]
            if set_id != configured:
                report.other_sets[set_id] = report.other_sets.get(set_id, 0) + 1
        try:
            blobs.read(blob)
            _content(row)
        except FileNotFoundError:
            reason = "the file is missing"
        except (seal.Unreadable, ValueError) as e:
            reason = f"does not open: {e}"
        except OSError as e:
            reason = f"cannot be read: {e.strerror}"
        else:
            continue
        report.problems.append(Problem(message_id, row["owner__email"], blob, reason))
    progress.finish()
    for current, files in stored_files():
        report.orphans += sum(len(rels) for mid, rels in files.items() if mid not in current)
    return report

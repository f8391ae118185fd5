"""Space in the data directory: a full disk must not lock recipients out.

Three rules, all kept here:

- Intake stops early. New mail is refused (452 4.3.1) while less than
  SEALBOX_MIN_FREE_MB would be left after storing it; /healthz warns below
  twice that. Mail never takes the last of the disk.
- A reserve for the portal. A file `reserve` of RESERVE_BYTES in the data
  directory holds space back. When an essential write (opening the SQLite
  database, saving a session, counting a sign-in try, deleting mail) fails
  for lack of space, the reserve is released and the write tried once more;
  the worker and /healthz make the file again once there is room. Intake
  counts the reserve as taken while it is released, so mail cannot use it.
- Skip what can wait. Read marks, activity entries and the last sign-in
  time are not written while the disk is full; the page is shown all the same.
"""

from __future__ import annotations

import errno
import functools
import logging
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

from django.conf import settings
from django.db import connection

log = logging.getLogger("sealbox.diskspace")

MIB = 1024 * 1024
RESERVE_NAME = "reserve"
RESERVE_BYTES = 8 * MIB
# An SQLite I/O error with less than this free is taken for a full disk
# (SQLite reports a shared-memory file it could not grow as an I/O error).
NEARLY_FULL = 1 * MIB
_FULL_ERRNOS = {errno.ENOSPC, errno.EDQUOT}
_PG_DISK_FULL = "53100"
RETRY_AFTER_SECONDS = 300

P = ParamSpec("P")
T = TypeVar("T")


def data_dir() -> Path:
    return Path(settings.DATA_DIR)


def reserve_path() -> Path:
    return data_dir() / RESERVE_NAME


def free_bytes() -> int:
    """Bytes this process may still write in the data directory's file system."""
    st = os.statvfs(data_dir())
    return st.f_bavail * st.f_frsize


def _reserve_missing() -> int:
    """How much of the reserve is released just now (0 when it is in place)."""
    try:
        held = reserve_path().stat().st_blocks * 512
    except OSError:
        held = 0
    return max(0, RESERVE_BYTES - held)


@dataclass(frozen=True)
class Space:
    """Free space as intake sees it: the released part of the reserve counts as taken."""

    free: int
    minimum: int

    @property
    def refusing(self) -> bool:
        """Intake refuses new mail."""
        return self.free < self.minimum

    @property
    def low(self) -> bool:
        """Less than twice the minimum: /healthz warns."""
        return self.free < 2 * self.minimum

    def describe(self) -> str:
        return (
            f"low disk space: {self.free // MIB} MiB free in the data directory; "
            f"new mail is refused below {self.minimum // MIB} MiB"
        )


def space() -> Space:
    return Space(free=max(0, free_bytes() - _reserve_missing()), minimum=settings.MIN_FREE_MB * MIB)


def has_room(size: int) -> bool:
    """Whether `size` bytes of new mail leave at least SEALBOX_MIN_FREE_MB free."""
    now = space()
    return now.free - size >= now.minimum


def is_full_error(error: BaseException | None) -> bool:
    """Whether this error (or one behind it) means the disk or the database is full."""
    seen: set[int] = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        if isinstance(error, OSError) and error.errno in _FULL_ERRNOS:
            return True
        name = str(getattr(error, "sqlite_errorname", ""))
        if name == "SQLITE_FULL":
            return True
        if name.startswith("SQLITE_IOERR"):
            with suppress(OSError):
                return free_bytes() < NEARLY_FULL
        if getattr(error, "sqlstate", None) == _PG_DISK_FULL:
            return True
        error = error.__cause__ or error.__context__
    return False


def release_reserve() -> bool:
    """Give the reserve's space back to the file system; whether there was one."""
    try:
        reserve_path().unlink()
    except FileNotFoundError:
        return False
    log.warning(
        "data directory full: released the %d MiB reserve (%s) so that recipients can "
        "still sign in, read and delete mail; it is made again once there is room",
        RESERVE_BYTES // MIB,
        reserve_path(),
    )
    return True


def restore_reserve() -> bool:
    """Make the reserve (again) where there is room for it; whether it is in place now.

    Only while there is room for it on top of SEALBOX_MIN_FREE_MB: making it
    never pushes intake into refusing mail.
    """
    missing = _reserve_missing()
    if not missing:
        return True
    if free_bytes() < missing + settings.MIN_FREE_MB * MIB:
        return False
    path = reserve_path()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        try:
            os.posix_fallocate(fd, 0, RESERVE_BYTES)
        except OSError as e:
            if e.errno not in (errno.EOPNOTSUPP, errno.EINVAL):
                raise
            _fill(fd)  # a file system without fallocate: write it out
        os.fsync(fd)
    except OSError as e:
        path.unlink(missing_ok=True)
        log.warning("could not make the reserve %s: %s", path, e)
        return False
    finally:
        os.close(fd)
    log.info("made the %d MiB reserve %s", RESERVE_BYTES // MIB, path)
    return True


def _fill(fd: int) -> None:
    chunk = os.urandom(MIB)  # not zeros: a compressing file system would store nothing
    os.lseek(fd, 0, os.SEEK_SET)
    for _ in range(RESERVE_BYTES // MIB):
        os.write(fd, chunk)


def retry_when_full(fn: Callable[P, T]) -> Callable[P, T]:
    """An essential write: on a full disk, release the reserve and try once more.

    Only a write that is its own transaction can be tried again: inside an
    outer transaction the error goes up to whoever began it.
    """

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
        try:
            return fn(*args, **kwargs)
        except Exception as e:
            if not is_full_error(e) or connection.in_atomic_block:
                raise
            release_reserve()
        return fn(*args, **kwargs)

    return wrapper


@contextmanager
def unless_full(what: str) -> Iterator[None]:
    """A write that can wait: on a full disk it is skipped (and logged), not an error.

    Use it around a write that is its own transaction; inside an outer one
    the error is left to the outer transaction.
    """
    nested = connection.in_atomic_block
    try:
        yield
    except Exception as e:
        if nested or not is_full_error(e):
            raise
        log.warning("data directory full: %s not recorded", what)


def _skip_last_login_when_full(**kwargs: Any) -> None:
    from django.contrib.auth.models import update_last_login

    with unless_full("last sign-in time"):
        update_last_login(**kwargs)


def install() -> None:
    """Django's last-sign-in update becomes a write that can wait (called at start-up)."""
    from django.contrib.auth.signals import user_logged_in

    if user_logged_in.disconnect(dispatch_uid="update_last_login"):
        user_logged_in.connect(_skip_last_login_when_full, dispatch_uid="update_last_login")

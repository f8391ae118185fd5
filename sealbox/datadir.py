"""The data directory on disk: set up by the commands that may, private to its user.

Every Sealbox process works under a private umask, so that what it creates is
its user's alone (files 0600, directories 0700). `sealbox migrate` and
`sealbox serve` create the data directory (0700) and its secret key; every
other command refuses a data directory that was never set up, rather than make
a stray one wherever it was started. Importing the settings writes nothing.

An install made with wider modes is tightened where this user owns the files:
`sealbox migrate` takes group and other permissions off everything in the data
directory and the database files; every start of a service (serve, web, smtpd,
worker) does so for the data directory itself, its direct entries and the
database files. `sealbox check --deploy` reports what is still open.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from sealbox.config import ConfigError, load_or_create_secret_key

PRIVATE_UMASK = 0o077
# Group and other permission bits: none of them belongs on Sealbox's files.
OPEN_BITS = 0o077

# Commands that set the data directory up; `migrate` also tightens all of it.
SETS_UP = {"migrate", "serve"}
# Commands that start a long-running service: each start tightens the top of the tree.
SERVICES = {"serve", "web", "smtpd", "worker"}
# Commands that need no data: help, the version, configuration checks, key generation.
# `brand` previews on a throw-away data directory of its own.
NEEDS_NO_DATA = {"help", "version", "check", "diffsettings", "generate_cert", "brand"}


def private_umask() -> None:
    os.umask(PRIVATE_UMASK)


def sqlite_file() -> Path | None:
    db = settings.DATABASES["default"]
    if not db["ENGINE"].endswith("sqlite3") or str(db["NAME"]) in ("", ":memory:"):
        return None
    return Path(db["NAME"])


def database_files() -> list[Path]:
    """The SQLite database and its -wal and -shm files (those that exist); none with PostgreSQL."""
    db = sqlite_file()
    if db is None:
        return []
    candidates = [db, Path(f"{db}-wal"), Path(f"{db}-shm")]
    return [path for path in candidates if path.exists()]


def _has_secret_key() -> bool:
    try:
        return bool(settings.SECRET_KEY)
    except ImproperlyConfigured:  # Django's answer for an empty SECRET_KEY
        return False


def not_set_up() -> str | None:
    """What is missing before this data directory can be used, or None."""
    data_dir = Path(settings.DATA_DIR)
    if not data_dir.is_dir():
        return "it does not exist"
    if not _has_secret_key():
        return f"{data_dir / 'secret_key'} is missing"
    db = sqlite_file()
    if db is not None and not db.exists():
        return f"the database {db} is missing"
    return None


def refusal(reason: str) -> str:
    return (
        f"SEALBOX_DATA_DIR {settings.DATA_DIR} is not set up ({reason}): run `sealbox migrate` "
        "first, or point SEALBOX_DATA_DIR at the service's data directory"
    )


def set_up() -> None:
    """Create the data directory (0700) and its secret key, unless SEALBOX_SECRET_KEY gives one."""
    data_dir = Path(settings.DATA_DIR)
    try:
        data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as e:
        raise ConfigError(f"SEALBOX_DATA_DIR: cannot create {data_dir}: {e.strerror}") from None
    if not _has_secret_key():
        settings.SECRET_KEY = load_or_create_secret_key(data_dir)


# Each entry is opened without following a symbolic link and changed through its
# descriptor: an entry swapped for a link between a look and a change (by anyone who
# can write in the data directory) cannot lead a chmod, run as root, outside it.
_NO_FOLLOW = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC


def _tighten_at(name: str, dir_fd: int | None, me: int) -> bool:
    """Take group and other bits off one entry this user owns; whether it changed."""
    try:
        fd = os.open(name, _NO_FOLLOW, dir_fd=dir_fd)
    except OSError:  # a symbolic link (ELOOP), gone, a socket, unreadable: left as it is
        return False
    try:
        st = os.fstat(fd)
        if st.st_uid != me or not st.st_mode & OPEN_BITS:
            return False
        os.fchmod(fd, stat.S_IMODE(st.st_mode) & ~OPEN_BITS)
        return True
    finally:
        os.close(fd)


def tighten(everything: bool = False) -> list[Path]:
    """Take group and other permissions off what this user owns; return what changed.

    The data directory (the real directory, where SEALBOX_DATA_DIR is a link to
    it) and its direct entries, or with `everything` all that is in it; and the
    database files wherever they are. Symbolic links inside are not followed.
    """
    data_dir = Path(os.path.realpath(settings.DATA_DIR))
    me = os.geteuid()
    changed: dict[Path, None] = {}
    if data_dir.is_dir():
        if _tighten_at(str(data_dir), None, me):
            changed[data_dir] = None
        if everything:
            for root, dirs, files, root_fd in os.fwalk(data_dir):
                for name in dirs + files:
                    if _tighten_at(name, root_fd, me):
                        changed[Path(root, name)] = None
        else:
            top_fd = os.open(data_dir, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
            try:
                for name in os.listdir(top_fd):
                    if _tighten_at(name, top_fd, me):
                        changed[data_dir / name] = None
            finally:
                os.close(top_fd)
    for path in database_files():
        real = Path(os.path.realpath(path.parent)) / path.name
        if _tighten_at(str(real), None, me):
            changed[real] = None
    return list(changed)


def open_mode(path: Path) -> int | None:
    """path's mode if group or others have any permission on it; None if not (or no such file)."""
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except OSError:
        return None
    return mode if mode & OPEN_BITS else None


def close_hint(path: Path) -> str:
    """How an operator takes group and other permissions off path."""
    return f"chmod go= {path}"


def exposed() -> list[tuple[Path, int]]:
    """The data directory, database files and secret key that group or others may open."""
    data_dir = Path(settings.DATA_DIR)
    found = []
    for path in [data_dir, data_dir / "secret_key", *database_files()]:
        mode = open_mode(path)
        if mode is not None:
            found.append((path, mode))
    return found


def prepare(command: str) -> str | None:
    """Before a `sealbox` command runs: set up, tighten, or say why it cannot run (one line)."""
    if command in NEEDS_NO_DATA:
        return None
    if command in SETS_UP:
        set_up()
    reason = not_set_up() if command != "migrate" else None
    if reason:
        return refusal(reason)
    if command in SERVICES or command == "migrate":
        tighten(everything=command == "migrate")
    return None

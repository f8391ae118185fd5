"""Processes and their deaths: owner tags, and children that end with `sealbox serve`.

Temporary files and queue claims carry an owner tag "host~pid". A process on
the same host can see whether that pid still runs; one on another host (a
shared volume or database) has to wait for the lease or age limit instead.

The children of `sealbox serve` (web, smtpd, worker) get SIGTERM when it dies,
however it dies (SIGKILL, OOM killer), so that none is left holding a port:
Linux's parent-death signal, set between fork and exec, and a watch on the
parent's pid in the child for where that is missing. Gunicorn's own workers
follow their master.
"""

from __future__ import annotations

import ctypes
import os
import signal
import socket
import threading
import time
from collections.abc import Callable

# Set by `sealbox serve` for its children: the pid they follow.
SERVE_PID_ENV = "SEALBOX_SERVE_PID"
_PR_SET_PDEATHSIG = 1


def owner_tag() -> str:
    return f"{socket.gethostname()}~{os.getpid()}"


def is_dead_local(tag: str) -> bool:
    """True only if the tag names a process on this host that no longer runs."""
    host, _, pid = tag.partition("~")
    if host != socket.gethostname() or not pid.isdigit():
        return False
    if int(pid) == os.getpid():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def _load_prctl() -> Callable[..., int] | None:
    try:
        return ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):  # not Linux
        return None


# Looked up now, not in a forked child (where the loader's lock may be held).
_prctl = _load_prctl()


def die_with(parent: int) -> Callable[[], None]:
    """A preexec_fn: the child gets SIGTERM when `parent` (the thread forking it) ends."""

    def preexec() -> None:
        if _prctl is not None:
            _prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
        if os.getppid() != parent:  # it died before that took effect
            os.kill(os.getpid(), signal.SIGTERM)

    return preexec


def follow_serve(interval: float = 1.0) -> None:
    """Started by `sealbox serve`: stop (SIGTERM to itself) once serve is gone."""
    value = os.environ.pop(SERVE_PID_ENV, "")
    if not value.isdigit():
        return
    parent = int(value)

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(interval)
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=watch, name="sealbox-follow-serve", daemon=True).start()

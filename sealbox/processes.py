"""Naming processes so that others can tell when one has died.

Temporary files and queue claims carry an owner tag "host~pid". A process on
the same host can see whether that pid still runs; one on another host (a
shared volume or database) has to wait for the lease or age limit instead.
"""

from __future__ import annotations

import os
import socket


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

"""Work on hostile input within a time limit: in a forked child, stopped when its time is up.

The libraries that sanitise a message's HTML (nh3, css-inline) run as native
code that Python cannot interrupt, and some input takes them time quadratic in
its size: 500 KB of nested <div>s keep nh3 busy for 40 s, 400 KB of style rules
and elements keep css-inline busy for 30 s. Run in a child, such work costs at
most its time limit and never holds a web worker longer.

What the child answers is bytes, read as bytes: never a pickle, which the
parent would have to unpickle. A child whose native code was subverted by its
input could otherwise send a pickle that runs code in the web worker; this way
it can only send wrong bytes, which the caller treats as it treats any output
of hostile input. The limits contain runaway time and memory; they do not make
a compromised decoder harmless, since the child holds what the process holds.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
from collections.abc import Callable
from multiprocessing.connection import Connection

log = logging.getLogger(__name__)

# What the work may allocate beyond what the child inherits: hostile markup can
# make the sanitising libraries build output many times its size.
MEMORY_LIMIT = 1024 * 1024 * 1024
# The longest answer the parent reads from a child.
MAX_ANSWER = 256 * 1024 * 1024
_DONE = b"1"
_FAILED = b"0"


def run(work: Callable[[], bytes], seconds: float) -> bytes | None:
    """work()'s bytes, computed in a child process; None if the child takes
    longer than seconds (it is killed), fails, or answers more than MAX_ANSWER."""
    if not hasattr(os, "fork"):  # no fork (Windows): in this process, unlimited
        return work()
    context = multiprocessing.get_context("fork")
    receiver, sender = context.Pipe(duplex=False)
    child = context.Process(target=_child, args=(work, sender, seconds), daemon=True)
    try:
        child.start()
    except OSError as e:  # no fork to be had (EAGAIN, ENOMEM): as if it failed
        receiver.close()
        log.warning("work on a message could not start: %s", e)
        return None
    finally:
        sender.close()
    try:
        if not receiver.poll(seconds):
            log.warning("work on a message took longer than %ss and was stopped", seconds)
            return None
        answer = receiver.recv_bytes(MAX_ANSWER + 1)
    except (EOFError, OSError):
        log.warning("work on a message ended without a result (exit code %s)", child.exitcode)
        return None
    finally:
        receiver.close()
        if child.is_alive():
            child.kill()
        child.join()
    if not answer.startswith(_DONE):
        why = answer[1:200].decode("ascii", "replace")
        log.warning("work on a message failed: %s", why.encode("unicode_escape").decode())
        return None
    return answer[1:]


def _child(work: Callable[[], bytes], sender: Connection, seconds: float) -> None:
    # Should the parent be killed while it waits, the child still ends in time.
    signal.signal(signal.SIGALRM, signal.SIG_DFL)
    signal.setitimer(signal.ITIMER_REAL, seconds + 1)
    _limit_memory()
    try:
        result = work()
        if not isinstance(result, bytes):
            raise TypeError(f"work answered {type(result).__name__}, not bytes")
        answer = _DONE + result
    except Exception as e:
        answer = _FAILED + repr(e).encode("ascii", "backslashreplace")
    sender.send_bytes(answer)
    sender.close()


def _limit_memory() -> None:
    """Cap the child's address space at what it inherited plus MEMORY_LIMIT: past it an
    allocation fails (MemoryError, or the native library aborts) and the child ends."""
    try:
        import resource

        with open("/proc/self/statm") as statm:
            inherited = int(statm.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
        limit = inherited + MEMORY_LIMIT
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    except (ImportError, OSError, ValueError):  # no /proc, or no such limit here
        pass

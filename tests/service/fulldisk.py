"""A real small file system for full-disk tests: a tmpfs, filled with a file."""

from __future__ import annotations

import errno
import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

MIB = 1024 * 1024


@contextmanager
def tmpfs(path: Path, size_mb: int) -> Iterator[Path]:
    """Mount a tmpfs of `size_mb` at path (we run as root); fail loudly where that is impossible."""
    path.mkdir(parents=True, exist_ok=True)
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size_mb}m,mode=0700", "tmpfs", str(path)],
        capture_output=True,
        text=True,
    )
    if mounted.returncode != 0:
        pytest.fail(
            f"full-disk tests need a real small file system: `mount -t tmpfs` at {path} failed "
            f"({mounted.stderr.strip() or mounted.returncode}). Run them as root, or in a "
            "container with CAP_SYS_ADMIN."
        )
    try:
        yield path
    finally:
        # Lazily: a process a failed test left behind must not keep it mounted.
        subprocess.run(["umount", "-l", str(path)], check=False)


def free(path: Path) -> int:
    st = os.statvfs(path)
    return st.f_bavail * st.f_frsize


def fill(path: Path, leave: int = 0, name: str = "filler") -> Path:
    """Take the file system's space with a file until only `leave` bytes are left
    (0: until writing fails with ENOSPC). Several calls add to the same file."""
    filler = path / name
    with open(filler, "ab", buffering=0) as f:
        for chunk in (MIB, 64 * 1024, 4096, 1):
            block = b"\xa5" * chunk
            while free(path) - leave >= chunk:
                try:
                    f.write(block)
                except OSError as e:
                    assert e.errno == errno.ENOSPC, e
                    break
        if not leave:
            try:  # prove it: not one more byte fits
                f.write(b"\xa5")
            except OSError as e:
                assert e.errno == errno.ENOSPC, e
            else:
                raise AssertionError(f"{path} still takes writes")
    return filler

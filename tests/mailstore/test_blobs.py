from __future__ import annotations

import os
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sealbox.mailstore import blobs

HOST = socket.gethostname()


@pytest.fixture
def tmp_dir(settings: Any) -> Path:
    path = Path(settings.DATA_DIR) / blobs.TMP
    path.mkdir()
    return path


@pytest.fixture
def live_pid() -> Iterator[int]:
    process = subprocess.Popen(["sleep", "60"])
    yield process.pid
    process.kill()
    process.wait()


@pytest.fixture
def dead_pid() -> int:
    process = subprocess.Popen(["true"])
    process.wait()
    return process.pid


def leftover(tmp_dir: Path, owner: str, age: float = 0) -> Path:
    path = tmp_dir / f"{owner}~{uuid.uuid4().hex}.tmp"
    path.write_bytes(b"Subject: half a message\r\n")
    if age:
        os.utime(path, (time.time() - age, time.time() - age))
    return path


def test_it_clears_temporary_files_of_dead_processes_only(
    tmp_dir: Path, live_pid: int, dead_pid: int
) -> None:
    dead = leftover(tmp_dir, f"{HOST}~{dead_pid}")
    running = leftover(tmp_dir, f"{HOST}~{live_pid}")
    mine = leftover(tmp_dir, f"{HOST}~{os.getpid()}")

    assert blobs.clear_stale_tmp() == 1
    assert not dead.exists()
    assert running.exists() and mine.exists()


def test_it_clears_other_hosts_files_only_once_they_are_a_day_old(tmp_dir: Path) -> None:
    fresh = leftover(tmp_dir, "other-host~4242")
    old = leftover(tmp_dir, "other-host~4242", age=blobs.STALE_TMP_SECONDS + 60)

    assert blobs.clear_stale_tmp() == 1
    assert fresh.exists()
    assert not old.exists()


def test_a_written_message_reads_back_exactly_and_leaves_no_temporary_file(settings: Any) -> None:
    message_id = uuid.uuid4()
    rel = blobs.write(message_id, [b"Return-Path: <>\r\n", b"Subject: x\r\n\r\n\x00\xff body\r\n"])
    blobs.sync_dirs([rel])

    assert rel == f"messages/{message_id.hex[:2]}/{message_id.hex}.eml"
    assert blobs.read(rel) == b"Return-Path: <>\r\nSubject: x\r\n\r\n\x00\xff body\r\n"
    assert (Path(settings.DATA_DIR) / rel).stat().st_mode & 0o777 == 0o600
    assert list((Path(settings.DATA_DIR) / blobs.TMP).iterdir()) == []


def test_a_failed_write_leaves_no_temporary_file(settings: Any) -> None:
    def chunks() -> Iterator[bytes]:
        yield b"Subject: x\r\n\r\n"
        raise OSError(28, "No space left on device")

    with pytest.raises(OSError):
        blobs.write(uuid.uuid4(), chunks())

    assert list((Path(settings.DATA_DIR) / blobs.TMP).iterdir()) == []
    assert not list((Path(settings.DATA_DIR) / blobs.MESSAGES).rglob("*.eml"))

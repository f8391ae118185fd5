"""Work on hostile input within a time limit, in a child process that is stopped when its time is up."""

from __future__ import annotations

import multiprocessing
import os
import time
from pathlib import Path

import pytest

from sealbox.mailstore import timelimit


def test_it_answers_what_the_work_returns_from_a_child_process() -> None:
    result = timelimit.run(lambda: f"{os.getpid()}:{'é' * 1_000_000}".encode(), 10)

    assert result is not None
    pid, text = result.decode().split(":")
    assert text == "é" * 1_000_000
    assert int(pid) != os.getpid()


def test_a_child_answers_bytes_only_never_an_object_to_unpickle() -> None:
    # An object's pickle could run code in the parent as it is read.
    assert timelimit.run(lambda: (1, 2), 10) is None  # type: ignore[arg-type, return-value]
    assert timelimit.run(lambda: "text", 10) is None  # type: ignore[arg-type, return-value]
    assert timelimit.run(lambda: b"", 10) == b""


def test_an_answer_longer_than_the_limit_is_not_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(timelimit, "MAX_ANSWER", 1000)

    assert timelimit.run(lambda: b"x" * 1001, 10) is None
    assert timelimit.run(lambda: b"x" * 1000, 10) == b"x" * 1000


def test_work_past_its_time_is_stopped_and_answers_none() -> None:
    started = time.monotonic()

    result = timelimit.run(lambda: time.sleep(60), 0.5)

    assert result is None
    assert time.monotonic() - started < 10
    assert multiprocessing.active_children() == []  # killed and reaped, not left running


def test_work_that_fails_answers_none() -> None:
    assert timelimit.run(lambda: bytes(1 // 0), 10) is None
    assert timelimit.run(lambda: os._exit(3), 10) is None


def _running(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rpartition(")")[2].split()[0] != "Z"  # a zombie has ended
    except FileNotFoundError:
        return False


def test_a_child_whose_waiting_parent_was_killed_still_stops_in_time(tmp_path: Path) -> None:
    pid_file = tmp_path / "pid"

    def work() -> bytes:
        pid_file.write_text(str(os.getpid()))
        time.sleep(60)
        return b""

    parent = multiprocessing.get_context("fork").Process(target=timelimit.run, args=(work, 1))
    parent.start()
    while not pid_file.exists() or not pid_file.read_text():
        time.sleep(0.05)
    parent.kill()  # as a web worker killed while it waits
    parent.join()
    child = int(pid_file.read_text())
    deadline = time.monotonic() + 15

    while _running(child) and time.monotonic() < deadline:
        time.sleep(0.1)

    assert not _running(child)  # its own alarm ended it, a second after its limit


def test_a_child_that_cannot_be_started_gives_no_result_and_leaks_nothing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def no_fork(self: object) -> None:
        raise BlockingIOError(11, "Resource temporarily unavailable")

    monkeypatch.setattr(multiprocessing.context.ForkProcess, "start", no_fork)
    before = len(os.listdir("/proc/self/fd"))

    assert timelimit.run(lambda: b"done", 1) is None
    assert len(os.listdir("/proc/self/fd")) == before


def test_work_that_takes_more_memory_than_its_limit_gives_no_result() -> None:
    def greedy() -> bytes:
        return bytes(bytearray(2 * timelimit.MEMORY_LIMIT))[:1]

    assert timelimit.run(greedy, 10) is None
    assert timelimit.run(lambda: bytes(bytearray(1024 * 1024))[:3], 10) == b"\0\0\0"

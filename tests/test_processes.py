"""Children that end with their parent: the pid watch, for where the parent-death signal is not."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

pytestmark = pytest.mark.slow

# A stand-in for `sealbox serve`: starts one child that follows it, prints its pid, waits.
PARENT = """
import os, subprocess, sys
env = dict(os.environ, SEALBOX_SERVE_PID=str(os.getpid()))
child = subprocess.Popen([sys.executable, "-c", sys.argv[1]], env=env)
print(child.pid, flush=True)
child.wait()
"""
# No parent-death signal here: only processes.follow_serve() can end it early.
CHILD = """
import time
from sealbox import processes
processes.follow_serve(interval=0.1)
time.sleep(120)
"""


def running(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def test_a_child_of_serve_stops_itself_once_serve_is_gone() -> None:
    parent = subprocess.Popen(
        [sys.executable, "-c", PARENT, CHILD], stdout=subprocess.PIPE, text=True
    )
    assert parent.stdout is not None
    child = int(parent.stdout.readline())
    try:
        time.sleep(0.5)
        assert running(child)
        parent.kill()
        parent.wait(timeout=10)
        deadline = time.monotonic() + 10
        while running(child) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not running(child)
    finally:
        if running(child):
            os.kill(child, signal.SIGKILL)


def test_a_process_not_started_by_serve_keeps_running_when_its_parent_goes() -> None:
    env = {k: v for k, v in os.environ.items() if k != "SEALBOX_SERVE_PID"}
    parent = subprocess.Popen(
        [
            sys.executable,
            "-c",
            PARENT.replace("SEALBOX_SERVE_PID=str(os.getpid())", "X='1'"),
            CHILD,
        ],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert parent.stdout is not None
    child = int(parent.stdout.readline())
    try:
        parent.kill()
        parent.wait(timeout=10)
        time.sleep(1.0)
        assert running(child)
    finally:
        os.kill(child, signal.SIGKILL)

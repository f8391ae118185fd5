import os
import signal
import smtplib
import subprocess
import time
import urllib.request

import pytest

from tests.conftest import SEALBOX, free_port, process_env
from tests.mail import make_message

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def wait_for(check, timeout=30.0):
    deadline = time.monotonic() + timeout
    while True:
        try:
            return check()
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def test_serve_runs_portal_smtp_and_worker_and_stops_on_sigterm(settings):
    http, smtp = free_port(), free_port()
    env = process_env(settings.DATA_DIR, SEALBOX_WORKER_POLL_INTERVAL="1s", SEALBOX_WEB_WORKERS="1")
    proc = subprocess.Popen(
        [*SEALBOX, "serve", "--http", f"127.0.0.1:{http}", "--smtp", f"127.0.0.1:{smtp}"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        banner = [proc.stdout.readline() for _ in range(3)]
        assert f"http://127.0.0.1:{http}/" in banner[0]
        assert f"127.0.0.1:{smtp}" in banner[1]
        assert "outbox" in banner[2]

        health = wait_for(
            lambda: urllib.request.urlopen(f"http://127.0.0.1:{http}/healthz", timeout=5)
        )
        assert health.status == 200
        assert health.read() == b"ok\n"

        def send():
            with smtplib.SMTP("127.0.0.1", smtp, timeout=10) as client:
                return client.sendmail("carol@corp.example", ["dora@example.com"], make_message())

        assert wait_for(send) == {}
        outbox = settings.DATA_DIR / "outbox"
        deadline = time.monotonic() + 20
        while not list(outbox.glob("*.eml")) and time.monotonic() < deadline:
            time.sleep(0.3)
        (notification,) = outbox.glob("*.eml")
        assert b"To: dora@example.com" in notification.read_bytes()
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            code = proc.wait(timeout=40)
        finally:
            if proc.poll() is None:
                proc.kill()
    assert code == 0
    # Every child went with it: nothing listens any more.
    with pytest.raises(OSError):
        smtplib.SMTP("127.0.0.1", smtp, timeout=2)
    with pytest.raises(OSError):
        urllib.request.urlopen(f"http://127.0.0.1:{http}/healthz", timeout=2)


def test_a_closed_terminal_stops_serve_and_every_child(settings):
    """The window closes: SIGHUP to serve's process group. Nothing may stay behind."""
    http, smtp = free_port(), free_port()
    env = process_env(settings.DATA_DIR, SEALBOX_WEB_WORKERS="1")
    proc = subprocess.Popen(
        [*SEALBOX, "serve", "--http", f"127.0.0.1:{http}", "--smtp", f"127.0.0.1:{smtp}"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # a process group of its own, as a terminal gives it
    )
    try:
        wait_for(lambda: urllib.request.urlopen(f"http://127.0.0.1:{http}/healthz", timeout=5))
        wait_for(lambda: smtplib.SMTP("127.0.0.1", smtp, timeout=5).quit())
        os.killpg(proc.pid, signal.SIGHUP)
        code = proc.wait(timeout=40)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert code == 0
    # gunicorn takes SIGHUP as "reload": it must not outlive serve, holding the port.
    time.sleep(1)
    with pytest.raises(OSError):
        smtplib.SMTP("127.0.0.1", smtp, timeout=2)
    with pytest.raises(OSError):
        urllib.request.urlopen(f"http://127.0.0.1:{http}/healthz", timeout=2)


def descendants(pid: int) -> set[int]:
    """Every process below pid, from /proc."""
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            parents[int(entry)] = int(fields[1])
    found, frontier = set(), {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier}
        found |= frontier
    return found


def running(pid: int) -> bool:
    """Alive and not a zombie waiting to be reaped."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def test_children_end_when_serve_is_killed_outright(settings):
    """SIGKILL leaves serve no chance to stop them: they must notice and go themselves."""
    http, smtp = free_port(), free_port()
    env = process_env(settings.DATA_DIR, SEALBOX_WEB_WORKERS="2")
    proc = subprocess.Popen(
        [*SEALBOX, "serve", "--http", f"127.0.0.1:{http}", "--smtp", f"127.0.0.1:{smtp}"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    children: set[int] = set()
    try:
        wait_for(lambda: urllib.request.urlopen(f"http://127.0.0.1:{http}/healthz", timeout=5))
        wait_for(lambda: smtplib.SMTP("127.0.0.1", smtp, timeout=5).quit())
        deadline = time.monotonic() + 30
        while len(children) < 5 and time.monotonic() < deadline:
            children = descendants(proc.pid)
            time.sleep(0.2)
        assert len(children) == 5  # web (gunicorn and two workers), smtpd, worker
        proc.kill()
        proc.wait(timeout=10)
        deadline = time.monotonic() + 15
        while {pid for pid in children if running(pid)} and time.monotonic() < deadline:
            time.sleep(0.2)
        assert {pid for pid in children if running(pid)} == set()
        with pytest.raises(OSError):
            smtplib.SMTP("127.0.0.1", smtp, timeout=2)
        with pytest.raises(OSError):
            urllib.request.urlopen(f"http://127.0.0.1:{http}/healthz", timeout=2)
    finally:
        if proc.poll() is None:
            proc.kill()
        for pid in children:
            if running(pid):
                os.kill(pid, signal.SIGKILL)

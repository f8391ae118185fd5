from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandParser

from sealbox import processes
from sealbox.listen import split_host_port
from sealbox.vault import seal, unlock

log = logging.getLogger("sealbox.service.serve")

RESTART_DELAY = 2.0


@dataclass
class Child:
    name: str
    argv: list[str]
    # Whether it opens stored mail: with encryption at rest it gets the key
    # password through a pipe. SMTP intake needs only the certificates.
    needs_key: bool = False
    process: subprocess.Popen[bytes] | None = None
    started: float = 0.0
    quick_deaths: int = field(default=0)
    key_pipe: int | None = None

    def start(self, password: str | None) -> None:
        # It follows serve: SIGTERM when serve dies, even by SIGKILL (processes.py).
        env = {**os.environ, processes.SERVE_PID_ENV: str(os.getpid())}
        fds: tuple[int, ...] = ()
        if self.needs_key and settings.STORAGE_ENCRYPTION:
            if self.key_pipe is not None:  # restarted before the password came
                os.close(self.key_pipe)
            read_end, self.key_pipe = os.pipe()
            env[unlock.PASSWORD_FD_ENV] = str(read_end)
            fds = (read_end,)
        # It inherits stdout/stderr: one log stream. Its own session: a signal
        # from the terminal (Ctrl-C, the window closed) reaches serve alone,
        # which stops every child in order (gunicorn would take SIGHUP as
        # "reload" and outlive serve, holding the port).
        self.process = subprocess.Popen(
            self.argv,
            env=env,
            pass_fds=fds,
            start_new_session=True,
            preexec_fn=processes.die_with(os.getpid()),
        )
        self.started = time.monotonic()
        for fd in fds:
            os.close(fd)
        if password is not None:
            self.hand_over(password)

    def hand_over(self, password: str) -> None:
        if self.key_pipe is None:
            return
        try:
            os.write(self.key_pipe, password.encode("utf-8"))
        except OSError:
            pass  # it has exited; it gets the password again when restarted
        finally:
            os.close(self.key_pipe)
            self.key_pipe = None


class KeyHolder:
    """The key password, obtained once per start, for the children that need it."""

    def __init__(self) -> None:
        self.password: str | None = None
        self.lock = threading.Lock()
        # Set when the key cannot be unlocked whatever is typed: a configuration error.
        self.failed = threading.Event()

    def start(self, child: Child) -> None:
        with self.lock:
            child.start(self.password)

    def obtain_configured(self) -> None:
        if not settings.STORAGE_ENCRYPTION:
            return
        seal.require_key_file()
        # A wrong password is a configuration error, said before anything starts.
        self.password = seal.unlock_configured()

    def ask_if_needed(self, children: list[Child]) -> None:
        """Ask an administrator in the background: SMTP intake runs meanwhile."""
        if not settings.STORAGE_ENCRYPTION or self.password is not None:
            return

        def ask() -> None:
            try:
                password = unlock.obtain_interactively()
            except ImproperlyConfigured as e:
                log.error("cannot unlock the storage key: %s; stopping Sealbox", e)
                self.failed.set()
                return
            with self.lock:
                self.password = password
                for child in children:
                    child.hand_over(password)

        threading.Thread(target=ask, name="sealbox-unlock", daemon=True).start()


class Command(BaseCommand):
    help = "Run the web portal, the SMTP intake and the worker together."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--http", default=None, help="HOST:PORT for the portal (default 127.0.0.1:8000)"
        )
        parser.add_argument(
            "--smtp", default=None, help="HOST:PORT for SMTP intake (default 127.0.0.1:2525)"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        http = options["http"] or settings.HTTP_LISTEN
        smtp = options["smtp"] or settings.SMTP_LISTEN
        split_host_port(http)
        split_host_port(smtp)
        me = [sys.executable, "-m", "sealbox.cli"]
        children = [
            Child("web", [*me, "web", "--listen", http], needs_key=True),
            Child("smtpd", [*me, "smtpd", "--listen", smtp]),
            Child("worker", [*me, "worker"], needs_key=True),
        ]
        keys = KeyHolder()
        keys.obtain_configured()
        stopping = False

        def stop(signum: int, frame: Any) -> None:
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGHUP, stop)  # the terminal went away
        for child in children:
            keys.start(child)
        keys.ask_if_needed(children)
        self.stdout.write(f"Sealbox portal: http://{http}/  (SEALBOX_BASE_URL {settings.BASE_URL})")
        self.stdout.write(f"Sealbox SMTP intake: {smtp}")
        if not settings.RELAY_URL:
            self.stdout.write(
                f"No SEALBOX_RELAY_URL: outgoing mail is written to {settings.OUTBOX_DIR}/"
            )
        self.stdout.flush()
        exit_code = 0
        while not stopping:
            time.sleep(0.5)
            if keys.failed.is_set():
                stopping, exit_code = True, 2
                break
            for child in children:
                assert child.process is not None
                code = child.process.poll()
                if code is None or stopping:
                    continue
                lived = time.monotonic() - child.started
                child.quick_deaths = child.quick_deaths + 1 if lived < 10 else 0
                if child.quick_deaths >= 5:
                    log.error("%s keeps exiting (code %s); stopping Sealbox", child.name, code)
                    stopping, exit_code = True, 1
                    break
                log.warning("%s exited with code %s; restarting it", child.name, code)
                time.sleep(RESTART_DELAY)
                keys.start(child)
        self.shutdown(children)
        sys.exit(exit_code)

    def shutdown(self, children: list[Child]) -> None:
        for child in children:
            if child.process and child.process.poll() is None:
                child.process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 30
        for child in children:
            if child.process is None:
                continue
            try:
                child.process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                log.warning("%s did not stop in time; killing it", child.name)
                child.process.kill()
                child.process.wait()
        log.info("Sealbox stopped")

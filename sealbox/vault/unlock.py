"""Getting the key password into a process that needs the private key.

In order: a password configured in the environment or an env file; a password
handed down by `sealbox serve` through an inherited pipe; else asking, through
SEALBOX_ENCRYPTION_ASK_COMMAND, systemd-ask-password under systemd, or the
terminal. A wrong password is logged and asked again. The password lives only
in this process's memory.
"""

from __future__ import annotations

import atexit
import logging
import os
import re
import shlex
import shutil
import stat
import subprocess
import termios
import threading
import time
from collections.abc import Callable
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from sealbox.vault import keys, seal

log = logging.getLogger("sealbox.vault")

# Set by `sealbox serve` for its children: the number of a pipe that carries
# the password once an administrator has typed it.
PASSWORD_FD_ENV = "SEALBOX_KEY_PASSWORD_FD"  # noqa: S105 (a variable's name)
RETRY_ASK_SECONDS = 5.0


def password_file_warnings() -> list[str]:
    """The files holding the key password that users other than the service can read."""
    files = []
    if settings.ENCRYPTION_KEY_PASSWORD_FILE is not None:
        files.append(
            ("SEALBOX_ENCRYPTION_KEY_PASSWORD_FILE", Path(settings.ENCRYPTION_KEY_PASSWORD_FILE))
        )
    if settings.ENV_FILE and settings.ENCRYPTION_KEY_PASSWORD:
        env_file = Path(settings.ENV_FILE)
        try:
            holds_it = _PASSWORD_LINE.search(env_file.read_text(encoding="utf-8")) is not None
        except OSError:
            holds_it = False
        if holds_it:
            files.append(("SEALBOX_ENV_FILE", env_file))
    warnings = []
    for name, path in files:
        try:
            mode = os.stat(path).st_mode
        except OSError:
            continue
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            warnings.append(
                f"{name} {path} holds the key password and can be read by other users "
                f"(mode {stat.filemode(mode)}); make it readable by the service only "
                f"(chmod 600 {path})"
            )
    return warnings


_PASSWORD_LINE = re.compile(r"^\s*(export\s+)?SEALBOX_ENCRYPTION_KEY_PASSWORD\s*=", re.MULTILINE)


def prompt() -> str:
    return f"Password for the Sealbox storage key {settings.ENCRYPTION_KEY}:"


def ask_command() -> list[str] | None:
    """The command that asks an administrator, or None for this process's terminal."""
    if settings.ENCRYPTION_ASK_COMMAND:
        return shlex.split(settings.ENCRYPTION_ASK_COMMAND)
    under_systemd = "INVOCATION_ID" in os.environ or "NOTIFY_SOCKET" in os.environ
    if under_systemd and shutil.which("systemd-ask-password"):
        return ["systemd-ask-password", "--id=sealbox", "--timeout=0"]
    return None


# While a command starts, its pipes are open at both ends in this process. A
# process forked meanwhile by another thread (a gunicorn worker: the master asks
# in a thread while it forks them) would keep the write ends open, and the
# answer would never be read to its end. So no fork while a command starts.
_starting_command = threading.Lock()
os.register_at_fork(
    before=_starting_command.acquire,
    after_in_parent=_starting_command.release,
    after_in_child=_starting_command.release,
)


def ask() -> str | None:
    """One answer from an administrator, or None when no one could be asked."""
    command = ask_command()
    if command is not None:
        try:
            with _starting_command:
                asking = subprocess.Popen(
                    [*command, prompt()], stdout=subprocess.PIPE, stdin=subprocess.DEVNULL
                )
        except OSError as e:
            log.error("cannot run the ask command %s: %s", command[0], e.strerror)
            return None
        out, _ = asking.communicate()
        answer = out.decode("utf-8", "replace").removesuffix("\n")
        # No output is no answer, whatever the exit status: in a gunicorn master
        # the arbiter may reap the command first, and its status then reads as 0.
        if asking.returncode != 0 or not answer:
            log.error(
                "the ask command %s gave no password (exit %d)", command[0], asking.returncode
            )
            if command[0].endswith("systemd-ask-password") and os.geteuid() != 0:
                log.error(
                    "only root may ask through systemd's password agents: see "
                    "docs/encryption.md for SEALBOX_ENCRYPTION_ASK_COMMAND with sudo"
                )
            return None
        return answer
    return _ask_terminal()


def _ask_terminal() -> str | None:
    """Ask on the controlling terminal with echo off, as getpass does.

    Unlike getpass this puts the terminal back even when the process exits
    while the question is open (the asking may run in a background thread).
    """
    try:
        fd = os.open("/dev/tty", os.O_RDWR | os.O_NOCTTY)
    except OSError:
        log.error(
            "no terminal to ask on: set SEALBOX_ENCRYPTION_KEY_PASSWORD_FILE, run under "
            "systemd, set SEALBOX_ENCRYPTION_ASK_COMMAND, or start Sealbox on a terminal"
        )
        return None
    try:
        saved = termios.tcgetattr(fd)
        quiet = termios.tcgetattr(fd)
        quiet[3] &= ~termios.ECHO

        def restore() -> None:
            termios.tcsetattr(fd, termios.TCSAFLUSH, saved)

        atexit.register(restore)
        # Echo off before the prompt shows: whatever is typed once it shows is
        # neither echoed nor thrown away by the flush.
        termios.tcsetattr(fd, termios.TCSAFLUSH, quiet)
        os.write(fd, (prompt() + " ").encode())
        try:
            line = b""
            while not line.endswith(b"\n"):
                chunk = os.read(fd, 1024)
                if not chunk:
                    return None
                line += chunk
        finally:
            restore()
            atexit.unregister(restore)
            os.write(fd, b"\n")
        return line.decode("utf-8", "replace").removesuffix("\n").removesuffix("\r")
    except termios.error:
        log.error("cannot turn off echo on this terminal; not asking for the key password there")
        return None
    finally:
        os.close(fd)


def _from_pipe() -> str | None:
    raw = os.environ.pop(PASSWORD_FD_ENV, None)
    if raw is None:
        return None
    fd = int(raw)
    chunks = []
    with os.fdopen(fd, "rb", closefd=True) as pipe:
        while chunk := pipe.read(4096):
            chunks.append(chunk)
    return b"".join(chunks).decode("utf-8") if chunks else None


def obtain_interactively() -> str:
    """Ask until an answer opens the key; return that password."""
    log.warning("Waiting for the key password (%s)", settings.ENCRYPTION_KEY)
    while True:
        password = ask()
        if password is None:
            time.sleep(RETRY_ASK_SECONDS)
            continue
        try:
            if not password:  # Enter alone: an encrypted key never opens without one
                raise keys.WrongPassword("no password typed")
            seal.unlock(password)
        except keys.WrongPassword:
            log.error("wrong key password for %s; asking again", settings.ENCRYPTION_KEY)
            continue
        return password


def wait_for_key() -> None:
    """Block until this process holds the private key (a no-op with encryption off)."""
    if not settings.STORAGE_ENCRYPTION or seal.held():
        return
    seal.require_key_file()
    if seal.unlock_configured() is not None:
        return
    handed = _from_pipe()
    if handed is not None:
        try:
            seal.unlock(handed)
            return
        except keys.WrongPassword:
            log.error("the password handed over by `sealbox serve` does not open the key")
    obtain_interactively()


def in_background(then: Callable[[], None], fail: Callable[[], None]) -> threading.Thread:
    """wait_for_key() in a daemon thread, then call then(); fail() if it never can.

    A key that opens but belongs to none of the certificates, say, is a
    configuration error: asking again would not help, staying locked would
    hide it. fail() stops the process.
    """

    def run() -> None:
        try:
            wait_for_key()
        except Exception as e:
            if isinstance(e, ImproperlyConfigured):
                log.error("cannot unlock the storage key: %s; stopping", e)
            else:
                log.exception("unlocking the storage key failed; stopping")
            fail()
            return
        then()

    thread = threading.Thread(target=run, name="sealbox-unlock", daemon=True)
    thread.start()
    return thread

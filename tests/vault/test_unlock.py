"""Unlocking the storage key at start-up, as an operator sees it: real processes.

`sealbox serve` on a real pseudo-terminal, `sealbox web` and `sealbox worker`
asking through SEALBOX_ENCRYPTION_ASK_COMMAND, a password in an env file, and
SMTP intake that needs no key at all.
"""

from __future__ import annotations

import fcntl
import os
import pty
import re
import signal
import smtplib
import subprocess
import termios
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.cookiejar import CookieJar
from pathlib import Path
from typing import Any
from urllib.error import HTTPError
from urllib.parse import urlencode

import pytest

from sealbox.accounts.models import User
from sealbox.intake.delivery import deliver
from sealbox.mailstore import blobs
from sealbox.mailstore.models import Message
from tests.conftest import CAROL, SEALBOX, RelaySink, free_port, process_env
from tests.mail import make_message
from tests.vault.conftest import SERVICE_PASSWORD, Vault, encryption_env

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

PROMPT = "Password for the Sealbox storage key"
WRONG = "not-the-key-password-4417"
SIGNIN_PASSWORD = "correct horse battery staple"
NOTICE = b"From: Carol Sender (carol@corp.example)"


def wait_for(condition: Callable[[], Any], seconds: float, what: str) -> Any:
    deadline = time.monotonic() + seconds
    while not (result := condition()):
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)
    return result


def healthz(netloc: str) -> tuple[int, str] | None:
    """Status and text of /healthz; None while nothing answers on the port."""
    try:
        with urllib.request.urlopen(f"http://{netloc}/healthz", timeout=5) as r:
            return r.status, r.read().decode()
    except HTTPError as e:
        return e.code, e.read().decode()
    except OSError:
        return None


def env_for(data_dir: Path, vault: Vault, **extra: str) -> dict[str, str]:
    env = process_env(data_dir, **encryption_env(vault, **extra))
    # Not under systemd, whatever runs the tests: the product would ask through it.
    env.pop("INVOCATION_ID", None)
    env.pop("NOTIFY_SOCKET", None)
    return env


def stop(proc: subprocess.Popen[bytes]) -> int:
    """SIGTERM, then SIGKILL to its whole process group (children too) if it lingers."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            return proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
    return proc.wait()


@contextmanager
def running(argv: list[str], env: dict[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """A `sealbox` process in its own process group, its output in log; stopped at the end."""
    with log.open("wb") as out:
        proc = subprocess.Popen(
            argv, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        yield proc
    finally:
        stop(proc)


def ask_command(directory: Path, answers: list[str]) -> tuple[str, Path, Path]:
    """A script answering the n-th question with the n-th answer, once `release` exists.

    Returns the command, the file recording each call (its arguments, one line a
    call) and the file whose creation lets it answer.
    """
    (directory / "answers").write_text("".join(a + "\n" for a in answers))
    calls, release = directory / "calls", directory / "release"
    script = directory / "ask.sh"
    script.write_text(
        "#!/bin/sh\n"
        f'echo "$@" >> {calls}\n'
        f"n=$(wc -l < {calls})\n"
        f"while [ ! -e {release} ]; do sleep 0.05; done\n"
        f'answer=$(sed -n "${{n}}p" {directory / "answers"})\n'
        '[ -n "$answer" ] || exit 1\n'
        'printf "%s\\n" "$answer"\n'
    )
    script.chmod(0o755)
    return str(script), calls, release


def asked(calls: Path) -> list[str]:
    return calls.read_text().splitlines() if calls.exists() else []


class Terminal:
    """The administrator's side of a pseudo-terminal: everything shown on it, and typing."""

    def __init__(self) -> None:
        self.master, self.slave = pty.openpty()
        self._shown = bytearray()
        self._lock = threading.Lock()
        self._reader = threading.Thread(target=self._read, daemon=True)

    def _read(self) -> None:
        while True:
            try:
                chunk = os.read(self.master, 4096)
            except OSError:  # EIO: every process on the terminal has gone
                return
            if not chunk:
                return
            with self._lock:
                self._shown += chunk

    def start(self, argv: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
        """Run argv on the terminal, as its controlling terminal, in a new session."""

        def take_terminal() -> None:
            os.setsid()
            fcntl.ioctl(0, termios.TIOCSCTTY, 0)

        proc = subprocess.Popen(
            argv,
            env=env,
            stdin=self.slave,
            stdout=self.slave,
            stderr=self.slave,
            preexec_fn=take_terminal,
        )
        os.close(self.slave)
        self._reader.start()
        return proc

    @property
    def shown(self) -> str:
        with self._lock:
            return self._shown.decode("utf-8", "replace")

    def wait_until(self, condition: Callable[[str], bool], seconds: float, what: str) -> None:
        deadline = time.monotonic() + seconds
        while not condition(self.shown):
            assert time.monotonic() < deadline, f"timed out waiting for {what}:\n{self.shown}"
            time.sleep(0.01)  # short: typing follows the prompt as closely as a paste

    def type(self, text: str) -> None:
        os.write(self.master, text.encode() + b"\r")  # Enter, as a keyboard sends it

    def echoes(self) -> bool:
        return bool(termios.tcgetattr(self.master)[3] & termios.ECHO)

    def close(self) -> None:
        os.close(self.master)
        self._reader.join(5)


class Browser:
    """A browser with its own cookies on a portal process; redirects are not followed."""

    class _NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args: Any, **kwargs: Any) -> None:
            return None

    def __init__(self, netloc: str) -> None:
        self.netloc = netloc
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(CookieJar()), self._NoRedirect()
        )

    def request(self, path: str, form: dict[str, str] | None = None) -> tuple[int, str]:
        data, headers = None, {}
        if form is not None:
            data = urlencode(form).encode()
            headers = {"Origin": "null", "Sec-Fetch-Site": "same-origin"}
        req = urllib.request.Request(f"http://{self.netloc}{path}", data=data, headers=headers)
        try:
            with self.opener.open(req, timeout=30) as response:
                return response.status, response.read().decode()
        except HTTPError as e:
            return e.code, e.read().decode()

    def sign_in(self, address: str, password: str) -> int:
        status, html = self.request("/signin/")
        assert status == 200, html
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html)
        assert token
        form = {"csrfmiddlewaretoken": token.group(1), "username": address, "password": password}
        return self.request("/signin/", form)[0]


def send_mail(port: int, to: str, raw: bytes) -> dict[str, Any]:
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as client:
        return client.sendmail(CAROL, [to], raw)


def smtp_up(port: int) -> bool:
    try:
        with smtplib.SMTP("127.0.0.1", port, timeout=2) as client:
            client.noop()
        return True
    except OSError:
        return False


# --- 1. `sealbox serve` on a terminal ------------------------------------------------


def test_serve_asks_on_its_terminal_without_echo_and_takes_mail_while_locked(
    settings: Any, vault_files: Vault, relay_sink: RelaySink
) -> None:
    # The portal process checks her password with its own (default) hashers.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.Argon2PasswordHasher"]
    alice = User.objects.create_user("alice@example.net", SIGNIN_PASSWORD)
    http, smtp = f"127.0.0.1:{free_port()}", free_port()
    env = env_for(
        settings.DATA_DIR,
        vault_files,
        SEALBOX_RELAY_URL=f"smtp://127.0.0.1:{relay_sink.port}",
        SEALBOX_WORKER_POLL_INTERVAL="1s",
    )
    terminal = Terminal()
    serve = terminal.start([*SEALBOX, "serve", "--http", http, "--smtp", f"127.0.0.1:{smtp}"], env)
    try:
        terminal.wait_until(lambda shown: PROMPT in shown, 15, "the password prompt")
        assert "Waiting for the key password" in terminal.shown
        assert not terminal.echoes()

        # Locked: the portal says so, and mail keeps arriving.
        assert wait_for(lambda: healthz(http), 15, "the portal") == (503, "locked\n")
        status, html = Browser(http).request("/signin/")
        assert status == 503 and "Your secure mailbox is starting" in html
        wait_for(lambda: smtp_up(smtp), 15, "SMTP intake")
        raw = make_message(subject="Arrived while locked 7731")
        assert send_mail(smtp, alice.email, raw) == {}
        # (Only the blob's name here: this test process holds no key either.)
        [blob] = Message.objects.filter(owner=alice).values_list("blob", flat=True)
        assert blob.endswith(".p7m")
        assert b"Arrived while locked" not in (Path(settings.DATA_DIR) / blob).read_bytes()

        # Enter alone, then a wrong password: each said so and asked again;
        # nothing typed is shown.
        for n, answer in enumerate(["", WRONG], start=1):
            terminal.type(answer)
            terminal.wait_until(
                lambda shown, n=n: (
                    shown.count("wrong key password") == n and shown.count(PROMPT) == n + 1
                ),
                10,
                f"answer {answer!r} to be refused and asked again",
            )
            assert not terminal.echoes()
        assert healthz(http) == (503, "locked\n")
        time.sleep(1.5)  # a worker poll: nothing is sent while the key is locked
        assert relay_sink.received == []

        terminal.type(SERVICE_PASSWORD)
        assert wait_for(lambda: healthz(http) == (200, "ok\n"), 10, "the portal to unlock")
        assert terminal.echoes(), "the terminal is put back after the question"

        # What came in while locked: the worker notifies her, and she reads it.
        wait_for(lambda: relay_sink.received, 10, "the notification at the relay")
        [notification] = relay_sink.received
        assert notification.rcpt_tos == [alice.email]
        assert NOTICE in notification.data
        browser = Browser(http)
        assert browser.sign_in(alice.email, SIGNIN_PASSWORD) == 302
        status, html = browser.request("/inbox/")
        assert status == 200 and "Arrived while locked 7731" in html
    finally:
        code = stop(serve)
        terminal.close()
    shown = terminal.shown
    assert code == 0, shown
    assert shown.count(PROMPT) == 3, shown
    assert shown.count("wrong key password") == 2, shown
    assert WRONG not in shown and SERVICE_PASSWORD not in shown


# --- 2. `sealbox web`, asking through a command -------------------------------------


def test_web_asks_once_for_all_its_workers_and_says_locked_until_unlocked(
    settings: Any, vault_files: Vault, tmp_path: Path
) -> None:
    command, calls, release = ask_command(tmp_path, [WRONG, SERVICE_PASSWORD])
    http = f"127.0.0.1:{free_port()}"
    env = env_for(
        settings.DATA_DIR,
        vault_files,
        SEALBOX_HTTP_LISTEN=http,
        SEALBOX_WEB_WORKERS="2",
        SEALBOX_ENCRYPTION_ASK_COMMAND=command,
    )
    log = tmp_path / "web.log"
    with running([*SEALBOX, "web"], env, log) as web:
        assert wait_for(lambda: healthz(http), 15, "the portal") == (503, "locked\n")
        wait_for(lambda: asked(calls), 5, "the question")
        for _ in range(10):
            assert healthz(http) == (503, "locked\n")

        release.touch()
        # gunicorn starts the new workers before the old (locked) ones leave:
        # for a moment either may answer. Wait until five answers in a row are ok.
        assert wait_for(
            lambda: all(healthz(http) == (200, "ok\n") for _ in range(5)),
            15,
            "the portal to unlock",
        )
        # Every worker holds the key: each request may reach either of them.
        for _ in range(20):
            assert healthz(http) == (200, "ok\n")
        assert web.poll() is None
    output = log.read_text()

    assert len(asked(calls)) == 2, output
    assert all(PROMPT in call for call in asked(calls))
    waiting = output.index("Waiting for the key password")
    wrong = output.index("wrong key password")
    unlocked = output.index("storage key unlocked")
    assert waiting < wrong < unlocked
    assert output.count("Waiting for the key password") == 1
    assert output.count("storage key unlocked:") == 1  # in the master, before forking
    assert WRONG not in output and SERVICE_PASSWORD not in output
    assert "Traceback" not in output


# --- 3. the password in an env file ----------------------------------------------------


def password_file(tmp_path: Path, password: str, mode: int) -> Path:
    path = tmp_path / "key-password"
    path.write_text(password + "\n")
    path.chmod(mode)
    return path


def test_web_with_a_password_file_starts_unlocked(
    settings: Any, vault_files: Vault, tmp_path: Path
) -> None:
    secret = password_file(tmp_path, SERVICE_PASSWORD, 0o600)
    http = f"127.0.0.1:{free_port()}"
    env = env_for(
        settings.DATA_DIR,
        vault_files,
        SEALBOX_HTTP_LISTEN=http,
        SEALBOX_WEB_WORKERS="1",
        SEALBOX_ENCRYPTION_KEY_PASSWORD_FILE=str(secret),
    )
    log = tmp_path / "web.log"
    with running([*SEALBOX, "web"], env, log):
        first = wait_for(lambda: healthz(http), 15, "the portal")
    output = log.read_text()
    assert first == (200, "ok\n"), output
    assert "Waiting for the key password" not in output
    assert "storage key unlocked" in output


def test_check_warns_when_others_can_read_the_password_file(
    settings: Any, vault_files: Vault, tmp_path: Path
) -> None:
    secret = password_file(tmp_path, SERVICE_PASSWORD, 0o644)
    env = env_for(settings.DATA_DIR, vault_files, SEALBOX_ENCRYPTION_KEY_PASSWORD_FILE=str(secret))

    def check() -> str:
        done = subprocess.run(
            [*SEALBOX, "check"], env=env, capture_output=True, text=True, timeout=30
        )
        assert done.returncode == 0, done.stderr
        return done.stdout + done.stderr

    said = check()
    assert "sealbox.W104" in said
    assert f"{secret} holds the key password and can be read by other users" in said
    assert "chmod 600" in said

    secret.chmod(0o600)
    assert "sealbox.W104" not in check()


def test_a_wrong_password_in_the_file_stops_web_with_a_one_line_configuration_error(
    settings: Any, vault_files: Vault, tmp_path: Path
) -> None:
    secret = password_file(tmp_path, WRONG, 0o600)
    env = env_for(
        settings.DATA_DIR,
        vault_files,
        SEALBOX_HTTP_LISTEN=f"127.0.0.1:{free_port()}",
        SEALBOX_ENCRYPTION_KEY_PASSWORD_FILE=str(secret),
    )
    done = subprocess.run([*SEALBOX, "web"], env=env, capture_output=True, text=True, timeout=30)
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    errors = [line for line in done.stderr.splitlines() if "error" in line.lower()]
    assert errors == [
        "sealbox: configuration error: the password from SEALBOX_ENCRYPTION_KEY_PASSWORD_FILE "
        f"does not open SEALBOX_ENCRYPTION_KEY {vault_files.service.key}"
    ], done.stderr
    assert WRONG not in done.stdout + done.stderr


# --- 4. the worker, and SMTP intake without the key ---------------------------------


def test_the_worker_asks_for_the_key_then_sends_the_waiting_notification(
    settings: Any, encryption: Vault, relay_sink: RelaySink, tmp_path: Path
) -> None:
    deliver(CAROL, ["dora@example.com"], make_message(to="dora@example.com"))
    command, calls, release = ask_command(tmp_path, [SERVICE_PASSWORD])
    release.touch()
    env = env_for(
        settings.DATA_DIR,
        encryption,
        SEALBOX_RELAY_URL=f"smtp://127.0.0.1:{relay_sink.port}",
        SEALBOX_ENCRYPTION_ASK_COMMAND=command,
    )
    done = subprocess.run(
        [*SEALBOX, "worker", "--once"], env=env, capture_output=True, text=True, timeout=30
    )

    assert done.returncode == 0, done.stderr
    assert "Waiting for the key password" in done.stderr
    assert "storage key unlocked" in done.stderr
    assert len(asked(calls)) == 1
    [notification] = relay_sink.received
    assert notification.rcpt_tos == ["dora@example.com"]
    assert NOTICE in notification.data


def test_smtp_intake_stores_sealed_mail_without_the_private_key(
    settings: Any, encryption: Vault, tmp_path: Path
) -> None:
    smtp = free_port()
    env = env_for(
        settings.DATA_DIR,
        encryption,
        SEALBOX_SMTP_LISTEN=f"127.0.0.1:{smtp}",
        SEALBOX_ENCRYPTION_KEY=str(tmp_path / "no-such.key"),
    )
    log = tmp_path / "smtpd.log"
    with running([*SEALBOX, "smtpd"], env, log) as smtpd:
        wait_for(lambda: smtp_up(smtp) or smtpd.poll() is not None, 15, "SMTP intake")
        assert smtpd.poll() is None, log.read_text()
        raw = make_message(subject="Sealed without a key 5120", to="dora@example.com")
        assert send_mail(smtp, "dora@example.com", raw) == {}
    output = log.read_text()

    [message] = Message.objects.all()
    stored = (Path(settings.DATA_DIR) / message.blob).read_bytes()
    assert message.blob.endswith(".p7m")
    assert b"Sealed without a key" not in stored
    # Here, with the key: the exact message.
    assert blobs.read(message.blob).endswith(raw)
    assert "Waiting for the key password" not in output
    assert "Traceback" not in output


def test_a_key_that_opens_but_fits_no_certificate_stops_serve_with_the_reason(
    settings: Any, vault_files: Vault, tmp_path: Path
) -> None:
    command, calls, release = ask_command(tmp_path, [SERVICE_PASSWORD])
    release.touch()
    env = env_for(
        settings.DATA_DIR,
        vault_files,
        SEALBOX_ENCRYPTION_CERTS=str(vault_files.escrow.cert),  # not the service key's
        SEALBOX_ENCRYPTION_ASK_COMMAND=command,
    )
    argv = [*SEALBOX, "serve", "--http", f"127.0.0.1:{free_port()}"]
    argv += ["--smtp", f"127.0.0.1:{free_port()}"]
    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2, done.stderr
    assert "cannot unlock the storage key" in done.stderr
    assert "belongs to none of the certificates" in done.stderr
    assert "stopping Sealbox" in done.stderr
    assert len(asked(calls)) == 1  # asked once: typing it again would not help
    assert SERVICE_PASSWORD not in done.stderr + done.stdout

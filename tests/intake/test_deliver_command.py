from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import pytest

from sealbox.accounts.models import User
from sealbox.mailstore import blobs
from sealbox.mailstore.models import Message
from tests.conftest import CAROL, SEALBOX, process_env
from tests.intake.stored import client_bytes, files_under, messages_for, split_trace
from tests.mail import make_message

# Each test starts `sealbox` processes: outside `make check`'s fast lane, in `make test`.
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

DAVE = "dave@example.com"
AS_NOBODY = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"]


def sealbox(
    settings: Any, *args: str, stdin: bytes = b"", **env: str
) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [*SEALBOX, *args],
        input=stdin,
        env=process_env(settings.DATA_DIR, **env),
        capture_output=True,
        timeout=60,
    )
    return subprocess.CompletedProcess(
        result.args, result.returncode, result.stdout.decode(), result.stderr.decode()
    )


def deliver(
    settings: Any, data: bytes, *rcpts: str, **env: str
) -> subprocess.CompletedProcess[str]:
    return sealbox(settings, "deliver", "--from", CAROL, *rcpts, stdin=data, **env)


def test_it_stores_the_message_and_exits_0(settings: Any) -> None:
    data = make_message(to=DAVE)
    result = deliver(settings, data, DAVE)

    assert result.returncode == 0, result.stderr
    [message] = messages_for(DAVE)
    trace, rest = split_trace(blobs.read(message.blob))
    assert rest == data
    assert b"with local (pipe) id" in trace
    assert not User.objects.get(email=DAVE).is_activated


def test_it_refuses_an_internal_recipient_with_exit_67(settings: Any) -> None:
    result = deliver(settings, make_message(), DAVE, "x@corp.example")

    assert result.returncode == 67
    assert result.stderr.splitlines() == [
        "sealbox deliver: 5.1.1 <x@corp.example>: is in the organisation's own domain; "
        "Sealbox keeps mail only for outside recipients"
    ]
    assert not Message.objects.exists()


def test_it_refuses_a_message_over_the_size_limit_with_exit_65(settings: Any) -> None:
    data = make_message(body="x" * 70 + "\n") + b"y" * 1024 * 1024
    result = deliver(settings, data, DAVE, SEALBOX_SMTP_MAX_MESSAGE_MB="1")

    assert result.returncode == 65
    assert result.stderr.splitlines() == [
        "sealbox deliver: 5.3.4 message too big: over 1048576 bytes"
    ]
    assert not Message.objects.exists()
    assert not files_under("messages")


def test_it_takes_a_message_of_exactly_the_size_limit(settings: Any) -> None:
    head = make_message(to=DAVE)
    data = head + b"z" * (1024 * 1024 - len(head))
    result = deliver(settings, data, DAVE, SEALBOX_SMTP_MAX_MESSAGE_MB="1")

    assert result.returncode == 0, result.stderr
    assert [client_bytes(m) for m in messages_for(DAVE)] == [data]


def test_an_unreachable_database_is_a_temporary_failure_in_one_line(settings: Any) -> None:
    result = deliver(
        settings, make_message(), DAVE, SEALBOX_DATABASE_URL="postgres://postgres@127.0.0.1:1/x"
    )

    assert result.returncode == 75
    [line] = result.stderr.splitlines()
    assert line.startswith("sealbox deliver: 4.3.0 ")
    assert "OperationalError" in line
    assert "Traceback" not in result.stderr
    assert not files_under("messages")


@pytest.mark.skipif(
    os.geteuid() != 0 or not shutil.which("setpriv"), reason="runs the command as nobody"
)
def test_an_unreadable_secret_key_is_a_temporary_failure_in_one_line(settings: Any) -> None:
    # The data directory is readable, its secret_key only by root; the MTA runs us as nobody.
    data_dir = Path(tempfile.mkdtemp(prefix="sealbox-deliver-"))
    try:
        data_dir.chmod(0o755)
        (data_dir / "secret_key").write_text("only-root-reads-this\n")
        (data_dir / "secret_key").chmod(0o600)
        result = subprocess.run(
            [*AS_NOBODY, *SEALBOX, "deliver", "--from", CAROL, DAVE],
            input=make_message(),
            env=process_env(data_dir, SEALBOX_SECRET_KEY=""),
            capture_output=True,
            timeout=60,
        )
    finally:
        shutil.rmtree(data_dir)

    stderr = result.stderr.decode()
    assert result.returncode == 75, stderr
    [line] = stderr.splitlines()
    assert line.startswith("sealbox")
    assert "Traceback" not in stderr


def test_a_bad_command_line_is_a_temporary_failure_in_one_line(settings: Any) -> None:
    for args in (["--from", CAROL], [DAVE], ["--from", CAROL, "--no-such-option", DAVE]):
        result = sealbox(settings, "deliver", *args, stdin=make_message())

        assert result.returncode == 75, args
        [line] = result.stderr.splitlines()
        assert line.startswith("sealbox deliver: 4.3.0 bad command line: ")
    assert not Message.objects.exists()


@pytest.mark.parametrize("form", ["--from", "--from="])
def test_a_sender_and_a_recipient_starting_with_a_dash_are_addresses(
    settings: Any, form: str
) -> None:
    data = make_message(to="-dave@example.com")
    if form == "--from":
        args = ["--from", "-carol@corp.example", "-dave@example.com", DAVE]
    else:
        args = ["--from=-carol@corp.example", "--", "-dave@example.com", DAVE]
    result = sealbox(settings, "deliver", *args, stdin=data)

    assert result.returncode == 0, result.stderr
    for rcpt in ("-dave@example.com", DAVE):
        [message] = messages_for(rcpt)
        assert message.envelope_from == "-carol@corp.example"
        assert client_bytes(message) == data


def test_a_misconfigured_smtp_certificate_does_not_stop_pipe_delivery(settings: Any) -> None:
    data = make_message(to=DAVE)
    result = deliver(settings, data, DAVE, SEALBOX_SMTP_TLS_CERT=str(settings.DATA_DIR / "none"))

    assert result.returncode == 0, result.stderr
    assert [client_bytes(m) for m in messages_for(DAVE)] == [data]


def test_mailbox_list_shows_one_line_per_message_with_its_message_id(settings: Any) -> None:
    first = make_message(subject="one", to=DAVE)
    second = make_message(subject="two", to=DAVE)
    for data in (first, second):
        assert deliver(settings, data, DAVE).returncode == 0

    result = sealbox(settings, "mailbox", "list", "Dave@Example.com")

    assert result.returncode == 0, result.stderr
    header, *lines = result.stdout.splitlines()
    assert header == f"{DAVE} (not activated yet): 2 message(s)"
    stored = messages_for(DAVE)
    assert len(lines) == 2
    for line, message in zip(lines, stored, strict=True):
        assert line.startswith(str(message.id))
        assert line.endswith(message.message_id)
        assert message.message_id.startswith("<") and message.message_id.endswith("@corp.example>")
        assert f" {message.size} " in line


def test_mailbox_list_says_so_for_an_unknown_address(settings: Any) -> None:
    result = sealbox(settings, "mailbox", "list", "nobody@example.com")

    assert result.returncode != 0
    assert "no mailbox for nobody@example.com" in result.stderr
    assert "Traceback" not in result.stderr

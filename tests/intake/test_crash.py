from __future__ import annotations

import random
import signal
import smtplib
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from sealbox.mailstore import blobs
from sealbox.mailstore.models import Message
from tests.conftest import CAROL, SEALBOX, free_port, process_env
from tests.intake.stored import files_under, split_trace

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

CLIENTS = 6
RUN_BEFORE_KILL = 1.5
RECIPIENTS = ["r0@example.com", "r1@example.com", "r2@example.org"]


@dataclass
class Smtpd:
    process: subprocess.Popen[bytes]
    port: int
    log: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace")


@pytest.fixture
def start_smtpd(settings: Any, tmp_path: Path) -> Iterator[Any]:
    """Start `sealbox smtpd` as its own process on this test's database and data."""
    started: list[Smtpd] = []

    def start(port: int) -> Smtpd:
        log = tmp_path / f"smtpd-{len(started)}.log"
        with log.open("wb") as out:
            process = subprocess.Popen(
                [*SEALBOX, "smtpd", "--listen", f"127.0.0.1:{port}"],
                env=process_env(settings.DATA_DIR),
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        smtpd = Smtpd(process, port, log)
        started.append(smtpd)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            assert process.poll() is None, f"smtpd exited:\n{smtpd.output()}"
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    return smtpd
            except OSError:
                time.sleep(0.05)
        raise AssertionError(f"smtpd did not start listening:\n{smtpd.output()}")

    yield start
    for smtpd in started:
        if smtpd.process.poll() is None:
            smtpd.process.kill()
            smtpd.process.wait(10)


@dataclass
class Sent:
    rcpts: list[str]
    data: bytes


@dataclass
class Ledger:
    """What the clients sent, and what the server answered."""

    messages: dict[str, Sent] = field(default_factory=dict)
    fully_sent: set[str] = field(default_factory=set)
    acknowledged: set[str] = field(default_factory=set)
    refused: set[str] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)


def make_crash_message(client: int, n: int, rng: random.Random) -> tuple[str, bytes]:
    message_id = f"<crash-{client}-{n}-{rng.getrandbits(64):x}@corp.example>"
    head = (
        f"From: Carol <{CAROL}>\r\nSubject: crash test {client}/{n}\r\n"
        f"Message-ID: {message_id}\r\nContent-Type: text/plain\r\n\r\n"
    ).encode()
    # Sizes from a few lines to a few hundred kilobytes, so that the kill
    # finds messages at every stage: on the wire, being written, committed.
    lines = rng.choice([3, 40, 400, 4000])
    body = b"".join(
        f"{client}:{n}:{i}:{rng.getrandbits(200):050x}\r\n".encode() for i in range(lines)
    )
    return message_id, head + body


def client_loop(client: int, port: int, ledger: Ledger, stop: threading.Event) -> None:
    rng = random.Random(client)
    try:
        with smtplib.SMTP("127.0.0.1", port, timeout=10) as smtp:
            smtp.ehlo("gateway.corp.example")
            n = 0
            while not stop.is_set():
                n += 1
                message_id, data = make_crash_message(client, n, rng)
                rcpts = rng.sample(RECIPIENTS, rng.choice([1, 1, 2]))
                with ledger.lock:
                    ledger.messages[message_id] = Sent(rcpts, data)
                assert smtp.mail(CAROL)[0] == 250
                for rcpt in rcpts:
                    assert smtp.rcpt(rcpt)[0] == 250
                smtp.putcmd("data")
                assert smtp.getreply()[0] == 354
                smtp.send(data + b".\r\n")  # no line starts with a dot: nothing to escape
                with ledger.lock:
                    ledger.fully_sent.add(message_id)
                code, _ = smtp.getreply()
                with ledger.lock:
                    (ledger.acknowledged if code == 250 else ledger.refused).add(message_id)
    except (OSError, smtplib.SMTPException):
        if not stop.is_set():
            raise


def send_one(port: int, rcpt: str, data: bytes) -> int:
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as smtp:
        smtp.ehlo("gateway.corp.example")
        smtp.mail(CAROL)
        smtp.rcpt(rcpt)
        return smtp.data(data)[0]


def test_a_killed_smtpd_loses_no_acknowledged_message(settings: Any, start_smtpd: Any) -> None:
    port = free_port()
    first = start_smtpd(port)
    ledger, stop = Ledger(), threading.Event()
    errors: list[BaseException] = []

    def run(client: int) -> None:
        try:
            client_loop(client, port, ledger, stop)
        except BaseException as e:
            errors.append(e)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(CLIENTS)]
    for t in threads:
        t.start()
    time.sleep(RUN_BEFORE_KILL)
    stop.set()
    first.process.send_signal(signal.SIGKILL)
    first.process.wait(10)
    for t in threads:
        t.join(15)
    assert not errors, f"a client failed before the kill: {errors[0]!r}\n{first.output()}"

    # What a write cut short by the kill leaves behind, should the kill not have made one.
    leftover = (
        Path(settings.DATA_DIR) / blobs.TMP / f"{socket.gethostname()}~{first.process.pid}~x.tmp"
    )
    leftover.parent.mkdir(exist_ok=True)
    leftover.write_bytes(b"Subject: half a message\r\n")

    second = start_smtpd(port)

    assert len(ledger.acknowledged) >= 10, "too little traffic to test anything"
    assert not ledger.refused, f"refused while running:\n{first.output()}"
    assert files_under(blobs.TMP) == []
    copies: dict[str, set[str]] = {}
    for message in Message.objects.select_related("owner"):
        sent = ledger.messages.get(message.message_id)
        assert sent is not None, f"stored a message no client sent: {message.message_id}"
        assert message.message_id in ledger.fully_sent, "stored a message not fully sent"
        assert message.message_id not in ledger.refused, "stored a message it refused"
        stored = blobs.read(message.blob)
        assert message.size == len(stored)
        trace, rest = split_trace(stored)
        assert rest == sent.data
        assert f"for <{message.owner.email}>".encode() in trace
        copies.setdefault(message.message_id, set()).add(message.owner.email)
    for message_id in ledger.acknowledged:
        assert copies.get(message_id) == set(ledger.messages[message_id].rcpts), (
            f"acknowledged {message_id} is missing"
        )
    for message_id, owners in copies.items():
        assert owners == set(ledger.messages[message_id].rcpts), "half a delivery is visible"

    after = b"Subject: after the restart\r\n\r\nstill here\r\n"
    assert send_one(port, "r0@example.com", after) == 250
    assert Message.objects.filter(subject="after the restart").count() == 1

    second.process.terminate()
    assert second.process.wait(15) == 0, second.output()

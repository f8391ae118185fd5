"""Shared fixtures: named people, a live SMTP intake, a real relay sink on loopback."""

from __future__ import annotations

import asyncio
import os
import socket
import sys
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import Envelope, Session
from django.conf import settings as django_settings
from django.db import connection

from sealbox.accounts.models import User

INTERNAL = "corp.example"
CAROL = f"carol@{INTERNAL}"

# The private umask every Sealbox process sets (sealbox/cli.py, sealbox/wsgi.py).
os.umask(0o077)
# What `sealbox migrate` generates into the data directory (importing the settings writes nothing).
django_settings.SECRET_KEY = "test-secret-key-for-this-process-only"


@pytest.fixture(autouse=True, scope="session")
def short_lived_connections() -> None:
    """Threads and processes started by tests must not hold the test database open."""
    from django.db import connections

    connections.settings["default"]["CONN_MAX_AGE"] = 0


@pytest.fixture(autouse=True)
def sealbox_settings(settings: Any, tmp_path: Path) -> Any:
    """Each test gets its own data directory and the organisation's domain."""
    settings.DATA_DIR = tmp_path / "data"
    settings.DATA_DIR.mkdir()
    settings.OUTBOX_DIR = settings.DATA_DIR / "outbox"
    settings.INTERNAL_DOMAINS = [INTERNAL]
    settings.RELAY_URL = None
    settings.BASE_URL = "http://portal.test"
    settings.NOTIFY_FROM = "Sealbox <secure@corp.example>"
    settings.SITE_NAME = "Sealbox"
    settings.PORTAL_ADDRESS = "secure@corp.example"
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    return settings


@pytest.fixture
def alice(db: Any) -> User:
    """A recipient who has activated her mailbox (and so has her personal phrase)."""
    return User.objects.create_user(
        "alice@example.net", "correct horse battery staple", phrase="amber otter lantern"
    )


@pytest.fixture
def bob(db: Any) -> User:
    """Another recipient, who has activated his mailbox (and has his personal phrase)."""
    return User.objects.create_user(
        "bob@example.org", "another long passphrase here", phrase="maple kettle harbor"
    )


@pytest.fixture
def reader(client: Any, alice: User) -> Any:
    """Alice, signed in to the portal (Django's test client)."""
    client.force_login(alice)
    return client


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class LiveSMTP:
    host: str
    port: int


@pytest.fixture
def live_smtp(transactional_db: Any, settings: Any) -> Iterator[LiveSMTP]:
    """Sealbox's own SMTP intake, listening on a real loopback socket."""
    from sealbox.intake.smtpd import start_server

    port = free_port()
    loop = asyncio.new_event_loop()
    executor = ThreadPoolExecutor(max_workers=4)
    ready = threading.Event()
    holder: dict[str, Any] = {}

    def run() -> None:
        asyncio.set_event_loop(loop)
        holder["server"] = loop.run_until_complete(start_server("127.0.0.1", port, executor))
        ready.set()
        loop.run_forever()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    assert ready.wait(10), "SMTP intake did not start"
    yield LiveSMTP("127.0.0.1", port)
    # The server belongs to the loop's thread: close and stop it there.
    loop.call_soon_threadsafe(holder["server"].close)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(10)
    executor.shutdown(wait=True)


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    data: bytes


@dataclass
class SinkHandler:
    """A relay that keeps what it receives, or answers with a chosen error."""

    received: list[Received] = field(default_factory=list)
    reply: str | None = None  # e.g. "451 4.3.0 Try later" or "550 5.1.1 No such user"
    got_one: threading.Event = field(default_factory=threading.Event)

    async def handle_DATA(self, server: Any, session: Session, envelope: Envelope) -> str:
        if self.reply:
            return self.reply
        self.received.append(
            Received(
                envelope.mail_from or "", list(envelope.rcpt_tos), envelope.original_content or b""
            )
        )
        self.got_one.set()
        return "250 2.0.0 Queued"


@dataclass
class RelaySink:
    handler: SinkHandler
    port: int

    @property
    def received(self) -> list[Received]:
        return self.handler.received


@pytest.fixture
def relay_sink(settings: Any) -> Iterator[RelaySink]:
    """A real SMTP server on loopback standing in for the organisation's relay."""
    handler = SinkHandler()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port, enable_SMTPUTF8=True)
    controller.start()
    settings.RELAY_URL = f"smtp://127.0.0.1:{port}"
    settings.RELAY_TIMEOUT = 10
    yield RelaySink(handler, port)
    controller.stop()


def database_url() -> str:
    """The URL of the test database, for Sealbox processes started by a test."""
    db = connection.settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{db['NAME']}"
    user = db.get("USER") or "postgres"
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    return f"postgres://{user}{password}@{db.get('HOST') or '127.0.0.1'}:{db.get('PORT') or 5432}/{db['NAME']}"


def process_env(data_dir: Path, **extra: str) -> dict[str, str]:
    """Environment for a `sealbox` subprocess sharing this test's database and data."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SEALBOX_")}
    env.update(
        SEALBOX_DATA_DIR=str(data_dir),
        SEALBOX_DATABASE_URL=database_url(),
        SEALBOX_INTERNAL_DOMAINS=INTERNAL,
        SEALBOX_BASE_URL="http://portal.test",
        SEALBOX_SECRET_KEY="test-secret-key-for-subprocesses-only",
        PYTHONUNBUFFERED="1",
    )
    env.update(extra)
    return env


SEALBOX = [sys.executable, "-m", "sealbox.cli"]

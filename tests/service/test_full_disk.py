"""A full data directory, with the portal running for real: recipients still get in.

`sealbox web` (gunicorn) runs on a data directory on a small tmpfs, with its
own SQLite database there (the default), and the test fills the file system
until a write fails with ENOSPC. Then a recipient signs in, opens an unread
message, deletes it, over HTTP as a browser would.
"""

from __future__ import annotations

import http.cookiejar
import re
import sqlite3
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from sealbox import diskspace
from tests.conftest import CAROL, SEALBOX, free_port, process_env
from tests.mail import make_message
from tests.service.fulldisk import MIB, fill, free

pytestmark = pytest.mark.slow

ALICE = "alice@example.net"
PASSWORD = "correct horse battery staple"


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


@dataclass
class Browser:
    """Cookies, CSRF and no automatic redirects: what a test needs to see each answer."""

    port: int
    jar: http.cookiejar.CookieJar = field(default_factory=http.cookiejar.CookieJar)

    def __post_init__(self) -> None:
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(self.jar), NoRedirect
        )
        self.csrf = ""
        self.base = f"http://127.0.0.1:{self.port}"

    def request(self, path: str, form: dict[str, str] | None = None) -> tuple[int, str, str]:
        """(status, Location, body) of one GET, or a POST of form with the page's CSRF token."""
        data = None
        headers = {}
        if form is not None:
            data = urllib.parse.urlencode({**form, "csrfmiddlewaretoken": self.csrf}).encode()
            headers = {"Origin": self.base, "Referer": self.base + path}
        req = urllib.request.Request(f"http://127.0.0.1:{self.port}{path}", data, headers)
        try:
            with self.opener.open(req, timeout=30) as response:
                status, location, body = response.status, response.headers, response.read()
        except urllib.error.HTTPError as e:
            status, location, body = e.code, e.headers, e.read()
        text = body.decode("utf-8", "replace")
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', text)
        if token:
            self.csrf = token.group(1)
        return status, location.get("Location", ""), text


@dataclass
class Portal:
    data: Path
    disk: Path
    env: dict[str, str]
    browser: Browser

    def run(self, *args: str, stdin: bytes = b"") -> subprocess.CompletedProcess[bytes]:
        return subprocess.run(
            [*SEALBOX, *args], input=stdin, env=self.env, capture_output=True, timeout=120
        )

    def query(self, sql: str, *params: Any) -> list[tuple[Any, ...]]:
        """Read the portal's own database, as an operator would."""
        # Closed at once: an open connection would keep SQLite's -wal and -shm files.
        with closing(sqlite3.connect(self.data / "sealbox.sqlite3", timeout=30)) as db:
            return db.execute(sql, params).fetchall()

    def message_ids(self) -> list[str]:
        """Ids of the stored messages, by subject."""
        rows = self.query("SELECT id FROM mailstore_message ORDER BY subject")
        return [row[0] for row in rows]


def healthz(port: int) -> bytes:
    """/healthz's answer when it is 200; HTTPError otherwise."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=10) as response:
        return bytes(response.read())


def wait_for_health(port: int, proc: subprocess.Popen[bytes]) -> bytes:
    deadline = time.monotonic() + 60
    while True:
        assert proc.poll() is None, "sealbox web ended"
        try:
            return healthz(port)
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.3)


@pytest.fixture
def portal(small_disk: Path) -> Iterator[Portal]:
    """`sealbox web` on a data directory on the small disk, SQLite in it; two unread messages."""
    data = small_disk / "data"
    env = process_env(data, SEALBOX_MIN_FREE_MB="4", SEALBOX_WEB_WORKERS="1")
    del env["SEALBOX_DATABASE_URL"]  # the default: SQLite in the data directory, WAL mode
    port = free_port()
    portal = Portal(data, small_disk, env, Browser(port))
    assert portal.run("migrate", "--verbosity", "0").returncode == 0
    for subject in ("Contract draft", "Second thoughts"):
        body = f"The {subject.lower()} is attached.\n" + "filler line\n" * 90_000  # 1 MiB
        message = make_message(subject=subject, body=body, to=ALICE)
        delivered = portal.run("deliver", "--from", CAROL, ALICE, stdin=message)
        assert delivered.returncode == 0, delivered.stderr
    password = portal.run(
        "shell",
        "-c",
        "from sealbox.accounts.models import User; "
        f"u = User.objects.get(email={ALICE!r}); u.set_password({PASSWORD!r}); u.save()",
    )
    assert password.returncode == 0, password.stderr
    proc = subprocess.Popen(
        [*SEALBOX, "web", "--listen", f"127.0.0.1:{port}"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        # Healthy with room: this also makes the reserve.
        assert wait_for_health(port, proc) == b"ok\n"
        assert (data / "reserve").stat().st_size == 8 * MIB
        yield portal
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()


@contextmanager
def held_open(portal: Portal) -> Iterator[None]:
    """Another process (a worker, the intake) has the database open meanwhile."""
    held = sqlite3.connect(portal.data / "sealbox.sqlite3")
    held.execute("SELECT count(*) FROM django_session").fetchall()
    try:
        yield
    finally:
        held.close()


@pytest.fixture(params=["idle", "in use"])
def database(request: pytest.FixtureRequest, portal: Portal) -> Iterator[None]:
    """Idle: no process has the database open, so SQLite must create its -wal and
    -shm files again at the next request. In use: another process holds it open,
    and the first thing to fail is a write."""
    if request.param == "idle":
        yield
        return
    with held_open(portal):
        yield


def sign_in(browser: Browser) -> tuple[int, str, str]:
    status, _, page = browser.request("/signin/")
    assert status == 200, page[:300]
    return browser.request("/signin/", {"username": ALICE, "password": PASSWORD})


def test_on_a_full_disk_recipients_sign_in_read_and_delete(portal: Portal, database: None) -> None:
    first, second = portal.message_ids()
    fill(portal.disk)
    browser = portal.browser

    status, location, page = sign_in(browser)
    assert (status, location) == (302, "/inbox/"), page[:500]
    status, _, page = browser.request("/inbox/")
    assert status == 200
    assert "Contract draft" in page and "Second thoughts" in page

    [(blob,)] = portal.query("SELECT blob FROM mailstore_message WHERE id = ?", first)
    status, _, page = browser.request(f"/m/{uuid.UUID(first)}/")
    assert status == 200, page[:500]
    assert "The contract draft is attached." in page

    blob_size = (portal.data / blob).stat().st_size
    before = free(portal.disk)
    status, location, page = browser.request(f"/m/{uuid.UUID(first)}/delete/", {})
    assert (status, location) == (302, "/inbox/"), page[:500]
    # The message's file went with it, at once: its space is free again.
    assert not (portal.data / blob).exists()
    # (less the few pages the database's journal took for the deletion).
    assert free(portal.disk) - before >= blob_size - 128 * 1024
    assert portal.message_ids() == [second]
    status, _, page = browser.request("/inbox/")
    assert status == 200
    assert "Message deleted." in page
    assert "Contract draft" not in page and "Second thoughts" in page

    # Mail keeps being refused, and /healthz says why.
    refused = portal.run("deliver", "--from", CAROL, ALICE, stdin=make_message(to=ALICE))
    assert refused.returncode == 75
    assert b"4.3.1 Insufficient system storage" in refused.stderr
    assert portal.message_ids() == [second]
    with pytest.raises(urllib.error.HTTPError) as health:
        healthz(browser.port)
    assert health.value.code == 503
    assert b"low disk space" in health.value.read()
    assert list((portal.data / "tmp").glob(".healthz-*")) == []


def read_at(portal: Portal, message_id: str) -> str | None:
    [(when,)] = portal.query("SELECT read_at FROM mailstore_message WHERE id = ?", message_id)
    return str(when) if when else None


def test_what_cannot_be_recorded_waits_and_deleting_makes_room(portal: Portal) -> None:
    first, second = portal.message_ids()
    browser = portal.browser
    with held_open(portal):
        assert sign_in(browser)[:2] == (302, "/inbox/")
        assert browser.request("/inbox/")[0] == 200
        fill(portal.disk)

        # Opening an unread message: shown, but not marked read (no room to say so),
        # and the reserve is kept for what matters.
        status, _, page = browser.request(f"/m/{uuid.UUID(first)}/")
        assert status == 200, page[:500]
        assert "The contract draft is attached." in page
        assert read_at(portal, first) is None
        assert (portal.data / "reserve").exists()

        # Deleting is the first write that must happen: the reserve makes room for it.
        [(blob,)] = portal.query("SELECT blob FROM mailstore_message WHERE id = ?", first)
        blob_size = (portal.data / blob).stat().st_size
        before = free(portal.disk)
        status, location, page = browser.request(f"/m/{uuid.UUID(first)}/delete/", {})
        assert (status, location) == (302, "/inbox/"), page[:500]
        assert not (portal.data / "reserve").exists()
        assert not (portal.data / blob).exists()
        assert free(portal.disk) - before >= diskspace.RESERVE_BYTES + blob_size - 128 * 1024
        assert portal.message_ids() == [second]

        # With room again, the next message opened is marked read as usual.
        status, _, page = browser.request(f"/m/{uuid.UUID(second)}/")
        assert status == 200 and "The second thoughts is attached." in page
        assert read_at(portal, second) is not None

        # Full again with the reserve used up: what must be written cannot be.
        # Deleting answers that storage is full and changes nothing.
        fill(portal.disk)
        [(blob,)] = portal.query("SELECT blob FROM mailstore_message WHERE id = ?", second)
        status, _, page = browser.request(f"/m/{uuid.UUID(second)}/delete/", {})
        assert status == 503
        assert "The service has run out of storage space" in page
        assert portal.message_ids() == [second]
        assert (portal.data / blob).exists()
        assert browser.request("/inbox/")[0] == 200

        # Full again (a new reserve): signing out still ends the session.
        full_again(portal)
        assert browser.request("/signout/", {})[:2] == (302, "/signin/")
        assert not (portal.data / "reserve").exists()
        assert portal.query("SELECT count(*) FROM django_session") == [(0,)]
        assert browser.request("/inbox/")[:2] == (302, "/signin/?next=/inbox/")


def full_again(portal: Portal) -> None:
    """Room made, the reserve made again (as /healthz does), then the disk filled once more."""
    (portal.disk / "filler").unlink()
    assert healthz(portal.browser.port) == b"ok\n"
    assert (portal.data / "reserve").exists()
    fill(portal.disk)


def test_a_signed_in_recipient_reads_on_when_sqlite_must_open_the_database_again(
    portal: Portal,
) -> None:
    first, _ = portal.message_ids()
    browser = portal.browser
    assert sign_in(browser)[:2] == (302, "/inbox/")
    # Nobody has the database open now: SQLite has removed its -wal and -shm
    # files, and must make them again for the next page.
    deadline = time.monotonic() + 20  # the last request's connection closes after its answer
    while (portal.data / "sealbox.sqlite3-shm").exists():
        assert time.monotonic() < deadline, "the portal keeps the database open"
        time.sleep(0.1)
    fill(portal.disk)

    status, _, page = browser.request("/inbox/")
    assert status == 200, page[:500]
    assert "Contract draft" in page
    status, _, page = browser.request(f"/m/{uuid.UUID(first)}/")
    assert status == 200, page[:500]
    assert "The contract draft is attached." in page

"""Browser fixtures: Debian's Chromium driven by Playwright, the portal on a live server.

One browser serves every browser test (it starts with the first and closes after
the last); each test gets a fresh context at each viewport. The portal runs on
pytest-django's live_server, sharing the test database. "Remote" content comes
from a second server on 127.0.0.1 that records every request; Chromium cannot
resolve any other host name, and every request the browser makes is checked to
have stayed on loopback.

Screenshots go to $SEALBOX_SCREENSHOTS when set, else to pytest's temporary directory.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.conf import settings
from playwright.sync_api import Browser, Frame, Page, expect, sync_playwright

from sealbox.accounts.models import User
from sealbox.outbound import notify, queue
from tests.browser.content import png

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    # No name resolves except localhost: nothing can leave the machine by name.
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1",
]
LOOPBACK = {"localhost", "127.0.0.1", "[::1]", "::1"}
TIMEOUT_MS = 10_000

VIEWPORTS: dict[str, dict[str, Any]] = {
    "desktop": {"viewport": {"width": 1280, "height": 800}},
    "phone": {
        "viewport": {"width": 390, "height": 844},
        "device_scale_factor": 2,
        "is_mobile": True,
        "has_touch": True,
    },
}


@pytest.fixture(scope="package")
def browser() -> Iterator[Browser]:
    # Playwright's sync API keeps its event loop marked as running in this
    # thread, which trips Django's async-safety check for every ORM call the
    # tests make. Nothing async touches the ORM here, so the check is lifted
    # for exactly as long as Playwright runs.
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        with sync_playwright() as p:
            chromium = p.chromium.launch(
                executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
            )
            yield chromium
            chromium.close()


@pytest.fixture(scope="session")
def screenshot_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    chosen = os.environ.get("SEALBOX_SCREENSHOTS")
    if chosen:
        path = Path(chosen)
        path.mkdir(parents=True, exist_ok=True)
        return path
    return tmp_path_factory.mktemp("screenshots")


@dataclass
class RemoteRequest:
    method: str
    path: str
    headers: dict[str, str]


@dataclass
class RemoteServer:
    """A stand-in for the internet: anything a message loads from elsewhere lands here."""

    base: str
    requests: list[RemoteRequest] = field(default_factory=list)

    def url(self, path: str) -> str:
        return self.base + path

    @property
    def paths(self) -> list[str]:
        return [r.path for r in list(self.requests)]


@pytest.fixture
def remote() -> Iterator[RemoteServer]:
    image = png(2, 2)
    lock = threading.Lock()
    seen: list[RemoteRequest] = []

    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            with lock:
                seen.append(RemoteRequest(self.command, self.path, dict(self.headers.items())))
            length = int(self.headers.get("Content-Length") or 0)
            if length:
                self.rfile.read(length)
            body, ctype = (image, "image/png") if ".png" in self.path else (b"ok", "text/plain")
            self.send_response(200)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        do_GET = do_POST = do_HEAD = do_PUT = do_OPTIONS = _answer

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield RemoteServer(f"http://127.0.0.1:{server.server_address[1]}", seen)
    server.shutdown()
    server.server_close()
    thread.join(5)


@dataclass
class Portal:
    url: str

    def link(self, path: str) -> str:
        return self.url + path


@pytest.fixture
def portal(live_server: Any, settings: Any) -> Portal:
    """The portal on a live server; links in notifications point at it."""
    settings.BASE_URL = live_server.url
    return Portal(live_server.url)


@pytest.fixture(params=list(VIEWPORTS), ids=list(VIEWPORTS))
def viewport(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@dataclass
class Watch:
    """What happened in the browser that a reader would not want to happen."""

    dialogs: list[str] = field(default_factory=list)
    popups: list[str] = field(default_factory=list)
    console: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    accept_dialogs: bool = False

    def off_loopback(self) -> list[str]:
        return [
            url
            for url in self.requests
            if urlsplit(url).scheme in ("http", "https", "ws", "wss")
            and urlsplit(url).hostname not in LOOPBACK
        ]


@pytest.fixture
def watch() -> Watch:
    return Watch()


@pytest.fixture
def page(browser: Browser, viewport: str, portal: Portal, watch: Watch) -> Iterator[Page]:
    context = browser.new_context(
        **VIEWPORTS[viewport],
        base_url=portal.url,
        locale="en-GB",
        timezone_id="Europe/Berlin",
        accept_downloads=True,
    )
    context.set_default_timeout(TIMEOUT_MS)
    context.on("request", lambda r: watch.requests.append(r.url))
    page = context.new_page()

    def on_dialog(dialog: Any) -> None:
        watch.dialogs.append(f"{dialog.type}: {dialog.message}")
        if watch.accept_dialogs:
            dialog.accept()
        else:
            dialog.dismiss()

    page.on("dialog", on_dialog)
    page.on(
        "console", lambda m: watch.console.append(f"{m.type}: {m.text} ({m.location.get('url')})")
    )
    page.on("popup", lambda p: watch.popups.append(p.url))
    yield page
    context.close()
    assert watch.off_loopback() == [], "the browser asked for something beyond loopback"


@pytest.fixture
def shoot(
    page: Page, viewport: str, request: pytest.FixtureRequest, screenshot_dir: Path
) -> Callable[..., None]:
    """Save a full-page screenshot, in light and in dark mode."""
    test = request.node.originalname.removeprefix("test_")

    def shoot(name: str, dark: bool = True) -> None:
        stem = screenshot_dir / f"{test}-{viewport}-{name}"
        page.screenshot(path=f"{stem}.png", full_page=True)
        if dark:
            page.emulate_media(color_scheme="dark")
            page.screenshot(path=f"{stem}-dark.png", full_page=True)
            page.emulate_media(color_scheme="light")

    return shoot


def run_worker() -> None:
    """One pass of `sealbox worker`: notifications are queued, then sent (to the outbox)."""
    notify.send_due()
    queue.process_due()


def outbox() -> list[EmailMessage]:
    return [
        message_from_bytes(path.read_bytes(), _class=EmailMessage, policy=policy.default)
        for path in sorted(Path(settings.OUTBOX_DIR).glob("*.eml"))
    ]


def activation_link(mail: EmailMessage) -> str:
    body = mail.get_body(("plain",))
    assert body is not None
    found = re.findall(re.escape(settings.BASE_URL) + r"/activate/\S+", body.get_content())
    assert len(found) == 1, body.get_content()
    return str(found[0])


def message_frame(page: Page) -> Frame:
    """The message page's sandboxed frame, loaded."""
    handle = page.locator("iframe.message-frame").element_handle()
    frame = handle.content_frame()
    assert frame is not None
    frame.wait_for_load_state()
    return frame


def sign_in(page: Page, email: str, password: str) -> None:
    page.goto("/signin/")
    page.get_by_label("Email address").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in", exact=True).click()
    page.wait_for_url("**/inbox/")


def continue_past_phrase(page: Page, user: User, then: str) -> None:
    """The page shown once after activation (or an old account's first sign-in since
    phrases exist): the recipient's new personal phrase, then Continue to `then`."""
    expect(page).to_have_url(re.compile(r"/phrase/$"))
    user.refresh_from_db()
    assert user.phrase
    shown = page.get_by_role("region", name="Remember your personal phrase")
    expect(shown.get_by_role("term")).to_have_text("Your personal phrase")
    expect(shown.get_by_role("definition")).to_have_text(user.phrase)
    shown.get_by_role("link", name="Continue").click()
    page.wait_for_url(then)

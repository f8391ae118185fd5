"""A remote image that redirects to the portal: the frame shares the portal's origin,
so the redirected request would carry the reader's session. The portal refuses it
by its Fetch Metadata (sealbox/web/fetchmeta.py): the message it points at
stays unread and no read receipt goes out.

The "remote" host is 127.0.0.1 and the portal is localhost: two sites, as an
attacker's host and the portal are. (Two ports of one host are one site.)
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Page, Response, expect

from sealbox.accounts.models import User
from sealbox.intake.delivery import deliver
from sealbox.outbound.models import OutgoingEmail
from tests.browser.conftest import Portal, message_frame, sign_in
from tests.browser.content import html_message
from tests.conftest import CAROL
from tests.portal.writing import original_mail

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "correct horse battery staple"  # alice's, from tests/conftest.py


class Redirector:
    """An attacker's host that answers every request with a redirect to `target`."""

    def __init__(self) -> None:
        self.target = ""
        self.hits: list[str] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                owner.hits.append(self.path)
                self.send_response(302)
                self.send_header("Location", owner.target)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}{path}"


@pytest.fixture
def redirector() -> Iterator[Redirector]:
    found = Redirector()
    thread = threading.Thread(target=found.server.serve_forever, daemon=True)
    thread.start()
    yield found
    found.server.shutdown()
    found.server.server_close()
    thread.join(5)


@pytest.mark.parametrize("viewport", ["desktop"], indirect=True)
def test_an_image_redirected_to_the_portal_is_refused(
    page: Page, portal: Portal, alice: User, redirector: Redirector, settings: Any
) -> None:
    assert urlsplit(portal.url).hostname == "localhost"  # another site than 127.0.0.1
    settings.READ_RECEIPTS = "requested"
    [victim] = deliver(
        CAROL,
        [alice.email],
        original_mail(subject="Figures", disposition_notification_to=f"Carol <{CAROL}>"),
    )
    redirector.target = portal.link(f"/m/{victim.id}/")
    html = f'<p>Hello</p><img alt="pixel" src="{redirector.url("/x.png")}">'
    [evil] = deliver(CAROL, [alice.email], html_message(alice.email, "Pictures", html))
    sign_in(page, alice.email, PASSWORD)

    answers: list[Response] = []
    page.on("response", lambda r: answers.append(r) if f"/m/{victim.id}/" in r.url else None)
    page.goto(f"/m/{evil.id}/?remote=1")
    expect(message_frame(page).get_by_text("Hello")).to_be_visible()
    page.wait_for_load_state("networkidle")

    assert redirector.hits == ["/x.png"]  # the image was asked for, and redirected
    [answer] = answers
    sent = answer.request.all_headers()
    assert (sent["sec-fetch-site"], sent["sec-fetch-dest"]) == ("cross-site", "image")
    assert answer.status == 403
    victim.refresh_from_db()
    assert victim.read_at is None
    assert victim.receipt_sent_at is None
    assert not OutgoingEmail.objects.filter(kind="receipt").exists()

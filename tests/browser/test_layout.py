"""The inbox and message pages fit a phone's screen and work from the keyboard."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from playwright.sync_api import Page, expect

from sealbox.accounts.models import User
from sealbox.intake.delivery import deliver
from tests.browser.conftest import Portal, message_frame, sign_in
from tests.browser.content import html_message, pdf
from tests.conftest import CAROL
from tests.mail import make_message

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "correct horse battery staple"  # alice's, from tests/conftest.py
LONG_WORD = "Donaudampfschifffahrtsgesellschaftskapitänskajütenschlüssel" * 2
LONG_SUBJECT = f"Re: Fwd: {LONG_WORD} — contract amendments for the 2027 budget review"
LONG_SENDER = (
    "Maximiliane Josephine Wolfeschlegelsteinhausenbergerdorff "
    "<maximiliane.wolfeschlegelsteinhausenbergerdorff@procurement.corp.example>"
)
LONG_URL = "https://corp.example/" + "/".join(["a-very-long-path-segment"] * 8) + "?x=1"
WIDE_HTML = """<table width="1100" style="width:1100px"><tr>
<td>Column one with some text</td><td>Column two with more text</td>
<td>Column three</td><td>Column four</td></tr></table>
<p>Below the wide table: a paragraph of ordinary text that should wrap.</p>"""

NO_SIDEWAYS_SCROLL = "() => document.documentElement.scrollWidth <= screen.width"
ACTIVE = """() => {
  const el = document.activeElement;
  return {href: el.getAttribute("href"), text: el.textContent.trim().slice(0, 40),
          outline: getComputedStyle(el).outlineStyle};
}"""


def assert_fits(page: Page, what: str) -> None:
    sizes = page.evaluate("() => [document.documentElement.scrollWidth, screen.width]")
    assert page.evaluate(NO_SIDEWAYS_SCROLL), f"{what} scrolls sideways: {sizes}"


def test_inbox_and_messages_fit_the_screen_and_the_keyboard(
    page: Page, portal: Portal, alice: User, shoot: Callable[..., None]
) -> None:
    to = alice.email
    deliver(CAROL, [to], make_message(subject="Quarterly figures", to=to))
    [wide] = deliver(CAROL, [to], html_message(to, "A wide newsletter table", WIDE_HTML))
    [text] = deliver(
        CAROL,
        [to],
        make_message(
            subject=LONG_SUBJECT,
            sender=LONG_SENDER,
            to=to,
            body=f"Please see {LONG_URL} and the file.\n\n{LONG_WORD}\n",
            attachments=[(f"{LONG_WORD}.pdf", "application/pdf", pdf())],
        ),
    )
    [unicode] = deliver(
        CAROL,
        [to],
        make_message(subject="تقرير الربع الثالث — 第3四半期の報告 — Отчёт", to=to),
    )
    sign_in(page, to, PASSWORD)
    expect(page.locator("ul.messages li")).to_have_count(4)
    assert_fits(page, "the inbox")
    shoot("inbox")

    # Keyboard: Tab from the top of the page reaches the newest message's link,
    # shows where the focus is, and Enter opens the message.
    page.goto("/inbox/")
    first = page.locator("ul.messages li a").first
    newest = first.get_attribute("href")
    assert newest == f"/m/{unicode.id}/"
    visited = []
    for _ in range(20):
        page.keyboard.press("Tab")
        now = page.evaluate(ACTIVE)
        visited.append(now["text"] or now["href"])
        if now["href"] == newest:
            break
    else:
        pytest.fail(f"Tab never reached the first message; it went {visited}")
    assert now["outline"] != "none", "the focused message link shows no focus ring"
    shoot("inbox-focus", dark=False)
    page.keyboard.press("Enter")
    expect(page).to_have_url(portal.link(newest))

    # Message pages: long words, addresses, links and names wrap; a wide table
    # scrolls inside the message frame, not the page.
    page.goto(f"/m/{text.id}/")
    expect(page.get_by_role("heading", level=1)).to_have_text(LONG_SUBJECT)
    expect(page.get_by_role("link", name=LONG_URL)).to_be_visible()
    assert_fits(page, "a plain text message")
    shoot("message-text")

    page.goto(f"/m/{wide.id}/")
    frame = message_frame(page)
    expect(
        page.frame_locator("iframe.message-frame").get_by_text("Below the wide table")
    ).to_be_visible()
    assert frame.evaluate("document.body.innerText").count("Column") == 4
    assert_fits(page, "an HTML message")
    shoot("message-html")

    page.goto(f"/m/{unicode.id}/")
    assert_fits(page, "a message in Arabic and Japanese")
    shoot("message-unicode", dark=False)

"""A long newsletter on a 390 x 844 phone reads like in a mail app: the first screen
shows the subject, the sender and the opening lines; the body flows with the page
(one scroll, no scroll bar inside the message); a wide table is scaled to the
screen; the toolbar's rarer actions are under "More", and work by keyboard."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

from sealbox.accounts.models import User
from sealbox.intake.delivery import deliver
from sealbox.mailstore import blobs
from sealbox.mailstore.models import Message
from tests.browser.conftest import (
    VIEWPORTS,
    Portal,
    RemoteServer,
    Watch,
    message_frame,
    sign_in,
)
from tests.browser.content import html_message
from tests.conftest import CAROL

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "correct horse battery staple"  # alice's, from tests/conftest.py
SUBJECT = "Your December newsletter"
OPENING = "Dear reader, this is the opening line of the December issue."
LAST = "This is the very last line of the newsletter."
PARAGRAPHS = "\n".join(
    f"<p>Paragraph {n}: news about the projects of the year, the people who made them, "
    f"and what comes next in the months ahead.</p>"
    for n in range(1, 41)
)
NEWSLETTER = f"""<!DOCTYPE html><html><head><style>
  .button {{ display: inline-block; padding: 12px 20px; background-color: #0b5cad; color: #ffffff; }}
</style></head><body>
<p>{OPENING}</p>
<table width="700" style="width:700px" cellpadding="4" summary="Figures"><tr>
<td>Region north, first half</td><td>Region south, first half</td>
<td>Region east, second half</td><td class="edge">Region west, second half</td></tr>
<tr><td nowrap>€ 1,204,000.00</td><td nowrap>€ 2,310,500.00</td><td nowrap>€ 3,020,750.00</td>
<td nowrap>€ 4,100,900.00</td></tr></table>
{PARAGRAPHS}
<p><a class="button" href="https://corp.example/renew">Renew your subscription</a></p>
<p>{LAST}</p>
</body></html>"""

FRAME_GEOMETRY = """f => {
  const root = f.contentDocument.documentElement;
  return {frame: f.getBoundingClientRect().height, scrollHeight: root.scrollHeight,
          clientHeight: root.clientHeight, scrollWidth: root.scrollWidth,
          clientWidth: root.clientWidth, zoom: root.style.zoom};
}"""
NO_SIDEWAYS_SCROLL = "() => document.documentElement.scrollWidth <= screen.width"
ACTIVE = "() => document.activeElement.textContent.trim()"
# What the message would change if anything of it ran: the frame is same-origin now,
# so a script in it could reach the page.
PWN = "parent.pwned=1;top.pwned=1;parent.document.title='pwned'"


@pytest.fixture
def phone(browser: Browser, portal: Portal, watch: Watch) -> Iterator[Page]:
    context = browser.new_context(
        **VIEWPORTS["phone"],
        base_url=portal.url,
        locale="en-GB",
        timezone_id="Europe/Berlin",
        accept_downloads=True,
    )
    context.on("request", lambda r: watch.requests.append(r.url))
    page = context.new_page()
    page.on("dialog", lambda d: (watch.dialogs.append(d.message), d.dismiss()))
    yield page
    context.close()
    assert watch.off_loopback() == []


@pytest.fixture
def shoot_phone(
    phone: Page, request: pytest.FixtureRequest, screenshot_dir: Path
) -> Callable[[str], None]:
    """A full-page screenshot, light and dark."""
    test = request.node.originalname.removeprefix("test_")

    def shoot(name: str) -> None:
        phone.screenshot(path=str(screenshot_dir / f"{test}-phone-{name}.png"), full_page=True)
        phone.emulate_media(color_scheme="dark")
        phone.screenshot(path=str(screenshot_dir / f"{test}-phone-{name}-dark.png"), full_page=True)
        phone.emulate_media(color_scheme="light")

    return shoot


# What a sanitiser that missed something would leave in the frame: put there by the
# test through the page (same origin), to show that the sandbox and the frame's CSP
# alone keep it from running.
SLIPPED_THROUGH = """() => {
  const doc = document.querySelector("iframe.message-frame").contentDocument;
  const script = doc.createElement("script");
  script.textContent = "PWN";
  doc.body.appendChild(script);
  const img = doc.createElement("img");
  img.setAttribute("onerror", "PWN");
  img.src = "data:image/png;base64,broken";
  doc.body.appendChild(img);
  const link = doc.createElement("a");
  link.href = "javascript:PWN";
  link.textContent = "slipped link";
  doc.body.appendChild(link);
  const meta = doc.createElement("meta");
  meta.httpEquiv = "refresh";
  meta.content = "0;url=REFRESH";
  doc.head.appendChild(meta);
}"""


def box(locator: Any) -> dict[str, float]:
    found = locator.bounding_box()
    assert found is not None
    return dict(found)


def sized(page: Page) -> dict[str, Any]:
    """The frame's geometry once reader.js has made it as tall as its content."""
    message_frame(page)
    expect(page.locator("iframe.message-frame.sized")).to_have_count(1)
    page.wait_for_function(
        """() => { const f = document.querySelector("iframe.message-frame");
                   const root = f.contentDocument.documentElement;
                   return root.scrollHeight <= Math.ceil(f.getBoundingClientRect().height); }"""
    )
    return dict(page.locator("iframe.message-frame").evaluate(FRAME_GEOMETRY))


def test_a_long_newsletter_reads_top_to_bottom_with_one_scroll(
    phone: Page, portal: Portal, alice: User, shoot_phone: Callable[[str], None]
) -> None:
    page = phone
    [stored] = deliver(CAROL, [alice.email], html_message(alice.email, SUBJECT, NEWSLETTER))
    sign_in(page, alice.email, PASSWORD)
    page.goto(f"/m/{stored.id}/")
    geometry = sized(page)
    shoot_phone("first-screen")

    # No scroll bar inside the message: the frame is as tall as its document,
    # and the document is no wider than the frame (the 700 px table is scaled).
    assert geometry["frame"] >= geometry["scrollHeight"], geometry
    assert geometry["scrollHeight"] <= geometry["clientHeight"], geometry
    assert geometry["scrollWidth"] <= geometry["clientWidth"], geometry
    assert 0 < float(geometry["zoom"]) < 1, geometry
    assert page.evaluate(NO_SIDEWAYS_SCROLL), "the page scrolls sideways"

    # The first screen: subject, sender and the opening line of the body.
    body = page.frame_locator("iframe.message-frame")
    height = page.viewport_size["height"] if page.viewport_size else 844
    assert box(page.get_by_role("heading", level=1))["y"] >= 0
    expect(page.get_by_role("heading", level=1)).to_have_text(SUBJECT)
    line = page.locator("details.envelope > summary")
    expect(line).to_contain_text("From Carol Sender to me")
    assert box(line)["y"] + box(line)["height"] < height
    opening = box(body.get_by_text(OPENING))
    assert opening["y"] + opening["height"] < height, opening
    # The wide table is there in full, inside the screen.
    table = box(body.locator("table"))
    assert table["x"] >= 0 and table["x"] + table["width"] <= 390 + 1, table
    expect(body.get_by_text("Region west, second half")).to_be_in_viewport()

    # The last line and the button are reached by scrolling the page, not the frame.
    button = body.get_by_role("link", name="Renew your subscription")
    button.scroll_into_view_if_needed()
    expect(button).to_be_in_viewport()
    expect(body.get_by_text(LAST)).to_be_in_viewport()
    assert page.evaluate("() => window.scrollY") > 1000
    frame = message_frame(page)
    assert frame.evaluate("() => document.scrollingElement.scrollTop") == 0
    shoot_phone("last-screen")


def test_the_headers_open_on_demand_and_more_works_by_keyboard(
    phone: Page, portal: Portal, alice: User, watch: Watch
) -> None:
    page = phone
    to = f"Alice <{alice.email}>, Dave <dave@example.org>"
    raw = html_message(to, SUBJECT, f"<p>{OPENING}</p>")
    [stored] = deliver(CAROL, [alice.email], raw)
    sign_in(page, alice.email, PASSWORD)
    page.goto(f"/m/{stored.id}/")

    # One line, then every address when the reader asks.
    headers = page.locator("dl.headers")
    expect(headers).to_be_hidden()
    line = page.locator("details.envelope > summary")
    expect(line).to_contain_text("From Carol Sender to me, Dave")
    line.click()
    expect(headers).to_be_visible()
    expect(headers).to_contain_text(f"Carol Sender <{CAROL}>")
    expect(headers).to_contain_text("dave@example.org")
    expect(headers).to_contain_text(alice.email)

    # The toolbar: icons, named for screen readers even where the names are not shown.
    actions = page.get_by_role("navigation", name="Message actions")
    for name in ("Reply", "Reply all"):
        expect(actions.get_by_role("link", name=name, exact=True)).to_be_visible()
    expect(actions.get_by_role("button", name="Delete")).to_be_visible()
    expect(actions.get_by_text("Reply all")).not_to_be_in_viewport()  # its name, out of sight
    assert page.evaluate(NO_SIDEWAYS_SCROLL)

    # More, by keyboard: Enter opens it, Tab reaches its items, Escape closes it
    # and leaves the focus on its button.
    more = actions.locator("details.more")
    summary = more.locator("summary")
    summary.focus()
    page.keyboard.press("Enter")
    expect(more).to_have_attribute("open", "")
    page.keyboard.press("Tab")
    assert page.evaluate(ACTIVE) == "Mark unread"
    page.keyboard.press("Tab")
    assert page.evaluate(ACTIVE) == "Download .eml"
    page.keyboard.press("Escape")
    expect(more).not_to_have_attribute("open", "")
    assert page.evaluate(ACTIVE) == "More"

    # Download .eml from the menu, by keyboard: the stored message, byte for byte.
    page.keyboard.press("Enter")
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    with page.expect_download() as got:
        page.keyboard.press("Enter")
    assert Path(got.value.path()).read_bytes() == blobs.read(Message.objects.get(id=stored.id).blob)

    # Mark unread, from the menu: back to the inbox, the message unread.
    more.locator("summary").click()
    more.get_by_role("button", name="Mark unread").click()
    expect(page).to_have_url(re.compile(r"/inbox/$"))
    assert Message.objects.get(id=stored.id).read_at is None
    assert watch.dialogs == []


def test_nothing_in_the_same_origin_frame_runs(
    phone: Page, portal: Portal, alice: User, remote: RemoteServer, watch: Watch
) -> None:
    html = f"""<html><head><meta http-equiv="refresh" content="0;url={remote.url("/refresh")}">
<script>{PWN}</script></head><body onload="{PWN}">
<p>Only words.</p>
<img src="x" onerror="{PWN}" alt="broken">
<p><a href="javascript:{PWN}">a script link</a></p>
</body></html>"""
    [stored] = deliver(CAROL, [alice.email], html_message(alice.email, "Sneaky", html))
    sign_in(page := phone, alice.email, PASSWORD)
    page.goto(f"/m/{stored.id}/")
    frame = message_frame(page)
    expect(page.frame_locator("iframe.message-frame").get_by_text("Only words.")).to_be_visible()
    # The frame is the portal's origin (the page reads it), so a script in it
    # could have reached the page: none ran.
    assert page.evaluate(
        "() => document.querySelector('iframe.message-frame').contentDocument.body !== null"
    )
    page.frame_locator("iframe.message-frame").get_by_text("a script link").click()
    # As if the sanitiser had let a script, a handler, a script link and a refresh through.
    page.evaluate(SLIPPED_THROUGH.replace("PWN", PWN).replace("REFRESH", remote.url("/r2")))
    page.frame_locator("iframe.message-frame").get_by_text("slipped link").click()
    page.wait_for_timeout(300)
    assert page.evaluate("() => typeof window.pwned") == "undefined"
    assert frame.evaluate("() => typeof window.pwned") == "undefined"
    assert page.title() == "Sneaky · Sealbox"
    assert frame.url == portal.link(f"/m/{stored.id}/body/")
    assert remote.requests == []
    assert watch.dialogs == []

"""Mail written to attack the reader runs nothing and fetches nothing when opened."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from playwright.sync_api import Page, expect

from sealbox.accounts.models import User
from sealbox.intake.delivery import deliver
from sealbox.mailstore.models import Message
from tests.browser.conftest import Portal, RemoteServer, Watch, message_frame, sign_in
from tests.browser.content import Hostile, hostile_messages, html_message
from tests.conftest import CAROL

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "correct horse battery staple"  # alice's, from tests/conftest.py

# Whatever of the message survives sanitising (the frame's own <head> aside): nothing that runs, navigates, submits, embeds or
# loads, and no event handler or script URL on any element.
LEFTOVERS = """() => {
  const found = [];
  const banned = "script, iframe, frame, frameset, object, embed, applet, portal, form, input, button,"
    + " textarea, select, meta, base, link, style, svg, math, video, audio, source, picture, template";
  for (const el of document.body.querySelectorAll(banned)) found.push("<" + el.localName + ">");
  for (const el of [document.body, ...document.body.querySelectorAll("*")]) {
    for (const attr of el.attributes) {
      const name = attr.name.toLowerCase();
      const value = attr.value.trim().toLowerCase();
      if (name.startsWith("on") || ["srcset", "background", "poster", "ping", "formaction",
          "action", "data", "srcdoc", "xlink:href"].includes(name)) {
        found.push(el.localName + "[" + name + "]");
      }
      if (["href", "src"].includes(name) && !/^(https?:|mailto:|tel:|data:image\\/(png|jpe?g|gif|webp|bmp);)/.test(value)) {
        found.push(el.localName + "[" + name + "=" + value.slice(0, 40) + "]");
      }
      if (name === "src" && /^https?:/.test(value)) found.push(el.localName + "[remote src]");
      if (name === "style" && /url\\s*\\(|\\\\|image-set|expression|behavior|binding/.test(value)) {
        found.push(el.localName + "[style=" + value.slice(0, 60) + "]");
      }
    }
  }
  return found;
}"""


def open_and_check(
    page: Page, portal: Portal, remote: RemoteServer, watch: Watch, item: Hostile, message: Message
) -> list[str]:
    """Open one message as a reader would; return what of it survived that should not have."""
    page.goto(f"/m/{message.id}/")
    page.wait_for_load_state("load")
    expect(page.get_by_role("heading", level=1)).to_have_text(item.subject)
    frame = message_frame(page)
    for text in item.click:
        frame.get_by_text(text, exact=True).click()
    page.wait_for_timeout(150)  # time for a refresh, a submit or a late load

    where = f"in {item.name!r}"
    assert watch.dialogs == [], where
    assert page.evaluate("typeof window.pwned") == "undefined", where
    assert frame.evaluate("typeof window.pwned") == "undefined", where
    assert page.title() == f"{item.subject} · Sealbox", where
    assert page.url == portal.link(f"/m/{message.id}/"), where
    assert frame.url == portal.link(f"/m/{message.id}/body/"), where
    assert len(page.frames) == 2, where  # the page and the message frame, nothing nested
    assert watch.popups == [], where
    assert remote.requests == [], where
    return list(frame.evaluate(LEFTOVERS))


def csp_reports(watch: Watch) -> list[str]:
    return [line for line in watch.console if "Content Security Policy" in line]


def deliver_all(alice: User, items: list[Hostile]) -> dict[str, Message]:
    stored = {}
    for item in items:
        raw = html_message(alice.email, item.subject, item.html)
        [stored[item.name]] = deliver(CAROL, [alice.email], raw)
    return stored


def test_hostile_messages_run_nothing(
    page: Page,
    portal: Portal,
    remote: RemoteServer,
    watch: Watch,
    alice: User,
    shoot: Callable[..., None],
) -> None:
    hostile = hostile_messages(remote.url("/"))
    stored = deliver_all(alice, hostile)
    sign_in(page, alice.email, PASSWORD)
    expect(page.locator("ul.messages li")).to_have_count(len(hostile))

    for item in hostile:
        assert open_and_check(page, portal, remote, watch, item, stored[item.name]) == [], item.name
        if item.name in ("scripts and handlers", "css remote content"):
            shoot(item.name.replace(" ", "-"), dark=False)

    # The page offers the remote images it held back; still nothing was fetched.
    page.goto(f"/m/{stored['css remote content'].id}/")
    expect(page.get_by_role("link", name="Show remote images")).to_be_visible()
    page.wait_for_timeout(150)
    assert remote.requests == []
    assert watch.dialogs == []
    # The sanitiser alone removed it all: the frame's CSP never had to block anything.
    assert csp_reports(watch) == []

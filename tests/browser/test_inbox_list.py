"""The inbox and Sent lists on a phone, as in a mail app: short dates, and a one-row selection toolbar.

Each test opens its own browser context: a 390 x 844 phone (or 360 px wide for the
toolbar's narrowest case) in a given language, the reader in Berlin, and the
browser's clock fixed at TODAY so "today" and "yesterday" mean the same on every run.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.utils import translation
from django.utils.translation import ngettext
from playwright.sync_api import Browser, Locator, Page, expect

from sealbox.accounts.models import User
from sealbox.intake.delivery import deliver
from sealbox.mailstore.models import Message
from tests.browser.conftest import TIMEOUT_MS, VIEWPORTS, Portal
from tests.browser.content import pdf
from tests.conftest import CAROL
from tests.mail import make_message

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "correct horse battery staple"  # alice's, from tests/conftest.py
BERLIN = ZoneInfo("Europe/Berlin")
TODAY = datetime(2026, 11, 20, 14, 5, tzinfo=BERLIN)
# (subject, when it arrived): newest first, as the inbox lists them.
ARRIVALS = [
    ("This morning", datetime(2026, 11, 20, 9, 15, tzinfo=BERLIN)),
    ("Yesterday evening", datetime(2026, 11, 19, 21, 40, tzinfo=BERLIN)),
    ("Ten days ago", datetime(2026, 11, 10, 9, 15, tzinfo=BERLIN)),
    ("Two years ago", datetime(2024, 11, 19, 9, 15, tzinfo=BERLIN)),
]
FITS = "() => document.documentElement.scrollWidth <= window.innerWidth"
# The texts shown but cut short (an ellipsis, or spilling out of their box).
CUT = """els => els.filter(el => el.getClientRects().length && el.offsetWidth > 1)
    .filter(el => el.scrollWidth > el.clientWidth + 1 || el.getBoundingClientRect().right
        > el.parentElement.getBoundingClientRect().right + 1)
    .map(el => el.textContent.trim())"""
BOX = "el => { const r = el.getBoundingClientRect(); return [r.left, r.top, r.right, r.bottom]; }"


def words(text: str) -> str:
    """Intl's narrow and no-break spaces as plain ones."""
    return re.sub(r"\s+", " ", text.replace("\u202f", " ")).strip()


@pytest.fixture
def open_page(browser: Browser, portal: Portal) -> Iterator[Callable[..., Page]]:
    contexts = []

    def open_page(
        language: str = "en", width: int = 390, script: bool = True, scheme: str = "light"
    ) -> Page:
        size = {**VIEWPORTS["phone"], "viewport": {"width": width, "height": 844}}
        context = browser.new_context(
            **size,
            base_url=portal.url,
            locale=language,  # sent as Accept-Language: the page's language
            timezone_id="Europe/Berlin",
            java_script_enabled=script,
            color_scheme=scheme,  # type: ignore[arg-type]
        )
        context.set_default_timeout(TIMEOUT_MS)
        contexts.append(context)
        page = context.new_page()
        if script:
            page.clock.set_fixed_time(TODAY)
        return page

    yield open_page
    for context in contexts:
        context.close()


def sign_in(page: Page, email: str) -> None:
    """By the form's fields, whatever the language of their labels."""
    page.goto("/signin/")
    page.locator("#id_username").fill(email)
    page.locator("#id_password").fill(PASSWORD)
    page.locator("main form:has(#id_password) button[type=submit]").click()
    page.wait_for_url("**/inbox/")


@pytest.fixture
def mailbox(alice: User, settings: Any) -> list[Message]:
    settings.RETENTION_DAYS = 0  # no "deleted on" line under the old ones
    stored = []
    for subject, when in ARRIVALS:
        attachments = [("figures.pdf", "application/pdf", pdf())] if "morning" in subject else []
        [message] = deliver(
            CAROL,
            [alice.email],
            make_message(subject=subject, to=alice.email, attachments=attachments),
        )
        Message.objects.filter(id=message.id).update(received_at=when)
        stored.append(message)
    return stored


def box(locator: Locator) -> list[float]:
    return list(locator.evaluate(BOX))


def fits(page: Page, what: str) -> None:
    sizes = page.evaluate("() => [document.documentElement.scrollWidth, window.innerWidth]")
    assert page.evaluate(FITS), f"{what} scrolls sideways: {sizes}"


@pytest.mark.parametrize(
    ("language", "shown", "full"),
    [
        (
            "en",
            ["9:15 AM", None, "Nov 10", "Nov 19, 2024"],
            "Friday, November 20, 2026 at 9:15 AM",
        ),
        ("de", ["09:15", None, "10. Nov.", "19. Nov. 2024"], "Freitag, 20. November 2026 um 09:15"),
    ],
)
def test_row_dates_are_short_with_the_full_date_on_hover_and_for_screen_readers(
    open_page: Callable[..., Page],
    alice: User,
    mailbox: list[Message],
    language: str,
    shown: list[str | None],
    full: str,
    screenshot_dir: Path,
) -> None:
    page = open_page(language)
    sign_in(page, alice.email)
    rows = page.locator("ul.messages li")
    expect(rows).to_have_count(4)
    # "Yesterday" is the server's word, in the page's language (German: "Gestern").
    with translation.override(language):
        yesterday = translation.gettext("Yesterday")
    shown[1] = yesterday
    dates = rows.locator(".meta time")
    visible = [words(t) for t in dates.locator("span[aria-hidden=true]").all_inner_texts()]
    assert visible == shown
    # The full date and time: as the tooltip, and what a screen reader reads in the link.
    first = dates.first
    assert words(first.get_attribute("title") or "") == full
    assert words(first.locator(".visually-hidden").inner_text()) == full
    # (Intl puts narrow no-break spaces in times: any space will do.)
    spoken = re.compile(r"\s".join(re.escape(w) for w in full.split(" ")) + "$")
    expect(rows.first.get_by_role("link")).to_have_accessible_name(spoken)

    # A mail app's row: the sender with the date at the end of the first line,
    # the subject below it, the attachment mark at the end of the second.
    for row in rows.all():
        sender, date, subject = (
            box(row.locator(".from")),
            box(row.locator(".meta time")),
            box(row.locator(".subject")),
        )
        assert abs(sender[1] - date[1]) < 6, (sender, date)
        assert date[2] > box(row)[2] - 12, "the date ends the first line"
        assert subject[1] >= sender[3] - 1, "the subject is on the second line"
    clip = box(rows.first.locator(".attach"))
    assert clip[1] >= box(rows.first.locator(".from"))[3] - 1
    # Unread: the sender in bold.
    assert rows.first.locator(".from").evaluate("e => getComputedStyle(e).fontWeight") == "700"
    fits(page, "the inbox")
    page.screenshot(path=str(screenshot_dir / f"inbox-list-{language}.png"), full_page=True)


@pytest.mark.parametrize("language", ["en", "de"])
def test_the_script_writes_the_same_short_dates_as_the_server(
    open_page: Callable[..., Page],
    alice: User,
    mailbox: list[Message],
    settings: Any,
    language: str,
) -> None:
    """portal.js's brief() and the `brief` template filter: one rule, the same words
    (CLDR's short forms: Babel's on the server, Intl's in the browser) for today,
    yesterday, this year and before, when the reader's zone is the portal's."""
    settings.TIME_ZONE = "Europe/Berlin"
    shown, titles = {}, {}
    # The server's clock at TODAY too (the browser's is fixed there by open_page).
    with time_machine.travel(TODAY, tick=True):
        for script in (False, True):
            page = open_page(language, script=script)
            sign_in(page, alice.email)
            dates = page.locator("ul.messages .meta time")
            expect(dates).to_have_count(4)
            shown[script] = [
                words(t) for t in dates.locator("span[aria-hidden=true]").all_inner_texts()
            ]
            titles[script] = [t.get_attribute("title") for t in dates.all()]
    # The script did rewrite them (its full date on hover is Intl's, not Django's)...
    assert all(a != b for a, b in zip(titles[True], titles[False], strict=True)), titles
    # ...into the very words the page came with.
    assert shown[True] == shown[False]
    with translation.override(language):
        assert shown[False][1] == translation.gettext("Yesterday")
    assert shown[False][2] == {"en": "Nov 10", "de": "10. Nov."}[language]


def test_the_sent_list_shows_the_recipient_where_the_inbox_shows_the_sender(
    open_page: Callable[..., Page], alice: User, settings: Any, screenshot_dir: Path
) -> None:
    settings.ALLOW_COMPOSE = True
    page = open_page("en", scheme="dark")
    sign_in(page, alice.email)
    page.goto("/write/")
    page.locator("#id_to").fill(CAROL)
    page.locator("#id_subject").fill("A note from Alice")
    page.locator("#id_body").fill("Hello Carol.")
    page.locator("main form.compose button[type=submit]").click()
    page.goto("/sent/")
    row = page.locator("ul.messages li")
    expect(row).to_have_count(1)
    expect(row.locator(".from")).to_have_text(re.compile(re.escape(CAROL)))
    # Sent just now, by the server's clock: today's time or (from the fixed
    # clock's point of view) a date; either way on the first line, at its end.
    sender, date = box(row.locator(".from")), box(row.locator(".meta time"))
    assert abs(sender[1] - date[1]) < 6 and date[2] > box(row)[2] - 12
    assert box(row.locator(".subject"))[1] >= sender[3] - 1
    # Sent has only Delete; shown once the message is ticked.
    actions = page.get_by_role("toolbar").get_by_role("button", include_hidden=True)
    expect(actions).to_have_count(1)
    expect(actions).to_be_hidden()
    row.get_by_role("checkbox").check()
    expect(page.get_by_role("button", name="Delete")).to_be_visible()
    fits(page, "the Sent list")
    page.screenshot(path=str(screenshot_dir / "sent-list-dark.png"), full_page=True)


def test_the_actions_show_once_a_message_is_ticked_and_the_count_is_said(
    open_page: Callable[..., Page], alice: User, mailbox: list[Message], screenshot_dir: Path
) -> None:
    page = open_page("en")
    sign_in(page, alice.email)
    toolbar = page.get_by_role("toolbar", name="Selected messages")
    delete = toolbar.get_by_role("button", name="Delete")
    read = toolbar.get_by_role("button", name="Mark read")
    unread = toolbar.get_by_role("button", name="Mark unread")
    status = toolbar.get_by_role("status")
    select_all = toolbar.get_by_role("checkbox", name="Select all")
    # Nothing ticked: no actions, only "Select all".
    for button in (delete, read, unread):
        expect(button).to_be_hidden()
    expect(select_all).to_be_visible()
    expect(status).to_have_text("")

    # By keyboard: Tab to the first message's box, Space ticks it.
    first_box = page.get_by_role("checkbox", name="Select “This morning”")
    for _ in range(30):
        page.keyboard.press("Tab")
        if first_box.evaluate("el => el === document.activeElement"):
            break
    else:
        pytest.fail("Tab never reached the first message's box")
    page.keyboard.press("Space")
    expect(first_box).to_be_checked()
    expect(status).to_have_text("1 selected")
    for button in (delete, read, unread):
        expect(button).to_be_visible()
    page.get_by_role("checkbox", name="Select “Ten days ago”").check()
    expect(status).to_have_text("2 selected")
    assert select_all.evaluate("el => el.indeterminate")
    page.screenshot(path=str(screenshot_dir / "inbox-selection.png"))
    select_all.check()
    expect(status).to_have_text("4 selected")
    select_all.uncheck()
    expect(status).to_have_text("")
    expect(delete).to_be_hidden()

    # The toolbar's arrow keys move between its controls.
    page.get_by_role("checkbox", name="Select “Two years ago”").check()
    select_all.focus()
    page.keyboard.press("ArrowRight")
    expect(delete).to_be_focused()
    page.keyboard.press("ArrowRight")
    expect(unread).to_be_focused()
    page.keyboard.press("ArrowLeft")
    expect(delete).to_be_focused()
    page.keyboard.press("Enter")  # asks first; the page's default answer is no
    expect(page.get_by_role("checkbox", name="Select “Two years ago”")).to_be_checked()

    # Mark read: the ticked message loses its unread mark.
    read.click()
    expect(page).to_have_url(re.compile(r"/inbox/\?page=1$"))
    expect(page.locator("ul.messages li.unread")).to_have_count(3)
    expect(delete).to_be_hidden()


@pytest.mark.parametrize(
    ("language", "width"),
    [
        *[(language, 360) for language in ("de", "nl", "fr", "ar")],
        # A tablet held upright, and a small laptop: the names beside the icons, or
        # not, but never cut.
        *[(language, width) for language in ("de", "nl", "fr") for width in (700, 768, 900)],
        ("es", 900),
    ],
)
def test_the_toolbar_is_one_row_from_a_phone_to_a_tablet(
    open_page: Callable[..., Page],
    alice: User,
    mailbox: list[Message],
    language: str,
    width: int,
    screenshot_dir: Path,
) -> None:
    for script in (True, False):
        page = open_page(language, width=width, script=script)
        sign_in(page, alice.email)
        toolbar = page.get_by_role("toolbar")
        if script:
            page.locator("ul.messages li input[type=checkbox]").nth(1).check()
            # The catalogue's own words for one (Arabic writes it out, without the digit).
            with translation.override(language):
                one = ngettext("%(n)d selected", "%(n)d selected", 1) % {"n": 1}
            expect(toolbar.get_by_role("status")).to_have_text(one)
        name = f"inbox-toolbar-{width}-{language}-{'script' if script else 'noscript'}.png"
        page.screenshot(path=str(screenshot_dir / name))
        buttons = toolbar.get_by_role("button")
        expect(buttons).to_have_count(3)
        tops = [box(b)[1] for b in buttons.all()]
        assert len(set(tops)) == 1, f"the toolbar's buttons wrap: {tops}"
        controls = [box(c) for c in toolbar.locator("input:visible, button, .count:visible").all()]
        assert max(c[1] for c in controls) < min(c[3] for c in controls), controls
        bar = box(toolbar)
        assert bar[0] >= 0 and bar[2] <= width, bar
        assert all(bar[0] <= c[0] and c[2] <= bar[2] for c in controls), (bar, controls)
        # Nothing in it cut short: the count and the names beside the icons whole, or hidden.
        cut = toolbar.locator(".count, .tool-label").evaluate_all(CUT)
        assert cut == [], f"cut short in the toolbar: {cut}"
        if width >= 900:
            # Room for the names beside the icons.
            for label in toolbar.locator(".tool-label").all():
                expect(label).to_have_css("position", "static")
        if language == "ar":
            # Right to left: the box at the right, the actions at the left.
            first = box(toolbar.locator("input:visible, button").first)
            assert first[0] > box(buttons.last)[2], "the toolbar is not mirrored"
        fits(page, "the inbox")


def test_without_script_the_actions_are_there_and_the_server_asks_for_a_selection(
    open_page: Callable[..., Page], alice: User, mailbox: list[Message]
) -> None:
    page = open_page("en", script=False)
    sign_in(page, alice.email)
    toolbar = page.get_by_role("toolbar", name="Selected messages")
    # No "Select all" without script: nothing would tick the boxes.
    expect(toolbar.get_by_role("checkbox")).to_have_count(0)
    # The server's dates: short, in the portal's time zone, the full date as the tooltip.
    dates = page.locator("ul.messages .meta time")
    expect(dates.first).to_have_attribute("title", re.compile(r"\d{4}"))
    assert len(words(dates.last.locator("span[aria-hidden=true]").inner_text())) <= 14
    toolbar.get_by_role("button", name="Mark read").click()
    expect(page.get_by_text("Select one or more messages first.")).to_be_visible()
    page.get_by_role("checkbox", name="Select “This morning”").check()
    page.get_by_role("button", name="Mark read").click()
    expect(page.locator("ul.messages li.unread")).to_have_count(3)

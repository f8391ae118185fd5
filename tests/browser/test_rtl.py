"""A browser that prefers Arabic gets the portal right to left on a phone, without sideways scrolling."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

from sealbox.accounts.models import LinkToken, User
from sealbox.intake.delivery import deliver
from tests.browser.conftest import VIEWPORTS, Portal
from tests.conftest import CAROL
from tests.mail import make_message

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "correct horse battery staple"  # alice's, from tests/conftest.py
FITS = "() => document.documentElement.scrollWidth <= screen.width"
BOX = "el => { const r = el.getBoundingClientRect(); return [r.left, r.right]; }"
# Where an element's text is, not its box.
TEXT_BOX = """el => { const range = document.createRange(); range.selectNodeContents(el);
  const r = range.getBoundingClientRect(); return [r.left, r.right]; }"""


@pytest.fixture
def arabic_phone(browser: Browser, portal: Portal) -> Iterator[Page]:
    context = browser.new_context(
        **VIEWPORTS["phone"], base_url=portal.url, locale="ar", timezone_id="Asia/Riyadh"
    )
    assert VIEWPORTS["phone"]["viewport"] == {"width": 390, "height": 844}
    yield context.new_page()
    context.close()


def fits(page: Page, what: str) -> None:
    sizes = page.evaluate("() => [document.documentElement.scrollWidth, screen.width]")
    assert page.evaluate(FITS), f"{what} scrolls sideways: {sizes}"


def box(page: Page, selector: str) -> Any:
    return page.locator(selector).first.evaluate(BOX)


def test_sign_in_and_inbox_read_right_to_left(arabic_phone: Page, alice: User) -> None:
    page = arabic_phone
    deliver(CAROL, [alice.email], make_message(subject="Quarterly figures", to=alice.email))

    page.goto("/signin/")
    assert page.evaluate("() => [document.documentElement.lang, document.dir]") == ["ar", "rtl"]
    # Text starts at the right: the heading's right edge is the form's, its left is free.
    heading = page.locator("main h1").evaluate(TEXT_BOX)
    field = box(page, "#id_username")
    assert abs(heading[1] - field[1]) < 2 and heading[0] > field[0]
    fits(page, "the sign-in page")

    page.locator("#id_username").fill(alice.email)
    page.locator("#id_password").fill(PASSWORD)
    page.locator("form:not(.language-menu) button[type=submit]").click()
    page.wait_for_url("**/inbox/")
    assert page.evaluate("() => document.dir") == "rtl"
    # The header starts at the right: the site's name at the right edge, and the
    # navigation's first link right of the second.
    width = page.evaluate("() => screen.width")
    brand = box(page, "header .brand")
    assert brand[1] > width - 40 and brand[0] > 40, brand
    first, second = (page.locator("header nav a").nth(i).evaluate(BOX) for i in (0, 1))
    assert first[0] > second[1] - 1, (first, second)
    # The row's unread dot sits at the start of the row: its right half.
    dot, row = box(page, "ul.messages .dot"), box(page, "ul.messages li a")
    assert dot[0] > (row[0] + row[1]) / 2, (dot, row)
    fits(page, "the inbox")


def test_activation_and_the_phrase_fit_a_360_px_phone_with_a_long_address(
    browser: Browser, portal: Portal
) -> None:
    """A long address in the activation page's sentence wraps; it once widened the page,
    and on a phone the zoomed-out page put other elements over the Save button.

    Measured against the emulated screen's width: a phone browser widens its layout
    viewport (and window.innerWidth) to the content, so that comparison cannot fail.
    """
    narrow = {**VIEWPORTS["phone"], "viewport": {"width": 360, "height": 780}}
    context = browser.new_context(**narrow, base_url=portal.url, locale="ar")
    page = context.new_page()
    newcomer = User.objects.create_user(
        "maximiliane.wolfeschlegelsteinhausen@procurement.corp.example", password=None
    )

    def fits_360(what: str) -> None:
        width = page.evaluate("() => document.documentElement.scrollWidth")
        assert width <= 360, f"{what} is {width} px wide on a 360 px screen"

    try:
        page.goto(f"/activate/{LinkToken.issue(newcomer, LinkToken.Purpose.ACTIVATE)}/")
        expect(page.locator("main")).to_contain_text(newcomer.email)
        fits_360("the activation page")
        page.locator("#id_new_password1").fill(PASSWORD)
        page.locator("#id_new_password2").fill(PASSWORD)
        page.locator("form:has(#id_new_password1) button[type=submit]").click()
        page.wait_for_url("**/phrase/")
        newcomer.refresh_from_db()
        expect(page.locator("main .phrase-box dd")).to_have_text(newcomer.phrase)
        fits_360("the phrase page")
    finally:
        context.close()

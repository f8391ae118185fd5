"""A branded sign-in page on a 360 px phone: logo, names and footer fit, in light and dark."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, expect

from sealbox.web import contrast
from tests.branded import brand
from tests.browser.conftest import TIMEOUT_MS, Portal

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

NO_SIDEWAYS_SCROLL = "() => document.documentElement.scrollWidth <= screen.width"
ACCENT = "() => getComputedStyle(document.querySelector('button[type=submit]')).backgroundColor"


def rgb(hex_color: str) -> str:
    r, g, b = (int(hex_color[i : i + 2], 16) for i in (1, 3, 5))
    return f"rgb({r}, {g}, {b})"


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_a_branded_sign_in_page_fits_a_360_px_phone(
    browser: Browser,
    portal: Portal,
    settings: Any,
    tmp_path: Path,
    scheme: str,
    screenshot_dir: Path,
) -> None:
    brand(settings, tmp_path)
    settings.ORG_NAME = "Zahnärztliche Gemeinschaftspraxis Dr. Wolfeschlegelsteinhausen"
    settings.SITE_NAME = "Sicheres Postfach"
    context = browser.new_context(
        viewport={"width": 360, "height": 740},
        device_scale_factor=2,
        is_mobile=True,
        has_touch=True,
        base_url=portal.url,
        color_scheme=scheme,
    )
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    try:
        page.goto("/signin/")
        logo = page.locator("header img.logo")
        expect(logo).to_be_visible()
        # The logo really loaded (an image that failed has no natural width).
        assert logo.evaluate("img => img.complete && img.naturalWidth") == 96
        expect(page.locator("header")).to_contain_text("Sicheres Postfach")
        footer = page.get_by_role("contentinfo")
        expect(footer).to_contain_text("run by Zahnärztliche Gemeinschaftspraxis")
        for name in (
            "help@bank.example",
            "+49 30 1234 5678",
            "bank.example/help",
            "Privacy policy",
        ):
            link = footer.get_by_role("link", name=name)
            link.scroll_into_view_if_needed()
            expect(link).to_be_in_viewport()
        page.screenshot(path=screenshot_dir / f"branded-signin-360-{scheme}.png", full_page=True)
        assert page.evaluate(NO_SIDEWAYS_SCROLL), page.evaluate(
            "() => [document.documentElement.scrollWidth, screen.width]"
        )
        # The organisation's colour of this mode on the primary button, as the check assumed.
        color = "#7a1f5c" if scheme == "light" else "#f0a6d0"
        assert page.evaluate(ACCENT) == rgb(color)
        text = page.evaluate(
            "() => getComputedStyle(document.querySelector('button[type=submit]')).color"
        )
        assert text == rgb(contrast.button_text(color))
    finally:
        context.close()

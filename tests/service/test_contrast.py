"""The accent colour's contrast rule: WCAG numbers, the button text, portal.css's backgrounds."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from sealbox.web import contrast

PORTAL_CSS = Path(contrast.__file__).parents[1] / "portal/static/portal/portal.css"


def test_it_computes_wcag_ratios() -> None:
    assert contrast.ratio("#000000", "#ffffff") == pytest.approx(21)
    assert contrast.ratio("#ffffff", "#ffffff") == pytest.approx(1)
    # WebAIM's checker: #767676 on white is the lightest grey at 4.54:1.
    assert contrast.ratio("#767676", "#ffffff") == pytest.approx(4.54, abs=0.01)
    assert contrast.ratio("#777777", "#ffffff") < 4.5


def test_it_writes_ratios_rounded_down() -> None:
    assert contrast.shown(4.4999) == "4.4:1"
    assert contrast.shown(3.14) == "3.1:1"


def test_buttons_get_white_text_on_dark_accents_and_dark_text_on_light_ones() -> None:
    assert contrast.button_text("#0b5cad") == "#ffffff"
    assert contrast.button_text("#6cb2ff") == contrast.DARK_TEXT
    assert contrast.ratio(contrast.DARK_TEXT, "#6cb2ff") >= 4.5


def test_the_built_in_blues_pass_in_their_modes_and_fail_in_the_other() -> None:
    assert contrast.shortfall("#0b5cad", "light") is None
    assert contrast.shortfall("#6cb2ff", "dark") is None
    light_in_dark = contrast.shortfall("#0b5cad", "dark")
    assert light_in_dark is not None and light_in_dark.ratio < 4.5


def test_its_backgrounds_are_those_of_portal_css() -> None:
    css = PORTAL_CSS.read_text()
    light, dark = css.split("@media (prefers-color-scheme: dark)", 1)

    def colors(block: str) -> tuple[str, str]:
        bg = re.search(r"--bg: (#[0-9a-f]{6})", block)
        bg2 = re.search(r"--bg2: (#[0-9a-f]{6})", block)
        assert bg and bg2
        return bg.group(1), bg2.group(1)

    assert colors(light) == contrast.BACKGROUNDS["light"]
    assert colors(dark.split("}", 2)[0]) == contrast.BACKGROUNDS["dark"]
    # The built-in dark button text is the one the rule picks for light accents.
    assert f"--brand-accent-fg, {contrast.DARK_TEXT})" in dark

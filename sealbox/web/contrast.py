"""The accent colour's one rule: WCAG contrast against the portal's pages and its buttons.

The accent colours links and focus rings on the page's backgrounds, and fills
primary buttons whose text is `button_text(accent)`. The system check
(brandchecks.py), the brand stylesheet (brandfiles.py) and the buttons of
emails (outbound/emails.py) take what they need from here, so the check passes
exactly what the portal and its emails show.
"""

from __future__ import annotations

from dataclasses import dataclass

AA = 4.5  # WCAG 2.2 AA for normal text (1.4.3)

# The page backgrounds of portal.css (--bg and --bg2, the latter under the
# header, notices and flash messages), light and dark. A test keeps them equal.
BACKGROUNDS = {
    "light": ("#ffffff", "#f4f6f8"),
    "dark": ("#15181c", "#1e2227"),
}
WHITE = "#ffffff"
# The accent where the operator chose none: portal.css's light --accent (emails' buttons too).
DEFAULT_ACCENT = "#0b5cad"
# The text of a button on a light accent: portal.css's dark --accent-fg.
DARK_TEXT = "#0b1520"


def luminance(color: str) -> float:
    """WCAG relative luminance of '#rrggbb'."""

    def channel(hex2: str) -> float:
        c = int(hex2, 16) / 255
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(color[i : i + 2]) for i in (1, 3, 5))
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def ratio(a: str, b: str) -> float:
    """WCAG contrast ratio of two colours, 1 to 21."""
    la, lb = sorted((luminance(a), luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def button_text(accent: str) -> str:
    """The text colour of a primary button filled with `accent`: white if it reads, else dark."""
    if ratio(WHITE, accent) >= AA or ratio(WHITE, accent) >= ratio(DARK_TEXT, accent):
        return WHITE
    return DARK_TEXT


@dataclass(frozen=True)
class Shortfall:
    mode: str  # "light" or "dark"
    against: str  # what the accent falls short against, in words
    ratio: float


def shortfall(accent: str, mode: str) -> Shortfall | None:
    """The worst place `accent` is under 4.5:1 in `mode`, or None if it reads everywhere."""
    page, panel = BACKGROUNDS[mode]
    worst = min(
        (
            (ratio(accent, page), f"the {mode} page background {page}"),
            (ratio(accent, panel), f"the {mode} header and notice background {panel}"),
            (ratio(accent, button_text(accent)), f"button text {button_text(accent)}"),
        )
    )
    if worst[0] >= AA:
        return None
    return Shortfall(mode, worst[1], worst[0])


def mix(color: str, toward: str, share: float) -> str:
    """`color` moved `share` (0 to 1) of the way toward `toward`, as '#rrggbb'."""
    a = [int(color[i : i + 2], 16) for i in (1, 3, 5)]
    b = [int(toward[i : i + 2], 16) for i in (1, 3, 5)]
    return "#" + "".join(f"{round(x + (y - x) * share):02x}" for x, y in zip(a, b, strict=True))


def nearest_passing(accent: str, mode: str) -> str | None:
    """The colour closest to `accent` that reads in `mode`: darkened for light pages, lightened for dark."""
    toward = "#000000" if mode == "light" else WHITE
    for step in range(1, 101):
        candidate = mix(accent, toward, step / 100)
        if shortfall(candidate, mode) is None:
            return candidate
    return None


def shown(value: float) -> str:
    """A ratio as WCAG writes it, rounded down so that 4.49 never reads as 4.5: '3.1:1'."""
    return f"{int(value * 10) / 10:.1f}:1"

"""Pages in the reader's language: dates, times and sizes in its formats; right to left for Arabic,
while a message's own text keeps its own direction."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import time_machine
from django.test import Client
from django.utils import translation

from sealbox.accounts.models import User
from sealbox.portal.templatetags.portal_extras import day, when
from tests.corpus import headers
from tests.portal.pages import deliver_to, message_url, parse_html


def page(response: Any) -> str:
    return str(response.content.decode())


pytestmark = pytest.mark.django_db

CSS = Path(__file__).parents[2] / "sealbox" / "portal" / "static" / "portal" / "portal.css"
NOW = datetime(2026, 11, 20, 9, 30, tzinfo=UTC)


def html_mail(html: str, subject: str = "Newsletter") -> bytes:
    return headers(subject, "MIME-Version: 1.0\nContent-Type: text/html; charset=utf-8\n") + (
        b"\r\n" + html.encode()
    )


@time_machine.travel(NOW, tick=False)
def test_dates_follow_the_active_language() -> None:
    soon, later = datetime(2026, 12, 2, 12, tzinfo=UTC), datetime(2027, 1, 2, 12, tzinfo=UTC)
    with translation.override("en"):
        assert (day(soon), day(later), when(NOW)) == (
            "December 2",
            "Jan. 2, 2027",
            "11/20/2026 9:30 a.m.",
        )
    with translation.override("de"):
        assert (day(soon), day(later), when(NOW)) == (
            "2. Dezember",
            "2. Januar 2027",
            "20.11.2026 09:30",
        )
    with translation.override("fr"):
        assert day(soon) == "2 décembre"
    with translation.override("ar"):
        # Django's Arabic formats: Arabic month names and morning mark, Western digits.
        assert (day(soon), day(later), when(NOW)) == (
            "2 \u062f\u064a\u0633\u0645\u0628\u0631",  # 2 ديسمبر
            "2 \u064a\u0646\u0627\u064a\u0631\u060c 2027",  # 2 يناير، 2027
            "11/20/2026 9:30 \u0635",  # ص: before noon
        )
        assert not re.search("[\u0660-\u0669]", when(NOW) + day(later))


def test_the_inbox_shows_dates_and_sizes_in_the_readers_language(
    reader: Client, alice: User
) -> None:
    deliver_to(alice, headers("Big", "") + b"\r\n" + b"x" * 150_000)
    german = page(reader.get("/inbox/", headers={"accept_language": "de"}))
    english = page(reader.get("/inbox/"))
    assert re.search(r'<bdi class="size">146,\d\xa0KB</bdi>', german), german
    assert re.search(r'<bdi class="size">146\.\d\xa0KB</bdi>', english)
    # Delivered just now: today's time alone, in each language's own way.
    today = r'data-local="brief"[^>]*><span aria-hidden="true">'
    assert re.search(today + r"\d\d:\d\d</span>", german)
    assert re.search(today + r"\d{1,2}:\d\d\s[AP]M</span>", english)


def test_arabic_pages_are_right_to_left_and_message_text_keeps_its_own_direction(
    reader: Client, alice: User
) -> None:
    message = deliver_to(alice, html_mail("<p>Hello</p>", subject="Quarterly report"))
    inbox = parse_html(reader.get("/inbox/", headers={"accept_language": "ar"}).content)
    assert inbox.one("html").attrs == {"lang": "ar", "dir": "rtl"}
    row = inbox.one("ul", cls="messages")
    assert row.one("span", cls="subject").attrs["dir"] == "auto"
    assert row.one("span", cls="from").attrs["dir"] == "auto"
    assert row.find("bdi", cls="size") is not None

    shown = parse_html(reader.get(message_url(message), headers={"accept_language": "ar"}).content)
    assert shown.one("h1").attrs["dir"] == "auto"
    # The back arrow is decoration, and points the way the page reads (mirrored in CSS).
    arrow = shown.one("a", cls="back-link").one("svg")
    assert arrow.attrs["aria-hidden"] == "true"
    assert "flip" in arrow.classes()


@pytest.mark.parametrize(
    ("html", "direction"),
    [
        ("<p>Hello</p>", "auto"),
        ('<html dir="rtl"><body><p>مرحبا</p></body></html>', "rtl"),
        ("<html><body DIR=ltr><p>Hello</p></body></html>", "ltr"),
    ],
)
def test_the_message_frame_keeps_the_messages_direction(
    reader: Client, alice: User, html: str, direction: str
) -> None:
    message = deliver_to(alice, html_mail(html))
    frame = reader.get(message_url(message, "message-body"), headers={"accept_language": "ar"})
    assert re.search(rf'<html lang="[a-z-]+" dir="{direction}">', page(frame))


def test_plain_text_keeps_its_own_direction(reader: Client, alice: User) -> None:
    plain = "MIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\n"
    message = deliver_to(
        alice, headers("Note", plain) + "\r\n\u05e9\u05dc\u05d5\u05dd\r\n".encode()
    )
    shown = page(reader.get(message_url(message), headers={"accept_language": "en"}))
    assert '<div class="text-body" dir="auto">' in shown


def test_the_stylesheet_uses_no_left_or_right_properties() -> None:
    css = CSS.read_text()
    physical = re.findall(
        r"(?<![-\w])(?:(?:margin|padding|border|inset)-(?:left|right)[\w-]*|left|right)\s*:"
        r"|(?:text-align|float|clear)\s*:\s*(?:left|right)",
        css,
    )
    assert physical == []
    assert "[dir=rtl] .icon.flip" in css

"""Storage in a real browser: the usage bar and "deleted on" labels fit a phone and keep to the CSP."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from sealbox.accounts.models import User
from sealbox.intake.delivery import deliver
from sealbox.mailstore.models import Message
from tests.browser.conftest import Watch, sign_in
from tests.conftest import CAROL
from tests.mail import make_message

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "correct horse battery staple"  # alice's, from tests/conftest.py
MIB = 1024 * 1024
NO_SIDEWAYS_SCROLL = "() => document.documentElement.scrollWidth <= screen.width"
LONG_SUBJECT = "Signed contract amendments for the 2027 budget review, with all appendices attached"


def csp_reports(watch: Watch) -> list[str]:
    return [line for line in watch.console if "Content Security Policy" in line]


def assert_fits(page: Page, what: str) -> None:
    sizes = page.evaluate("() => [document.documentElement.scrollWidth, screen.width]")
    assert page.evaluate(NO_SIDEWAYS_SCROLL), f"{what} scrolls sideways: {sizes}"


def arrived_days_ago(message: Message, days: int) -> None:
    Message.objects.filter(id=message.id).update(received_at=timezone.now() - timedelta(days=days))


def test_usage_and_deletion_dates_fit_the_screen(
    page: Page, alice: User, settings: Any, watch: Watch, shoot: Callable[..., None]
) -> None:
    settings.QUOTA_MB = 10
    to = alice.email
    [soon] = deliver(CAROL, [to], make_message(subject=LONG_SUBJECT, to=to))
    deliver(CAROL, [to], make_message(subject="This week's figures", to=to))
    arrived_days_ago(soon, 88)  # the default 90 days: deleted in two days
    User.objects.filter(pk=alice.pk).update(usage_bytes=9 * MIB)
    sign_in(page, to, PASSWORD)

    # The inbox: the row about to go says so, under its date; usage below the list.
    rows = page.locator("ul.messages li")
    expect(rows).to_have_count(2)
    label = rows.filter(has_text=LONG_SUBJECT).locator(".expires")
    expect(label).to_be_visible()
    expect(label).to_contain_text("deleted on")
    expect(rows.filter(has_text="This week's figures").locator(".expires")).to_have_count(0)
    expect(page.locator(".quota-alert")).to_contain_text("Your mailbox is almost full (90 % used)")
    meter = page.get_by_role("meter", name="Storage")
    expect(meter).to_be_visible()
    expect(page.locator("footer.storage")).to_contain_text("9.0 MB of 10.0 MB used (90 %)")
    assert meter.bounding_box()["width"] > 50  # type: ignore[index]
    assert_fits(page, "the inbox")
    shoot("inbox")

    # The message page says when it goes.
    rows.filter(has_text=LONG_SUBJECT).locator("a").click()
    expect(page.locator("p.expires")).to_contain_text("This message will be deleted on")
    assert_fits(page, "the message page")
    shoot("message", dark=False)

    # Settings: the bar, the periods with what each would remove, and saving one.
    page.goto("/settings/")
    section = page.locator("#storage")
    expect(section.get_by_role("meter", name="Space used")).to_be_visible()
    expect(section.get_by_text("9.0 MB of 10.0 MB used (90 %)")).to_be_visible()
    expect(section.get_by_label("30 days", exact=True)).to_be_visible()
    # The 88-day-old message would go with 7 or 30 days.
    expect(section.locator(".removes")).to_have_count(2)
    assert_fits(page, "the settings page")
    shoot("settings")
    section.get_by_label("30 days", exact=True).check()
    section.get_by_role("button", name="Save").click()
    expect(page.locator(".flash")).to_contain_text(
        "Your messages are now kept for 30 days. 1 of your messages is already older"
    )
    expect(page.locator("#storage").get_by_label("30 days", exact=True)).to_be_checked()
    assert_fits(page, "the settings page after saving")

    assert csp_reports(watch) == []
    assert [line for line in watch.console if line.startswith("error")] == []

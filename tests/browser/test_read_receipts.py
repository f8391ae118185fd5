"""A message that asks for a read receipt: the reader is asked first, and answers by keyboard."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from sealbox.accounts.models import User
from sealbox.intake.delivery import deliver
from sealbox.mailstore.models import Message
from sealbox.outbound import queue
from tests.browser.conftest import Portal, sign_in
from tests.conftest import CAROL, RelaySink
from tests.portal.writing import PORTAL_ADDRESS, original_mail

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "correct horse battery staple"  # alice's, from tests/conftest.py
QUESTION = "Carol Sender asked to be told when you open this message."
FOCUSED = "() => [document.activeElement.textContent.trim(), getComputedStyle(document.activeElement).outlineStyle]"


def asking(user: User, subject: str) -> Message:
    [message] = deliver(
        CAROL,
        [user.email],
        original_mail(subject=subject, disposition_notification_to=f"Carol <{CAROL}>"),
    )
    return message


def tab_to(page: Page, name: str) -> None:
    """Tab from the top of the page until the focus is on the control named `name`."""
    page.locator("body").focus()
    seen = []
    for _ in range(30):
        page.keyboard.press("Tab")
        text, outline = page.evaluate(FOCUSED)
        seen.append(text[:30])
        if text == name:
            assert outline != "none", f"{name} shows no focus ring"
            return
    pytest.fail(f"Tab never reached {name!r}; it went {seen}")


def test_the_reader_is_asked_and_answers_by_keyboard(
    page: Page,
    portal: Portal,
    alice: User,
    relay_sink: RelaySink,
    settings: Any,
    shoot: Callable[..., None],
) -> None:
    settings.PORTAL_ADDRESS = PORTAL_ADDRESS
    first = asking(alice, "Please confirm the figures")
    second = asking(alice, "Please confirm the dates")
    sign_in(page, alice.email, PASSWORD)

    page.goto(f"/m/{first.id}/")
    question = page.get_by_role("form", name=QUESTION)
    expect(question).to_be_visible()
    expect(question).to_be_in_viewport()
    expect(question.get_by_role("button", name="Send receipt")).to_be_in_viewport()
    expect(question.get_by_role("button", name="Don't send")).to_be_in_viewport()
    expect(question.get_by_role("link", name="Decide for every message")).to_be_visible()
    shoot("question")
    queue.process_due()
    assert relay_sink.received == []  # opened, and nothing sent

    tab_to(page, "Send receipt")
    page.keyboard.press("Enter")
    expect(page.locator(".flash")).to_have_text("A read receipt is on its way to Carol Sender.")
    expect(page.get_by_role("form", name=QUESTION)).to_have_count(0)
    queue.process_due()
    [got] = relay_sink.received
    assert got.rcpt_tos == [CAROL]

    page.goto(f"/m/{second.id}/")
    expect(page.get_by_role("form", name=QUESTION)).to_be_visible()
    tab_to(page, "Don't send")
    page.keyboard.press("Space")
    expect(page.locator(".flash")).to_have_text("No read receipt will be sent to Carol Sender.")
    page.reload()
    expect(page.get_by_role("heading", level=1)).to_have_text("Please confirm the dates")
    expect(page.get_by_role("form", name=QUESTION)).to_have_count(0)
    queue.process_due()
    assert len(relay_sink.received) == 1

    # The link goes to the personal setting, where "Always" stops the questions.
    third = asking(alice, "Please confirm the venue")
    page.goto(f"/m/{third.id}/")
    page.get_by_role("link", name="Decide for every message").click()
    expect(page).to_have_url(portal.link("/settings/#receipts"))
    settings_section = page.locator("#receipts")
    expect(settings_section.get_by_label("Ask me each time")).to_be_checked()
    settings_section.get_by_label("Always send one").check()
    settings_section.get_by_role("button", name="Save").click()
    expect(page.locator(".flash")).to_contain_text("it will be sent when you open the message")
    fourth = asking(alice, "Please confirm the time")
    page.goto(f"/m/{fourth.id}/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Please confirm the time")
    expect(page.get_by_role("form", name=QUESTION)).to_have_count(0)
    queue.process_due()
    assert len(relay_sink.received) == 2

"""A one-off recipient signs in with a code by email on a phone, in Chromium.

The operator turned SEALBOX_SIGNIN_EMAIL_CODE on. Dave never chose a password:
mail arrived for him, and he reads it with six digits from his email instead.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from sealbox.accounts.models import User
from sealbox.intake.delivery import deliver
from sealbox.outbound import queue
from tests.browser.conftest import Portal, outbox
from tests.conftest import CAROL
from tests.mail import make_message

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

DAVE = "dave@example.com"
NO_SIDEWAYS_SCROLL = "() => document.documentElement.scrollWidth <= window.innerWidth"


@pytest.fixture
def viewport() -> str:
    """A 390 x 844 phone (tests/browser/conftest.py VIEWPORTS)."""
    return "phone"


def code_from_email() -> str:
    queue.process_due()
    [mail] = [m for m in outbox() if "sign-in code" in str(m["Subject"])]
    assert mail["To"] == DAVE
    body = mail.get_body(("plain",))
    assert body is not None
    [code] = re.findall(r"^ +([0-9]{6})$", body.get_content().replace("\r\n", "\n"), re.M)
    return str(code)


def test_a_one_off_recipient_reads_with_a_code(
    page: Page, portal: Portal, settings: Any, viewport: str
) -> None:
    settings.SIGNIN_EMAIL_CODE = True
    deliver(CAROL, [DAVE], make_message(subject="Your contract", to=DAVE))
    assert page.viewport_size == {"width": 390, "height": 844}

    page.goto("/signin/")
    page.get_by_role("link", name="Email me a sign-in code").click()
    expect(page.get_by_role("heading", name="Sign in with a code by email")).to_be_visible()
    assert page.evaluate(NO_SIDEWAYS_SCROLL)
    page.get_by_label("Email address").fill(DAVE)
    page.get_by_role("button", name="Email me a code").click()

    expect(page).to_have_url(re.compile(r"/signin/email-code/enter/$"))
    expect(page.get_by_role("status")).to_contain_text(
        f"If there is a mailbox for {DAVE}, we have sent a code to it."
    )
    field = page.get_by_label("Sign-in code")
    expect(field).to_be_focused()
    expect(field).to_have_attribute("autocomplete", "one-time-code")
    expect(field).to_have_attribute("inputmode", "numeric")
    assert page.evaluate(NO_SIDEWAYS_SCROLL)

    # A wrong code first: said so, and nothing opens.
    field.fill("000000" if code_from_email() != "000000" else "111111")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_have_text(
        "That code did not work. Use the newest code we sent, within its time, "
        "or ask for a new one."
    )

    page.get_by_label("Sign-in code").fill(code_from_email())
    page.get_by_role("button", name="Sign in").click()

    page.wait_for_url("**/inbox/")
    expect(page.get_by_text("Your contract")).to_be_visible()
    dave = User.objects.get(email=DAVE)
    assert not dave.is_activated

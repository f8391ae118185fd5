"""Signing in, in Chromium, with the address exactly as the mailbox was created for it.

An <input type="email"> lets Chromium rewrite the domain (IDNA 2003 maps
"straße.de" to "strasse.de"): the sign-in and link forms take text instead.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from sealbox.accounts.models import User
from tests.browser.conftest import continue_past_phrase

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "velvet-harbour-lantern-93"


@pytest.mark.parametrize(
    "address",
    ["jan@stra\u00dfe.de", "\uff46\uff55\uff4c\uff4c@example.net"],
    ids=["sz", "fullwidth"],
)
def test_a_mailbox_signs_in_with_the_address_typed_as_it_was_mailed(
    page: Page, address: str
) -> None:
    user = User.objects.create_user(address, PASSWORD)
    User.objects.create_user("jan@strasse.de", "another long passphrase here")

    page.goto("/signin/")
    page.get_by_label("Email address").press_sequentially(address)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in", exact=True).click()

    # Its first sign-in since personal phrases exist: the phrase first, then the inbox.
    continue_past_phrase(page, user, "**/inbox/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Inbox")

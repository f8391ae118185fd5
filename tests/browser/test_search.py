"""Search in a real Chromium, with encryption at rest on: typed and sent by keyboard,
found by an attachment name, on a phone and a desktop."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import Page, expect

from sealbox.accounts.models import User
from sealbox.intake.delivery import deliver
from sealbox.mailstore.models import Message
from tests.browser.conftest import Portal, sign_in
from tests.browser.content import pdf
from tests.conftest import CAROL
from tests.mail import make_message
from tests.vault.conftest import encryption, vault_files  # noqa: F401 (fixtures)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "correct horse battery staple"  # alice's, from tests/conftest.py


@pytest.mark.usefixtures("encryption")
def test_a_reader_finds_a_message_by_its_attachment_name(
    page: Page, portal: Portal, alice: User, settings: Any
) -> None:
    to = alice.email
    deliver(
        CAROL,
        [to],
        make_message(
            subject="Inspection results",
            to=to,
            attachments=[("Prüfbericht März 2027.pdf", "application/pdf", pdf())],
        ),
    )
    deliver(CAROL, [to], make_message(subject="Lunch on Friday", to=to))
    assert Message.objects.filter(owner=alice, sealed_summary__isnull=False).count() == 2

    sign_in(page, to, PASSWORD)
    box = page.get_by_role("search", name="Search messages").get_by_label("Search messages")
    box.focus()
    page.keyboard.type("MÄRZ 2027")
    page.keyboard.press("Enter")

    expect(page.get_by_role("heading", level=2)).to_have_text("1 result for “MÄRZ 2027”")
    expect(page.locator("ul.messages li")).to_have_count(1)
    expect(page.locator("ul.messages .subject")).to_have_text("Inspection results")
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")

    page.get_by_role("link", name="Show all messages").click()
    expect(page.locator("ul.messages li")).to_have_count(2)
    expect(page.get_by_role("search").get_by_label("Search messages")).to_have_value("")

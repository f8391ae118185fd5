"""The admin site in a real browser: the portal's sign-in with a code, filters and an action, under the CSP."""

from __future__ import annotations

import pyotp
import pytest
from playwright.sync_api import Page, expect

from sealbox.accounts import twofactor
from sealbox.accounts.models import User
from sealbox.intake.delivery import deliver
from sealbox.operator.models import AuditEntry
from tests.browser.conftest import Watch
from tests.conftest import CAROL
from tests.mail import make_message

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

OPERATOR = "ops@corp-ops.example"
PASSWORD = "operator passphrase 2026"
SUBJECT = "Heron acquisition terms 3309"


@pytest.mark.parametrize("viewport", ["desktop"], indirect=True)
def test_an_operator_signs_in_with_a_code_filters_and_sets_a_quota(
    page: Page, watch: Watch, viewport: str
) -> None:
    user = User.objects.create_superuser(OPERATOR, PASSWORD)
    secret = twofactor.new_secret()
    twofactor.turn_on(user, secret, 0)
    deliver(CAROL, ["new@example.net"], make_message(subject=SUBJECT, to="new@example.net"))

    page.goto("/admin/")
    page.wait_for_url("**/signin/?next=/admin/")
    page.get_by_label("Email address").fill(OPERATOR)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/signin/verify/")
    page.get_by_label("Code from your authenticator app").fill(pyotp.TOTP(secret).now())
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/admin/")

    page.get_by_role("link", name="Accounts").last.click()
    page.get_by_role("link", name="never activated").click()
    rows = page.locator("#result_list tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("new@example.net")

    rows.first.locator("input.action-select").check()
    page.locator("select[name=action]").select_option("set_quota")
    page.get_by_role("button", name="Go").click()
    page.get_by_label("Quota in MiB").fill("3")
    page.get_by_role("button", name="Set quota").click()

    expect(page.locator(".messagelist")).to_contain_text("Quota set for 1 account(s).")
    expect(page.locator("#result_list")).to_contain_text("of 3.0 MiB")
    assert AuditEntry.objects.get(action="set quota").actor == OPERATOR
    assert SUBJECT not in page.content()
    assert not [line for line in watch.console if "Content Security Policy" in line]

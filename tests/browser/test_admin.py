"""The admin site in a real browser: the portal's sign-in with a code, filters, search and an action, under the CSP."""

from __future__ import annotations

from collections.abc import Callable

import pyotp
import pytest
from playwright.sync_api import Page, expect

from sealbox.accounts import twofactor
from sealbox.accounts.models import User
from sealbox.intake.delivery import deliver
from sealbox.operator.models import AuditEntry
from tests.browser.conftest import Watch, continue_past_phrase
from tests.conftest import CAROL
from tests.mail import make_message

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

OPERATOR = "ops@corp-ops.example"
PASSWORD = "operator passphrase 2026"
SUBJECT = "Heron acquisition terms 3309"

# Every Content-Security-Policy violation on any page, reported to the test.
REPORT_VIOLATIONS = """
document.addEventListener("securitypolicyviolation", (e) => {
  window.cspViolation(`${e.violatedDirective} ${e.blockedURI} ${e.sourceFile}:${e.lineNumber}`);
});
"""


@pytest.mark.parametrize("viewport", ["desktop"], indirect=True)
def test_an_operator_signs_in_with_a_code_filters_and_sets_a_quota(
    page: Page, watch: Watch, viewport: str, shoot: Callable[..., None]
) -> None:
    user = User.objects.create_superuser(OPERATOR, PASSWORD)
    secret = twofactor.new_secret()
    twofactor.turn_on(user, secret, 0)
    for address in ("new@example.net", "newer@example.net", "other@example.org"):
        deliver(CAROL, [address], make_message(subject=SUBJECT, to=address))
    violations: list[str] = []
    page.expose_function("cspViolation", lambda text: violations.append(text))
    page.add_init_script(REPORT_VIOLATIONS)

    signin = page.goto("/admin/")
    assert signin is not None
    page.wait_for_url("**/signin/?next=/admin/")
    page.get_by_label("Email address").fill(OPERATOR)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in", exact=True).click()
    page.wait_for_url("**/signin/verify/")
    page.get_by_label("Code from your authenticator app").fill(pyotp.TOTP(secret).now())
    page.get_by_role("button", name="Sign in", exact=True).click()
    # The operator's first sign-in since personal phrases exist: the phrase, then the admin.
    continue_past_phrase(page, user, "**/admin/")
    index = page.reload()
    assert index is not None and index.status == 200
    # The admin's pages carry the portal's headers (strict CSP, no framing).
    for header in ("content-security-policy", "x-frame-options", "referrer-policy"):
        assert index.headers[header] == signin.headers[header], header

    page.get_by_role("link", name="Accounts").last.click()
    page.get_by_role("link", name="never activated").click()
    rows = page.locator("#result_list tbody tr")
    expect(rows).to_have_count(3)
    page.locator("#searchbar").fill("example.net")
    page.locator("#searchbar").press("Enter")
    expect(rows).to_have_count(2)
    expect(page.locator("#changelist-filter")).to_contain_text("never activated")

    # The actions bar is Django's JavaScript at work: the counter and the selected row.
    row = rows.filter(has_text="newer@example.net")
    row.locator("input.action-select").check()
    expect(page.locator(".action-counter")).to_contain_text("1 of 2 selected")
    expect(row).to_have_class("selected")
    page.locator("select[name=action]").select_option("set_quota")
    page.get_by_role("button", name="Go").click()
    expect(page.locator("#content")).to_contain_text("newer@example.net")
    shoot("set-quota", dark=False)
    page.get_by_label("Quota in MiB").fill("3")
    page.get_by_role("button", name="Set quota").click()

    expect(page.locator(".messagelist")).to_contain_text("Quota set for 1 account.")
    expect(rows.filter(has_text="newer@example.net")).to_contain_text("of 3.0 MiB")
    expect(rows.filter(has_text="new@example.net").first).not_to_contain_text("of 3.0 MiB")
    shoot("accounts", dark=False)
    assert AuditEntry.objects.get(action="set quota").target == "newer@example.net"
    assert AuditEntry.objects.get(action="set quota").actor == OPERATOR

    page.goto("/admin/mailstore/message/")
    expect(page.locator("#result_list tbody tr")).to_have_count(3)
    assert SUBJECT not in page.content()

    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url("**/signin/")
    assert violations == []
    assert not [line for line in watch.console if "Content Security Policy" in line]

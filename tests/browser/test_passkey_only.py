"""A mailbox opened with a passkey instead of a password, in Chromium.

The passkey is Chromium's virtual authenticator (WebAuthn over the DevTools
protocol, as in test_account_security.py): activation with it alone, signing
in with it alone (no address typed), Settings for an account without a
password, and recovery through an emailed reset link.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.test import Client
from playwright.sync_api import Browser, CDPSession, Page, expect

from sealbox.accounts.models import LinkToken, Passkey, Throttle, User
from tests.accounts.helpers import NEW_PASSWORD
from tests.browser.conftest import Portal, Watch, continue_past_phrase, outbox, run_worker
from tests.browser.test_account_security import (  # noqa: F401 (fixtures)
    authenticator,
    fits,
    named_host,
    sign_out,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

REFUSED = "That passkey did not sign you in. Try again, or use your password."


def activate_with_passkey(page: Page, portal: Portal, user: User) -> None:
    page.goto(f"/activate/{LinkToken.issue(user, LinkToken.Purpose.ACTIVATE)}/")
    expect(page).to_have_url(portal.link("/activate/set-password/"))
    page.get_by_role("button", name="Use a passkey instead of a password").click()
    continue_past_phrase(page, user, portal.link("/inbox/"))


def passkey_button(page: Page) -> Any:
    return page.get_by_role("button", name="Sign in with a passkey")


def reset_link() -> str:
    run_worker()
    [mail] = [m for m in outbox() if "/reset/" in str(m.get_body(("plain",)))]
    body = mail.get_body(("plain",))
    assert body is not None
    [link] = re.findall(re.escape(django_settings.BASE_URL) + r"/reset/\S+", body.get_content())
    return str(link)


def test_a_mailbox_opened_with_a_passkey_alone(
    page: Page,
    portal: Portal,
    watch: Watch,
    authenticator: tuple[CDPSession, str],  # noqa: F811
) -> None:
    cdp, authenticator_id = authenticator
    dave, _ = User.objects.recipient("dave@example.com")
    activate_with_passkey(page, portal, dave)
    dave.refresh_from_db()
    assert dave.is_activated and not dave.has_usable_password()
    [made] = cdp.send("WebAuthn.getCredentials", {"authenticatorId": authenticator_id})[
        "credentials"
    ]
    assert made["isResidentCredential"] is True
    assert made["rpId"] == "localhost"
    assert [k.credential_id for k in dave.passkeys.all()] == [
        made["credentialId"].replace("+", "-").replace("/", "_").rstrip("=")
    ]
    sign_out(page, portal)

    # The passkey alone: no address typed.
    expect(page.get_by_label("Email address")).to_have_value("")
    assert fits(page), "the sign-in page scrolls sideways"
    passkey_button(page).click()
    expect(page).to_have_url(portal.link("/inbox/"))

    # Settings: no password to change but one to create; the only passkey stays.
    page.goto("/settings/")
    password = page.locator("section#password")
    expect(password.get_by_role("button", name="Create a password")).to_be_visible()
    expect(password.get_by_label("Current password")).to_have_count(0)
    expect(page.locator("section#two-factor")).to_contain_text("You sign in with a passkey alone")
    keys = page.locator("section#passkeys")
    keys.locator("summary", has_text="Remove").click()
    keys.get_by_role("button", name=re.compile("^Remove")).click()
    expect(page.locator(".flash")).to_contain_text(
        "is how you sign in: create a password or add another passkey before you remove it."
    )
    assert dave.passkeys.count() == 1
    assert fits(page), "the settings page scrolls sideways"
    sign_out(page, portal)

    # Lost the passkey: the reset link lets the mailbox in again with a password.
    cdp.send("WebAuthn.clearCredentials", {"authenticatorId": authenticator_id})
    page.get_by_role("link", name="Forgot password?").click()
    page.get_by_label("Email address").fill(dave.email)
    page.get_by_role("button", name=re.compile("Send")).click()
    page.goto(reset_link())
    expect(page).to_have_url(portal.link("/reset/set-password/"))
    expect(page.get_by_text("Your earlier passkeys stop working.")).to_be_visible()
    page.get_by_label("New password", exact=True).fill(NEW_PASSWORD)
    page.get_by_label("New password again").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Set new password").click()
    expect(page).to_have_url(portal.link("/inbox/"))
    sign_out(page, portal)
    page.get_by_label("Email address").fill(dave.email)
    page.get_by_label("Password").fill(NEW_PASSWORD)
    page.locator("main form:has(#id_password) button[type=submit]").click()
    expect(page).to_have_url(portal.link("/inbox/"))
    assert watch.dialogs == []
    assert [c for c in watch.console if c.startswith("error")] == []


def test_a_passkey_no_account_has_is_refused_and_counted(
    page: Page,
    portal: Portal,
    authenticator: tuple[CDPSession, str],  # noqa: F811
) -> None:
    dave, _ = User.objects.recipient("dave@example.com")
    activate_with_passkey(page, portal, dave)
    sign_out(page, portal)
    # The device still holds the passkey; the portal no longer knows it.
    Passkey.objects.all().delete()
    before = sum(Throttle.objects.values_list("failures", flat=True))
    passkey_button(page).click()
    expect(page.get_by_role("alert")).to_have_text(REFUSED)
    expect(page).to_have_url(portal.link("/signin/with-passkey/"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Sign in")
    assert sum(Throttle.objects.values_list("failures", flat=True)) == before + 1
    # And the page still works: the button is there to try again.
    expect(passkey_button(page)).to_be_enabled()


@pytest.mark.parametrize("script", [True, False], ids=["script", "no script"])
def test_confirming_with_the_passkey_is_offered_only_where_it_works(
    browser: Browser, portal: Portal, script: bool
) -> None:
    """Without script the button could do nothing: a line says what it needs instead."""
    dave, _ = User.objects.recipient("dave@example.com")
    Passkey.objects.create(user=dave, name="Phone", credential_id="cred-dave", public_key=b"k")
    dave.set_unusable_password()
    dave.save()
    client = Client()
    client.force_login(dave)  # a session whose confirmation, if any, is long past
    context = browser.new_context(base_url=portal.url, java_script_enabled=script)
    context.add_cookies(
        [
            {
                "name": django_settings.SESSION_COOKIE_NAME,
                "value": client.cookies[django_settings.SESSION_COOKIE_NAME].value,
                "url": portal.url,
            }
        ]
    )
    try:
        page = context.new_page()
        page.goto("/settings/")
        box = page.locator("main form.confirm-box")
        expect(box).to_contain_text("first confirm it is you with your passkey")
        button = box.get_by_role("button", name="Confirm with a passkey")
        missing = box.get_by_text(
            "Confirming with a passkey needs a browser that supports passkeys"
        )
        if script:
            expect(button).to_be_visible()
            expect(missing).to_be_hidden()
        else:
            expect(button).to_be_hidden()
            expect(missing).to_be_visible()
    finally:
        context.close()

"""Signing in safely, in Chromium: an authenticator app, recovery codes, passkeys, the log.

The authenticator app is Debian's oathtool, run on the secret as the page shows
it: that it agrees with the portal is the cross-check of the portal's TOTP. The
passkey is Chromium's own virtual authenticator (WebAuthn over the DevTools
protocol), answering as a platform authenticator with a fingerprint would.
WebAuthn refuses an IP address as the site's identity, so the portal is
reached as localhost, and BASE_HOST says so.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, CDPSession, Page, expect

from sealbox.accounts import twofactor
from sealbox.accounts.models import Passkey, User
from tests.browser.conftest import Portal, Watch

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "correct horse battery staple"  # alice's, from tests/conftest.py
OATHTOOL = "/usr/bin/oathtool"
PASSKEY_NAME = "Work laptop"
NO_SIDEWAYS_SCROLL = "() => document.documentElement.scrollWidth <= screen.width"


@pytest.fixture(autouse=True)
def named_host(portal: Portal, settings: Any) -> None:
    """The portal's identity for passkeys is the live server's host name, localhost."""
    host = urlsplit(portal.url).hostname
    assert host == "localhost", portal.url
    settings.BASE_HOST = host


def oathtool(secret: str, when: str = "now") -> str:
    """The six-digit code an authenticator app shows for this secret at this time."""
    done = subprocess.run(
        [OATHTOOL, "--totp", "-b", secret, "-N", when],
        capture_output=True,
        text=True,
        check=True,
        timeout=10,
    )
    code = done.stdout.strip()
    assert re.fullmatch(r"\d{6}", code), done.stdout
    return code


def fits(page: Page) -> bool:
    return bool(page.evaluate(NO_SIDEWAYS_SCROLL))


def submit_password(page: Page, email: str, password: str = PASSWORD) -> None:
    page.goto("/signin/")
    page.get_by_label("Email address").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in", exact=True).click()


def password_step(page: Page, email: str, password: str = PASSWORD) -> None:
    """The first step of a two-step sign-in: the password; the page then asks for more."""
    submit_password(page, email, password)
    expect(page).to_have_url(re.compile(r"/signin/verify/$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Confirm it is you")


def enter_code(page: Page, code: str) -> None:
    page.get_by_role("textbox", name=re.compile("Code from your authenticator app")).fill(code)
    page.get_by_role("button", name="Sign in", exact=True).click()


def sign_out(page: Page, portal: Portal) -> None:
    page.get_by_role("button", name="Sign out", exact=True).click()
    expect(page).to_have_url(portal.link("/signin/"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Sign in")


def activity_lines(page: Page) -> list[str]:
    """The "What" column of the activity page, newest first, as the reader sees it."""
    page.goto("/settings/")
    page.get_by_role("link", name="Recent activity").click()
    expect(page).to_have_url(re.compile(r"/activity/$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Recent activity")
    cells = page.locator("table.activity tbody tr td:nth-child(2)")
    return [" ".join(t.split()) for t in cells.all_inner_texts()]


def test_two_factor_with_an_authenticator_app_and_recovery_codes(
    page: Page, portal: Portal, alice: User, watch: Watch, shoot: Callable[..., None]
) -> None:
    # Signed in with the password alone, the reader turns two-factor sign-in on.
    submit_password(page, alice.email)
    expect(page).to_have_url(portal.link("/inbox/"))
    page.get_by_role("link", name="Settings").click()
    section = page.locator("section#two-factor")
    expect(section.get_by_role("heading", name="Two-factor sign-in")).to_be_visible()
    expect(section).to_contain_text("Off. Turn it on")
    assert fits(page), "the settings page scrolls sideways"
    shoot("settings-off", dark=False)
    section.get_by_role("link", name="Turn on with an authenticator app").click()
    expect(page).to_have_url(portal.link("/settings/two-factor/"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Turn on two-factor sign-in")
    expect(page.locator(".qr svg")).to_be_visible()
    shown = page.locator("code[data-secret]")
    expect(shown).to_be_visible()
    grouped = shown.inner_text()
    assert re.fullmatch(r"[A-Z2-7]{4}( [A-Z2-7]{4})*", grouped), grouped
    secret = grouped.replace(" ", "")
    assert len(secret) == 32
    assert fits(page), "the two-factor page scrolls sideways"
    shoot("totp-enrol")

    # A wrong code is refused; the app's code turns it on and shows ten recovery codes.
    field = page.get_by_label("Enter the six-digit code the app shows now")
    field.fill("12345")
    page.get_by_role("button", name="Turn on").click()
    expect(page.get_by_role("alert")).to_contain_text("That code did not work.")
    enrolled_with = oathtool(secret)
    field.fill(enrolled_with)
    page.get_by_role("button", name="Turn on").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Your recovery codes")
    codes = [c.strip() for c in page.locator("ul[data-codes] code").all_inner_texts()]
    assert len(codes) == 10
    assert len(set(codes)) == 10
    for code in codes:
        assert re.fullmatch(r"[a-z2-9]{4}-[a-z2-9]{4}-[a-z2-9]{4}", code), code
    assert fits(page), "the recovery codes page scrolls sideways"
    shoot("recovery-codes", dark=False)
    page.get_by_role("link", name="I have saved them").click()
    expect(page).to_have_url(portal.link("/settings/"))
    expect(section).to_contain_text("On — you sign in with your password and a code")
    expect(section).to_contain_text("You have 10 unused recovery codes.")
    expect(section.get_by_role("link", name="Turn on with an authenticator app")).to_have_count(0)
    assert fits(page), "the settings page scrolls sideways"
    shoot("settings-on")
    sign_out(page, portal)

    # A wrong password fails as before; the right one now asks for a code.
    page.get_by_label("Email address").fill(alice.email)
    page.get_by_label("Password").fill("not the password")
    page.get_by_role("button", name="Sign in", exact=True).click()
    expect(page.get_by_role("alert")).to_have_text("The email address or password is not right.")
    password_step(page, alice.email)
    expect(page.get_by_role("button", name="Use a passkey")).to_have_count(0)
    assert fits(page), "the code page scrolls sideways"
    shoot("verify", dark=False)
    # The code that turned it on never works again; the app's next code does
    # (one step of clock drift is allowed, so it works at once).
    enter_code(page, enrolled_with)
    expect(page.get_by_role("alert")).to_contain_text("That code did not work.")
    expect(page).to_have_url(portal.link("/signin/verify/"))
    enter_code(page, oathtool(secret, "+30 seconds"))
    expect(page).to_have_url(portal.link("/inbox/"))
    expect(page.get_by_role("link", name="Settings")).to_be_visible()
    sign_out(page, portal)

    # Without the phone: a recovery code signs in once, and the page says how many are left.
    password_step(page, alice.email)
    enter_code(page, codes[3].upper().replace("-", " "))
    expect(page).to_have_url(portal.link("/inbox/"))
    expect(page.locator(".flash")).to_contain_text(
        "You used a recovery code; 9 are left. Create new ones in Settings."
    )
    page.get_by_role("link", name="Settings").click()
    expect(section).to_contain_text("You have 9 unused recovery codes.")

    # The activity page lists all of it, newest first.
    lines = activity_lines(page)
    assert lines == [
        "Recovery code used",
        "Signed in (recovery code)",
        "Signed in (authenticator app)",
        "Failed sign-in (code)",
        "Failed sign-in (password)",
        "Two-factor sign-in turned on",
        "Signed in (password)",
    ]
    failed = page.locator("table.activity tr.kind-signin_failed")
    expect(failed).to_have_count(2)
    expect(failed.first.locator("td").nth(2)).to_have_text("127.0.0.1")
    expect(failed.first.locator("td").nth(3)).to_have_text("Chrome on Linux")
    assert fits(page), "the activity page scrolls sideways"
    shoot("activity", dark=False)

    # A recovery code works once only.
    sign_out(page, portal)
    password_step(page, alice.email)
    enter_code(page, codes[3])
    expect(page.get_by_role("alert")).to_contain_text("That code did not work.")
    expect(page).to_have_url(portal.link("/signin/verify/"))
    assert watch.dialogs == []
    assert [c for c in watch.console if c.startswith("error")] == []


@pytest.fixture
def authenticator(page: Page) -> Iterator[tuple[CDPSession, str]]:
    """Chromium's virtual platform authenticator, always present and verifying the user."""
    cdp = page.context.new_cdp_session(page)
    cdp.send("WebAuthn.enable", {"enableUI": False})
    added = cdp.send(
        "WebAuthn.addVirtualAuthenticator",
        {
            "options": {
                "protocol": "ctap2",
                "transport": "internal",
                "hasResidentKey": True,
                "hasUserVerification": True,
                "isUserVerified": True,
                "automaticPresenceSimulation": True,
            }
        },
    )
    yield cdp, added["authenticatorId"]
    cdp.detach()


def test_passkey_as_the_second_step(
    page: Page,
    portal: Portal,
    alice: User,
    watch: Watch,
    authenticator: tuple[CDPSession, str],
    shoot: Callable[..., None],
) -> None:
    cdp, authenticator_id = authenticator
    submit_password(page, alice.email)
    expect(page).to_have_url(portal.link("/inbox/"))

    # Settings: name the passkey, add it; the browser's authenticator makes it.
    page.get_by_role("link", name="Settings").click()
    section = page.locator("section#passkeys")
    expect(section.get_by_role("heading", name="Passkeys")).to_be_visible()
    expect(section.locator("ul.passkeys")).to_have_count(0)
    add = section.get_by_role("button", name="Add a passkey")
    # Without a name nothing happens: the browser asks for one.
    add.click()
    # (The browser also focuses the field, but only while its window has the
    # focus, which a headless browser on a busy machine does not always have.)
    name = section.get_by_label("Name for the new passkey")
    assert name.evaluate("el => el.validity.valueMissing && el.matches(':invalid')") is True
    assert cdp.send("WebAuthn.getCredentials", {"authenticatorId": authenticator_id}) == {
        "credentials": []
    }
    section.get_by_label("Name for the new passkey").fill(PASSKEY_NAME)
    add.click()
    # The first second factor: recovery codes are made and shown once, as for an app.
    expect(page.get_by_role("heading", name="Your recovery codes")).to_be_visible()
    expect(page.locator(".flash")).to_contain_text(
        f"Passkey “{PASSKEY_NAME}” added. You can use it to sign in."
    )
    expect(page.locator("ul[data-codes] code")).to_have_count(10)
    page.get_by_role("link", name="I have saved them").click()
    expect(page).to_have_url(portal.link("/settings/"))
    expect(page.locator("section#two-factor")).to_contain_text(
        "you sign in with your password and a passkey"
    )
    listed = section.locator("ul.passkeys li")
    expect(listed).to_have_count(1)
    expect(listed.locator(".name")).to_have_text(PASSKEY_NAME)
    expect(listed).to_contain_text("Added")
    expect(section.locator("[data-passkey-error]")).to_be_hidden()
    [made] = cdp.send("WebAuthn.getCredentials", {"authenticatorId": authenticator_id})[
        "credentials"
    ]
    assert made["rpId"] == "localhost"
    assert fits(page), "the settings page scrolls sideways"
    shoot("settings-passkey")
    sign_out(page, portal)

    # Signing in: the password, then the passkey.
    password_step(page, alice.email)
    expect(page.get_by_text("Or enter a code instead:")).to_be_visible()
    expect(page.get_by_role("textbox", name="Recovery code")).to_be_visible()
    assert fits(page), "the passkey sign-in page scrolls sideways"
    shoot("verify-passkey", dark=False)
    page.get_by_role("button", name="Use a passkey").click()
    expect(page).to_have_url(portal.link("/inbox/"))
    [used] = cdp.send("WebAuthn.getCredentials", {"authenticatorId": authenticator_id})[
        "credentials"
    ]
    assert used["credentialId"] == made["credentialId"]
    assert used["signCount"] > made["signCount"]

    # Settings shows when it was last used; the activity page, which passkey signed in.
    page.get_by_role("link", name="Settings").click()
    expect(section.locator("ul.passkeys li")).to_contain_text("last used")
    lines = activity_lines(page)
    assert lines == [
        f"Signed in (passkey “{PASSKEY_NAME}”)",
        f"Passkey added ({PASSKEY_NAME})",
        "Signed in (password)",
    ]
    assert fits(page), "the activity page scrolls sideways"
    assert watch.dialogs == []
    assert [c for c in watch.console if c.startswith(("error", "warning"))] == []


def test_passkey_that_does_not_answer(
    page: Page, portal: Portal, alice: User, authenticator: tuple[CDPSession, str]
) -> None:
    """A passkey the authenticator no longer holds: the page says so and the code form stays."""
    cdp, authenticator_id = authenticator
    submit_password(page, alice.email)
    page.get_by_role("link", name="Settings").click()
    page.get_by_label("Name for the new passkey").fill(PASSKEY_NAME)
    page.get_by_role("button", name="Add a passkey").click()
    page.get_by_role("link", name="I have saved them").click()
    expect(page.locator("ul.passkeys li .name")).to_have_text(PASSKEY_NAME)
    sign_out(page, portal)

    cdp.send("WebAuthn.clearCredentials", {"authenticatorId": authenticator_id})
    password_step(page, alice.email)
    start = page.get_by_role("button", name="Use a passkey")
    start.click()
    expect(page.get_by_role("alert")).to_have_text(
        "The passkey did not answer. Try again, or use a code."
    )
    expect(start).to_be_enabled()
    expect(page).to_have_url(portal.link("/signin/verify/"))


@pytest.mark.parametrize("script", [False, True], ids=["no-script", "script"])
def test_the_second_step_offers_a_passkey_only_where_it_can_work(
    browser: Browser, portal: Portal, alice: User, script: bool
) -> None:
    """Without script the passkey button would do nothing: the codes are the way on."""
    Passkey.objects.create(user=alice, name=PASSKEY_NAME, credential_id="AAAA", public_key=b"\xa0")
    [code, *_] = twofactor.new_recovery_codes(alice)
    context = browser.new_context(base_url=portal.url, java_script_enabled=script)
    try:
        page = context.new_page()
        password_step(page, alice.email)
        passkey = page.get_by_role("button", name="Use a passkey")
        instead = page.get_by_text("Or enter a code instead:")
        recovery = page.get_by_role("textbox", name="Recovery code")
        expect(recovery).to_be_visible()
        if script:
            expect(passkey).to_be_visible()
            expect(instead).to_be_visible()
            return
        expect(passkey).to_be_hidden()
        expect(instead).to_be_hidden()
        recovery.fill(code)
        page.get_by_role("button", name="Sign in", exact=True).click()
        expect(page).to_have_url(portal.link("/inbox/"))
    finally:
        context.close()


def test_too_many_wrong_passwords_pause_sign_in(
    page: Page, portal: Portal, alice: User, settings: Any
) -> None:
    # Two tries rather than the default ten keep this quick; the words are the same.
    settings.SIGNIN_LOCK_AFTER = 2
    settings.SIGNIN_LOCK_MINUTES = 15

    def attempt(password: str) -> None:
        page.get_by_label("Email address").fill(alice.email)
        page.get_by_label("Password").fill(password)
        page.get_by_role("button", name="Sign in", exact=True).click()

    page.goto("/signin/")
    attempt("wrong once")
    expect(page.get_by_role("alert")).to_have_text("The email address or password is not right.")
    # Straight after a failure, the next try must wait a little.
    attempt("wrong again")
    expect(page.get_by_role("alert")).to_have_text(
        re.compile(r"^Too many failed attempts\. Wait [12] seconds?, then try again\.$")
    )
    page.wait_for_timeout(2_200)
    attempt("wrong again")
    expect(page.get_by_role("alert")).to_have_text("The email address or password is not right.")
    # Now locked: even the right password is refused, and the page says for how long.
    attempt(PASSWORD)
    expect(page.get_by_role("alert")).to_have_text(
        "Too many failed attempts. For your safety, this is paused: try again in 15 minutes."
    )
    expect(page).to_have_url(portal.link("/signin/"))
    page.goto("/inbox/")
    expect(page).to_have_url(re.compile(r"/signin/\?next=/inbox/$"))

"""Every page a recipient sees passes axe-core's WCAG 2.2 A and AA rules, with no violation.

axe-core is the npm package pinned in package.json (`make pytest`, and so `make test`, or `npm ci`
puts it in node_modules/); the tests fail, never skip, when it is missing. The
pages are audited at a phone's and a desktop's size in English, and at a
phone's size in Arabic and in the dark colour scheme. Each test walks one part
of the portal (signed out, the mailbox, settings and two-factor sign-in) and
reports every violation of every page it saw at once: the rule, its impact,
what it asks for and the elements that break it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from importlib import import_module
from pathlib import Path
from typing import Any

import pyotp
import pytest
from playwright.sync_api import Browser, CDPSession, Frame, Page, expect

from sealbox.accounts import signin
from sealbox.accounts.models import LinkToken, Passkey, User
from sealbox.intake.delivery import deliver
from tests.browser.conftest import TIMEOUT_MS, VIEWPORTS, Portal, message_frame
from tests.browser.content import newsletter, pdf, png
from tests.browser.test_account_security import authenticator  # noqa: F401 (a fixture)
from tests.browser.test_email_code import DAVE, code_from_email
from tests.conftest import CAROL
from tests.mail import make_message

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "correct horse battery staple"  # alice's, from tests/conftest.py
AXE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"
# WCAG 2.0, 2.1 and 2.2, levels A and AA: axe-core's tags for them.
WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]
MIB = 1024 * 1024


@dataclass(frozen=True)
class Variant:
    size: str
    language: str
    scheme: str


VARIANTS = [
    Variant("phone", "en", "light"),
    Variant("desktop", "en", "light"),
    Variant("phone", "ar", "light"),
    Variant("phone", "en", "dark"),
]


@pytest.fixture(scope="module")
def axe_source() -> str:
    if not AXE.is_file():
        pytest.fail(f"axe-core is not installed at {AXE}: `make pytest` installs it (or `npm ci`)")
    return AXE.read_text(encoding="utf-8")


@dataclass
class Audit:
    """Runs axe on each page it is shown and keeps what it found."""

    source: str = field(repr=False)
    found: dict[str, list[str]] = field(default_factory=dict)
    seen: list[str] = field(default_factory=list)

    def check(self, where: Page | Frame, name: str) -> None:
        where.wait_for_load_state()
        if not where.evaluate("() => typeof window.axe === 'object'"):
            where.evaluate(self.source)
        # The message's frame has its own document, audited on its own (see
        # test_the_mailbox); on the page only the <iframe> element is checked.
        results = where.evaluate(
            """(tags) => axe.run(document, {
                runOnly: {type: 'tag', values: tags},
                resultTypes: ['violations'],
                iframes: false,
            })""",
            WCAG_TAGS,
        )
        self.seen.append(name)
        lines = []
        for v in results["violations"]:
            lines.append(f"  {v['id']} ({v['impact']}): {v['help']}")
            for node in v["nodes"]:
                summary = " ".join((node.get("failureSummary") or "").split())
                lines.append(f"    {node['target']}: {summary[:300]}")
        if lines:
            self.found[name] = lines

    def report(self) -> str:
        return "\n".join(f"{name}:\n" + "\n".join(lines) for name, lines in self.found.items())

    def assert_clean(self) -> None:
        assert self.found == {}, "axe-core found violations:\n" + self.report()


@pytest.fixture(params=VARIANTS, ids=lambda v: f"{v.size}-{v.language}-{v.scheme}")
def variant(request: pytest.FixtureRequest) -> Variant:
    return request.param  # type: ignore[no-any-return]


@pytest.fixture
def page(browser: Browser, portal: Portal, variant: Variant) -> Iterator[Page]:
    context = browser.new_context(
        **VIEWPORTS[variant.size],
        base_url=portal.url,
        # Chromium sends the locale as Accept-Language, which picks the page's language.
        locale=variant.language,
        color_scheme=variant.scheme,  # type: ignore[arg-type]
        timezone_id="Europe/Berlin",
    )
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture
def audit(axe_source: str) -> Audit:
    return Audit(axe_source)


def visit(page: Page, path: str, variant: Variant) -> None:
    page.goto(path)
    expect(page.locator("html")).to_have_attribute("lang", variant.language)


def sign_in(page: Page, email: str, password: str = PASSWORD) -> None:
    """Sign in by the form's fields, whatever the language of their labels."""
    page.goto("/signin/")
    page.locator("#id_username").fill(email)
    page.locator("#id_password").fill(password)
    # The sign-in form's own button (the language menu below has one too).
    page.locator("main form:has(#id_password) button[type=submit]").click()


def test_the_pages_before_signing_in(
    page: Page, portal: Portal, alice: User, audit: Audit, variant: Variant
) -> None:
    visit(page, "/signin/", variant)
    # With the passkey's way in too (shown where the browser has WebAuthn).
    expect(page.locator("main form.passkey-signin [data-passkey-start]")).to_be_visible()
    audit.check(page, "sign-in")
    sign_in(page, alice.email, "not the password")
    expect(page.locator("main .error:visible")).to_be_visible()
    audit.check(page, "sign-in, wrong password")

    visit(page, "/link/new/", variant)
    audit.check(page, "new link request")
    page.locator("#id_email").fill("not an address")
    page.locator("main form button[type=submit]").click()
    audit.check(page, "new link request, bad address")
    visit(page, "/password/forgot/", variant)
    audit.check(page, "forgotten password")
    visit(page, "/link/sent/", variant)
    audit.check(page, "link sent")
    visit(page, "/activate/not-a-real-token/", variant)
    audit.check(page, "invalid link")

    newcomer = User.objects.create_user("dora@example.net", password=None)
    visit(page, f"/activate/{LinkToken.issue(newcomer, LinkToken.Purpose.ACTIVATE)}/", variant)
    expect(page).to_have_url(re.compile(r"/activate/set-password/$"))
    expect(page.locator("main form.passkey-instead button")).to_be_visible()
    audit.check(page, "activation")
    set_password = page.locator("main form:has(#id_new_password1) button[type=submit]")
    page.locator("#id_new_password1").fill("short")
    set_password.click()
    audit.check(page, "activation, password refused")
    page.locator("#id_new_password1").fill(PASSWORD)
    page.locator("#id_new_password2").fill(PASSWORD)
    set_password.click()
    # The new personal phrase, shown once, then on to the inbox.
    expect(page).to_have_url(re.compile(r"/phrase/$"))
    newcomer.refresh_from_db()
    expect(page.locator("main .phrase-box dd")).to_have_text(newcomer.phrase)
    audit.check(page, "personal phrase, shown once")
    page.locator("main a.button[href='/inbox/']").click()
    expect(page).to_have_url(re.compile(r"/inbox/$"))
    page.context.clear_cookies()
    visit(page, f"/reset/{LinkToken.issue(alice, LinkToken.Purpose.RESET)}/", variant)
    expect(page).to_have_url(re.compile(r"/reset/set-password/$"))
    audit.check(page, "password reset")

    visit(page, "/no/such/page/", variant)
    audit.check(page, "not found")
    # A sign-in form whose CSRF cookie is gone: Django's CSRF failure page.
    visit(page, "/signin/", variant)
    page.context.clear_cookies()
    page.locator("#id_username").fill(alice.email)
    page.locator("#id_password").fill(PASSWORD)
    page.locator("main form:has(#id_password) button[type=submit]").click()
    expect(page.locator("h1")).to_be_visible()
    audit.check(page, "CSRF failure")
    audit.assert_clean()


def test_signing_in_with_a_code_by_email(
    page: Page, portal: Portal, audit: Audit, variant: Variant, settings: Any
) -> None:
    """A recipient who never chose a password, by code, up to Settings (which offers a link)."""
    settings.SIGNIN_EMAIL_CODE = True
    User.objects.recipient(DAVE)
    visit(page, "/signin/", variant)
    audit.check(page, "sign-in, with the code link")
    page.locator("main a[href^='/signin/email-code/']").click()
    expect(page).to_have_url(re.compile(r"/signin/email-code/$"))
    audit.check(page, "code by email: the address")
    page.locator("#id_email").fill("not an address")
    page.locator("main form button[type=submit]").click()
    expect(page.locator("main .errorlist")).to_be_visible()
    audit.check(page, "code by email: bad address")
    page.locator("#id_email").fill(DAVE)
    page.locator("main form button[type=submit]").click()
    expect(page).to_have_url(re.compile(r"/signin/email-code/enter/$"))
    audit.check(page, "code by email: the code")
    page.locator("#id_code").fill("000000x")
    page.locator("main form:has(#id_code) button[type=submit]").click()
    expect(page.locator("main .error")).to_be_visible()
    audit.check(page, "code by email: wrong code")
    page.locator("#id_code").fill(code_from_email())
    page.locator("main form:has(#id_code) button[type=submit]").click()
    expect(page).to_have_url(re.compile(r"/inbox/$"))
    visit(page, "/settings/", variant)
    expect(page.locator("main form[action='/link/new/'] button")).to_be_visible()
    audit.check(page, "settings, no password or passkey yet")
    audit.assert_clean()


def test_the_mailbox(
    page: Page,
    portal: Portal,
    alice: User,
    bob: User,
    settings: Any,
    audit: Audit,
    variant: Variant,
) -> None:
    settings.QUOTA_MB = 10
    settings.ALLOW_COMPOSE = True
    to = alice.email
    # Carol asks for a read receipt: the message page asks Alice first.
    [letter] = deliver(
        CAROL,
        [to],
        f"Disposition-Notification-To: {CAROL}\r\n".encode()
        + make_message(
            subject="Signed contract",
            to=to,
            body="Hello Alice,\n\nthe signed contract is attached: https://corp.example/c/1\n",
            attachments=[
                ("contract.pdf", "application/pdf", pdf()),
                ("signature.png", "image/png", png(120, 80)),
                ("terms.docx", "application/octet-stream", b"PK\x03\x04"),
            ],
        ),
    )
    [news] = deliver(CAROL, [to], newsletter(to, "http://127.0.0.1:9/remote.png"))
    # Nearly full: the inbox warns.
    User.objects.filter(pk=alice.pk).update(usage_bytes=9 * MIB)

    sign_in(page, to)
    expect(page).to_have_url(re.compile(r"/inbox/$"))
    expect(page.locator("ul.messages li")).to_have_count(2)
    expect(page.locator(".quota-alert")).to_be_visible()
    audit.check(page, "inbox, two unread, almost full")
    # One ticked: the count and the actions show.
    page.locator("ul.messages li input[type=checkbox]").first.check()
    expect(page.locator(".toolbar button.danger")).to_be_visible()
    audit.check(page, "inbox, one selected")

    visit(page, f"/m/{letter.id}/", variant)
    expect(page.locator(".attachments")).to_be_visible()
    # Thumbnail, preview links and Download all are part of what is audited.
    expect(page.locator(".attachments img.thumb")).to_have_count(1)
    expect(page.locator(".attachments a.preview")).to_have_count(2)
    expect(page.locator(".attachments a.download-all")).to_have_count(1)
    expect(page.locator("form.receipt-question")).to_be_visible()
    audit.check(page, "plain text message with attachments, asking for a read receipt")
    page.locator("form.receipt-question button[value=decline]").click()
    expect(page.locator("form.receipt-question")).to_have_count(0)
    audit.check(page, "read receipt declined")

    visit(page, f"/m/{news.id}/", variant)
    audit.check(page, "HTML message with attachments")
    # The full headers and the "More" menu, open.
    page.locator("details.envelope > summary").click()
    page.locator("details.more > summary").click()
    expect(page.locator("dl.headers")).to_be_visible()
    expect(page.locator("details.more ul.menu")).to_be_visible()
    audit.check(page, "HTML message, headers and More menu open")
    frame = message_frame(page)
    expect(frame.locator("body")).to_contain_text("Revenue grew")
    visit(page, f"/m/{news.id}/?remote=1", variant)
    audit.check(page, "HTML message, remote content shown")

    visit(page, f"/m/{letter.id}/reply/", variant)
    audit.check(page, "reply")
    page.locator("#id_body").fill("Thank you, signed and returned.")
    page.locator("main form.compose button[type=submit]").click()
    expect(page).not_to_have_url(re.compile(r"/reply/$"))
    audit.check(page, "after sending a reply")
    visit(page, "/sent/", variant)
    expect(page.locator("ul.messages li")).to_have_count(1)
    audit.check(page, "sent")
    visit(page, "/write/", variant)
    page.locator("main form.compose button[type=submit]").click()
    audit.check(page, "new message, with errors")
    # An attachment over the limit: the refusal page.
    settings.MAX_UPLOAD_MB = 1
    visit(page, "/write/", variant)
    page.locator("#id_to").fill(CAROL)
    page.locator("#id_attachments").set_input_files(
        {"name": "big.bin", "mimeType": "application/octet-stream", "buffer": bytes(4 * MIB)}
    )
    page.locator("main form.compose button[type=submit]").click()
    expect(page.locator("h1")).to_be_visible()
    expect(page.locator("main form.compose")).to_have_count(0)
    audit.check(page, "attachment too large")
    visit(page, "/inbox/", variant)
    audit.check(page, "inbox, one read")
    visit(page, "/inbox/?q=contract.pdf", variant)
    expect(page.locator("ul.messages li")).to_have_count(1)
    audit.check(page, "search results")
    visit(page, "/inbox/?q=nothing+like+this", variant)
    expect(page.locator("ul.messages")).to_have_count(0)
    audit.check(page, "search, no match")

    # Bob's mailbox: empty, and full.
    page.context.clear_cookies()
    User.objects.filter(pk=bob.pk).update(usage_bytes=10 * MIB)
    sign_in(page, bob.email, "another long passphrase here")
    expect(page).to_have_url(re.compile(r"/inbox/$"))
    expect(page.locator(".quota-alert")).to_be_visible()
    audit.check(page, "empty inbox, full")
    visit(page, "/sent/", variant)
    audit.check(page, "sent, empty")
    audit.assert_clean()


def test_the_message_frame(
    page: Page, browser: Browser, portal: Portal, alice: User, audit: Audit, variant: Variant
) -> None:
    """The document inside the sandboxed frame: Sealbox's own wrapper around a sender's HTML.

    The frame runs no script (its sandbox and CSP say so), so axe cannot be
    put into it where it is. It is opened as a page of its own instead, in a
    context that ignores CSP: only so that axe can run in it; nothing else
    in these tests depends on that.
    """
    to = alice.email
    [news] = deliver(CAROL, [to], newsletter(to, "http://127.0.0.1:9/remote.png"))
    sign_in(page, to)
    expect(page).to_have_url(re.compile(r"/inbox/$"))
    cookies = page.context.cookies()
    context = browser.new_context(
        **VIEWPORTS[variant.size],
        base_url=portal.url,
        locale=variant.language,
        color_scheme=variant.scheme,  # type: ignore[arg-type]
        bypass_csp=True,
    )
    try:
        context.add_cookies(cookies)  # type: ignore[arg-type]
        frame_page = context.new_page()
        frame_page.goto(f"/m/{news.id}/body/")
        expect(frame_page.locator("body")).to_contain_text("Revenue grew")
        audit.check(frame_page, "the message frame's document")
    finally:
        context.close()
    audit.assert_clean()


def test_settings_and_two_factor_sign_in(
    page: Page, portal: Portal, alice: User, audit: Audit, variant: Variant
) -> None:
    sign_in(page, alice.email)
    expect(page).to_have_url(re.compile(r"/inbox/$"))
    # A passkey to list (never used: it only has to be shown).
    Passkey.objects.create(
        user=alice, name="Work laptop", credential_id="a11y-test-credential", public_key=b"x"
    )
    visit(page, "/settings/", variant)
    audit.check(page, "settings")
    # The password section with its errors.
    page.locator("#id_old_password").fill("not the password")
    page.locator("form:has(#id_old_password) button[type=submit]").click()
    expect(page.locator("main .errorlist, main .error").first).to_be_visible()
    audit.check(page, "settings, password refused")
    # The personal phrase section: the phrase, then an own phrase that is too short.
    visit(page, "/settings/", variant)
    phrase = page.locator("#phrase")
    expect(phrase.locator(".phrase-box dd")).to_have_text(alice.phrase)
    phrase.locator("summary").click()
    phrase.locator("#id_phrase").fill("ab")
    phrase.locator("form:has(#id_phrase) button[type=submit]").click()
    expect(page.locator("#id_phrase_error")).to_be_visible()
    audit.check(page, "settings, own phrase refused")
    visit(page, "/activity/", variant)
    audit.check(page, "activity")

    visit(page, "/settings/two-factor/", variant)
    audit.check(page, "two-factor enrolment")
    page.locator("#id_code").fill("000000")
    page.locator("main form button[type=submit]").click()
    audit.check(page, "two-factor enrolment, wrong code")
    secret = page.locator("code[data-secret]").inner_text().replace(" ", "")
    page.locator("#id_code").fill(pyotp.TOTP(secret).now())
    if page.locator("#id_password").count():
        page.locator("#id_password").fill(PASSWORD)
    page.locator("main form button[type=submit]").click()
    expect(page.locator("ul[data-codes] code")).to_have_count(10)
    audit.check(page, "recovery codes")
    visit(page, "/settings/", variant)
    audit.check(page, "settings, two-factor on")

    page.context.clear_cookies()
    sign_in(page, alice.email)
    expect(page).to_have_url(re.compile(r"/signin/verify/$"))
    audit.check(page, "two-factor sign-in")
    page.locator("#id_code").fill("000000")
    page.locator("form:has(#id_code) button[type=submit]").click()
    expect(page.locator("main .error:not([hidden])")).to_be_visible()
    audit.check(page, "two-factor sign-in, wrong code")
    audit.assert_clean()


def test_a_mailbox_opened_with_a_passkey(
    page: Page,
    portal: Portal,
    audit: Audit,
    variant: Variant,
    settings: Any,
    authenticator: tuple[CDPSession, str],  # noqa: F811
) -> None:
    """Activation with a passkey alone; Settings without a password; a refused passkey."""
    settings.BASE_HOST = "localhost"
    newcomer = User.objects.create_user("dora@example.net", password=None)
    visit(page, f"/activate/{LinkToken.issue(newcomer, LinkToken.Purpose.ACTIVATE)}/", variant)
    page.locator("main form.passkey-instead button").click()
    expect(page).to_have_url(re.compile(r"/phrase/$"))
    # Ten minutes later: changes to how she signs in ask her to confirm it is her.
    [cookie] = [c for c in page.context.cookies() if c["name"] == settings.SESSION_COOKIE_NAME]
    session = import_module(settings.SESSION_ENGINE).SessionStore(cookie["value"])
    session[signin.AUTHENTICATED_AT] = 0
    session.save()
    visit(page, "/settings/", variant)
    page.evaluate("() => document.querySelectorAll('details').forEach(d => d.open = true)")
    expect(page.locator("main form.confirm-box [data-passkey-start]")).to_be_visible()
    audit.check(page, "settings without a password")
    page.locator("main form.confirm-box [data-passkey-start]").click()
    expect(page.locator(".flash")).to_be_visible()
    audit.check(page, "settings without a password, confirmed")
    page.locator("form[action$='/signout/'] button").click()
    expect(page).to_have_url(re.compile(r"/signin/$"))
    Passkey.objects.all().delete()  # the device holds one the portal no longer knows
    page.locator("main form.passkey-signin [data-passkey-start]").click()
    expect(page).to_have_url(re.compile(r"/signin/with-passkey/$"))
    expect(page.get_by_role("alert")).to_be_visible()
    audit.check(page, "sign-in, passkey refused")
    audit.assert_clean()


def test_the_audit_reports_what_breaks_the_rules(browser: Browser, axe_source: str) -> None:
    """The check itself can fail: a page without a language, an image without a text
    alternative and grey text on grey each come out as a violation."""
    context = browser.new_context(**VIEWPORTS["phone"], color_scheme="dark")
    try:
        page = context.new_page()
        page.set_content(
            "<!DOCTYPE html><title>Bad</title><main><h1>Bad</h1><img src='data:,'>"
            "<p style='color:#777;background:#888'>Hard to read</p></main>"
        )
        audit = Audit(axe_source)
        audit.check(page, "a bad page")
    finally:
        context.close()
    found = "\n".join(audit.found["a bad page"])
    for rule in ("html-has-lang", "image-alt", "color-contrast"):
        assert f"  {rule} (" in found, found

"""The personal phrase: its words, its making at activation or at an old account's next sign-in,
the page that shows it once, and where it must never appear (admin, logs, URLs)."""

from __future__ import annotations

import logging
import re
import unicodedata
from typing import Any

import pyotp
import pytest
from django.conf import settings
from django.test import Client
from django.utils import translation

from sealbox.accounts import phrase
from sealbox.accounts.models import LinkToken, User
from sealbox.accounts.phrasewords import WORDS
from tests.accounts.helpers import DAVE, NEW_PASSWORD, PASSWORD, page, recipient
from tests.operator.test_admin import body, operator_with_totp
from tests.operator.test_admin import signed_in as operator_signed_in

pytestmark = pytest.mark.django_db

CODES = [code for code, _name in settings.LANGUAGES]
# Arabic marks (harakat, shadda, sukun, dagger alif): the Arabic list is written without them.
ARABIC_DIACRITICS = re.compile("[\u064b-\u065f\u0670]")


def activate(user: User, **headers: str) -> tuple[Client, Any]:
    """Follow a fresh activation link and choose the first password; (browser, response)."""
    token = LinkToken.issue(user, LinkToken.Purpose.ACTIVATE)
    client = Client(**headers)  # type: ignore[arg-type]
    assert client.get(f"/activate/{token}/").status_code == 302
    r = client.post(
        "/activate/set-password/", {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD}
    )
    return client, r


def shown_phrase(html: str) -> str:
    [shown] = re.findall(r'<dd class="phrase" dir="auto">([^<]*)</dd>', html)
    return shown


def old_account(email: str = DAVE) -> User:
    """An account activated before personal phrases existed: a password, no phrase."""
    return User.objects.create_user(email, PASSWORD)


# --- The word lists and generate() ----------------------------------------------------


@pytest.mark.parametrize("code", CODES)
def test_each_language_has_256_distinct_single_words(code: str) -> None:
    words = WORDS[code]

    assert len(set(words)) == len(words), [w for w in set(words) if words.count(w) > 1]
    assert len(words) >= 256
    for word in words:
        assert word and not any(c.isspace() for c in word), repr(word)
        assert all(unicodedata.category(c).startswith("L") for c in word), repr(word)


def test_the_arabic_words_carry_no_diacritics() -> None:
    assert [w for w in WORDS["ar"] if ARABIC_DIACRITICS.search(w)] == []
    assert all(re.fullmatch("[\u0621-\u064a]+", w) for w in WORDS["ar"])


@pytest.mark.parametrize("code", CODES)
def test_a_phrase_is_three_words_from_its_languages_list(code: str) -> None:
    words = phrase.generate(code).split(" ")

    assert len(words) == 3
    assert all(w in WORDS[code] for w in words), words


def test_phrases_differ_from_call_to_call() -> None:
    phrases = {phrase.generate("en") for _ in range(20)}

    assert len(phrases) == 20


def test_a_language_without_a_list_gets_english_words() -> None:
    assert all(w in WORDS["en"] for w in phrase.generate("xx").split())


def test_the_accounts_language_comes_before_the_active_one() -> None:
    with translation.override("de"):
        assert phrase.language_of(User(email=DAVE, language="fr")) == "fr"
        assert phrase.language_of(User(email=DAVE)) == "de"


# --- At activation ---------------------------------------------------------------------


def test_for_email_is_empty_before_activation() -> None:
    dave = recipient()
    assert phrase.for_email(dave) == ""

    activate(dave)

    dave.refresh_from_db()
    assert phrase.for_email(dave) == dave.phrase != ""


def test_activation_saves_a_phrase_and_shows_it_once() -> None:
    client, r = activate(recipient())

    assert r.status_code == 302 and r["Location"] == "/phrase/"
    dave = User.objects.get(email=DAVE)
    assert dave.activated_at is not None
    assert len(dave.phrase.split(" ")) == 3

    r = client.get("/phrase/")
    assert r.status_code == 200
    assert "no-store" in r["Cache-Control"]
    html = page(r)
    assert '<h1 id="phrase-title">Remember your personal phrase</h1>' in html
    assert "<dt>Your personal phrase</dt>" in html
    assert shown_phrase(html) == dave.phrase
    assert "Every email we send you from now on shows this phrase at its top." in html
    assert "If an email that claims to come from us does not show it, do not click its links." in (
        html
    )
    assert 'You can change it in <a href="/settings/#phrase">Settings</a>.' in html
    assert '<a class="button" href="/inbox/">Continue</a>' in html

    again = client.get("/phrase/")
    assert again.status_code == 302 and again["Location"] == "/inbox/"
    assert dave.phrase not in page(client.get("/inbox/"))


def test_the_phrase_is_in_the_recipients_language() -> None:
    activate(recipient(), HTTP_ACCEPT_LANGUAGE="nl")

    words = User.objects.get(email=DAVE).phrase.split(" ")
    assert all(w in WORDS["nl"] for w in words), words


def test_a_failed_activation_makes_no_phrase() -> None:
    token = LinkToken.issue(recipient(), LinkToken.Purpose.ACTIVATE)
    client = Client()
    client.get(f"/activate/{token}/")

    client.post("/activate/set-password/", {"new_password1": "short", "new_password2": "short"})

    assert User.objects.get(email=DAVE).phrase == ""
    assert client.get("/phrase/").status_code == 302  # to the sign-in: nobody is signed in


def test_a_password_reset_keeps_the_phrase_and_shows_no_phrase_page(alice: User) -> None:
    token = LinkToken.issue(alice, LinkToken.Purpose.RESET)
    client = Client()
    client.get(f"/reset/{token}/")

    r = client.post(
        "/reset/set-password/", {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD}
    )

    assert r["Location"] == "/inbox/"
    alice.refresh_from_db()
    assert alice.phrase == "amber otter lantern"


# --- Accounts from before phrases: at the next sign-in ----------------------------------


def test_an_old_account_gets_its_phrase_at_the_next_sign_in_and_sees_it_once() -> None:
    dave = old_account()
    assert phrase.for_email(dave) == ""
    client = Client()

    r = client.post("/signin/?next=/settings/", {"username": DAVE, "password": PASSWORD})

    assert r["Location"] == "/phrase/"
    dave.refresh_from_db()
    assert len(dave.phrase.split(" ")) == 3
    html = page(client.get("/phrase/"))
    assert shown_phrase(html) == dave.phrase
    assert '<a class="button" href="/settings/">Continue</a>' in html

    client.post("/signout/")
    r = client.post("/signin/", {"username": DAVE, "password": PASSWORD})
    assert r["Location"] == "/inbox/"
    dave.refresh_from_db()
    assert phrase.for_email(dave) == shown_phrase(html)


def test_an_account_with_a_phrase_signs_in_straight_to_the_inbox(alice: User) -> None:
    r = Client().post("/signin/", {"username": alice.email, "password": PASSWORD})

    assert r["Location"] == "/inbox/"
    alice.refresh_from_db()
    assert alice.phrase == "amber otter lantern"


def test_with_two_factor_the_phrase_comes_after_the_second_step() -> None:
    user, secret = operator_with_totp()
    client = Client()
    r = client.post("/signin/", {"username": user.email, "password": "operator passphrase 2026"})
    assert r["Location"] == "/signin/verify/"
    user.refresh_from_db()
    assert user.phrase == ""  # nothing yet for whoever knows only the password

    r = client.post("/signin/verify/", {"code": pyotp.TOTP(secret).now()})

    assert r["Location"] == "/phrase/"
    user.refresh_from_db()
    assert shown_phrase(page(client.get("/phrase/"))) == user.phrase != ""


# --- Never in the admin, logs or URLs ----------------------------------------------------


def test_the_admin_shows_whether_a_phrase_is_set_never_the_phrase(alice: User) -> None:
    operator, _secret = operator_with_totp()
    ops = operator_signed_in(operator)

    listing = body(ops.get("/admin/accounts/user/"))
    change = body(ops.get(f"/admin/accounts/user/{alice.pk}/change/"))
    found = body(ops.get("/admin/accounts/user/?q=amber"))

    assert "alice@example.net" in listing and "alice@example.net" in change
    assert "personal phrase set" in change.lower()
    for html in (listing, change):
        assert "amber" not in html.lower() and "otter" not in html.lower()
    assert "0 results" in found  # nor can it be searched for


def test_the_phrase_never_reaches_a_log_or_a_url(caplog: Any, alice: User) -> None:
    caplog.set_level(logging.DEBUG)
    locations: list[str] = []
    client, r = activate(recipient())
    locations.append(r["Location"])
    client.get("/phrase/")
    old_account("erin@example.com")
    erin = Client()
    locations.append(
        erin.post("/signin/", {"username": "erin@example.com", "password": PASSWORD})["Location"]
    )
    erin.get("/phrase/")
    mine = Client()
    mine.post("/signin/", {"username": alice.email, "password": PASSWORD})
    r = mine.post("/settings/phrase/", {"choice": "own", "phrase": "purple umbrella waltz"})
    locations.append(r["Location"])

    phrases = [u.phrase for u in User.objects.all() if u.phrase]
    assert len(phrases) == 3 and "purple umbrella waltz" in phrases
    assert caplog.records
    for value in phrases:
        assert value not in caplog.text
        for word in value.split():
            assert word not in " ".join(locations)

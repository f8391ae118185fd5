"""Which language a page is in, the language menu, and the language checks."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from django.core.checks import run_checks
from django.test import Client
from django.utils import translation
from django.utils.translation import gettext

from sealbox.accounts import languages
from sealbox.accounts.models import LinkToken, User
from tests.accounts.helpers import NEW_PASSWORD, page, recipient, signed_in

pytestmark = pytest.mark.django_db


def language_of(response: Any) -> str:
    match = re.search(r'<html lang="([^"]*)" dir="(rtl|ltr)">', page(response))
    assert match, page(response)[:300]
    return match[1]


def signin_page(client: Client | None = None, **headers: str) -> Any:
    return (client or Client()).get("/signin/", headers=headers)


def menu(response: Any) -> str:
    match = re.search(r'<form class="language-menu".*?</form>', page(response), re.S)
    assert match, "no language menu"
    return match[0]


# --- The rule, step by step ------------------------------------------------------


def test_without_any_preference_the_operators_default_is_used(settings: Any) -> None:
    assert language_of(signin_page()) == "en"
    settings.LANGUAGE_CODE = "de"
    assert language_of(signin_page()) == "de"


def test_staff_read_the_operators_default_whatever_language_is_active(settings: Any) -> None:
    settings.LANGUAGE_CODE = "de"
    with translation.override("fr"), languages.for_staff():
        assert gettext("Secure mailbox") == "Sicheres Postfach"


def test_the_browsers_first_supported_language_comes_before_the_default(settings: Any) -> None:
    settings.LANGUAGE_CODE = "de"
    assert language_of(signin_page(accept_language="fr-CH, fr;q=0.9, en;q=0.8")) == "fr"
    assert language_of(signin_page(accept_language="ja, tlh;q=0.9, nl;q=0.5")) == "nl"
    assert language_of(signin_page(accept_language="ja, tlh;q=0.9")) == "de"
    assert language_of(signin_page(accept_language="es;q=0.2, ar;q=0.8")) == "ar"


def test_the_menus_cookie_comes_before_the_browser() -> None:
    client = Client()
    client.cookies["sealbox_language"] = "es"
    assert language_of(signin_page(client, accept_language="fr")) == "es"
    client.cookies["sealbox_language"] = "klingon"
    assert language_of(signin_page(client, accept_language="fr")) == "fr"


def test_the_saved_choice_comes_before_cookie_and_browser(alice: User) -> None:
    alice.language = "nl"
    alice.save()
    client = signed_in(alice)
    client.cookies["sealbox_language"] = "es"
    assert language_of(client.get("/inbox/", headers={"accept_language": "fr"})) == "nl"


def test_the_address_domain_counts_after_the_browser_for_pages(settings: Any) -> None:
    settings.LANGUAGE_CODE = "en"
    settings.LANGUAGE_BY_DOMAIN = "net:de,example.org:fr"
    alice = User.objects.create_user("alice@example.net", "correct horse battery staple")
    client = signed_in(alice)
    assert language_of(client.get("/inbox/")) == "de"
    assert language_of(client.get("/inbox/", headers={"accept_language": "es"})) == "es"
    # Before signing in, the address is not known: the default.
    assert language_of(signin_page()) == "en"


def test_a_malformed_domain_map_gives_the_default_not_an_error(settings: Any, alice: User) -> None:
    settings.LANGUAGE_BY_DOMAIN = "net=de"
    response = signed_in(alice).get("/inbox/")
    assert response.status_code == 200
    assert language_of(response) == "en"


def test_pages_say_what_they_vary_on_and_their_language() -> None:
    response = signin_page(accept_language="de")
    vary = {v.strip().lower() for v in response["Vary"].split(",")}
    assert {"accept-language", "cookie"} <= vary
    assert response["Content-Language"] == "de"


def test_arabic_pages_are_right_to_left_and_others_left_to_right() -> None:
    assert '<html lang="ar" dir="rtl">' in page(signin_page(accept_language="ar"))
    assert '<html lang="de" dir="ltr">' in page(signin_page(accept_language="de"))


# --- The menu ---------------------------------------------------------------------


def test_the_sign_in_page_has_a_menu_of_every_language_in_its_own_name() -> None:
    form = menu(signin_page(accept_language="fr"))
    assert 'action="/language/"' in form
    assert '<label for="id_language">' in form
    assert 'type="submit"' in form
    assert '<option value="fr" lang="fr" selected>Français</option>' in form
    for code, name in [("en", "English"), ("de", "Deutsch"), ("nl", "Nederlands")]:
        assert f'<option value="{code}" lang="{code}">{name}</option>' in form
    assert '<option value="es" lang="es">Español</option>' in form
    assert '<option value="ar" lang="ar">العربية</option>' in form
    assert 'name="next" value="/signin/"' in form
    # After signing in, still to the page asked for: a page of this site only.
    form = menu(Client().get("/signin/", {"next": "/settings/"}))
    assert 'name="next" value="/signin/?next=%2Fsettings%2F"' in form
    form = menu(Client().get("/signin/", {"next": "https://evil.example/"}))
    assert 'name="next" value="/signin/"' in form


def test_choosing_a_language_sets_a_cookie_for_a_year_and_goes_back() -> None:
    client = Client()
    response = client.post("/language/", {"language": "de", "next": "/signin/?next=/inbox/"})
    assert response.status_code == 302
    assert response["Location"] == "/signin/?next=/inbox/"
    cookie = response.cookies["sealbox_language"]
    assert cookie.value == "de"
    assert cookie["max-age"] == 365 * 24 * 3600
    assert cookie["samesite"] == "Lax"
    assert cookie["httponly"]
    assert not cookie["secure"]  # the tests' base URL is http
    assert language_of(client.get("/signin/")) == "de"


def test_the_cookie_is_secure_when_the_portal_is_https() -> None:
    env = {**os.environ, "SEALBOX_BASE_URL": "https://secure.example.org"}
    code = "from django.conf import settings; print(settings.LANGUAGE_COOKIE_SECURE)"
    result = subprocess.run(
        [sys.executable, "-c", f"import django; django.setup(); {code}"],
        env={**env, "DJANGO_SETTINGS_MODULE": "sealbox.settings"},
        capture_output=True,
        text=True,
        check=True,
    )
    assert result.stdout.strip() == "True"


@pytest.mark.parametrize(
    "target",
    ["https://evil.example/", "//evil.example/x", "/\\evil.example", "javascript:alert(1)", ""],
)
def test_the_menu_only_goes_back_to_this_site(target: str) -> None:
    response = Client().post("/language/", {"language": "nl", "next": target})
    assert response.status_code == 302
    assert response["Location"] == "/"


def test_an_unknown_language_is_refused_and_nothing_is_set() -> None:
    response = Client().post("/language/", {"language": "xx", "next": "/signin/"})
    assert response.status_code == 400
    assert "sealbox_language" not in response.cookies
    assert Client().get("/language/").status_code == 405


def test_settings_has_a_language_section_that_saves_the_choice(alice: User) -> None:
    client = signed_in(alice)
    settings_page = client.get("/settings/")
    form = menu(settings_page)
    assert 'id="language-title"' in page(settings_page)
    assert 'name="next" value="/settings/#language"' in form
    assert '<option value="en" lang="en" selected>English</option>' in form

    response = client.post("/language/", {"language": "ar", "next": "/settings/#language"})
    assert response["Location"] == "/settings/#language"
    alice.refresh_from_db()
    assert alice.language == "ar"
    # Another browser, no cookie: the saved choice still holds after signing in.
    assert language_of(signed_in(alice).get("/settings/")) == "ar"


# --- Activation -------------------------------------------------------------------


def activation_page(user: User, client: Client) -> Any:
    token = LinkToken.issue(user, LinkToken.Purpose.ACTIVATE)
    response = client.get(f"/activate/{token}/")
    assert response["Location"] == "/activate/set-password/"
    return client.get("/activate/set-password/")


def set_password(client: Client) -> Any:
    return client.post(
        "/activate/set-password/",
        {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )


def test_choosing_a_language_on_the_activation_page_stays_on_it_and_is_kept() -> None:
    dave = recipient()
    client = Client(headers={"accept_language": "de"})
    form = menu(activation_page(dave, client))
    assert 'name="next" value="/activate/set-password/"' in form

    response = client.post("/language/", {"language": "fr", "next": "/activate/set-password/"})
    assert response["Location"] == "/activate/set-password/"
    again = client.get("/activate/set-password/")
    assert again.status_code == 200
    assert language_of(again) == "fr"
    assert "dave@example.com" in page(again)  # still the same link's form

    assert set_password(client)["Location"] == "/phrase/"
    dave.refresh_from_db()
    assert dave.language == "fr"
    assert dave.is_activated


def test_activation_keeps_the_browsers_language_when_none_was_chosen() -> None:
    dave = recipient()
    client = Client(headers={"accept_language": "nl"})
    activation_page(dave, client)
    set_password(client)
    dave.refresh_from_db()
    assert dave.language == "nl"


def test_activation_does_not_replace_a_language_already_saved() -> None:
    dave = recipient()
    dave.language = "es"
    dave.save()
    client = Client(headers={"accept_language": "nl"})
    activation_page(dave, client)
    set_password(client)
    dave.refresh_from_db()
    assert dave.language == "es"


# --- Checks -----------------------------------------------------------------------


def check_ids(settings: Any) -> dict[str, str]:
    return {m.id: m.msg for m in run_checks() if m.id and m.id.startswith("sealbox.E03")}


def test_an_unknown_default_language_is_a_check_error_naming_the_languages(settings: Any) -> None:
    assert check_ids(settings) == {}
    settings.LANGUAGE_CODE = "pt"
    errors = [m for m in run_checks() if m.id == "sealbox.E030"]
    assert len(errors) == 1
    assert "SEALBOX_LANGUAGE" in errors[0].msg and "'pt'" in errors[0].msg
    assert "en, de, nl, fr, es, ar" in (errors[0].hint or "")


def test_a_malformed_domain_map_is_a_check_error(settings: Any) -> None:
    settings.LANGUAGE_BY_DOMAIN = "de:de,at"
    errors = check_ids(settings)
    assert "SEALBOX_LANGUAGE_BY_DOMAIN" in errors["sealbox.E031"]
    assert "'at'" in errors["sealbox.E031"]
    settings.LANGUAGE_BY_DOMAIN = "de:de,at:de"
    assert check_ids(settings) == {}


def test_a_language_without_its_compiled_catalogue_is_a_check_warning(
    settings: Any, tmp_path: Path
) -> None:
    assert [m for m in run_checks() if m.id == "sealbox.W030"] == []
    # Only German compiled: the others would silently fall back to English.
    compiled = tmp_path / "de/LC_MESSAGES/django.mo"
    compiled.parent.mkdir(parents=True)
    compiled.write_bytes((Path(settings.BASE_DIR) / "locale/de/LC_MESSAGES/django.mo").read_bytes())
    settings.LOCALE_PATHS = [tmp_path]

    [warning] = [m for m in run_checks() if m.id == "sealbox.W030"]

    assert warning.msg == (
        "No compiled catalogue (django.mo) for Nederlands (nl), Français (fr), Español (es), "
        "العربية (ar): pages and emails in these languages would be shown in English."
    )
    assert "make install" in (warning.hint or "")
    assert "python -m sealbox.catalogues" in (warning.hint or "")
    settings.LOCALE_PATHS = [tmp_path, Path(settings.BASE_DIR) / "locale"]
    assert [m for m in run_checks() if m.id == "sealbox.W030"] == []

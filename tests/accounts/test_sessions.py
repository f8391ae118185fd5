"""Sessions: the cookie's attributes, a new key at sign-in, and the idle timeout."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import time_machine
from django.conf import settings
from django.test import Client

from sealbox.accounts import middleware, signin
from sealbox.accounts.models import User
from tests.accounts.helpers import PASSWORD, is_signed_in, page, signed_in
from tests.conftest import process_env

pytestmark = pytest.mark.django_db

START = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
COOKIE = "sealbox_session"


@pytest.fixture(autouse=True)
def default_idle_timeout(settings: Any) -> None:
    """The default SEALBOX_SESSION_IDLE_MINUTES and _MAX_HOURS, whatever the environment says."""
    settings.SESSION_COOKIE_AGE = 30 * 60
    settings.SESSION_MAX_HOURS = 12


def settings_of(tmp_path: Path, **env: str) -> dict[str, Any]:
    """Session settings as a Sealbox process started with this environment sees them."""
    code = (
        "import json, django; from django.conf import settings; django.setup(); "
        "print(json.dumps({k: getattr(settings, k) for k in ("
        "'SESSION_COOKIE_SECURE', 'CSRF_COOKIE_SECURE', 'SESSION_COOKIE_HTTPONLY', "
        "'SESSION_COOKIE_SAMESITE', 'SESSION_COOKIE_AGE', 'SESSION_SAVE_EVERY_REQUEST', "
        "'SESSION_MAX_HOURS')}))"
    )
    environ = process_env(tmp_path, DJANGO_SETTINGS_MODULE="sealbox.settings", **env)
    out = subprocess.run(
        [sys.executable, "-c", code], env=environ, capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    return dict(json.loads(out.stdout))


def test_the_session_cookie_is_http_only_and_same_site_lax(alice: User) -> None:
    r = Client().post("/signin/", {"username": alice.email, "password": PASSWORD})

    cookie = r.cookies[COOKIE]
    assert cookie["httponly"] is True
    assert cookie["samesite"] == "Lax"
    assert cookie["max-age"] == 30 * 60
    assert not cookie["secure"]  # the test portal is http://portal.test


def test_the_cookies_are_secure_when_the_portal_is_served_over_https(tmp_path: Path) -> None:
    https = settings_of(tmp_path, SEALBOX_BASE_URL="https://mail.example.com")
    http = settings_of(tmp_path, SEALBOX_BASE_URL="http://127.0.0.1:8000")

    assert https["SESSION_COOKIE_SECURE"] is True
    assert https["CSRF_COOKIE_SECURE"] is True
    assert https["SESSION_COOKIE_HTTPONLY"] is True
    assert https["SESSION_COOKIE_SAMESITE"] == "Lax"
    assert http["SESSION_COOKIE_SECURE"] is False


def test_the_idle_timeout_is_set_in_minutes_from_the_environment(tmp_path: Path) -> None:
    default = settings_of(tmp_path)
    ten = settings_of(tmp_path, SEALBOX_SESSION_IDLE_MINUTES="10")

    assert default["SESSION_COOKIE_AGE"] == 30 * 60
    assert ten["SESSION_COOKIE_AGE"] == 10 * 60


def test_sign_in_gives_a_new_session_key(alice: User) -> None:
    client = Client()
    session = client.session
    session["planted"] = "by someone else"
    session.save()
    planted = session.session_key
    assert client.cookies[COOKIE].value == planted

    r = client.post("/signin/", {"username": alice.email, "password": PASSWORD})

    assert r.status_code == 302
    assert client.cookies[COOKIE].value != planted
    attacker = Client()
    attacker.cookies[settings.SESSION_COOKIE_NAME] = planted
    assert not is_signed_in(attacker)
    assert is_signed_in(client)


def test_a_session_unused_for_31_minutes_is_signed_out(alice: User) -> None:
    with time_machine.travel(START, tick=False):
        client = signed_in(alice)

    with time_machine.travel(START + timedelta(minutes=31), tick=False):
        r = client.get("/inbox/")

    assert r.status_code == 302
    assert r["Location"] == "/signin/?next=/inbox/"


def test_a_session_used_every_20_minutes_stays_signed_in(alice: User) -> None:
    with time_machine.travel(START, tick=False):
        client = signed_in(alice)

    for n in range(1, 7):
        with time_machine.travel(START + timedelta(minutes=20 * n), tick=False):
            r = client.get("/inbox/")
            assert r.status_code == 200, f"signed out after {20 * n} minutes"

    with time_machine.travel(START + timedelta(minutes=120 + 31), tick=False):
        assert not is_signed_in(client)


def test_the_idle_timeout_follows_the_setting(alice: User, settings: Any) -> None:
    settings.SESSION_COOKIE_AGE = 10 * 60  # SEALBOX_SESSION_IDLE_MINUTES=10
    with time_machine.travel(START, tick=False):
        client = signed_in(alice)

    with time_machine.travel(START + timedelta(minutes=9), tick=False):
        assert is_signed_in(client)
    with time_machine.travel(START + timedelta(minutes=20), tick=False):
        assert not is_signed_in(client)


def busy(client: Client, path: str, until: timedelta) -> timedelta | None:
    """Open the page every 20 minutes from START; when it first asked to sign in, if it did."""
    at = timedelta(minutes=20)
    while at <= until:
        with time_machine.travel(START + at, tick=False):
            r = client.get(path)
        if r.status_code != 200:
            return at
        at += timedelta(minutes=20)
    return None


def test_a_session_used_all_day_is_signed_out_12_hours_after_its_sign_in(alice: User) -> None:
    with time_machine.travel(START, tick=False):
        client = signed_in(alice)

    assert busy(client, "/inbox/", timedelta(hours=11, minutes=40)) is None
    with time_machine.travel(START + timedelta(hours=12), tick=False):
        r = client.get("/inbox/", follow=True)

        assert r.redirect_chain == [("/signin/?next=/inbox/", 302)]
        assert "a sign-in lasts 12 hours at most. Please sign in again." in page(r)
        assert not is_signed_in(client)
        # A new sign-in starts a new twelve hours.
        again = client.post("/signin/", {"username": alice.email, "password": PASSWORD})
        assert again.status_code == 302
        assert is_signed_in(client)


def test_three_days_of_activity_are_three_sign_ins_at_least(alice: User) -> None:
    with time_machine.travel(START, tick=False):
        client = signed_in(alice)

    assert busy(client, "/inbox/", timedelta(days=3)) == timedelta(hours=12)


def test_the_maximum_age_follows_the_setting(alice: User, settings: Any, tmp_path: Path) -> None:
    settings.SESSION_MAX_HOURS = 1
    with time_machine.travel(START, tick=False):
        client = signed_in(alice)

    assert busy(client, "/settings/", timedelta(hours=3)) == timedelta(hours=1)
    assert settings_of(tmp_path)["SESSION_MAX_HOURS"] == 12
    assert settings_of(tmp_path, SEALBOX_SESSION_MAX_HOURS="8")["SESSION_MAX_HOURS"] == 8


def test_an_operator_on_the_admin_site_is_signed_out_after_12_hours(settings: Any) -> None:
    settings.ADMIN_REQUIRE_2FA = False
    operator = User.objects.create_superuser("ops@corp.example", "operator passphrase 2026")
    with time_machine.travel(START, tick=False):
        client = Client()
        client.force_login(operator)

    assert busy(client, "/admin/", timedelta(hours=13)) == timedelta(hours=12)
    with time_machine.travel(START + timedelta(hours=12, minutes=1), tick=False):
        r = client.get("/admin/", follow=True)
    assert r.redirect_chain[-1][0] == "/signin/?next=/admin/"
    assert "a sign-in lasts 12 hours at most." in page(r)


def test_a_signed_in_session_without_a_sign_in_time_is_signed_out(alice: User) -> None:
    client = signed_in(alice)
    session = client.session
    del session[middleware.SIGNED_IN_AT]
    session.save()

    assert not is_signed_in(client)


def test_the_half_signed_in_state_is_not_stamped_the_full_sign_in_is(alice: User) -> None:
    """The twelve hours start when the sign-in completes, second step included."""
    from tests.accounts.test_two_factor import enrolled, oathtool, password_step

    secret = enrolled(alice, START)
    with time_machine.travel(START, tick=False):
        client = password_step(alice)
        assert middleware.SIGNED_IN_AT not in client.session
    later = START + timedelta(minutes=4)
    with time_machine.travel(later, tick=False):
        client.post("/signin/verify/", {"code": oathtool(secret, later)})
        assert client.session[middleware.SIGNED_IN_AT] == later.timestamp()
        assert client.session[signin.SECOND_FACTOR] is True

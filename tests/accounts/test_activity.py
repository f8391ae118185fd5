"""Recent activity, the previous sign-in on the inbox, signing out everywhere, required 2FA."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine
from django.test import Client

from sealbox.accounts import activity, twofactor
from sealbox.accounts.models import Activity, User
from sealbox.service.management.commands.worker import housekeeping
from tests.accounts.helpers import PASSWORD, is_signed_in, page, signed_in

pytestmark = pytest.mark.django_db

FIREFOX = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:128.0) Gecko/20100101 Firefox/128.0"
IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1"
)
EDGE = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0.0.0 Safari/537.36 Edg/126.0.0.0"
)
ANDROID_CHROME = (
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0.0.0 Mobile Safari/537.36"
)


@pytest.mark.parametrize(
    ("agent", "described"),
    [
        (FIREFOX, "Firefox on Windows"),
        (IPHONE, "Safari on iPhone"),
        (EDGE, "Edge on Windows"),
        (ANDROID_CHROME, "Chrome on Android"),
        ("curl/8.5.0", ""),
    ],
)
def test_browsers_are_named_as_people_know_them(agent: str, described: str) -> None:
    assert activity.browser(agent) == described


def sign_in_from(user: User, ip: str, agent: str, password: str = PASSWORD) -> Client:
    client = Client(REMOTE_ADDR=ip, HTTP_USER_AGENT=agent)
    client.post("/signin/", {"username": user.email, "password": password})
    return client


def test_the_activity_page_lists_sign_ins_failures_and_changes(alice: User) -> None:
    with time_machine.travel(datetime(2026, 11, 24, 8, 0, tzinfo=UTC)):
        sign_in_from(alice, "198.51.100.7", FIREFOX, password="wrong password")
        sign_in_from(alice, "198.51.100.7", FIREFOX)
    with time_machine.travel(datetime(2026, 11, 25, 9, 30, tzinfo=UTC)):
        client = sign_in_from(alice, "203.0.113.9", IPHONE)
        client.post(
            "/settings/password/",
            {
                "old_password": PASSWORD,
                "new_password1": "a fresh passphrase 77",
                "new_password2": "a fresh passphrase 77",
            },
        )
        r = client.get("/activity/")
    html = page(r)
    assert r.status_code == 200
    rows = [line for line in html.split("<tr") if "<td>" in line]
    kinds = [a.kind for a in Activity.objects.filter(user=alice)]
    assert kinds == ["password_changed", "signin", "signin", "signin_failed"]
    assert len(rows) == 4
    # Newest first, each with time, what, where from and which browser.
    assert "Password changed" in rows[0] and "Safari on iPhone" in rows[0]
    assert "Signed in" in rows[1] and "203.0.113.9" in rows[1] and "11/25/2026 9:30 a.m." in rows[1]
    assert (
        "Failed sign-in" in rows[3]
        and "198.51.100.7" in rows[3]
        and "Firefox on Windows" in rows[3]
    )
    # Nothing of another account.
    assert "bob@" not in html


def test_the_inbox_shows_the_previous_sign_in(alice: User) -> None:
    with time_machine.travel(datetime(2026, 11, 24, 8, 0, tzinfo=UTC)):
        first = sign_in_from(alice, "198.51.100.7", FIREFOX)
        assert "previous sign-in" not in page(first.get("/inbox/"))
    with time_machine.travel(datetime(2026, 11, 25, 9, 30, tzinfo=UTC)):
        second = sign_in_from(alice, "203.0.113.9", IPHONE)
        html = page(second.get("/inbox/"))
    assert "Your previous sign-in:" in html
    assert "11/24/2026 8 a.m." in html
    assert "from <bdi>198.51.100.7</bdi> (<bdi>Firefox on Windows</bdi>)" in html


def test_entries_older_than_the_audit_period_are_removed(alice: User, settings: Any) -> None:
    settings.AUDIT_DAYS = 30
    with time_machine.travel(datetime(2026, 9, 1, tzinfo=UTC)):
        activity.record(alice, Activity.Kind.SIGNIN)
    with time_machine.travel(datetime(2026, 11, 1, tzinfo=UTC)):
        activity.record(alice, Activity.Kind.SIGNIN)
    with time_machine.travel(datetime(2026, 11, 25, tzinfo=UTC)):
        housekeeping()
    assert [a.at.month for a in Activity.objects.filter(user=alice)] == [11]


def test_sign_out_everywhere_ends_every_session(alice: User) -> None:
    phone, laptop = signed_in(alice), signed_in(alice)
    r = laptop.post("/settings/signout-everywhere/", follow=True)
    assert "You were signed out on every device" in page(r)
    assert not is_signed_in(laptop)
    assert not is_signed_in(phone)
    assert Activity.objects.filter(user=alice, kind=Activity.Kind.SIGNOUT_EVERYWHERE).exists()
    # The password still works.
    assert is_signed_in(signed_in(alice))


def test_a_password_change_ends_the_other_sessions_but_not_this_one(alice: User) -> None:
    phone, laptop = signed_in(alice), signed_in(alice)
    new = "a fresh passphrase 77"
    laptop.post(
        "/settings/password/",
        {"old_password": PASSWORD, "new_password1": new, "new_password2": new},
    )
    assert is_signed_in(laptop)
    assert not is_signed_in(phone)


def test_turning_on_two_factor_ends_sessions_signed_in_with_the_password_alone(
    alice: User,
) -> None:
    phone, laptop = signed_in(alice), signed_in(alice)
    html = page(laptop.get("/settings/two-factor/"))
    secret = html.split("data-secret>")[1].split("<")[0].replace(" ", "")
    from tests.accounts.test_two_factor import oathtool

    r = laptop.post("/settings/two-factor/", {"code": oathtool(secret, datetime.now(UTC))})
    assert "Your recovery codes" in page(r)
    assert is_signed_in(laptop)
    assert not is_signed_in(phone)


def test_required_two_factor_shows_no_mail_until_it_is_set_up(alice: User, settings: Any) -> None:
    settings.REQUIRE_2FA = True
    client = signed_in(alice)
    for path in ("/inbox/", "/sent/", "/"):
        r = client.get(path)
        assert r.status_code == 302 and r["Location"] == "/settings/two-factor/", path
    html = page(client.get("/settings/two-factor/"))
    assert "Your organisation asks every recipient to use two-factor sign-in" in html
    secret = html.split("data-secret>")[1].split("<")[0].replace(" ", "")
    from tests.accounts.test_two_factor import oathtool

    client.post("/settings/two-factor/", {"code": oathtool(secret, datetime.now(UTC))})
    assert client.get("/inbox/").status_code == 200
    # And it cannot be turned off while required.
    later = datetime.now(UTC) + timedelta(seconds=30)
    with time_machine.travel(later, tick=False):
        r = client.post(
            "/settings/two-factor/off/",
            {"password": PASSWORD, "code": oathtool(secret, later)},
            follow=True,
        )
    assert "requires two-factor sign-in" in page(r)
    alice.refresh_from_db()
    assert alice.has_totp


def test_the_second_step_is_logged_with_how(alice: User) -> None:
    secret = twofactor.new_secret()
    twofactor.turn_on(alice, secret, 0)
    codes = twofactor.new_recovery_codes(alice)
    client = Client(REMOTE_ADDR="192.0.2.1")
    client.post("/signin/", {"username": alice.email, "password": PASSWORD})
    client.post("/signin/verify/", {"code": "000000"})
    client.post("/signin/verify/", {"code": codes[0]})
    entries = [(a.kind, a.detail) for a in Activity.objects.filter(user=alice).order_by("id")]
    assert entries == [
        ("signin_failed", "code"),
        ("signin", "recovery code"),
        ("recovery_used", ""),
    ]

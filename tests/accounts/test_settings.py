"""The settings page: changing the password."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine
from django.conf import settings
from django.test import Client

from sealbox.accounts.models import LinkToken, User
from tests.accounts.helpers import NEW_PASSWORD, PASSWORD, is_signed_in, page, signed_in

pytestmark = pytest.mark.django_db

CHANGED = "Your password was changed. Other devices were signed out."


def change(client: Client, old: str = PASSWORD, new: str = NEW_PASSWORD, again: str = "") -> Any:
    return client.post(
        "/settings/password/",
        {"old_password": old, "new_password1": new, "new_password2": again or new},
    )


def test_the_settings_page_needs_sign_in(db: Any) -> None:
    r = Client().get("/settings/")

    assert r.status_code == 302
    assert r["Location"] == "/signin/?next=/settings/"


def test_the_settings_page_has_a_password_section(alice: User) -> None:
    r = signed_in(alice).get("/settings/")

    assert r.status_code == 200
    html = page(r)
    assert "<h1>Settings</h1>" in html
    assert '<a href="/settings/" aria-current="page">Settings</a>' in html
    assert '<h2 id="password-title">Password</h2>' in html
    assert '<form method="post" action="/settings/password/" novalidate>' in html
    assert '<label for="id_old_password">Current password</label>' in html
    assert 'id="id_old_password" autocomplete="current-password"' in html
    assert '<label for="id_new_password1">New password</label>' in html
    assert '<label for="id_new_password2">New password again</label>' in html
    assert html.count('autocomplete="new-password"') == 2
    assert "Change password</button>" in html
    assert "no-store" in r["Cache-Control"]


def test_a_password_change_keeps_this_session_and_signs_out_the_others(alice: User) -> None:
    laptop = signed_in(alice)
    phone = signed_in(alice)

    r = change(laptop)

    assert r.status_code == 302
    assert r["Location"] == "/settings/"
    r = laptop.get("/settings/")
    assert r.status_code == 200
    assert CHANGED in page(r)
    r = phone.get("/inbox/")
    assert r.status_code == 302
    assert r["Location"] == "/signin/?next=/inbox/"
    assert Client().login(username=alice.email, password=NEW_PASSWORD)
    assert not Client().login(username=alice.email, password=PASSWORD)


def test_a_password_change_gives_this_session_a_new_key(alice: User) -> None:
    client = signed_in(alice)
    before = client.cookies[settings.SESSION_COOKIE_NAME].value

    change(client)

    assert client.cookies[settings.SESSION_COOKIE_NAME].value != before
    stale = Client()
    stale.cookies[settings.SESSION_COOKIE_NAME] = before
    assert not is_signed_in(stale)


def test_a_wrong_current_password_changes_nothing(alice: User) -> None:
    client = signed_in(alice)

    r = change(client, old="not my password at all")

    assert r.status_code == 200
    html = page(r)
    assert "Your old password was entered incorrectly." in html
    assert CHANGED not in html
    assert User.objects.get(pk=alice.pk).check_password(PASSWORD)


@pytest.mark.parametrize(
    ("new", "again", "reason"),
    [
        ("short-pw", "", "This password is too short. It must contain at least 12 characters."),
        ("manchesterunited", "", "This password is too common."),
        ("alice@example.net", "", "The password is too similar to the email address."),
        (NEW_PASSWORD, NEW_PASSWORD + "!", "The two password fields didn\u2019t match."),
    ],
)
def test_a_weak_or_mistyped_new_password_is_refused(
    new: str, again: str, reason: str, alice: User
) -> None:
    client = signed_in(alice)

    r = change(client, new=new, again=again)

    assert r.status_code == 200
    assert reason in page(r)
    assert User.objects.get(pk=alice.pk).check_password(PASSWORD)


def test_a_password_change_ends_outstanding_reset_links(alice: User) -> None:
    token = LinkToken.issue(alice, LinkToken.Purpose.RESET)

    change(signed_in(alice))

    assert Client().get(f"/reset/{token}/").status_code == 410


def test_the_password_is_changed_only_by_post(alice: User) -> None:
    client = signed_in(alice)

    assert client.get("/settings/password/").status_code == 405
    assert Client().post("/settings/password/")["Location"].startswith("/signin/")


def test_the_password_change_needs_the_csrf_token(alice: User) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)

    r = change(client)

    assert r.status_code == 403
    assert User.objects.get(pk=alice.pk).check_password(PASSWORD)


def test_guessing_the_password_in_settings_counts_like_failed_sign_ins(alice: User) -> None:
    """A borrowed session must not become a way to guess the password without limit."""
    from sealbox.accounts.models import Activity

    client = signed_in(alice)
    statuses = []
    for i in range(12):
        with time_machine.travel(datetime.now(UTC) + timedelta(minutes=2 * i), tick=False):
            r = client.post(
                "/settings/password/",
                {
                    "old_password": f"guess {i}",
                    "new_password1": "x" * 20,
                    "new_password2": "x" * 20,
                },
            )
            statuses.append(r.status_code)
    assert statuses[:10] == [200] * 10
    assert statuses[10:] == [429, 429]
    assert "Too many failed attempts" in r.content.decode()
    assert Activity.objects.filter(user=alice, kind=Activity.Kind.SIGNIN_FAILED).count() == 10
    # The right password is refused too while paused; so is a fresh sign-in.
    with time_machine.travel(datetime.now(UTC) + timedelta(minutes=25), tick=False):
        r = client.post(
            "/settings/password/",
            {"old_password": PASSWORD, "new_password1": "x" * 20, "new_password2": "x" * 20},
        )
        assert r.status_code == 429

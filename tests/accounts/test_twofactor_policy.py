"""The two-factor policy in one place: whether a session passed its second step
(verification.verified), the password again before a change (signin.reconfirmed,
signin.recent_auth_required),
the rules for the last second factor (twofactor), and counted sign-in tries."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine
from django.contrib.auth.models import AnonymousUser
from django.contrib.sessions.backends.db import SessionStore
from django.http import HttpRequest
from django.test import Client, RequestFactory

from sealbox.accounts import twofactor, verification
from sealbox.accounts.models import Passkey, RecoveryCode, User
from tests.accounts.helpers import PASSWORD, is_signed_in, page, signed_in

pytestmark = pytest.mark.django_db


def request_with(user: Any, **session: object) -> HttpRequest:
    request = RequestFactory().get("/")
    request.user = user
    request.session = SessionStore()
    request.session.update(session)
    return request


def passkey(user: User, name: str = "Phone") -> Passkey:
    return Passkey.objects.create(
        user=user, name=name, credential_id=f"cred-{user.pk}-{name}", public_key=b"k"
    )


def with_app(user: User) -> None:
    twofactor.turn_on(user, twofactor.new_secret(), 0)


def fully_signed_in(user: User) -> Client:
    """Password, then a recovery code as the second step."""
    client = Client()
    r = client.post("/signin/", {"username": user.email, "password": PASSWORD})
    assert r.status_code == 302 and r["Location"] == "/signin/verify/", page(r)
    code = twofactor.new_recovery_codes(user)[0]
    assert client.post("/signin/verify/", {"code": code}).status_code == 302
    assert is_signed_in(client)
    return client


def test_verified_means_the_second_step_was_taken_or_none_is_needed(alice: User) -> None:
    assert not verification.verified(request_with(AnonymousUser()))
    assert verification.verified(request_with(alice))  # no second factor: none needed
    with_app(alice)
    assert not verification.verified(request_with(alice))  # signed in before it was on
    request = request_with(alice)
    verification.mark_verified(request)
    assert verification.verified(request)


def test_the_admin_site_lets_in_only_a_verified_session(alice: User, settings: Any) -> None:
    settings.ADMIN_REQUIRE_2FA = False
    User.objects.filter(pk=alice.pk).update(is_staff=True)
    alice.refresh_from_db()
    before = signed_in(alice)  # the password alone: nothing else to take yet
    assert before.get("/admin/").status_code == 200
    with_app(alice)
    # The same session, signed in before the app was on, is not verified now.
    r = before.get("/admin/", follow=True)
    assert r.redirect_chain[-1][0].startswith("/signin/")
    assert "Sign in again with your second factor" in page(r)
    assert fully_signed_in(alice).get("/admin/").status_code == 200


def test_setting_up_the_app_verifies_the_session_that_did_it(alice: User, settings: Any) -> None:
    from tests.accounts.test_two_factor import oathtool

    settings.ADMIN_REQUIRE_2FA = True
    User.objects.filter(pk=alice.pk).update(is_staff=True)
    alice.refresh_from_db()
    other, client = signed_in(alice), signed_in(alice)
    html = page(client.get("/settings/two-factor/"))
    secret = html.split("data-secret>")[1].split("<")[0].replace(" ", "")
    r = client.post("/settings/two-factor/", {"code": oathtool(secret, datetime.now(UTC))})
    assert "Your recovery codes" in page(r)
    assert client.get("/admin/").status_code == 200
    assert not is_signed_in(other)  # signed in with the password alone: ended


def test_the_password_again_after_ten_minutes_not_before(alice: User) -> None:
    start = datetime.now(UTC)
    with time_machine.travel(start, tick=False):
        client = signed_in(alice)
    with time_machine.travel(start + timedelta(minutes=9), tick=False):
        r = client.post("/settings/phrase/", {"choice": "random"})
        assert r.status_code == 302 and r["Location"] == "/settings/#phrase"
    later = start + timedelta(minutes=11)
    with time_machine.travel(later, tick=False):
        r = client.post("/settings/phrase/", {"choice": "random", "password": "a guess"})
        assert r.status_code == 400 and "The password is not right." in page(r)
        r = client.post("/settings/phrase/", {"choice": "random", "password": PASSWORD})
        assert r.status_code == 302
    # The right password starts the ten minutes again.
    with time_machine.travel(later + timedelta(minutes=9), tick=False):
        assert client.post("/settings/phrase/", {"choice": "random"}).status_code == 302


def test_the_app_cannot_be_turned_off_while_required_and_it_is_the_last(
    alice: User, settings: Any
) -> None:
    settings.REQUIRE_2FA = True
    with_app(alice)
    client = fully_signed_in(alice)
    code = twofactor.new_recovery_codes(alice)[0]
    r = client.post("/settings/two-factor/off/", {"password": PASSWORD, "code": code}, follow=True)
    assert "Your organisation requires two-factor sign-in; it cannot be turned off." in page(r)
    alice.refresh_from_db()
    assert alice.has_totp
    # With a passkey besides, the app may go; the recovery codes stay with the passkey.
    passkey(alice)
    r = client.post("/settings/two-factor/off/", {"password": PASSWORD, "code": code}, follow=True)
    assert "Two-factor sign-in with an app is off." in page(r)
    alice.refresh_from_db()
    assert not alice.has_totp and alice.has_two_factor
    assert RecoveryCode.objects.filter(user=alice).exists()


def test_the_last_passkey_stays_while_required(alice: User, settings: Any) -> None:
    settings.REQUIRE_2FA = True
    key = passkey(alice)
    client = fully_signed_in(alice)
    code = twofactor.new_recovery_codes(alice)[0]
    r = client.post(
        f"/settings/passkeys/{key.pk}/remove/", {"password": PASSWORD, "code": code}, follow=True
    )
    assert "requires two-factor sign-in: add another passkey or an app first" in page(r)
    assert alice.passkeys.count() == 1


def test_removing_the_last_factor_takes_the_recovery_codes(alice: User) -> None:
    key = passkey(alice)
    client = fully_signed_in(alice)
    code = twofactor.new_recovery_codes(alice)[0]
    # The last one asks for a code too: the password alone changes nothing.
    r = client.post(f"/settings/passkeys/{key.pk}/remove/", {"password": PASSWORD})
    assert r.status_code == 200 and "The password or code is not right." in page(r)
    r = client.post(
        f"/settings/passkeys/{key.pk}/remove/", {"password": PASSWORD, "code": code}, follow=True
    )
    assert "Passkey “Phone” removed. Other devices were signed out." in page(r)
    assert not RecoveryCode.objects.filter(user=alice).exists()
    # Signing in takes the password alone again.
    r = Client().post("/signin/", {"username": alice.email, "password": PASSWORD})
    assert r.status_code == 302 and r["Location"] == "/inbox/"


def test_a_removal_that_became_the_last_meanwhile_changes_nothing(alice: User) -> None:
    """Confirmed as one of two (no code asked), but the other went first: not removed."""
    key = passkey(alice)
    result, _, _ = twofactor.remove_passkey(request_with(alice), alice, key.pk, last=False)
    assert result is twofactor.Removal.NOW_LAST
    assert alice.passkeys.count() == 1


def test_a_passwordless_account_keeps_its_only_passkey(alice: User) -> None:
    key = passkey(alice)
    alice.set_unusable_password()
    alice.save()
    client = Client()
    client.force_login(alice)
    r = client.post(f"/settings/passkeys/{key.pk}/remove/", follow=True)
    assert "“Phone” is how you sign in: create a password or add another passkey" in page(r)
    assert alice.passkeys.count() == 1
    result, _, _ = twofactor.remove_passkey(request_with(alice), alice, key.pk, last=True)
    assert result is twofactor.Removal.ONLY_WAY_IN


def test_a_sign_in_with_a_field_left_empty_is_no_guess(alice: User) -> None:
    client = Client()
    for _ in range(15):
        r = client.post("/signin/", {"username": alice.email, "password": ""})
        assert r.status_code == 200
    r = client.post("/signin/", {"username": alice.email, "password": PASSWORD})
    assert r.status_code == 302 and r["Location"] == "/inbox/"


def test_wrong_codes_at_the_second_step_count_like_passwords(alice: User) -> None:
    with_app(alice)
    client = Client()
    client.post("/signin/", {"username": alice.email, "password": PASSWORD})
    statuses = [client.post("/signin/verify/", {"code": "000000"}).status_code for _ in range(12)]
    assert statuses[0] == 200 and statuses[-1] == 429
    assert "Too many failed attempts" in page(client.get("/signin/verify/"))


def test_every_change_under_recent_auth_asks_for_the_password_after_ten_minutes(
    alice: User,
) -> None:
    """signin.recent_auth_required: the phrase, a new app and a new passkey alike."""
    start = datetime.now(UTC)
    with time_machine.travel(start, tick=False):
        client = signed_in(alice)
        assert client.get("/settings/two-factor/").status_code == 200  # the page itself opens
    with time_machine.travel(start + timedelta(minutes=11), tick=False):
        own = {"choice": "own", "phrase": "Blue heron at dawn", "password": "a guess"}
        r = client.post("/settings/phrase/", own)
        assert r.status_code == 400 and "The password is not right." in page(r)
        r = client.post("/settings/two-factor/", {"code": "123456", "password": "a guess"})
        assert r.status_code == 200 and "The password is not right." in page(r)
        r = client.post("/settings/passkeys/", {"name": "Phone", "credential": "{}"})
        assert "The password is not right." in page(r)
    alice.refresh_from_db()
    assert not alice.has_totp and not alice.passkeys.exists()
    assert alice.phrase != "Blue heron at dawn"

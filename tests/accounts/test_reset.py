"""Forgot password: the reset link, the new password, and who is signed in afterwards."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine
from django.conf import settings
from django.test import Client

from sealbox.accounts import twofactor
from sealbox.accounts.models import Activity, LinkToken, User
from tests.accounts.helpers import (
    NEW_PASSWORD,
    PASSWORD,
    is_signed_in,
    page,
    recipient,
    sent_emails,
    signed_in,
)
from tests.accounts.test_two_factor import enrolled, oathtool, password_step

pytestmark = pytest.mark.django_db

START = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


def reset_link(user: User) -> str:
    """Ask for a reset link through "Forgot password?" and return its path from the email."""
    r = Client().post("/password/forgot/", {"email": user.email})
    assert r.status_code == 302
    email = sent_emails()[-1]
    assert email.to == user.email
    return email.link


def choose(client: Client, password: str = NEW_PASSWORD, again: str | None = None) -> Any:
    return client.post(
        "/reset/set-password/",
        {"new_password1": password, "new_password2": password if again is None else again},
    )


def test_the_sign_in_page_leads_to_forgot_password(db: Any) -> None:
    r = Client().get("/signin/")

    assert '<a href="/password/forgot/">Forgot password?</a>' in page(r)
    r = Client().get("/password/forgot/")
    assert r.status_code == 200
    assert "Forgot your password?" in page(r)


def test_a_forgotten_password_is_replaced_through_the_emailed_link(alice: User) -> None:
    link = reset_link(alice)
    client = Client()

    r = client.get(link)
    assert r.status_code == 302
    assert r["Location"] == "/reset/set-password/"

    r = client.get("/reset/set-password/")
    assert r.status_code == 200
    html = page(r)
    assert "Choose a new password" in html
    assert "<strong>alice@example.net</strong>" in html
    assert '<label for="id_new_password1">New password</label>' in html
    assert '<label for="id_new_password2">New password again</label>' in html
    assert "no-store" in r["Cache-Control"]

    r = choose(client)
    assert r.status_code == 302
    assert r["Location"] == "/inbox/"

    r = client.get("/inbox/")
    assert r.status_code == 200
    assert "Your password was changed. Other devices were signed out." in page(r)
    assert Client().login(username=alice.email, password=NEW_PASSWORD)
    assert not Client().login(username=alice.email, password=PASSWORD)


def test_a_weak_new_password_is_refused(alice: User) -> None:
    client = Client()
    client.get(reset_link(alice))

    r = choose(client, "short-pw")

    assert r.status_code == 200
    assert "This password is too short." in page(r)
    assert User.objects.get(pk=alice.pk).check_password(PASSWORD)
    assert not is_signed_in(client)


def test_a_reset_link_works_only_once(alice: User) -> None:
    link = reset_link(alice)
    client = Client()
    client.get(link)
    choose(client)

    r = Client().get(link)

    assert r.status_code == 410
    assert "This link no longer works" in page(r)
    assert "Send me a new link</button>" in page(r)


def test_a_reset_link_works_for_24_hours(alice: User) -> None:
    with time_machine.travel(START, tick=False):
        link = reset_link(alice)

    with time_machine.travel(START + timedelta(hours=23, minutes=59), tick=False):
        assert Client().get(link).status_code == 302
    with time_machine.travel(START + timedelta(hours=24, minutes=1), tick=False):
        r = Client().get(link)

    assert r.status_code == 410
    assert "This link no longer works" in page(r)


def test_a_reset_link_opened_in_time_cannot_set_a_password_after_it_expired(alice: User) -> None:
    with time_machine.travel(START, tick=False):
        link = reset_link(alice)
        client = Client()
        client.get(link)

    with time_machine.travel(START + timedelta(hours=25), tick=False):
        r = choose(client)

    assert r.status_code == 410
    assert User.objects.get(pk=alice.pk).check_password(PASSWORD)


def test_a_new_password_ends_every_reset_link_of_the_mailbox(alice: User) -> None:
    first = reset_link(alice)
    second = reset_link(alice)
    client = Client()
    client.get(second)
    choose(client)

    assert Client().get(first).status_code == 410
    assert not LinkToken.objects.filter(user=alice).exists()


def test_the_reset_signs_out_every_other_session(alice: User) -> None:
    phone = signed_in(alice)
    laptop = Client()
    laptop.get(reset_link(alice))

    choose(laptop)

    assert is_signed_in(laptop)
    r = phone.get("/inbox/")
    assert r.status_code == 302
    assert r["Location"] == "/signin/?next=/inbox/"


def test_the_reset_signs_in_with_a_new_session_key(alice: User) -> None:
    client = Client()
    client.get(reset_link(alice))
    before = client.cookies[settings.SESSION_COOKIE_NAME].value

    choose(client)

    after = client.cookies[settings.SESSION_COOKIE_NAME].value
    assert after != before
    stale = Client()
    stale.cookies[settings.SESSION_COOKIE_NAME] = before
    assert not is_signed_in(stale)


def test_a_reset_link_also_activates_a_mailbox_that_was_never_activated() -> None:
    dave = recipient()
    token = LinkToken.issue(dave, LinkToken.Purpose.RESET)
    client = Client()
    client.get(f"/reset/{token}/")

    choose(client)

    dave.refresh_from_db()
    assert dave.activated_at is not None
    assert dave.check_password(NEW_PASSWORD)


def test_an_activation_link_is_not_a_reset_link_nor_the_other_way_round(alice: User) -> None:
    activation = LinkToken.issue(alice, LinkToken.Purpose.ACTIVATE)
    reset = LinkToken.issue(alice, LinkToken.Purpose.RESET)

    assert Client().get(f"/reset/{activation}/").status_code == 410
    assert Client().get(f"/activate/{reset}/").status_code == 410


def test_a_reset_link_of_a_disabled_account_does_not_work(alice: User) -> None:
    link = reset_link(alice)
    User.objects.filter(pk=alice.pk).update(is_active=False)

    assert Client().get(link).status_code == 410


def test_the_password_form_without_a_link_says_the_link_no_longer_works(db: Any) -> None:
    r = Client().post("/reset/set-password/", {"new_password1": NEW_PASSWORD})

    assert r.status_code == 410
    assert "This link no longer works" in page(r)


# With two-factor sign-in on, the emailed link is only half of a reset.


def _two_factor_owner(user: User, now: datetime) -> tuple[str, Client]:
    """Turn on app codes for the user; returns the secret and the owner's fully signed-in browser."""
    secret = enrolled(user, now)
    with time_machine.travel(now, tick=False):
        owner = password_step(user)
        assert owner.post("/signin/verify/", {"code": oathtool(secret, now)}).status_code == 302
    assert is_signed_in(owner)
    return secret, owner


def _held_reset(user: User) -> Client:
    """Someone with the owner's inbox: opens the reset link and chooses a password."""
    stranger = Client()
    stranger.get(reset_link(user))
    r = choose(stranger)
    assert r.status_code == 302 and r["Location"] == "/signin/verify/"
    html = page(stranger.get("/signin/verify/"))
    assert "Your new password takes effect once you confirm it is you." in html
    return stranger


def _password_works(user: User, password: str) -> bool:
    r = Client().post("/signin/", {"username": user.email, "password": password})
    return r.status_code == 302 and r["Location"] == "/signin/verify/"


def test_with_two_factor_a_reset_link_without_the_code_changes_nothing(alice: User) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    _, owner = _two_factor_owner(alice, now)
    link = reset_link(alice)
    stranger = Client()
    stranger.get(link)
    assert choose(stranger)["Location"] == "/signin/verify/"

    for code in ("", "000000", "abcd-efgh-jkmn"):
        r = stranger.post("/signin/verify/", {"code": code})
        assert r.status_code == 200
    r = stranger.post("/signin/passkey/", {"credential": '{"id": "forged"}'})
    assert r.status_code in (200, 400)

    assert not is_signed_in(stranger)
    assert is_signed_in(owner)
    assert _password_works(alice, PASSWORD)
    assert not _password_works(alice, NEW_PASSWORD)
    assert not Activity.objects.filter(user=alice, kind=Activity.Kind.PASSWORD_RESET).exists()
    # The link is not spent: the owner, who has the second factor, can still use it.
    assert Client().get(link).status_code == 302


@pytest.mark.parametrize("second_factor", ["app", "recovery"])
def test_with_two_factor_the_new_password_takes_effect_with_the_code(
    alice: User, second_factor: str
) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    secret, other_device = _two_factor_owner(alice, now)
    recovery = twofactor.new_recovery_codes(alice)[0]
    later = now + timedelta(seconds=30)
    with time_machine.travel(later, tick=False):
        link = reset_link(alice)
        client = Client()
        client.get(link)
        choose(client)
        code = oathtool(secret, later) if second_factor == "app" else recovery

        r = client.post("/signin/verify/", {"code": code}, follow=True)

        assert r.redirect_chain[-1][0] == "/inbox/"
        assert "Your password was changed. Other devices were signed out." in page(r)
        assert is_signed_in(client)
        assert not is_signed_in(other_device)
    assert _password_works(alice, NEW_PASSWORD)
    assert not _password_works(alice, PASSWORD)
    assert Activity.objects.filter(user=alice, kind=Activity.Kind.PASSWORD_RESET).count() == 1
    assert Client().get(link).status_code == 410


def test_with_two_factor_a_held_password_lasts_five_minutes(alice: User) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    secret, owner = _two_factor_owner(alice, now)
    with time_machine.travel(now, tick=False):
        client = _held_reset(alice)
    later = now + timedelta(minutes=5, seconds=1)
    with time_machine.travel(later, tick=False):
        r = client.post("/signin/verify/", {"code": oathtool(secret, later)}, follow=True)

        assert r.redirect_chain[-1][0] == "/reset/set-password/"
        assert "That took too long. Choose your new password again." in page(r)
        assert not is_signed_in(client)
        assert is_signed_in(owner)
        assert _password_works(alice, PASSWORD)


def test_with_two_factor_the_owners_own_reset_meanwhile_voids_the_held_one(alice: User) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    secret, _ = _two_factor_owner(alice, now)
    later = now + timedelta(seconds=30)
    with time_machine.travel(later, tick=False):
        client = _held_reset(alice)
        owners_reset = Client()
        owners_reset.get(reset_link(alice))
        choose(owners_reset, "the owners own new passphrase")
        code = oathtool(secret, later)
        assert owners_reset.post("/signin/verify/", {"code": code}).status_code == 302

    with time_machine.travel(later + timedelta(seconds=30), tick=False):
        code = oathtool(secret, later + timedelta(seconds=30))
        r = client.post("/signin/verify/", {"code": code}, follow=True)

    assert r.status_code == 410
    assert "This link no longer works" in page(r)
    assert not is_signed_in(client)
    assert _password_works(alice, "the owners own new passphrase")
    assert not _password_works(alice, NEW_PASSWORD)


def test_with_two_factor_a_link_that_expires_before_the_code_changes_nothing(alice: User) -> None:
    with time_machine.travel(START, tick=False):
        secret, _ = _two_factor_owner(alice, START)
        link = reset_link(alice)
    almost = START + timedelta(hours=23, minutes=59, seconds=30)
    with time_machine.travel(almost, tick=False):
        client = Client()
        client.get(link)
        choose(client)
    after = START + timedelta(hours=24, seconds=30)
    with time_machine.travel(after, tick=False):
        r = client.post("/signin/verify/", {"code": oathtool(secret, after)})

        assert r.status_code == 410
        assert "This link no longer works" in page(r)
        assert not is_signed_in(client)
    assert _password_works(alice, PASSWORD)


def test_with_two_factor_a_recovery_code_is_not_used_up_on_a_link_that_expired(
    alice: User,
) -> None:
    with time_machine.travel(START, tick=False):
        _two_factor_owner(alice, START)
        recovery = twofactor.new_recovery_codes(alice)[0]
        link = reset_link(alice)
    almost = START + timedelta(hours=23, minutes=59, seconds=30)
    with time_machine.travel(almost, tick=False):
        client = Client()
        client.get(link)
        choose(client)
    with time_machine.travel(START + timedelta(hours=24, seconds=30), tick=False):
        r = client.post("/signin/verify/", {"code": recovery})

    assert r.status_code == 410
    assert "This link no longer works" in page(r)
    assert twofactor.unused_recovery_codes(alice) == 10

"""Forgot password: the reset link, the new password, and who is signed in afterwards."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine
from django.conf import settings
from django.test import Client

from sealbox.accounts.models import LinkToken, User
from tests.accounts.helpers import (
    NEW_PASSWORD,
    PASSWORD,
    is_signed_in,
    page,
    recipient,
    sent_emails,
    signed_in,
)

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

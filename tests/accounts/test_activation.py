"""The activation link: choosing the first password, and what a spent or old link shows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine
from django.test import Client

from sealbox.accounts.models import LinkToken, User
from tests.accounts.helpers import (
    DAVE,
    NEW_PASSWORD,
    is_signed_in,
    page,
    recipient,
    sent_emails,
)

pytestmark = pytest.mark.django_db

START = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


def open_link(user: User) -> Client:
    """A browser that followed a fresh activation link for the user."""
    token = LinkToken.issue(user, LinkToken.Purpose.ACTIVATE)
    client = Client()
    r = client.get(f"/activate/{token}/")
    assert r.status_code == 302
    return client


def set_password(client: Client, password: str, again: str | None = None) -> Any:
    return client.post(
        "/activate/set-password/",
        {"new_password1": password, "new_password2": password if again is None else again},
    )


def test_the_link_leaves_the_address_bar_for_a_page_without_the_token() -> None:
    token = LinkToken.issue(recipient(), LinkToken.Purpose.ACTIVATE)

    r = Client().get(f"/activate/{token}/")

    assert r.status_code == 302
    assert r["Location"] == "/activate/set-password/"
    assert "no-store" in r["Cache-Control"]


def test_the_page_names_the_mailbox_and_asks_for_the_password_twice() -> None:
    client = open_link(recipient())

    r = client.get("/activate/set-password/")

    assert r.status_code == 200
    html = page(r)
    assert f"This secure mailbox belongs to <strong>{DAVE}</strong>." in html
    assert '<label for="id_new_password1">New password</label>' in html
    assert '<label for="id_new_password2">New password again</label>' in html
    assert html.count('autocomplete="new-password"') == 2
    assert "no-store" in r["Cache-Control"]


@pytest.mark.parametrize(
    ("password", "again", "reason"),
    [
        ("short-pw", None, "This password is too short. It must contain at least 12 characters."),
        ("manchesterunited", None, "This password is too common."),
        ("dave@example.com!", None, "The password is too similar to the email address."),
        (NEW_PASSWORD, NEW_PASSWORD + "x", "The two password fields didn\u2019t match."),
    ],
)
def test_a_weak_or_mistyped_password_is_refused_with_the_reason(
    password: str, again: str | None, reason: str
) -> None:
    client = open_link(recipient())

    r = set_password(client, password, again)

    assert r.status_code == 200
    assert reason in page(r)
    assert not User.objects.get(email=DAVE).has_usable_password()
    assert not is_signed_in(client)


def test_a_good_password_opens_the_mailbox_and_is_kept_with_argon2(settings: Any) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.Argon2PasswordHasher"]
    client = open_link(recipient())

    r = set_password(client, NEW_PASSWORD)

    assert r.status_code == 302
    assert r["Location"] == "/phrase/"  # the new personal phrase first (test_phrase.py)
    assert is_signed_in(client)
    user = User.objects.get(email=DAVE)
    assert user.password.startswith("argon2$argon2id$")
    assert user.activated_at is not None
    assert Client().login(username=DAVE, password=NEW_PASSWORD)


def test_a_used_link_says_so_and_offers_a_new_one() -> None:
    token = LinkToken.issue(recipient(), LinkToken.Purpose.ACTIVATE)
    client = Client()
    client.get(f"/activate/{token}/")
    set_password(client, NEW_PASSWORD)

    r = Client().get(f"/activate/{token}/")

    assert r.status_code == 410
    html = page(r)
    assert "This link no longer works" in html
    assert '<form method="post" action="/link/new/" novalidate>' in html
    assert '<label for="id_email">Email address</label>' in html
    assert 'autocomplete="username"' in html
    assert "Send me a new link</button>" in html


def test_an_expired_link_says_so_and_offers_a_new_one(settings: Any) -> None:
    with time_machine.travel(START, tick=False):
        token = LinkToken.issue(recipient(), LinkToken.Purpose.ACTIVATE)

    later = START + timedelta(days=settings.ACTIVATION_DAYS, seconds=1)
    with time_machine.travel(later, tick=False):
        r = Client().get(f"/activate/{token}/")

    assert r.status_code == 410
    assert "This link no longer works" in page(r)
    assert "Send me a new link</button>" in page(r)


def test_the_new_link_from_an_expired_one_opens_the_mailbox(settings: Any) -> None:
    with time_machine.travel(START, tick=False):
        old = LinkToken.issue(recipient(), LinkToken.Purpose.ACTIVATE)
    later = START + timedelta(days=settings.ACTIVATION_DAYS + 3)
    client = Client()
    with time_machine.travel(later, tick=False):
        assert client.get(f"/activate/{old}/").status_code == 410

        r = client.post("/link/new/", {"email": DAVE})
        assert r.status_code == 302
        [email] = sent_emails()
        assert email.link.startswith("/activate/")

        assert client.get(email.link).status_code == 302
        r = set_password(client, NEW_PASSWORD)

    assert r.status_code == 302
    assert r["Location"] == "/phrase/"
    assert User.objects.get(email=DAVE).check_password(NEW_PASSWORD)


def test_setting_the_password_ends_every_other_link_of_the_mailbox() -> None:
    dave = recipient()
    first = LinkToken.issue(dave, LinkToken.Purpose.ACTIVATE)
    client = open_link(dave)
    set_password(client, NEW_PASSWORD)

    r = Client().get(f"/activate/{first}/")

    assert r.status_code == 410


def test_a_link_of_a_disabled_account_does_not_work() -> None:
    dave = recipient()
    token = LinkToken.issue(dave, LinkToken.Purpose.ACTIVATE)
    User.objects.filter(pk=dave.pk).update(is_active=False)

    r = Client().get(f"/activate/{token}/")

    assert r.status_code == 410


def test_the_password_form_without_a_link_says_the_link_no_longer_works(db: Any) -> None:
    r = Client().get("/activate/set-password/")

    assert r.status_code == 410
    assert "This link no longer works" in page(r)

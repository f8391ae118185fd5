"""Signing in with email address and password, and signing out."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.test import Client

from sealbox.accounts.models import User
from tests.accounts.helpers import (
    DAVE,
    PASSWORD,
    is_signed_in,
    page,
    recipient,
    signed_in,
    without_csrf,
)

pytestmark = pytest.mark.django_db

NOT_RIGHT = "The email address or password is not right."


def sign_in(client: Client, username: str, password: str, next: str | None = None) -> Any:
    data = {"username": username, "password": password}
    if next is not None:
        data["next"] = next
    return client.post("/signin/", data)


def test_the_sign_in_page_asks_for_email_address_and_password(db: Any) -> None:
    r = Client().get("/signin/")

    assert r.status_code == 200
    html = page(r)
    assert '<label for="id_username">Email address</label>' in html
    assert '<label for="id_password">Password</label>' in html
    assert (
        'type="text" inputmode="email" name="username" id="id_username" autocomplete="username"'
        in html
    )
    assert (
        'type="password" name="password" id="id_password" autocomplete="current-password"' in html
    )
    assert '<button type="submit">Sign in</button>' in html
    assert '<a href="/password/forgot/">Forgot password?</a>' in html
    assert "no-store" in r["Cache-Control"]


def test_a_recipient_signs_in_and_sees_the_inbox(alice: User) -> None:
    client = Client()

    r = sign_in(client, alice.email, PASSWORD)

    assert r.status_code == 302
    assert r["Location"] == "/inbox/"
    r = client.get("/inbox/")
    assert r.status_code == 200
    html = page(r)
    assert alice.email in html
    assert '<a href="/settings/">Settings</a>' in html
    assert "Sign out</button>" in html


def test_the_address_may_be_written_in_any_case(alice: User) -> None:
    r = sign_in(Client(), "  Alice@Example.NET ", PASSWORD)

    assert r.status_code == 302


def test_every_failed_sign_in_looks_the_same() -> None:
    """Unknown address, not activated, disabled, wrong password: one answer for them all."""
    client = Client()

    unknown = sign_in(client, DAVE, "whatever it may be")
    dave = recipient()
    not_activated = sign_in(client, DAVE, "whatever it may be")
    dave.set_password("the right long password")
    dave.save()
    wrong_password = sign_in(client, DAVE, "whatever it may be")
    dave.is_active = False
    dave.save()
    disabled_right_password = sign_in(client, DAVE, "the right long password")
    disabled_wrong_password = sign_in(client, DAVE, "whatever it may be")

    answers = [not_activated, wrong_password, disabled_right_password, disabled_wrong_password]
    assert unknown.status_code == 200
    assert NOT_RIGHT in page(unknown)
    assert "inactive" not in page(unknown)
    for r in answers:
        assert r.status_code == 200
        assert without_csrf(r) == without_csrf(unknown)
        assert not is_signed_in(client)


def test_a_disabled_account_gets_the_same_answer_under_a_backend_that_admits_it(
    settings: Any, db: Any
) -> None:
    """With a backend that authenticates inactive users, the form itself must refuse them alike."""
    settings.AUTHENTICATION_BACKENDS = ["django.contrib.auth.backends.AllowAllUsersModelBackend"]
    client = Client()
    unknown = sign_in(client, DAVE, "the right long password")
    User.objects.create_user(DAVE, "the right long password", is_active=False)

    r = sign_in(client, DAVE, "the right long password")

    assert r.status_code == 200
    assert without_csrf(r) == without_csrf(unknown)
    assert not is_signed_in(client)


@pytest.mark.parametrize("username", ["alice", "alice@", "<>", "a" * 400 + "@example.net", ""])
def test_something_that_is_not_an_address_is_a_failed_sign_in(username: str, alice: User) -> None:
    r = sign_in(Client(), username, PASSWORD)

    assert r.status_code == 200
    assert NOT_RIGHT in page(r)


def test_sign_in_leads_back_to_the_page_that_asked_for_it(alice: User) -> None:
    client = Client()
    r = client.get("/settings/")
    assert r["Location"] == "/signin/?next=/settings/"

    r = client.get(r["Location"])
    assert '<input type="hidden" name="next" value="/settings/">' in page(r)
    r = sign_in(client, alice.email, PASSWORD, next="/settings/")

    assert r.status_code == 302
    assert r["Location"] == "/settings/"


@pytest.mark.parametrize(
    "next",
    [
        "https://evil.example/",
        "//evil.example/m/1/",
        "http://evil.example/settings/",
        "/\\evil.example/",
        "javascript:alert(1)",
    ],
)
def test_a_next_page_on_another_site_is_ignored(next: str, alice: User) -> None:
    client = Client()
    r = client.get("/signin/", {"next": next})
    assert "evil.example" not in page(r)
    assert "javascript" not in page(r)

    r = sign_in(client, alice.email, PASSWORD, next=next)

    assert r.status_code == 302
    assert r["Location"] == "/inbox/"


def test_a_signed_in_recipient_is_sent_on_from_the_sign_in_page(alice: User) -> None:
    client = signed_in(alice)

    r = client.get("/signin/")

    assert r.status_code == 302
    assert r["Location"] == "/inbox/"


def test_sign_out_signs_out(alice: User) -> None:
    client = Client(enforce_csrf_checks=True)
    r = sign_in(client, alice.email, PASSWORD)
    assert r.status_code == 403  # no CSRF token yet: the sign-in form must be loaded first
    html = page(client.get("/signin/"))
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html)
    assert token
    r = client.post(
        "/signin/",
        {"username": alice.email, "password": PASSWORD, "csrfmiddlewaretoken": token.group(1)},
    )
    assert r.status_code == 302
    html = page(client.get("/inbox/"))
    token = re.search(
        r'<form method="post" action="/signout/"><input type="hidden" name="csrfmiddlewaretoken" value="([^"]+)"',
        html,
    )
    assert token

    r = client.post("/signout/", {"csrfmiddlewaretoken": token.group(1)})

    assert r.status_code == 302
    assert r["Location"] == "/signin/"
    assert not is_signed_in(client)


def test_sign_out_needs_the_csrf_token(alice: User) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)

    r = client.post("/signout/")

    assert r.status_code == 403
    assert is_signed_in(client)


def test_sign_out_is_not_done_by_a_link(alice: User) -> None:
    client = signed_in(alice)

    r = client.get("/signout/")

    assert r.status_code == 405
    assert is_signed_in(client)

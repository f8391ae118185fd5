"""The recovery codes page speaks of the second steps the account has: app, passkey or both."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.test import Client

from sealbox.accounts.models import Passkey, User
from tests.accounts.helpers import PASSWORD
from tests.accounts.test_two_factor import enrolled
from tests.portal.pages import parse_html

pytestmark = pytest.mark.django_db


def add_passkey(user: User) -> None:
    Passkey.objects.create(user=user, name="Laptop", credential_id=f"c-{user.pk}", public_key=b"k")


def intro(reader: Client) -> str:
    """What the page says the codes are for (new codes, asked for with the password)."""
    r = reader.post("/settings/recovery-codes/", {"password": PASSWORD})
    assert r.status_code == 200
    section = parse_html(r.content).one("section")
    assert section.one("h1").text == "Your recovery codes"
    return section.find_all("p")[0].text


def test_a_passkey_without_an_app_is_not_told_of_an_app(reader: Client, alice: User) -> None:
    add_passkey(alice)
    said = intro(reader)
    assert said.startswith("If you lose your passkey, each of these codes signs you in once")
    assert "app" not in said.lower() and "phone" not in said.lower()


def test_an_app_without_a_passkey_is_not_told_of_a_passkey(reader: Client, alice: User) -> None:
    enrolled(alice, datetime.now(UTC))
    said = intro(reader)
    assert "instead of a code from the app" in said
    assert "passkey" not in said.lower()


def test_both_are_named_when_the_account_has_both(reader: Client, alice: User) -> None:
    enrolled(alice, datetime.now(UTC))
    add_passkey(alice)
    assert "instead of a code from the app or your passkey" in intro(reader)

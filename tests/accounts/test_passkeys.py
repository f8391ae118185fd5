"""Passkeys in Settings, without a browser: removal, ownership, names. (Browser tests register real ones.)"""

from __future__ import annotations

import pytest

from sealbox.accounts import twofactor
from sealbox.accounts.models import Activity, Passkey, User
from tests.accounts.helpers import PASSWORD, is_signed_in, page

pytestmark = pytest.mark.django_db


def passkey(user: User, name: str = "Work laptop") -> Passkey:
    return Passkey.objects.create(
        user=user, name=name, credential_id=f"cred-{user.pk}-{name}", public_key=b"k"
    )


def fully_signed_in(user: User) -> object:
    from django.test import Client

    client = Client()
    client.post("/signin/", {"username": user.email, "password": PASSWORD})
    code = twofactor.new_recovery_codes(user)[0]
    client.post("/signin/verify/", {"code": code})
    assert is_signed_in(client)
    return client


def test_removing_the_last_passkey_needs_a_code_and_ends_other_sessions(alice: User) -> None:
    key = passkey(alice)
    other = fully_signed_in(alice)
    client = fully_signed_in(alice)
    codes = twofactor.new_recovery_codes(alice)
    html = page(client.get("/settings/"))
    assert "this is your last passkey" in html
    # The password alone is not enough to turn two-factor sign-in off.
    r = client.post(f"/settings/passkeys/{key.pk}/remove/", {"password": PASSWORD})
    assert "The password or code is not right." in page(r)
    assert alice.passkeys.count() == 1
    r = client.post(
        f"/settings/passkeys/{key.pk}/remove/",
        {"password": PASSWORD, "code": codes[0]},
        follow=True,
    )
    assert "Passkey “Work laptop” removed." in page(r)
    assert not alice.passkeys.exists()
    alice.refresh_from_db()
    assert not alice.has_two_factor
    assert is_signed_in(client)
    assert not is_signed_in(other)  # type: ignore[arg-type]
    assert Activity.objects.filter(user=alice, kind=Activity.Kind.PASSKEY_REMOVED).exists()


def test_another_passkey_goes_with_the_password_and_ends_other_sessions(alice: User) -> None:
    passkey(alice, "Phone")
    key = passkey(alice, "Laptop")
    other = fully_signed_in(alice)
    client = fully_signed_in(alice)
    r = client.post(f"/settings/passkeys/{key.pk}/remove/", {"password": PASSWORD}, follow=True)  # type: ignore[attr-defined]
    assert "Passkey “Laptop” removed. Other devices were signed out." in page(r)
    assert [k.name for k in alice.passkeys.all()] == ["Phone"]
    assert is_signed_in(client)  # type: ignore[arg-type]
    assert not is_signed_in(other)  # type: ignore[arg-type]


def test_nobody_removes_another_accounts_passkey(alice: User, bob: User) -> None:
    bobs = passkey(bob)
    client = fully_signed_in(alice)
    r = client.post(f"/settings/passkeys/{bobs.pk}/remove/", {"password": PASSWORD})  # type: ignore[attr-defined]
    assert r.status_code == 404
    assert bob.passkeys.count() == 1


def test_a_passkey_name_with_control_characters_is_refused(reader: object) -> None:
    r = reader.post("/settings/passkeys/", {"name": "Laptop\nFAKE LOG LINE", "credential": "{}"})  # type: ignore[attr-defined]
    assert "Use letters, digits and punctuation only." in page(r)
    assert not Passkey.objects.exists()

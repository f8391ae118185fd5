"""Passkeys as the way in, without a browser: the server's rules.

The browser tests (tests/browser/test_passkey_only.py) use Chromium's own
authenticator; here a small software authenticator signs with a P-256 key
(cryptography), as WebAuthn's spec lays out the bytes, so that every refusal
can be tried on purpose: another account's user handle, no user verification,
a disabled or paused account.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import struct
import threading
import time
from dataclasses import dataclass, field
from importlib import import_module
from typing import Any

import cbor2
import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from django.db import connection, transaction
from django.test import Client
from django.utils.crypto import salted_hmac
from webauthn.helpers import base64url_to_bytes, bytes_to_base64url

from sealbox.accounts import passkeys, signin, throttle
from sealbox.accounts.models import Activity, LinkToken, Passkey, RecoveryCode, User
from tests.accounts.helpers import NEW_PASSWORD, PASSWORD, is_signed_in, page

pytestmark = pytest.mark.django_db

ORIGIN = "http://portal.test"
REFUSED = "That passkey did not sign you in. Try again, or use your password."


@pytest.fixture(autouse=True)
def named_host(settings: Any) -> None:
    settings.BASE_HOST = "portal.test"


@dataclass
class SoftKey:
    """A discoverable passkey held in memory: signs assertions as an authenticator would."""

    user_handle: bytes
    key: ec.EllipticCurvePrivateKey = field(
        default_factory=lambda: ec.generate_private_key(ec.SECP256R1())
    )
    credential_id: bytes = field(default_factory=lambda: secrets.token_bytes(16))
    count: int = 0

    def cose(self) -> bytes:
        numbers = self.key.public_key().public_numbers()
        return bytes(
            cbor2.dumps(
                {
                    1: 2,
                    3: -7,
                    -1: 1,
                    -2: numbers.x.to_bytes(32, "big"),
                    -3: numbers.y.to_bytes(32, "big"),
                }
            )
        )

    def keep(self, user: User, name: str = "Phone") -> Passkey:
        return Passkey.objects.create(
            user=user,
            name=name,
            credential_id=bytes_to_base64url(self.credential_id),
            public_key=self.cose(),
        )

    def registration(self, options: dict[str, Any], *, verified: bool = True) -> str:
        """The answer to navigator.credentials.create(): "none" attestation, as most passkeys give."""
        flags = 0x01 | (0x04 if verified else 0) | 0x40  # user present (verified), key included
        data = (
            hashlib.sha256(b"portal.test").digest()
            + bytes([flags])
            + struct.pack(">I", 0)
            + bytes(16)  # no AAGUID
            + struct.pack(">H", len(self.credential_id))
            + self.credential_id
            + self.cose()
        )
        client_data = json.dumps(
            {"type": "webauthn.create", "challenge": options["challenge"], "origin": ORIGIN}
        ).encode()
        attestation = cbor2.dumps({"fmt": "none", "attStmt": {}, "authData": data})
        return self._credential(
            {
                "clientDataJSON": bytes_to_base64url(client_data),
                "attestationObject": bytes_to_base64url(attestation),
                "transports": ["internal"],
            }
        )

    def assertion(self, options: dict[str, Any], *, verified: bool = True) -> str:
        self.count += 1
        flags = 0x01 | (0x04 if verified else 0)
        data = (
            hashlib.sha256(b"portal.test").digest() + bytes([flags]) + struct.pack(">I", self.count)
        )
        client_data = json.dumps(
            {"type": "webauthn.get", "challenge": options["challenge"], "origin": ORIGIN}
        ).encode()
        signature = self.key.sign(
            data + hashlib.sha256(client_data).digest(), ec.ECDSA(hashes.SHA256())
        )
        return self._credential(
            {
                "authenticatorData": bytes_to_base64url(data),
                "clientDataJSON": bytes_to_base64url(client_data),
                "signature": bytes_to_base64url(signature),
                "userHandle": bytes_to_base64url(self.user_handle),
            }
        )

    def _credential(self, response: dict[str, Any]) -> str:
        """The PublicKeyCredential as the browser posts it, around its response."""
        cid = bytes_to_base64url(self.credential_id)
        return json.dumps(
            {
                "id": cid,
                "rawId": cid,
                "type": "public-key",
                "clientExtensionResults": {},
                "response": response,
            }
        )


def handle(user: User) -> bytes:
    return passkeys._user_handle(user)


def passkey_only(user: User) -> SoftKey:
    """Make the account one that signs in with a passkey alone (as activation with one does)."""
    soft = SoftKey(handle(user))
    soft.keep(user)
    user.set_unusable_password()
    user.save()
    return soft


def sign_in(client: Client, soft: SoftKey, **kw: Any) -> Any:
    options = client.post("/signin/with-passkey/options/").json()
    return client.post("/signin/with-passkey/", {"credential": soft.assertion(options, **kw)})


def test_sign_in_options_name_no_credential_and_ask_to_verify_the_user(client: Client) -> None:
    r = client.post("/signin/with-passkey/options/")
    assert r.status_code == 200
    options = r.json()
    assert options.get("allowCredentials", []) == []
    assert options["userVerification"] == "required"
    assert options["rpId"] == "portal.test"


def test_the_sign_in_page_offers_a_passkey(client: Client) -> None:
    html = page(client.get("/signin/"))
    assert "Sign in with a passkey" in html
    assert 'data-passkey-get="/signin/with-passkey/options/"' in html


def test_a_passkey_alone_signs_in_fully(client: Client, alice: User) -> None:
    soft = passkey_only(alice)
    options = client.post("/signin/with-passkey/options/").json()
    before = client.session.session_key
    r = client.post("/signin/with-passkey/", {"credential": soft.assertion(options)})
    assert r.status_code == 302 and r["Location"] == "/inbox/"
    # A new session key, as with a password: one planted before sign-in is worth nothing.
    assert before and client.session.session_key != before
    assert is_signed_in(client)
    # As a two-step sign-in: the operator site asks for just this.
    assert client.session[signin.SECOND_FACTOR] is True
    entry = Activity.objects.filter(user=alice).latest("at")
    assert (entry.kind, entry.detail) == (Activity.Kind.SIGNIN, "passkey “Phone”")


def test_an_account_with_a_password_signs_in_with_its_passkey_alone_too(
    client: Client, alice: User
) -> None:
    soft = SoftKey(handle(alice))
    soft.keep(alice)
    assert sign_in(client, soft).status_code == 302
    assert is_signed_in(client)


def test_sign_in_goes_to_next_on_this_site_only(client: Client, alice: User) -> None:
    soft = passkey_only(alice)
    options = client.post("/signin/with-passkey/options/").json()
    r = client.post(
        "/signin/with-passkey/",
        {"credential": soft.assertion(options), "next": "https://evil.example/"},
    )
    assert r["Location"] == "/inbox/"


def test_a_passkey_without_user_verification_is_refused(client: Client, alice: User) -> None:
    soft = passkey_only(alice)
    r = sign_in(client, soft, verified=False)
    assert r.status_code == 400 and REFUSED in page(r)
    assert not is_signed_in(client)
    failed = Activity.objects.get(user=alice, kind=Activity.Kind.SIGNIN_FAILED)
    assert failed.detail == "passkey"


def test_a_user_handle_that_is_not_the_passkeys_account_is_refused(
    client: Client, alice: User, bob: User
) -> None:
    soft = passkey_only(alice)
    soft.user_handle = handle(bob)
    r = sign_in(client, soft)
    assert r.status_code == 400 and REFUSED in page(r)
    assert not is_signed_in(client)


def test_a_passkey_no_account_has_is_refused_and_counted_against_the_client(
    client: Client, settings: Any
) -> None:
    stranger = SoftKey(secrets.token_bytes(16))
    for _ in range(3):
        r = sign_in(client, stranger)
        assert r.status_code == 400 and REFUSED in page(r)
    assert not is_signed_in(client)
    [key] = signin.client_keys(client.post("/signin/with-passkey/options/").wsgi_request)
    assert _failures(key) == 3


def _failures(key: throttle.Key) -> int:
    from sealbox.accounts.models import Throttle

    row = Throttle.objects.filter(key=key.digest).first()
    return row.failures if row is not None else 0


def test_a_disabled_account_cannot_sign_in_by_passkey(client: Client, alice: User) -> None:
    soft = passkey_only(alice)
    alice.is_active = False
    alice.save()
    r = sign_in(client, soft)
    assert r.status_code == 400 and REFUSED in page(r)
    assert not is_signed_in(client)


def test_a_paused_account_cannot_sign_in_by_passkey(
    client: Client, alice: User, settings: Any
) -> None:
    soft = passkey_only(alice)
    request = client.post("/signin/with-passkey/options/").wsgi_request
    for _ in range(settings.SIGNIN_LOCK_AFTER):
        throttle.attempt(signin.throttle_keys(request, alice.email)[:1])
    r = sign_in(client, soft)
    assert r.status_code == 429
    assert "Too many failed attempts" in page(r)
    assert not is_signed_in(client)


def test_a_challenge_works_once(client: Client, alice: User) -> None:
    soft = passkey_only(alice)
    options = client.post("/signin/with-passkey/options/").json()
    assert (
        client.post("/signin/with-passkey/", {"credential": soft.assertion(options)})["Location"]
        == "/inbox/"
    )
    client.post("/signout/")
    r = client.post("/signin/with-passkey/", {"credential": soft.assertion(options)})
    assert r.status_code == 400 and not is_signed_in(client)


def activation_page(client: Client, user: User) -> str:
    token = LinkToken.issue(user, LinkToken.Purpose.ACTIVATE)
    return page(client.get(f"/activate/{token}/", follow=True))


def test_activation_offers_a_discoverable_verifying_passkey(client: Client) -> None:
    dave, _ = User.objects.recipient("dave@example.com")
    html = activation_page(client, dave)
    assert "Use a passkey instead of a password" in html
    options = client.post("/activate/passkey/options/").json()
    assert options["authenticatorSelection"]["residentKey"] == "required"
    assert options["authenticatorSelection"]["userVerification"] == "required"
    assert options["user"]["id"] == bytes_to_base64url(handle(dave))


def test_activation_with_a_passkey_alone(client: Client) -> None:
    dave, _ = User.objects.recipient("dave@example.com")
    activation_page(client, dave)
    options = client.post("/activate/passkey/options/").json()
    soft = SoftKey(base64url_to_bytes(options["user"]["id"]))
    r = client.post(
        "/activate/passkey/",
        {"credential": soft.registration(options)},
        HTTP_USER_AGENT="Mozilla/5.0 (X11; Linux x86_64) Chrome/120.0",
    )
    assert r.status_code == 302 and r["Location"] == "/phrase/"
    dave.refresh_from_db()
    assert dave.is_activated and dave.phrase and not dave.has_usable_password()
    assert [k.name for k in dave.passkeys.all()] == ["Chrome on Linux"]
    assert not LinkToken.objects.filter(user=dave).exists()  # the link is spent
    assert client.session[signin.SECOND_FACTOR] is True
    # And the passkey signs in alone, on another browser.
    other = Client()
    assert sign_in(other, soft)["Location"] == "/inbox/"


def test_the_user_handle_is_random_and_stored_with_the_first_passkey(client: Client) -> None:
    dave, _ = User.objects.recipient("dave@example.com")
    assert dave.passkey_handle is None
    activation_page(client, dave)
    given = base64url_to_bytes(client.post("/activate/passkey/options/").json()["user"]["id"])
    dave.refresh_from_db()
    assert len(given) == passkeys.HANDLE_BYTES and bytes(dave.passkey_handle) == given
    # Not derived from anything the account has: not the secret-key value of old.
    assert given != old_derived_handle(dave)
    # The same handle however often it is asked for, so an authenticator replaces its passkey.
    assert base64url_to_bytes(client.post("/activate/passkey/options/").json()["user"]["id"]) == (
        given
    )
    erin, _ = User.objects.recipient("erin@example.com")
    assert passkeys._user_handle(erin) != given


def test_a_passkey_alone_signs_in_after_the_secret_key_changes(
    client: Client, settings: Any
) -> None:
    dave, _ = User.objects.recipient("dave@example.com")
    activation_page(client, dave)
    options = client.post("/activate/passkey/options/").json()
    soft = SoftKey(base64url_to_bytes(options["user"]["id"]))
    assert (
        client.post("/activate/passkey/", {"credential": soft.registration(options)}).status_code
        == 302
    )

    settings.SECRET_KEY = "a new secret key, with no fallback to the old one " + "x" * 20
    settings.SECRET_KEY_FALLBACKS = []
    other = Client()
    assert sign_in(other, soft)["Location"] == "/inbox/"
    assert is_signed_in(other)


def old_derived_handle(user: User) -> bytes:
    """The user handle as it was derived before it was stored (migration accounts 0011)."""
    return salted_hmac("sealbox.accounts.passkeys.user", str(user.pk)).digest()[:16]


def test_the_migration_gives_existing_passkeys_the_handle_they_hold(
    client: Client, alice: User, bob: User
) -> None:
    from django.db.migrations.executor import MigrationExecutor

    # As before the migration: alice's passkey made with the handle derived from
    # the secret key; bob has none; carol's handle is stored already.
    soft = SoftKey(old_derived_handle(alice))
    soft.keep(alice)
    carol, _ = User.objects.recipient("carol@example.com")
    SoftKey(passkeys._user_handle(carol)).keep(carol)
    carols = bytes(User.objects.get(pk=carol.pk).passkey_handle)

    executor = MigrationExecutor(connection)
    apps = executor.loader.project_state([("accounts", "0011_passkey_handle")]).apps
    migration = import_module("sealbox.accounts.migrations.0011_passkey_handle")
    migration.keep_the_handles_passkeys_hold(apps, None)

    handles = dict(User.objects.values_list("email", "passkey_handle"))
    assert bytes(handles[alice.email]) == old_derived_handle(alice)
    assert handles[bob.email] is None  # a random one comes with the first passkey
    assert bytes(handles[carol.email]) == carols
    # And alice's authenticator still signs in with it.
    assert sign_in(client, soft)["Location"] == "/inbox/"


def test_activation_refuses_a_passkey_that_does_not_verify_its_user(client: Client) -> None:
    dave, _ = User.objects.recipient("dave@example.com")
    activation_page(client, dave)
    options = client.post("/activate/passkey/options/").json()
    soft = SoftKey(base64url_to_bytes(options["user"]["id"]))
    r = client.post(
        "/activate/passkey/",
        {"credential": soft.registration(options, verified=False)},
        follow=True,
    )
    assert "The passkey was not created. Try again, or choose a password." in page(r)
    assert "Use a passkey instead of a password" in page(r)
    dave.refresh_from_db()
    assert not dave.is_activated and not dave.passkeys.exists()
    assert LinkToken.objects.filter(user=dave, used_at__isnull=True).exists()


def test_a_passkey_only_account_recovers_by_reset_link_with_a_new_passkey(
    client: Client, alice: User
) -> None:
    lost = passkey_only(alice)
    token = LinkToken.issue(alice, LinkToken.Purpose.RESET)
    client.get(f"/reset/{token}/")
    options = client.post("/reset/passkey/options/").json()
    assert options["excludeCredentials"] == []  # the new one replaces the old
    soft = SoftKey(handle(alice))
    r = client.post("/reset/passkey/", {"credential": soft.registration(options)}, follow=True)
    assert "Your new passkey is ready. Other devices were signed out." in page(r)
    assert is_signed_in(client)
    assert [k.credential_id for k in alice.passkeys.all()] == [
        bytes_to_base64url(soft.credential_id)
    ]
    assert sign_in(Client(), lost).status_code == 400


def test_no_passkey_options_without_an_open_link(client: Client) -> None:
    assert client.post("/activate/passkey/options/").status_code == 403
    assert client.post("/reset/passkey/options/").status_code == 403


def test_a_reset_link_does_not_replace_a_second_factor_with_a_passkey(
    client: Client, alice: User
) -> None:
    SoftKey(handle(alice)).keep(alice)  # password and passkey: two steps
    token = LinkToken.issue(alice, LinkToken.Purpose.RESET)
    html = page(client.get(f"/reset/{token}/", follow=True))
    assert "Use a passkey instead of a password" not in html
    assert client.post("/reset/passkey/options/").status_code == 403


def test_a_passkey_only_account_recovers_by_reset_link_with_a_password(
    client: Client, alice: User
) -> None:
    passkey_only(alice)
    RecoveryCode.objects.create(user=alice, code_hash="x")
    token = LinkToken.issue(alice, LinkToken.Purpose.RESET)
    html = page(client.get(f"/reset/{token}/", follow=True))
    assert "Use a passkey instead of a password" in html
    assert "Your earlier passkeys stop working." in html
    r = client.post(
        "/reset/set-password/",
        {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
        follow=True,
    )
    assert "Your password was changed." in page(r)
    assert is_signed_in(client)
    alice.refresh_from_db()
    # The (maybe lost) passkey is retired: the password alone signs in, as for any reset.
    assert not alice.passkeys.exists() and not alice.has_two_factor
    assert not RecoveryCode.objects.filter(user=alice).exists()
    other = Client()
    r = other.post("/signin/", {"username": alice.email, "password": NEW_PASSWORD})
    assert r.status_code == 302 and r["Location"] == "/inbox/"


def confirmed(client: Client, user: User, soft: SoftKey) -> None:
    """This session confirms it is the owner with the passkey, in Settings."""
    options = client.post("/settings/confirm/options/").json()
    assert bytes_to_base64url(soft.credential_id) in [c["id"] for c in options["allowCredentials"]]
    assert options["userVerification"] == "required"
    r = client.post("/settings/confirm/", {"credential": soft.assertion(options)}, follow=True)
    assert "You can change how you sign in for the next ten minutes." in page(r)


def passkey_session(user: User) -> tuple[Client, SoftKey]:
    """A passkey-only account signed in with its passkey, its confirmation since expired."""
    soft = passkey_only(user)
    client = Client()
    assert sign_in(client, soft).status_code == 302
    session = client.session
    session[signin.AUTHENTICATED_AT] = 0
    session.save()
    return client, soft


def test_settings_offer_to_create_a_password_after_confirming_with_the_passkey(
    alice: User,
) -> None:
    client, soft = passkey_session(alice)
    html = page(client.get("/settings/"))
    assert "Create a password" in html and "Change password" not in html
    assert "Confirm with a passkey" in html
    assert "Current password" not in html
    new = {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD}
    r = client.post("/settings/password/", new)
    assert r.status_code == 403
    assert "First confirm it is you with your passkey." in page(r)
    alice.refresh_from_db()
    assert not alice.has_usable_password()

    confirmed(client, alice, soft)
    r = client.post("/settings/password/", new)
    html = page(r)
    assert "Your password was created. Signing in with it also asks for your passkey." in html
    assert "Your recovery codes" in html
    alice.refresh_from_db()
    assert alice.check_password(NEW_PASSWORD)
    assert is_signed_in(client)
    # The password is now the first step; the passkey, the second.
    other = Client()
    r = other.post("/signin/", {"username": alice.email, "password": NEW_PASSWORD})
    assert r["Location"] == "/signin/verify/"


def test_a_wrong_passkey_does_not_confirm_and_counts(alice: User) -> None:
    client, soft = passkey_session(alice)
    options = client.post("/settings/confirm/options/").json()
    r = client.post(
        "/settings/confirm/", {"credential": soft.assertion(options, verified=False)}, follow=True
    )
    assert "That passkey did not confirm it is you. Try again." in page(r)
    assert "Confirm with a passkey" in page(r)
    assert Activity.objects.filter(
        user=alice, kind=Activity.Kind.SIGNIN_FAILED, detail="passkey in Settings"
    ).exists()


def test_the_last_passkey_of_a_passkey_only_account_stays(alice: User) -> None:
    client, soft = passkey_session(alice)
    confirmed(client, alice, soft)
    [key] = alice.passkeys.all()
    r = client.post(f"/settings/passkeys/{key.pk}/remove/", {}, follow=True)
    assert (
        "“Phone” is how you sign in: create a password or add another passkey before you "
        "remove it." in page(r)
    )
    assert alice.passkeys.count() == 1


def test_another_passkey_of_a_passkey_only_account_goes_after_confirming(alice: User) -> None:
    client, soft = passkey_session(alice)
    spare = SoftKey(handle(alice)).keep(alice, "Laptop")
    r = client.post(f"/settings/passkeys/{spare.pk}/remove/", {})
    assert r.status_code == 403
    assert "First confirm it is you with your passkey." in page(r)
    assert alice.passkeys.count() == 2
    confirmed(client, alice, soft)
    r = client.post(f"/settings/passkeys/{spare.pk}/remove/", {}, follow=True)
    assert "Passkey “Laptop” removed." in page(r)
    assert [k.name for k in alice.passkeys.all()] == ["Phone"]


def test_removing_a_passkey_ends_the_sessions_it_opened(alice: User) -> None:
    """A session opened with a lost or stolen passkey does not outlive its removal."""
    client, soft = passkey_session(alice)
    stolen = SoftKey(handle(alice))
    laptop = stolen.keep(alice, "Laptop")
    thief = Client()
    assert sign_in(thief, stolen).status_code == 302 and is_signed_in(thief)
    confirmed(client, alice, soft)

    r = client.post(f"/settings/passkeys/{laptop.pk}/remove/", {}, follow=True)

    assert "Passkey “Laptop” removed. Other devices were signed out." in page(r)
    assert not is_signed_in(thief)
    assert is_signed_in(client)


@pytest.mark.django_db(transaction=True)
def test_two_removals_at_once_leave_a_passkey_only_account_its_way_in(alice: User) -> None:
    """The passkeys are counted and one deleted under the account's lock: a removal that
    waited for another one sees it done, and keeps the last passkey."""
    client, soft = passkey_session(alice)
    laptop = SoftKey(handle(alice)).keep(alice, "Laptop")
    confirmed(client, alice, soft)
    answers: list[str] = []

    def remove_laptop() -> None:
        try:
            answers.append(
                page(client.post(f"/settings/passkeys/{laptop.pk}/remove/", {}, follow=True))
            )
        finally:
            connection.close()

    with transaction.atomic():
        # Another removal, half done: it holds the account and has deleted "Phone".
        User.objects.select_for_update().get(pk=alice.pk)
        alice.passkeys.exclude(pk=laptop.pk).delete()
        other = threading.Thread(target=remove_laptop)
        other.start()
        time.sleep(1.5)  # the second removal starts meanwhile
    other.join(30)

    assert [k.name for k in alice.passkeys.all()] == ["Laptop"]
    [answer] = answers
    assert "“Laptop” is how you sign in" in answer


def test_the_phrase_of_a_passkey_only_account_changes_after_confirming(alice: User) -> None:
    client, soft = passkey_session(alice)
    r = client.post("/settings/phrase/", {"choice": "own", "phrase": "blue kettle song"})
    assert "First confirm it is you with your passkey." in page(r)
    confirmed(client, alice, soft)
    client.post("/settings/phrase/", {"choice": "own", "phrase": "blue kettle song"})
    alice.refresh_from_db()
    assert alice.phrase == "blue kettle song"


def test_a_new_passkey_without_a_password_must_sign_in_alone(alice: User) -> None:
    client, _ = passkey_session(alice)
    options = client.post("/settings/passkeys/options/").json()
    assert options["authenticatorSelection"]["residentKey"] == "required"
    assert options["authenticatorSelection"]["userVerification"] == "required"


def test_a_password_account_is_still_asked_for_its_password(reader: Client, alice: User) -> None:
    r = reader.post("/settings/password/", {"old_password": "wrong", "new_password1": "x"})
    assert "Create a password" not in page(r)
    alice.refresh_from_db()
    assert alice.check_password(PASSWORD)

"""Passkeys (WebAuthn), on py_webauthn: as a second factor after the password,
and as the only step of a sign-in.

A passkey made at activation or through a reset link is the account's way in
instead of a password: discoverable (it names its account by its user handle,
so sign-in needs no address) and verifying the user (fingerprint, face or
PIN), so that alone it is two factors, something held and something known or
been. A sign-in by passkey alone (identify) asks for that verification too.

The browser side is static/accounts/passkeys.js and the browser's own
navigator.credentials API. Each ceremony's challenge lives in the session,
is used once, and is good for five minutes.
"""

from __future__ import annotations

import hmac
import json
import secrets
import time
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone
from webauthn import (
    base64url_to_bytes,
    generate_authentication_options,
    generate_registration_options,
    options_to_json,
    verify_authentication_response,
    verify_registration_response,
)
from webauthn.helpers import bytes_to_base64url
from webauthn.helpers.exceptions import WebAuthnException
from webauthn.helpers.structs import (
    AuthenticatorSelectionCriteria,
    AuthenticatorTransport,
    PublicKeyCredentialDescriptor,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from sealbox import branding
from sealbox.accounts.models import Passkey, User

CHALLENGE_SECONDS = 300
_SESSION = "sealbox_webauthn"


class PasskeyError(Exception):
    """The browser's answer did not check out."""


def available() -> bool:
    """Passkeys need a host name: browsers refuse an IP address as the site's identity."""
    host = settings.BASE_HOST
    return not (host.replace(".", "").isdigit() or ":" in host)


def _origin() -> str:
    base = urlsplit(settings.BASE_URL)
    return f"{base.scheme}://{base.netloc}"


HANDLE_BYTES = 32


def _user_handle(user: User) -> bytes:
    """The account's WebAuthn user handle, made (random) the first time it is asked for.

    Stable per account (an authenticator replaces rather than piles up
    passkeys for it), tells nothing about who it is, and is stored rather
    than derived from the secret key, so that passkeys go on signing in
    after the key changes. (Accounts with passkeys from before it was stored
    keep the handle they had: migration accounts 0011.)
    """
    handle = user.passkey_handle
    if handle is None:
        # Whoever stores one first wins: two ceremonies begun at once agree.
        User.objects.filter(pk=user.pk, passkey_handle__isnull=True).update(
            passkey_handle=secrets.token_bytes(HANDLE_BYTES)
        )
        handle = User.objects.values_list("passkey_handle", flat=True).get(pk=user.pk)
        assert handle is not None
        user.passkey_handle = handle
    return bytes(handle)


def _descriptors(user: User) -> list[PublicKeyCredentialDescriptor]:
    descriptors = []
    for key in user.passkeys.all():
        transports = []
        for t in key.transports:
            try:
                transports.append(AuthenticatorTransport(t))
            except ValueError:
                continue
        descriptors.append(
            PublicKeyCredentialDescriptor(
                id=base64url_to_bytes(key.credential_id), transports=transports or None
            )
        )
    return descriptors


def _remember(request: HttpRequest, purpose: str, user: User | None, challenge: bytes) -> None:
    request.session[_SESSION] = {
        "purpose": purpose,
        "user": user.pk if user is not None else None,
        "challenge": bytes_to_base64url(challenge),
        "at": time.time(),
    }


def _take_challenge(request: HttpRequest, purpose: str, user: User | None) -> bytes:
    """The ceremony's challenge, removed from the session: each works once."""
    state = request.session.pop(_SESSION, None)
    if (
        not isinstance(state, dict)
        or state.get("purpose") != purpose
        or state.get("user") != (user.pk if user is not None else None)
        or time.time() - float(state.get("at", 0)) > CHALLENGE_SECONDS
    ):
        raise PasskeyError("no ceremony in progress")
    return base64url_to_bytes(state["challenge"])


def registration_options(request: HttpRequest, user: User, *, only_way_in: bool = False) -> str:
    """Options for a new passkey; `only_way_in`: one the account signs in with alone.

    That one must be discoverable and verify the user; one added in Settings
    beside a password is discoverable and verifying where the authenticator
    can (a plain security key still serves as the second step).
    """
    required = ResidentKeyRequirement.REQUIRED if only_way_in else ResidentKeyRequirement.PREFERRED
    verification = (
        UserVerificationRequirement.REQUIRED
        if only_way_in
        else UserVerificationRequirement.PREFERRED
    )
    options = generate_registration_options(
        rp_id=settings.BASE_HOST,
        rp_name=str(branding.current().title),
        user_id=_user_handle(user),
        user_name=user.email,
        user_display_name=user.email,
        timeout=CHALLENGE_SECONDS * 1000,
        authenticator_selection=AuthenticatorSelectionCriteria(
            resident_key=required, user_verification=verification
        ),
        # A new way in replaces the account's passkeys (links.set_passkey_with_link).
        exclude_credentials=[] if only_way_in else _descriptors(user),
    )
    _remember(request, "register-alone" if only_way_in else "register", user, options.challenge)
    return options_to_json(options)


def _parse(credential: str) -> dict[str, Any]:
    try:
        value = json.loads(credential)
    except ValueError:
        raise PasskeyError("not JSON") from None
    if not isinstance(value, dict):
        raise PasskeyError("not a credential")
    return value


def register(
    request: HttpRequest, user: User, credential: str, name: str, *, only_way_in: bool = False
) -> Passkey:
    """Check a new credential from the browser and keep it under the given name.

    `only_way_in` as for registration_options: the options must have been
    made so, and the authenticator must have verified the user.
    """
    challenge = _take_challenge(request, "register-alone" if only_way_in else "register", user)
    parsed = _parse(credential)
    try:
        verified = verify_registration_response(
            credential=parsed,
            expected_challenge=challenge,
            expected_rp_id=settings.BASE_HOST,
            expected_origin=_origin(),
            require_user_verification=only_way_in,
        )
    except (WebAuthnException, ValueError, KeyError, TypeError) as e:
        raise PasskeyError(str(e)) from None
    credential_id = bytes_to_base64url(verified.credential_id)
    if Passkey.objects.filter(credential_id=credential_id).exists():
        raise PasskeyError("already registered")
    response = parsed.get("response") if isinstance(parsed.get("response"), dict) else {}
    transports = [t for t in (response or {}).get("transports", []) if isinstance(t, str)][:8]
    return Passkey.objects.create(
        user=user,
        name=name,
        credential_id=credential_id,
        public_key=verified.credential_public_key,
        sign_count=verified.sign_count,
        transports=transports,
    )


def authentication_options(request: HttpRequest, user: User, *, confirm: bool = False) -> str:
    """Options for one of the account's passkeys: the second step, or `confirm`ing
    it is the owner in Settings (a passkey-only account's "password again"),
    which asks the authenticator to verify the user."""
    options = generate_authentication_options(
        rp_id=settings.BASE_HOST,
        timeout=CHALLENGE_SECONDS * 1000,
        allow_credentials=_descriptors(user),
        user_verification=UserVerificationRequirement.REQUIRED
        if confirm
        else UserVerificationRequirement.PREFERRED,
    )
    _remember(request, "confirm" if confirm else "authenticate", user, options.challenge)
    return options_to_json(options)


def _check(parsed: dict[str, Any], challenge: bytes, key: Passkey, verify_user: bool) -> None:
    """Check the signature with the key, and move its counter forward."""
    try:
        verified = verify_authentication_response(
            credential=parsed,
            expected_challenge=challenge,
            expected_rp_id=settings.BASE_HOST,
            expected_origin=_origin(),
            credential_public_key=bytes(key.public_key),
            credential_current_sign_count=key.sign_count,
            require_user_verification=verify_user,
        )
    except (WebAuthnException, ValueError, KeyError, TypeError) as e:
        raise PasskeyError(str(e)) from None
    with transaction.atomic():
        # A counter that did not move forward means a cloned authenticator:
        # py_webauthn refuses that above; this keeps two sign-ins from racing.
        moved = Passkey.objects.filter(pk=key.pk, sign_count=key.sign_count).update(
            sign_count=verified.new_sign_count, last_used_at=timezone.now()
        )
    if not moved:
        raise PasskeyError("counter raced")


def authenticate(
    request: HttpRequest, user: User, credential: str, *, confirm: bool = False
) -> Passkey:
    """Check the browser's signature with one of the account's passkeys."""
    challenge = _take_challenge(request, "confirm" if confirm else "authenticate", user)
    parsed = _parse(credential)
    key = user.passkeys.filter(credential_id=str(parsed.get("id", ""))).first()
    if key is None:
        raise PasskeyError("not a passkey of this account")
    _check(parsed, challenge, key, verify_user=confirm)
    return key


def signin_options(request: HttpRequest) -> str:
    """Options for signing in by passkey alone: no address, so no list of
    credentials; the authenticator offers the discoverable ones it holds for
    this site, and must verify the user."""
    options = generate_authentication_options(
        rp_id=settings.BASE_HOST,
        timeout=CHALLENGE_SECONDS * 1000,
        user_verification=UserVerificationRequirement.REQUIRED,
    )
    _remember(request, "signin", None, options.challenge)
    return options_to_json(options)


def credential_owner(credential: str) -> User | None:
    """The account a sign-in credential claims (by its id and user handle), unchecked.

    Only for counting the try against that account before it is checked
    (identify); None when the credential names no account.
    """
    try:
        parsed = _parse(credential)
    except PasskeyError:
        return None
    key = _claimed_key(parsed)
    return key.user if key is not None else None


def _claimed_key(parsed: dict[str, Any]) -> Passkey | None:
    """The passkey whose id the credential gives, if its user handle is that account's."""
    key = (
        Passkey.objects.select_related("user")
        .filter(credential_id=str(parsed.get("id", "")))
        .first()
    )
    response = parsed.get("response")
    handle = response.get("userHandle") if isinstance(response, dict) else None
    if key is None or not isinstance(handle, str):
        return None
    try:
        given = base64url_to_bytes(handle)
    except (ValueError, TypeError):
        return None
    # The user handle is the authenticator's word for the account: it must agree.
    stored = key.user.passkey_handle
    if stored is None or not hmac.compare_digest(given, bytes(stored)):
        return None
    return key


def identify(request: HttpRequest, credential: str) -> Passkey:
    """Check a sign-in by passkey alone: the passkey, whose account is key.user.

    The signature must check out over this session's challenge, with the user
    verified by the authenticator; the user handle must name the account the
    passkey belongs to.
    """
    challenge = _take_challenge(request, "signin", None)
    parsed = _parse(credential)
    key = _claimed_key(parsed)
    if key is None:
        raise PasskeyError("no account has this passkey")
    _check(parsed, challenge, key, verify_user=True)
    return key

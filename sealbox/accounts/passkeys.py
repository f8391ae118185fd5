"""Passkeys (WebAuthn) as a second factor, on py_webauthn.

The browser side is static/accounts/passkeys.js and the browser's own
navigator.credentials API. Each ceremony's challenge lives in the session,
is used once, and is good for five minutes.
"""

from __future__ import annotations

import json
import time
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone
from django.utils.crypto import salted_hmac
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


def _user_handle(user: User) -> bytes:
    # Stable per account (an authenticator replaces rather than piles up
    # passkeys for it) and tells nothing about who it is.
    return salted_hmac("sealbox.accounts.passkeys.user", str(user.pk)).digest()[:16]


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


def _remember(request: HttpRequest, purpose: str, user: User, challenge: bytes) -> None:
    request.session[_SESSION] = {
        "purpose": purpose,
        "user": user.pk,
        "challenge": bytes_to_base64url(challenge),
        "at": time.time(),
    }


def _take_challenge(request: HttpRequest, purpose: str, user: User) -> bytes:
    """The ceremony's challenge, removed from the session: each works once."""
    state = request.session.pop(_SESSION, None)
    if (
        not isinstance(state, dict)
        or state.get("purpose") != purpose
        or state.get("user") != user.pk
        or time.time() - float(state.get("at", 0)) > CHALLENGE_SECONDS
    ):
        raise PasskeyError("no ceremony in progress")
    return base64url_to_bytes(state["challenge"])


def registration_options(request: HttpRequest, user: User) -> str:
    options = generate_registration_options(
        rp_id=settings.BASE_HOST,
        rp_name=str(branding.current().title),
        user_id=_user_handle(user),
        user_name=user.email,
        user_display_name=user.email,
        timeout=CHALLENGE_SECONDS * 1000,
        authenticator_selection=AuthenticatorSelectionCriteria(
            resident_key=ResidentKeyRequirement.PREFERRED,
            user_verification=UserVerificationRequirement.PREFERRED,
        ),
        exclude_credentials=_descriptors(user),
    )
    _remember(request, "register", user, options.challenge)
    return options_to_json(options)


def _parse(credential: str) -> dict[str, Any]:
    try:
        value = json.loads(credential)
    except ValueError:
        raise PasskeyError("not JSON") from None
    if not isinstance(value, dict):
        raise PasskeyError("not a credential")
    return value


def register(request: HttpRequest, user: User, credential: str, name: str) -> Passkey:
    """Check a new credential from the browser and keep it under the given name."""
    challenge = _take_challenge(request, "register", user)
    parsed = _parse(credential)
    try:
        verified = verify_registration_response(
            credential=parsed,
            expected_challenge=challenge,
            expected_rp_id=settings.BASE_HOST,
            expected_origin=_origin(),
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


def authentication_options(request: HttpRequest, user: User) -> str:
    options = generate_authentication_options(
        rp_id=settings.BASE_HOST,
        timeout=CHALLENGE_SECONDS * 1000,
        allow_credentials=_descriptors(user),
        user_verification=UserVerificationRequirement.PREFERRED,
    )
    _remember(request, "authenticate", user, options.challenge)
    return options_to_json(options)


def authenticate(request: HttpRequest, user: User, credential: str) -> Passkey:
    """Check the browser's signature with one of the account's passkeys."""
    challenge = _take_challenge(request, "authenticate", user)
    parsed = _parse(credential)
    key = user.passkeys.filter(credential_id=str(parsed.get("id", ""))).first()
    if key is None:
        raise PasskeyError("not a passkey of this account")
    try:
        verified = verify_authentication_response(
            credential=parsed,
            expected_challenge=challenge,
            expected_rp_id=settings.BASE_HOST,
            expected_origin=_origin(),
            credential_public_key=bytes(key.public_key),
            credential_current_sign_count=key.sign_count,
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
    return key

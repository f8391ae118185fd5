"""Second factors: authenticator-app codes (RFC 6238 TOTP), single-use recovery
codes, and the rules for turning factors on and off.

Codes are the common kind every authenticator app makes: SHA-1, six digits,
a new one every 30 seconds. One step of clock drift either way is accepted,
and the step of every accepted code is remembered, so that a code (or an
older one) never works twice.

The rules (the settings pages and the operators' actions call them, and
repeat none): a new second factor brings new recovery codes and ends the
sessions that signed in without it; the last second factor goes only with a
code too, takes the recovery codes with it, and stays while the operator
requires two-factor sign-in (SEALBOX_REQUIRE_2FA); a passkey that is how a
passwordless account signs in at all stays until it has another way in.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import re
import secrets
from typing import NamedTuple

import pyotp
import segno
from django.conf import settings
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

from sealbox import branding
from sealbox.accounts import activity
from sealbox.accounts.models import Activity, Passkey, RecoveryCode, User

STEP_SECONDS = 30
DIGITS = 6
DRIFT_STEPS = 1
RECOVERY_CODES = 10
# Lowercase letters and digits without the easily confused ones (0/o, 1/l/i).
_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"
_RECOVERY_LENGTH = 12  # about 59 bits each


def new_secret() -> str:
    """A new random secret: 160 bits, base32, as RFC 4226 recommends."""
    return pyotp.random_base32(32)


def grouped(secret: str) -> str:
    """The secret in groups of four, for typing it into an app by hand."""
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))


def provisioning_uri(email: str, secret: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(
        name=email, issuer_name=str(branding.current().title)
    )


def qr_svg(uri: str) -> str:
    """The otpauth: URI as an inline SVG QR code (no style attributes: the CSP allows it)."""
    return str(
        segno.make(uri, error="m").svg_inline(
            scale=5, border=2, title="QR code", dark="#000", light="#fff"
        )
    )


def _step(now: float) -> int:
    return int(now // STEP_SECONDS)


def matching_step(secret: str, code: str) -> int | None:
    """The time step (now, or one either side) whose code this is, or None."""
    code = re.sub(r"\s", "", code)
    if not re.fullmatch(rf"[0-9]{{{DIGITS}}}", code):
        return None
    totp = pyotp.TOTP(secret, digits=DIGITS, interval=STEP_SECONDS)
    now = _step(timezone.now().timestamp())
    found = None
    for step in range(now - DRIFT_STEPS, now + DRIFT_STEPS + 1):
        # Every candidate is compared, in constant time, whichever matches.
        if hmac.compare_digest(totp.generate_otp(step), code):
            found = step
    return found


def verify_totp(user: User, code: str) -> bool:
    """Accept an authenticator code once: the step is recorded under a row lock."""
    if not user.has_totp:
        return False
    with transaction.atomic():
        locked = User.objects.select_for_update().get(pk=user.pk)
        step = matching_step(locked.totp_secret, code)
        if step is None or step <= locked.totp_last_step:
            return False
        locked.totp_last_step = step
        locked.save(update_fields=["totp_last_step"])
    user.totp_last_step = step
    return True


def _normalize_recovery(code: str) -> str:
    return re.sub(r"[\s-]", "", code).lower()


def _hash_recovery(user: User, code: str) -> str:
    return hashlib.sha256(f"{user.pk}:{_normalize_recovery(code)}".encode()).hexdigest()


def _format_recovery(raw: str) -> str:
    return "-".join(raw[i : i + 4] for i in range(0, len(raw), 4))


def new_recovery_codes(user: User) -> list[str]:
    """Replace the account's recovery codes with ten new ones; returns them, once."""
    codes = [
        _format_recovery("".join(secrets.choice(_ALPHABET) for _ in range(_RECOVERY_LENGTH)))
        for _ in range(RECOVERY_CODES)
    ]
    with transaction.atomic():
        RecoveryCode.objects.filter(user=user).delete()
        RecoveryCode.objects.bulk_create(
            RecoveryCode(user=user, code_hash=_hash_recovery(user, c)) for c in codes
        )
    return codes


def unused_recovery_codes(user: User) -> int:
    return RecoveryCode.objects.filter(user=user, used_at__isnull=True).count()


def use_recovery_code(user: User, code: str) -> bool:
    """Spend a recovery code; False if it is not one of the account's unused codes."""
    normalized = _normalize_recovery(code)
    if len(normalized) != _RECOVERY_LENGTH or not set(normalized) <= set(_ALPHABET):
        return False
    spent = RecoveryCode.objects.filter(
        user=user, code_hash=_hash_recovery(user, normalized), used_at__isnull=True
    ).update(used_at=timezone.now())
    return spent == 1


def verify_code(user: User, code: str) -> str | None:
    """Check a code typed at sign-in: how it was accepted ("app" or "recovery"), or None."""
    if verify_totp(user, code):
        return "app"
    if use_recovery_code(user, code):
        return "recovery"
    return None


def second_factors(user: User) -> str:
    """Which second steps the account has: "app", "passkey", "both", or "" for none.

    What pages say of the second step (a recovery code stands in "for a code from
    the app", "for your passkey") follows from this, never from a guess.
    """
    app = user.has_totp
    passkey = user.passkeys.exists()
    if app and passkey:
        return "both"
    return "app" if app else "passkey" if passkey else ""


def turn_on(user: User, secret: str, step: int) -> None:
    user.totp_secret = secret
    user.totp_enabled_at = timezone.now()
    # The code that confirmed the secret cannot be used again to sign in.
    user.totp_last_step = step
    user.save(update_fields=["totp_secret", "totp_enabled_at", "totp_last_step"])


def turn_off(user: User) -> None:
    """Stop asking for app codes; recovery codes go too once no passkey is left."""
    user.totp_secret = ""
    user.totp_enabled_at = None
    user.totp_last_step = 0
    user.save(update_fields=["totp_secret", "totp_enabled_at", "totp_last_step"])
    if not user.passkeys.exists():
        RecoveryCode.objects.filter(user=user).delete()


def reset(user: User) -> None:
    """Remove every second factor (an operator's reset for a lost phone)."""
    with transaction.atomic():
        user.passkeys.all().delete()
        turn_off(user)  # with no passkey left, the recovery codes go too
        user.end_all_sessions()


def required() -> bool:
    """Whether the operator requires a second factor of every account (SEALBOX_REQUIRE_2FA)."""
    return bool(settings.REQUIRE_2FA)


def app_is_last(user: User) -> bool:
    """Whether the app is the account's last second factor (no passkey besides it)."""
    return not user.passkeys.exists()


def may_turn_off_app(user: User) -> bool:
    """False while the operator requires two-factor sign-in and the app is the last factor."""
    return not (required() and app_is_last(user))


def passkey_is_last(user: User) -> bool:
    """Whether removing a passkey would remove the account's last second factor."""
    return not user.has_totp and user.passkeys.count() == 1


def only_way_in(user: User) -> bool:
    """Whether the account's one passkey is how it signs in at all (no password, no other)."""
    return user.passkey_only and user.passkeys.count() == 1


def factor_added(user: User) -> list[str]:
    """After a second factor is added: new recovery codes (returned, to show once), and the
    account's sessions end (the caller keeps its own: update_session_auth_hash)."""
    codes = new_recovery_codes(user)
    user.end_all_sessions()
    return codes


def app_on(request: HttpRequest, user: User, secret: str, step: int) -> list[str]:
    """Turn on app codes (the secret, confirmed by the code of `step`): see factor_added."""
    with transaction.atomic():
        turn_on(user, secret, step)
        activity.record(user, Activity.Kind.TOTP_ON, request)
        return factor_added(user)


def app_off(request: HttpRequest, user: User) -> None:
    """Turn off app codes (may_turn_off_app first); the account's sessions end."""
    with transaction.atomic():
        turn_off(user)
        activity.record(user, Activity.Kind.TOTP_OFF, request)
        user.end_all_sessions()


class Removal(enum.Enum):
    """What remove_passkey did."""

    REMOVED = "removed"
    ONLY_WAY_IN = "only way in"  # only_way_in: refused
    NOW_LAST = "now last"  # another removal came first: this one is the last now
    REQUIRED = "required"  # the last second factor while required(): refused


class PasskeyRemoval(NamedTuple):
    result: Removal
    key: Passkey
    user: User  # the account as it is now (its sessions ended when REMOVED)


def remove_passkey(
    request: HttpRequest, user: User, passkey_id: int, *, last: bool
) -> PasskeyRemoval:
    """Remove one of the account's passkeys; the account's sessions end.

    `last` says whether the removal was confirmed as of the last second factor
    (with a code). The passkeys are counted again, and one deleted, under a
    lock on the account's row (taken first, as verify_totp and emailcode.start
    take it), so that two removals at once cannot both see a spare and leave
    a passwordless account without its way in, or end the last second factor
    without the code asked for then. Passkey.DoesNotExist when it is gone.
    """
    with transaction.atomic():
        user = User.objects.select_for_update().get(pk=user.pk)
        key = user.passkeys.get(pk=passkey_id)
        if only_way_in(user):
            return PasskeyRemoval(Removal.ONLY_WAY_IN, key, user)
        now_last = passkey_is_last(user)
        if now_last and not last:
            return PasskeyRemoval(Removal.NOW_LAST, key, user)
        if required() and now_last:
            return PasskeyRemoval(Removal.REQUIRED, key, user)
        key.delete()
        activity.record(user, Activity.Kind.PASSKEY_REMOVED, request, key.name)
        if now_last:
            turn_off(user)
        user.end_all_sessions()
    return PasskeyRemoval(Removal.REMOVED, key, user)

"""One-time links: how long they live, and spending one on a password or a passkey.

Issuing a link and emailing it is outbound/accountmail.py.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from django.contrib.auth.forms import SetPasswordForm
from django.contrib.auth.hashers import make_password
from django.db import transaction
from django.utils import timezone

from sealbox.accounts import phrase
from sealbox.accounts.models import LinkToken, Passkey, RecoveryCode, User

# One link email per account in this time at most, however often it is asked
# for: nobody can flood a mailbox with link emails (or the table with tokens).
RESEND_AFTER = timedelta(minutes=5)


def sent_recently(user: User) -> bool:
    """Whether the account was sent a link it has not used within RESEND_AFTER."""
    since = timezone.now() - RESEND_AFTER
    return LinkToken.objects.filter(user=user, created__gte=since, used_at__isnull=True).exists()


def shortest_lifetime() -> timedelta:
    """What the "link sent" page promises: it must not depend on which link was sent."""
    return min(LinkToken.lifetime(p) for p in LinkToken.Purpose.values)


def password_changed(user: User) -> None:
    """After any new password: the account counts as activated and no old link works any more.

    Activation gives the account its personal phrase (phrase.py), in the same
    transaction: call inside the one that saved the password.
    """
    if user.activated_at is None:
        user.activated_at = timezone.now()
        if not user.phrase:
            user.phrase = phrase.generate(phrase.language_of(user))
        user.save(update_fields=["activated_at", "phrase"])
    LinkToken.objects.filter(user=user).delete()


def _lock_unspent(token_hash: str, purpose: str) -> bool:
    """Lock the link's row; False once it is spent or expired (call inside a transaction)."""
    link = LinkToken.find_valid_hash(token_hash, purpose)
    return link is not None and LinkToken.objects.select_for_update().filter(pk=link.pk).exists()


def link_alone_signs_in(user: User) -> bool:
    """Whether an emailed link alone may give the account a new way in: a password or a passkey.

    Yes for an account without a second factor, as for any password; and for
    one that signs in by passkey alone (no password, no app): its passkey
    stands where a password would, and a link replaces it as it replaces a
    forgotten password. An account with a password and a second factor keeps
    needing that second factor (hold_password).
    """
    return not user.has_totp and (user.passkey_only or not user.passkeys.exists())


def _replace_passkeys(user: User) -> None:
    """A link that gives a passkey-only account a new way in retires its passkeys (maybe lost)."""
    if user.passkey_only:
        user.passkeys.all().delete()
        RecoveryCode.objects.filter(user=user).delete()


def set_password_with_link(link: LinkToken, form: SetPasswordForm[User]) -> bool:
    """Save the (valid) form's password if the link is still unspent; spend it and all others.

    False when a concurrent request spent the link first.
    """
    with transaction.atomic():
        if not _lock_unspent(link.token_hash, link.purpose):
            return False
        _replace_passkeys(link.user)
        user = form.save()
        password_changed(user)
    return True


def set_passkey_with_link(link: LinkToken, make: Callable[[], Passkey]) -> Passkey | None:
    """A passkey instead of a password, if the link is still unspent; spend it and all others.

    `make` checks and stores the new passkey (passkeys.register); the account
    then has no password, its earlier passkeys are retired, and its other
    sessions end (the session hash covers the password). None when a
    concurrent request spent the link first; a PasskeyError from `make`
    changes nothing.
    """
    with transaction.atomic():
        if not _lock_unspent(link.token_hash, link.purpose):
            return None
        user = link.user
        # Earlier passkeys go (only a passkey-only account has any: see link_alone_signs_in).
        user.passkeys.all().delete()
        RecoveryCode.objects.filter(user=user).delete()
        key = make()
        user.set_unusable_password()
        user.save(update_fields=["password"])
        password_changed(user)
    return key


def hold_password(link: LinkToken, form: SetPasswordForm[User]) -> dict[str, str]:
    """The (valid) form's new password, hashed, for an account with a second factor.

    Nothing is saved and the link stays unspent: whoever holds only the
    owner's inbox must not change the password, end the owner's sessions or
    spend the link. The hash waits in the half-signed-in session
    (signin.begin_second_step) for apply_held_password.
    """
    return {
        "password": make_password(form.cleaned_data["new_password1"]),
        "link": link.token_hash,
        "purpose": link.purpose,
    }


def held_link_works(user: User, held: dict[str, str]) -> bool:
    """Whether the link a held password came with is still unspent, unexpired and the user's.

    Asked before a code is checked, so that a recovery code is not used up on a
    link that can no longer change anything.
    """
    link = LinkToken.find_valid_hash(held.get("link", ""), held.get("purpose", ""))
    return link is not None and link.user_id == user.pk


def apply_held_password(user: User, held: dict[str, str]) -> bool:
    """After the second step: save the held password and spend the link (and all others).

    Saving the password ends the account's other sessions (their session
    hash no longer matches). False, with nothing changed, when the link was
    spent or expired meanwhile.
    """
    with transaction.atomic():
        if not held_link_works(user, held):
            return False
        if not _lock_unspent(held.get("link", ""), held.get("purpose", "")):
            return False
        user.password = held["password"]
        user.save(update_fields=["password"])
        password_changed(user)
    return True

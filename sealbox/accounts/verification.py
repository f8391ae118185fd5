"""What this session proved at sign-in, and lately: the one place that reads and writes it.

A session is *verified* when its sign-in took the account's second factor
(an app code, a recovery code, or a passkey), or when the account has none
to take (django-otp's is_verified, with "none needed" counted as passed).
A session is *recently authenticated* when it gave the password or a passkey
in the last RECENT_SECONDS (healthchecks' sudo mode): a sign-in with an
emailed code alone proves the mailbox only, and never counts.
The session keys are named here and nowhere else; signin.complete calls
signed_in(), a new second factor in Settings calls mark_verified().
"""

from __future__ import annotations

import time

from django.http import HttpRequest

from sealbox.accounts.models import User

# When the session last proved who it is (password, code or passkey).
AUTHENTICATED_AT = "sealbox_authenticated_at"
# Set when this session's sign-in took a second factor (the admin site asks for it).
SECOND_FACTOR = "sealbox_second_factor"
# Set when this session's sign-in proved only that it reads the account's mail
# (an emailed code, without a second step): see recent.
MAILBOX_ONLY = "sealbox_mailbox_only"
RECENT_SECONDS = 600


def verified(request: HttpRequest) -> bool:
    """Whether this session passed the account's second factor, or the account has none.

    A session signed in before the account's first second factor was added
    (with the password alone) is not verified, whatever it did since.
    """
    user = request.user
    if not isinstance(user, User):
        return False
    return not user.has_two_factor or bool(request.session.get(SECOND_FACTOR))


def mark_verified(request: HttpRequest) -> None:
    """This session just took the account's second factor (at sign-in, or setting one up)."""
    request.session[SECOND_FACTOR] = True


def signed_in(request: HttpRequest, *, second_factor: bool, mailbox_only: bool) -> None:
    """Record what a sign-in proved: see signin.complete."""
    request.session[AUTHENTICATED_AT] = time.time()
    request.session.pop(MAILBOX_ONLY, None)
    if second_factor:
        mark_verified(request)
    elif mailbox_only:
        request.session[MAILBOX_ONLY] = True


def recent(request: HttpRequest) -> bool:
    """Whether this session proved who it is within the last ten minutes.

    A sign-in with an emailed code alone never counts (see signin.complete):
    changes to how the account signs in, its recovery codes and its personal
    phrase then ask for the password (or a passkey) as for an old session.
    """
    if request.session.get(MAILBOX_ONLY):
        return False
    at = request.session.get(AUTHENTICATED_AT)
    return isinstance(at, (int, float)) and time.time() - at < RECENT_SECONDS


def reauthenticated(request: HttpRequest) -> None:
    """This session just gave the account's password or passkey again."""
    request.session.pop(MAILBOX_ONLY, None)
    request.session[AUTHENTICATED_AT] = time.time()

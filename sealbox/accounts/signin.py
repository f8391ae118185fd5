"""Signing in, in one or two steps.

After the password, an account with a second factor is only half signed in:
the session names the account and when the password was right, and grants
nothing. The second step (an app code, a recovery code or a passkey) must
come within five minutes, from the same session, and completes the sign-in.
Failures in either step count against the address and the client alike
(throttle.py), and a complete sign-in clears the address's count.
"""

from __future__ import annotations

import time
from typing import Any

from django.contrib.auth import login
from django.http import HttpRequest
from django.utils import timezone

from sealbox import addresses
from sealbox.accounts import activity, throttle
from sealbox.accounts.clientip import client_ip
from sealbox.accounts.models import Activity, User

BACKEND = "django.contrib.auth.backends.ModelBackend"
PENDING = "sealbox_pending_signin"
PENDING_SECONDS = 300
PREVIOUS = "sealbox_previous_signin"


def throttle_keys(request: HttpRequest, address: str) -> list[throttle.Key]:
    """What a sign-in try counts against: the address (as typed, normalised) and the client."""
    try:
        account = addresses.normalize(address)
    except addresses.InvalidAddress:
        account = address.strip().lower()
    keys = [throttle.Key(throttle.ACCOUNT, account)]
    ip = client_ip(request)
    if ip:
        keys.append(throttle.Key(throttle.CLIENT, ip))
    return keys


def failed(request: HttpRequest, address: str, user: User | None, detail: str = "") -> None:
    """Count a failed try and log it on the account (when there is one)."""
    locked = throttle.fail(throttle_keys(request, address))
    if user is not None:
        activity.record(user, Activity.Kind.SIGNIN_FAILED, request, detail)
        if locked:
            activity.record(user, Activity.Kind.LOCKED, request)


def begin_second_step(request: HttpRequest, user: User, next_url: str) -> None:
    request.session.cycle_key()
    request.session[PENDING] = {
        "user": user.pk,
        "hash": user.get_session_auth_hash(),
        "since": time.time(),
        "next": next_url,
    }


def pending_user(request: HttpRequest) -> tuple[User, str] | None:
    """The half-signed-in account and where to go after, while the five minutes last."""
    state: Any = request.session.get(PENDING)
    if not isinstance(state, dict):
        return None
    if time.time() - float(state.get("since", 0)) > PENDING_SECONDS:
        request.session.pop(PENDING, None)
        return None
    user = User.objects.filter(pk=int(state.get("user") or 0), is_active=True).first()
    # A password changed meanwhile voids the first step.
    if user is None or user.get_session_auth_hash() != state.get("hash"):
        request.session.pop(PENDING, None)
        return None
    return user, str(state.get("next") or "")


def complete(request: HttpRequest, user: User, how: str = "") -> None:
    """Sign the account in: a new session, the log entry, the count cleared."""
    request.session.pop(PENDING, None)
    throttle.clear(throttle_keys(request, user.email)[:1])
    login(request, user, backend=BACKEND)
    activity.record(user, Activity.Kind.SIGNIN, request, how)
    previous = activity.previous_signin(user)
    if previous is not None:
        when = timezone.localtime(previous.at)
        request.session[PREVIOUS] = {
            "at": when.isoformat(),
            "text": when.strftime("%Y-%m-%d %H:%M"),
            "ip": previous.ip or "",
            "browser": activity.browser(previous.user_agent),
        }

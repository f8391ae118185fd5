"""How long a signed-in session lasts: renewed while used, never past its maximum age."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.contrib import messages as flash
from django.contrib.auth import logout
from django.contrib.sessions.backends.base import SessionBase
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils.translation import ngettext

from sealbox.accounts import signin, twofactor

# How often a used session's expiry moves forward. The idle timeout is
# therefore exact to within this many seconds.
RENEW_EVERY = 60

# When the session signed in (seconds since the epoch): see SessionLimitsMiddleware.
SIGNED_IN_AT = "sealbox_signed_in_at"


def stamp_sign_in(sender: Any, request: HttpRequest | None, user: Any, **kwargs: Any) -> None:
    """Record the sign-in time in the new session (Django's user_logged_in signal)."""
    if request is not None and hasattr(request, "session"):
        request.session[SIGNED_IN_AT] = time.time()


def _over_age(session: SessionBase) -> bool:
    """Signed in for longer than SEALBOX_SESSION_MAX_HOURS, or since before the sign-in time was kept."""
    at = session.get(SIGNED_IN_AT)
    return not (
        isinstance(at, (int, float)) and time.time() - at < settings.SESSION_MAX_HOURS * 3600
    )


class SessionLimitsMiddleware:
    """How long a signed-in session lasts, checked in this order:

    1. its absolute lifetime: SEALBOX_SESSION_MAX_HOURS after its sign-in it is
       signed out, however busy it is (the idle timeout alone would let a
       session used every few minutes live for ever). A signed-in session
       without a sign-in time (from before this rule) counts as too old. The
       request goes on signed out: the page asks for a sign-in as for anyone
       else (the admin's too), with a message why;
    2. its idle timeout (SEALBOX_SESSION_IDLE_MINUTES): Django's session expiry,
       so a session unused that long arrives here signed out already;
    3. renewal: a session within both has its expiry moved forward, at most once
       a minute. Django's SESSION_SAVE_EVERY_REQUEST would write the session on
       every page, frame and image; marking it modified once a minute gives the
       same idle timeout for a fraction of the writes.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        session = request.session
        if session.get("_auth_user_id") is not None and not _over_age(session):
            now = int(time.time())
            if now - int(session.get("renewed", 0)) >= RENEW_EVERY:
                session["renewed"] = now
        return self.get_response(request)

    def process_view(
        self, request: HttpRequest, view: Callable[..., Any], args: Any, kwargs: Any
    ) -> HttpResponse | None:
        # Here rather than in __call__: the message why needs MessageMiddleware's storage.
        session = request.session
        if session.get("_auth_user_id") is None or not _over_age(session):
            return None
        logout(request)
        hours = settings.SESSION_MAX_HOURS
        flash.info(
            request,
            ngettext(
                "For your security, a sign-in lasts %(n)d hour at most. Please sign in again.",
                "For your security, a sign-in lasts %(n)d hours at most. Please sign in again.",
                hours,
            )
            % {"n": hours},
        )
        return None


# Where a signed-in account without a second factor may go while
# SEALBOX_REQUIRE_2FA is on: setting one up, and signing out (and the brand's
# logo and stylesheet, which those pages show). One with no password or passkey
# at all (signed in with an emailed code) asks for a link to choose one first.
ENROLMENT_PAGES = frozenset(
    {
        "settings",
        "link-new",
        "link-sent",
        "settings-password",
        "settings-phrase",
        "phrase-new",
        "settings-totp",
        "settings-passkey-options",
        "settings-passkey-add",
        "activity",
        "signout",
        "signout-everywhere",
        "brand-logo",
        "brand-css",
    }
)


class RequireTwoFactorMiddleware:
    """With SEALBOX_REQUIRE_2FA, no mail is shown until the account has a second factor."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_view(
        self, request: HttpRequest, view: Callable[..., Any], args: Any, kwargs: Any
    ) -> HttpResponse | None:
        if not twofactor.required() or not request.user.is_authenticated:
            return None
        match = request.resolver_match
        if match is None or match.url_name in ENROLMENT_PAGES:
            return None
        user = request.user
        if getattr(user, "has_two_factor", True):
            return None
        return redirect("settings-totp")


class DeviceCookieMiddleware:
    """Hands a browser its "signed in here before" cookie after a sign-in (signin.complete)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        value = getattr(request, "sealbox_device", None)
        if value:
            response.set_cookie(
                signin.DEVICE_COOKIE,
                value,
                max_age=signin.DEVICE_DAYS * 86400,
                secure=settings.SESSION_COOKIE_SECURE,
                httponly=True,
                samesite="Lax",
            )
        return response

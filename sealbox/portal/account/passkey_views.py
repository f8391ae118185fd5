"""Passkeys as the way in: one instead of a password at activation or through a
reset link, signing in with a passkey alone, and confirming it is you in
Settings for an account that has no password to give.

A passkey that verified its user is two factors at once (something held, and
a fingerprint, face or PIN): signing in with one alone is a complete two-step
sign-in (signin.complete with second_factor), and counts in the throttle as
a password would.
"""

from __future__ import annotations

from django.contrib import messages as flash
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from sealbox.accounts import (
    activity,
    languages,
    links,
    passkeys,
    phrase,
    signin,
    throttle,
)
from sealbox.accounts.models import Activity, LinkToken, User
from sealbox.portal.account import settings_views
from sealbox.portal.account.views import (
    SESSION_TOKEN,
    SET_PASSWORD_VIEW,
    link_invalid,
    session_link,
    signin_next,
    signin_page,
)

NAME_LENGTH = 60


def _how(key_name: str) -> str:
    return _("passkey “%(name)s”") % {"name": key_name}


def _json(options: str) -> HttpResponse:
    return HttpResponse(options, content_type="application/json")


def _link_user(request: HttpRequest, purpose: str) -> tuple[LinkToken, User] | None:
    """The link this session opened, when it may give its account a passkey instead of a password."""
    link = session_link(request, purpose)
    if link is None or not passkeys.available() or not links.link_alone_signs_in(link.user):
        return None
    return link, link.user


@never_cache
@require_POST
def link_passkey_options(request: HttpRequest, purpose: str) -> HttpResponse:
    found = _link_user(request, purpose)
    if found is None:
        return HttpResponse(status=403)
    return _json(passkeys.registration_options(request, found[1], only_way_in=True))


@never_cache
@require_POST
def link_passkey(request: HttpRequest, purpose: str) -> HttpResponse:
    """A passkey instead of a password, behind an activation or reset link (posted by passkeys.js).

    As with a password set through the link: the link is spent, the owner is
    signed in, and an activation goes on to the personal phrase.
    """
    found = _link_user(request, purpose)
    if found is None:
        return link_invalid(request)
    link, user = found
    name = activity.browser(request.META.get("HTTP_USER_AGENT", "")) or _("Passkey")
    credential = str(request.POST.get("credential", ""))
    try:
        key = links.set_passkey_with_link(
            link,
            lambda: passkeys.register(
                request, user, credential, name[:NAME_LENGTH], only_way_in=True
            ),
        )
    except passkeys.PasskeyError:
        flash.error(request, _("The passkey was not created. Try again, or choose a password."))
        return redirect(SET_PASSWORD_VIEW[purpose])
    if key is None:
        return link_invalid(request)
    request.session.pop(SESSION_TOKEN[purpose], None)
    reset = purpose == LinkToken.Purpose.RESET
    if reset:
        activity.record(
            user,
            Activity.Kind.PASSKEY_ADDED,
            request,
            _("%(name)s, by email link") % {"name": key.name},
        )
        flash.success(request, _("Your new passkey is ready. Other devices were signed out."))
    else:
        languages.keep_current(user)
        activity.record(user, Activity.Kind.PASSKEY_ADDED, request, key.name)
    signin.complete(request, user, _how(key.name), second_factor=True)
    if not reset:
        phrase.show_next(request)
    return redirect(phrase.landing(request, reverse("inbox")))


@never_cache
@require_POST
def signin_options(request: HttpRequest) -> HttpResponse:
    if not passkeys.available():
        return HttpResponse(status=404)
    return _json(passkeys.signin_options(request))


@never_cache
@require_POST
def signin_with_passkey(request: HttpRequest) -> HttpResponse:
    """Sign in with a passkey alone: the browser's signed answer, posted by passkeys.js.

    The try counts against the account the passkey claims (and the client),
    before anything is checked, as a password does; a passkey no account has
    counts against the client. Every failure gets the same one sentence.
    """
    credential = str(request.POST.get("credential", ""))
    owner = passkeys.credential_owner(credential)
    if owner is None:
        refused = throttle.attempt(signin.client_keys(request))
    else:
        refused = signin.attempt(request, owner.email)
    if refused is not None:
        return signin_page(request, status=429, refusal=refused)
    try:
        key = passkeys.identify(request, credential)
        if not (key.user.is_active and key.user.is_activated):
            raise passkeys.PasskeyError("account closed")
    except passkeys.PasskeyError:
        if owner is not None:
            signin.failed(request, owner.email, owner, "passkey")
        return signin_page(
            request,
            status=400,
            passkey_error=_("That passkey did not sign you in. Try again, or use your password."),
        )
    user = key.user
    signin.succeeded(request, user.email)
    signin.complete(request, user, _how(key.name), second_factor=True)
    return redirect(phrase.landing(request, signin_next(request)))


@login_required
@never_cache
@require_POST
def confirm_options(request: HttpRequest) -> HttpResponse:
    user = settings_views.signed_in(request)
    if not passkeys.available() or not user.passkeys.exists():
        return HttpResponse(status=404)
    return _json(passkeys.authentication_options(request, user, confirm=True))


@login_required
@never_cache
@require_POST
def confirm(request: HttpRequest) -> HttpResponse:
    """ "It is me" with a passkey, for an account with no password to type again (settings_views.fresh)."""
    user = settings_views.signed_in(request)
    credential = str(request.POST.get("credential", ""))

    def right() -> bool:
        try:
            passkeys.authenticate(request, user, credential, confirm=True)
        except passkeys.PasskeyError:
            return False
        return True

    outcome = signin.counted(request, user, right, _("passkey in Settings"))
    if isinstance(outcome, throttle.Refusal):
        return settings_views.settings_response(request, status=429, refusal=outcome)
    if not outcome:
        flash.error(request, _("That passkey did not confirm it is you. Try again."))
        return redirect("settings")
    signin.reauthenticated(request)
    flash.success(request, _("Thank you. You can change how you sign in for the next ten minutes."))
    return redirect("settings")

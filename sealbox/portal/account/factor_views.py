"""Settings: the second factors. The authenticator app (setting it up with the password
again, turning it off), recovery codes, and passkeys (adding, removing). The rules for
turning them on and off are accounts/twofactor.py's; these views ask and answer.
"""

from __future__ import annotations

import time

from django.contrib import messages as flash
from django.contrib.auth import update_session_auth_hash
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods, require_POST

from sealbox.accounts import (
    activity,
    passkeys,
    signin,
    throttle,
    twofactor,
    verification,
)
from sealbox.accounts.models import Activity, Passkey, User
from sealbox.portal.account.forms import (
    CodeForm,
    ConfirmForm,
    PasskeyForm,
)

# The secret shown while enrolling, until a code confirms it (then it moves to the account).
from sealbox.portal.account.settings_views import (
    codes_page,
    confirm,
    not_proven,
    refused_on_settings,
    settings_response,
    signed_in,
)

# This session's app being set up: its secret, kept while the page is open.
ENROL = "sealbox_totp_enrol"
ENROL_SECONDS = 900


def _enrol_secret(request: HttpRequest) -> str:
    state = request.session.get(ENROL)
    if isinstance(state, dict) and time.time() - float(state.get("at", 0)) < ENROL_SECONDS:
        return str(state["secret"])
    secret = twofactor.new_secret()
    request.session[ENROL] = {"secret": secret, "at": time.time()}
    return secret


@login_required
@never_cache
@require_http_methods(["GET", "POST"])
@sensitive_post_parameters("code", "password")
@signin.recent_auth_required(lambda request, refusal: _enrol_refused(request, refusal))
def totp_enrol(request: HttpRequest) -> HttpResponse:
    """Turn on two-factor sign-in: scan or type the secret, then prove it with a code."""
    user = signed_in(request)
    # App codes are a second step after the password: an account without one
    # signs in with its passkey alone, which the code would not be asked for.
    if user.has_totp or not user.has_usable_password():
        return redirect("settings")
    secret = _enrol_secret(request)
    form = CodeForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        step = twofactor.matching_step(secret, form.cleaned_data["code"])
        if step is not None:
            # Sessions signed in with the password alone end; this one goes on.
            codes = twofactor.app_on(request, user, secret, step)
            request.session.pop(ENROL, None)
            update_session_auth_hash(request, user)
            # This session just gave the password and a code: as a two-step sign-in.
            verification.mark_verified(request)
            return codes_page(request, codes)
        else:
            form.add_error(
                "code",
                _(
                    "That code did not work. Check that the app shows this account, and try the newest code."
                ),
            )
    return _enrol_page(request, user, secret, form)


def _enrol_refused(request: HttpRequest, refusal: throttle.Refusal | None) -> HttpResponse:
    """The app set-up page when the password was not given again (or tries ran out)."""
    user = signed_in(request)
    if user.has_totp or not user.has_usable_password():
        return redirect("settings")
    form = CodeForm(request.POST)
    form.is_valid()
    if refusal is None:
        form.add_error(None, not_proven(user))
    return _enrol_page(request, user, _enrol_secret(request), form, refusal)


def _enrol_page(
    request: HttpRequest,
    user: User,
    secret: str,
    form: CodeForm,
    refusal: throttle.Refusal | None = None,
) -> HttpResponse:
    uri = twofactor.provisioning_uri(user.email, secret)
    context = {
        "refusal": refusal,
        "form": form,
        "qr": twofactor.qr_svg(uri),
        "secret": twofactor.grouped(secret),
        "uri": uri,
        "require_2fa": twofactor.required() and not user.has_two_factor,
        "need_password": not verification.recent(request),
    }
    return render(request, "accounts/totp_enrol.html", context)


@login_required
@never_cache
@require_POST
@sensitive_post_parameters("password", "code")
def totp_off(request: HttpRequest) -> HttpResponse:
    user = signed_in(request)
    form = ConfirmForm(user, request.POST, with_code=True, recent=verification.recent(request))
    if not user.has_totp:
        return redirect("settings")
    if not twofactor.may_turn_off_app(user):
        flash.error(
            request, _("Your organisation requires two-factor sign-in; it cannot be turned off.")
        )
        return redirect("settings")
    if (refused := confirm(request, user, form, "totp_off_form")) is not None:
        return refused
    twofactor.app_off(request, user)
    update_session_auth_hash(request, user)
    flash.success(
        request, _("Two-factor sign-in with an app is off. Other devices were signed out.")
    )
    return redirect("settings")


@login_required
@never_cache
@require_POST
@sensitive_post_parameters("password")
def recovery_codes(request: HttpRequest) -> HttpResponse:
    """Replace the recovery codes (the old ones stop working)."""
    user = signed_in(request)
    if not user.has_two_factor:
        return redirect("settings")
    form = ConfirmForm(user, request.POST, recent=verification.recent(request))
    if (refused := confirm(request, user, form, "recovery_form")) is not None:
        return refused
    codes = twofactor.new_recovery_codes(user)
    activity.record(user, Activity.Kind.RECOVERY_NEW, request)
    return codes_page(request, codes)


@login_required
@never_cache
@require_POST
def passkey_options(request: HttpRequest) -> HttpResponse:
    if not passkeys.available():
        return HttpResponse(status=404)
    user = signed_in(request)
    # Without a password, a new passkey must be able to sign in alone.
    only_way_in = not user.has_usable_password()
    options = passkeys.registration_options(request, user, only_way_in=only_way_in)
    return HttpResponse(options, content_type="application/json")


@login_required
@never_cache
@require_POST
@sensitive_post_parameters("password")
@signin.recent_auth_required(refused_on_settings("passkey_form", PasskeyForm, status=200))
def passkey_add(request: HttpRequest) -> HttpResponse:
    user = signed_in(request)
    form = PasskeyForm(request.POST)
    if not form.is_valid():
        return settings_response(request, passkey_form=form)
    first = not user.has_two_factor
    try:
        key = passkeys.register(
            request,
            user,
            form.cleaned_data["credential"],
            form.cleaned_data["name"],
            only_way_in=not user.has_usable_password(),
        )
    except passkeys.PasskeyError:
        form.add_error(None, _("The passkey could not be added. Try again."))
        return settings_response(request, passkey_form=form)
    activity.record(user, Activity.Kind.PASSKEY_ADDED, request, key.name)
    flash.success(
        request, _("Passkey “%(name)s” added. You can use it to sign in.") % {"name": key.name}
    )
    if first:
        # Signing in now takes a second step: sessions opened with the password
        # alone end, and recovery codes are made, as when an app is set up.
        codes = twofactor.factor_added(user)
        update_session_auth_hash(request, user)
        return codes_page(request, codes)
    return redirect("settings")


@login_required
@never_cache
@require_POST
@sensitive_post_parameters("password")
def passkey_remove(request: HttpRequest, passkey_id: int) -> HttpResponse:
    """Remove a passkey; the account's other sessions end, as after a password change.

    A session opened with a lost or stolen passkey must not outlive its
    removal. The password (and code) are checked first, each a counted try
    in its own transaction (signin.counted); then twofactor.remove_passkey
    counts the passkeys again under a lock, and removes one or says why not.
    """
    user = signed_in(request)
    key = get_object_or_404(user.passkeys, pk=passkey_id)
    if twofactor.only_way_in(user):
        return _only_way_in(request, key)
    # The last second factor goes only with a code too, as turning off the app does.
    last = twofactor.passkey_is_last(user)
    form = ConfirmForm(user, request.POST, with_code=last, recent=verification.recent(request))
    if (refused := confirm(request, user, form, "passkey_remove_form")) is not None:
        return refused
    try:
        result, key, user = twofactor.remove_passkey(request, user, passkey_id, last=last)
    except Passkey.DoesNotExist:
        raise Http404 from None
    if result is twofactor.Removal.ONLY_WAY_IN:
        return _only_way_in(request, key)
    if result is twofactor.Removal.NOW_LAST:
        # Another removal came first: this is the last one now, and needs a code.
        flash.info(request, _("Nothing was changed."))
        return redirect(reverse("settings") + "#passkeys")
    if result is twofactor.Removal.REQUIRED:
        flash.error(
            request,
            _(
                "Your organisation requires two-factor sign-in: add another passkey or an app first."
            ),
        )
        return redirect("settings")
    update_session_auth_hash(request, user)
    flash.success(
        request,
        _("Passkey “%(name)s” removed. Other devices were signed out.") % {"name": key.name},
    )
    return redirect("settings")


def _only_way_in(request: HttpRequest, key: Passkey) -> HttpResponse:
    """The refusal to remove a passkey-only account's last passkey (twofactor.only_way_in)."""
    flash.error(
        request,
        _(
            "“%(name)s” is how you sign in: create a password or add another passkey "
            "before you remove it."
        )
        % {"name": key.name},
    )
    return redirect(reverse("settings") + "#passkeys")

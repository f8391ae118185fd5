"""The settings page: password, two-factor sign-in, passkeys, sessions; and recent activity."""

from __future__ import annotations

import time
from typing import Any

from django.conf import settings
from django.contrib import messages as flash
from django.contrib.auth import logout, update_session_auth_hash
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import PasswordChangeForm
from django.core.paginator import Paginator
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from sealbox.accounts import activity, links, passkeys, signin, throttle, twofactor
from sealbox.accounts.forms import CodeForm, ConfirmForm, PasskeyForm
from sealbox.accounts.models import Activity, User

# The secret shown while enrolling, until a code confirms it (then it moves to the account).
ENROL = "sealbox_totp_enrol"
ENROL_SECONDS = 900


def _user(request: HttpRequest) -> User:
    assert isinstance(request.user, User)
    return request.user


def _settings(request: HttpRequest, status: int = 200, **forms: object) -> HttpResponse:
    """The settings page, one section per topic; a section's POST re-renders it with its form."""
    user = _user(request)
    context = {
        "password_form": PasswordChangeForm(user),
        "has_totp": user.has_totp,
        "passkey_list": list(user.passkeys.all()),
        "passkeys_available": passkeys.available(),
        "recovery_left": twofactor.unused_recovery_codes(user),
        "totp_off_form": ConfirmForm(user, with_code=True),
        "recovery_form": ConfirmForm(user),
        "passkey_form": PasskeyForm(),
        "passkey_remove_form": ConfirmForm(user),
        "require_2fa": settings.REQUIRE_2FA,
        "need_password": not signin.recently_authenticated(request),
        **forms,
    }
    return render(request, "accounts/settings.html", context, status=status)


@login_required
@never_cache
@require_safe
def settings_page(request: HttpRequest) -> HttpResponse:
    return _settings(request)


@login_required
@never_cache
@require_POST
@sensitive_post_parameters("old_password", "new_password1", "new_password2")
def change_password(request: HttpRequest) -> HttpResponse:
    assert isinstance(request.user, User)
    form = PasswordChangeForm(request.user, request.POST)
    if (refused := confirm(request, request.user, form, "password_form")) is not None:
        return refused
    with transaction.atomic():
        user = form.save()
        links.password_changed(user)
        activity.record(user, Activity.Kind.PASSWORD_CHANGED, request)
    # This session goes on under the new password; the others no longer match it.
    update_session_auth_hash(request, user)
    flash.success(request, _("Your password was changed. Other devices were signed out."))
    return redirect("settings")


def confirm(request: HttpRequest, user: User, form: Any, section: str) -> HttpResponse | None:
    """Check a settings form that asks for the password (and maybe a code) again.

    The check counts like a sign-in try (signin.counted), so a borrowed session
    cannot be used to guess the password. None when the form is valid; else the
    settings page with the form's errors, or with the pause.
    """

    def right() -> bool:
        form.is_valid()
        return not (form.has_error("__all__", "invalid") or form.has_error("old_password"))

    outcome = signin.counted(request, user, right)
    if isinstance(outcome, throttle.Refusal):
        return _settings(request, status=429, refusal=outcome)
    if form.is_valid():
        return None
    return _settings(request, **{section: form})


def fresh(request: HttpRequest, user: User) -> throttle.Refusal | bool:
    """Before a new second factor is added: the password again, unless this
    session proved who it is in the last ten minutes.

    A borrowed session must not be able to add its holder's own app or
    passkey, which would sign the owner out and keep them out.
    """
    if signin.recently_authenticated(request):
        return True
    outcome = signin.counted(
        request, user, lambda: user.check_password(str(request.POST.get("password", "")))
    )
    if outcome is True:
        signin.reauthenticated(request)
    return outcome


def _enrol_secret(request: HttpRequest) -> str:
    state = request.session.get(ENROL)
    if isinstance(state, dict) and time.time() - float(state.get("at", 0)) < ENROL_SECONDS:
        return str(state["secret"])
    secret = twofactor.new_secret()
    request.session[ENROL] = {"secret": secret, "at": time.time()}
    return secret


def _codes_page(request: HttpRequest, codes: list[str]) -> HttpResponse:
    """The recovery codes, shown this once (the page is never cached)."""
    return render(request, "accounts/recovery_codes.html", {"codes": codes})


@login_required
@never_cache
@require_http_methods(["GET", "POST"])
@sensitive_post_parameters("code")
def totp_enrol(request: HttpRequest) -> HttpResponse:
    """Turn on two-factor sign-in: scan or type the secret, then prove it with a code."""
    user = _user(request)
    if user.has_totp:
        return redirect("settings")
    secret = _enrol_secret(request)
    refusal = None
    form = CodeForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        proven = fresh(request, user)
        step = twofactor.matching_step(secret, form.cleaned_data["code"])
        if isinstance(proven, throttle.Refusal):
            refusal = proven
        elif not proven:
            form.add_error(None, _("The password is not right."))
        elif step is not None:
            with transaction.atomic():
                twofactor.turn_on(user, secret, step)
                codes = twofactor.new_recovery_codes(user)
                activity.record(user, Activity.Kind.TOTP_ON, request)
                # Sessions signed in with the password alone end; this one goes on.
                user.end_all_sessions()
            request.session.pop(ENROL, None)
            update_session_auth_hash(request, user)
            return _codes_page(request, codes)
        else:
            form.add_error(
                "code",
                _(
                    "That code did not work. Check that the app shows this account, and try the newest code."
                ),
            )
    uri = twofactor.provisioning_uri(user.email, secret)
    context = {
        "refusal": refusal,
        "form": form,
        "qr": twofactor.qr_svg(uri),
        "secret": twofactor.grouped(secret),
        "uri": uri,
        "require_2fa": settings.REQUIRE_2FA and not user.has_two_factor,
        "need_password": not signin.recently_authenticated(request),
    }
    return render(request, "accounts/totp_enrol.html", context)


@login_required
@never_cache
@require_POST
@sensitive_post_parameters("password", "code")
def totp_off(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    form = ConfirmForm(user, request.POST, with_code=True)
    if not user.has_totp:
        return redirect("settings")
    if settings.REQUIRE_2FA and not user.passkeys.exists():
        flash.error(
            request, _("Your organisation requires two-factor sign-in; it cannot be turned off.")
        )
        return redirect("settings")
    if (refused := confirm(request, user, form, "totp_off_form")) is not None:
        return refused
    with transaction.atomic():
        twofactor.turn_off(user)
        activity.record(user, Activity.Kind.TOTP_OFF, request)
        user.end_all_sessions()
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
    user = _user(request)
    if not user.has_two_factor:
        return redirect("settings")
    form = ConfirmForm(user, request.POST)
    if (refused := confirm(request, user, form, "recovery_form")) is not None:
        return refused
    codes = twofactor.new_recovery_codes(user)
    activity.record(user, Activity.Kind.RECOVERY_NEW, request)
    return _codes_page(request, codes)


@login_required
@never_cache
@require_POST
def passkey_options(request: HttpRequest) -> HttpResponse:
    if not passkeys.available():
        return HttpResponse(status=404)
    options = passkeys.registration_options(request, _user(request))
    return HttpResponse(options, content_type="application/json")


@login_required
@never_cache
@require_POST
def passkey_add(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    form = PasskeyForm(request.POST)
    if not form.is_valid():
        return _settings(request, passkey_form=form)
    first = not user.has_two_factor
    proven = fresh(request, user)
    if isinstance(proven, throttle.Refusal):
        return _settings(request, status=429, refusal=proven)
    if not proven:
        form.add_error(None, _("The password is not right."))
        return _settings(request, passkey_form=form)
    try:
        key = passkeys.register(
            request, user, form.cleaned_data["credential"], form.cleaned_data["name"]
        )
    except passkeys.PasskeyError:
        form.add_error(None, _("The passkey could not be added. Try again."))
        return _settings(request, passkey_form=form)
    activity.record(user, Activity.Kind.PASSKEY_ADDED, request, key.name)
    flash.success(
        request, _("Passkey “%(name)s” added. You can use it to sign in.") % {"name": key.name}
    )
    if first:
        # Signing in now takes a second step: sessions opened with the password
        # alone end, and recovery codes are made, as when an app is set up.
        codes = twofactor.new_recovery_codes(user)
        user.end_all_sessions()
        update_session_auth_hash(request, user)
        return _codes_page(request, codes)
    return redirect("settings")


@login_required
@never_cache
@require_POST
@sensitive_post_parameters("password")
def passkey_remove(request: HttpRequest, passkey_id: int) -> HttpResponse:
    user = _user(request)
    key = get_object_or_404(user.passkeys, pk=passkey_id)
    # The last second factor goes only with a code too, as turning off the app does.
    last = not user.has_totp and user.passkeys.count() == 1
    form = ConfirmForm(user, request.POST, with_code=last)
    if (refused := confirm(request, user, form, "passkey_remove_form")) is not None:
        return refused
    if settings.REQUIRE_2FA and not user.has_totp and user.passkeys.count() == 1:
        flash.error(
            request,
            _(
                "Your organisation requires two-factor sign-in: add another passkey or an app first."
            ),
        )
        return redirect("settings")
    with transaction.atomic():
        key.delete()
        activity.record(user, Activity.Kind.PASSKEY_REMOVED, request, key.name)
        if last:
            twofactor.turn_off(user)
            user.end_all_sessions()
    if last:
        update_session_auth_hash(request, user)
    flash.success(request, _("Passkey “%(name)s” removed.") % {"name": key.name})
    return redirect("settings")


@login_required
@never_cache
@require_POST
def signout_everywhere(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    user.end_all_sessions()
    activity.record(user, Activity.Kind.SIGNOUT_EVERYWHERE, request)
    logout(request)
    flash.success(request, _("You were signed out on every device, this one too."))
    return redirect("signin")


@login_required
@never_cache
@require_safe
def activity_page(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    entries = Paginator(Activity.objects.filter(user=user), 50).get_page(request.GET.get("page"))
    rows = [(e, activity.browser(e.user_agent)) for e in entries.object_list]
    return render(
        request,
        "accounts/activity.html",
        {"page": entries, "rows": rows, "days": settings.AUDIT_DAYS},
    )

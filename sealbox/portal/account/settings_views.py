"""The settings page: personal phrase, storage, read receipts, password, two-factor sign-in,
passkeys, sessions; and recent activity."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib import messages as flash
from django.contrib.auth import logout, update_session_auth_hash
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import PasswordChangeForm, SetPasswordForm
from django.core.paginator import Paginator
from django.db import transaction
from django.db.models import Count, Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_POST, require_safe

from sealbox.accounts import (
    activity,
    links,
    passkeys,
    phrase,
    signin,
    throttle,
    twofactor,
    verification,
)
from sealbox.accounts.models import Activity, ReadReceipts, User
from sealbox.mailstore.models import Message
from sealbox.portal.account.forms import (
    CONFIRM_FIRST,
    NO_WAY_IN,
    ConfirmForm,
    PasskeyForm,
    PhraseForm,
    ReadReceiptsForm,
    RetentionForm,
    period_label,
)

# The secret shown while enrolling, until a code confirms it (then it moves to the account).


def signed_in(request: HttpRequest) -> User:
    assert isinstance(request.user, User)
    return request.user


def settings_response(request: HttpRequest, status: int = 200, **forms: object) -> HttpResponse:
    """The settings page, one section per topic; a section's POST re-renders it with its form."""
    user = signed_in(request)
    retention_form = forms.pop("retention_form", None)
    if not isinstance(retention_form, RetentionForm):
        retention_form = RetentionForm(user)
    has_password = user.has_usable_password()
    recent = verification.recent(request)
    context = {
        "has_password": has_password,
        "passkey_only": user.passkey_only,
        # Without a password or passkey (signed in with an emailed code): a link sets one up.
        "has_way_in": user.has_way_in,
        "no_way_in": NO_WAY_IN,
        "password_form": PasswordChangeForm(user) if has_password else SetPasswordForm(user),
        "has_totp": user.has_totp,
        "passkey_list": list(user.passkeys.all()),
        "passkeys_available": passkeys.available(),
        "recovery_left": twofactor.unused_recovery_codes(user),
        "totp_off_form": ConfirmForm(user, with_code=True),
        "recovery_form": ConfirmForm(user),
        "passkey_form": PasskeyForm(),
        "phrase_form": PhraseForm(),
        "passkey_remove_form": ConfirmForm(user),
        "require_2fa": twofactor.required(),
        "need_password": has_password and not recent,
        # No password to type again: a passkey confirms it is the owner (passkey_views.confirm).
        "need_confirm": user.passkey_only and not recent,
        "retention_form": retention_form,
        "retention_options": _retention_options(user, retention_form),
        "reminder_days": settings.EXPIRY_REMINDER_DAYS,
        "cleanup_within": cleanup_within(),
        "read_receipts_policy": settings.READ_RECEIPTS,
        "receipts_form": ReadReceiptsForm(user),
        **forms,
    }
    return render(request, "accounts/settings.html", context, status=status)


def refused_on_settings(section: str, form_class: Any, status: int = 400) -> signin.Refused:
    """The settings page when a change was not confirmed: its form, kept as typed, says why."""

    def refused(request: HttpRequest, refusal: throttle.Refusal | None) -> HttpResponse:
        if refusal is not None:
            return settings_response(request, status=429, refusal=refusal)
        form = form_class(request.POST)
        form.is_valid()
        form.add_error(None, not_proven(signed_in(request)))
        return settings_response(request, status=status, **{section: form})

    return refused


@login_required
@never_cache
@require_safe
def settings_page(request: HttpRequest) -> HttpResponse:
    return settings_response(request)


@login_required
@never_cache
@require_POST
@sensitive_post_parameters("password", "phrase")
@signin.recent_auth_required(refused_on_settings("phrase_form", PhraseForm))
def change_phrase(request: HttpRequest) -> HttpResponse:
    """A new personal phrase: random words, or the recipient's own text.

    Asks for the password again unless this session proved who it is in the
    last ten minutes (signin.recent_auth_required), like adding a second factor:
    whoever borrows a session must not set the phrase their own phishing
    emails will carry.
    """
    user = signed_in(request)
    form = PhraseForm(request.POST)
    if not form.is_valid():
        return settings_response(request, status=400, phrase_form=form)
    own = form.cleaned_data["phrase"]
    with transaction.atomic():
        if own:
            user.phrase = own
            user.save(update_fields=["phrase"])
        else:
            phrase.assign(user)
        # The log says how, never what: the phrase stays out of every log.
        how = _("your own text") if own else _("random words")
        activity.record(user, Activity.Kind.PHRASE_CHANGED, request, how)
    flash.success(request, _("Your personal phrase was changed. Our emails show the new one now."))
    return redirect(reverse("settings") + "#phrase")


def older_than(user: User, periods: list[int]) -> dict[int, int]:
    """For each period (days, 0 left out): how many of the account's messages are already older.

    One query for all of them; "older" as the clean-up counts it (expiry.expired).
    """
    periods = sorted({days for days in periods if days})
    if not periods:
        return {}
    now = timezone.now()
    counts = Message.objects.filter(owner=user).aggregate(
        **{
            f"d{days}": Count("pk", filter=Q(received_at__lt=now - timedelta(days=days)))
            for days in periods
        }
    )
    return {days: counts[f"d{days}"] for days in periods}


def _retention_options(user: User, form: RetentionForm) -> list[tuple[Any, int]]:
    """The period choices, each with how many messages it would remove at once.

    Only periods shorter than the one now in force remove anything.
    """
    current = user.effective_retention_days
    widgets = list(form["retention"])
    days = {w.data["value"]: RetentionForm.days(w.data["value"]) for w in widgets}
    shorter = [d for d in days.values() if d and (not current or d < current)]
    counts = older_than(user, shorter)
    return [(w, counts.get(days[w.data["value"]], 0)) for w in widgets]


def cleanup_within() -> str:
    """When the next clean-up runs at the latest, in words."""
    hours = -(-settings.CLEANUP_INTERVAL // 3600)
    if hours <= 1:
        return _("within the hour")
    return ngettext("within %(n)d hour", "within %(n)d hours", hours) % {"n": hours}


@login_required
@never_cache
@require_POST
def storage(request: HttpRequest) -> HttpResponse:
    """The storage section: how long mail is kept, and reminders before it goes."""
    user = signed_in(request)
    form = RetentionForm(user, request.POST)
    if not form.is_valid():
        return settings_response(request, retention_form=form)
    chosen = form.cleaned_data["retention"]
    reminders = form.cleaned_data.get("expiry_reminders", user.expiry_reminders)
    period_changed = chosen != user.retention_days
    reminders_changed = reminders != user.expiry_reminders
    with transaction.atomic():
        user.retention_days = chosen
        user.expiry_reminders = reminders
        user.save(update_fields=["retention_days", "expiry_reminders"])
        if period_changed:
            activity.record(user, Activity.Kind.RETENTION_CHANGED, request, _period_text(user))
    if period_changed:
        flash.success(request, _said_period(user))
    if reminders_changed:
        flash.success(
            request,
            _("You will be emailed before unread messages are removed.")
            if reminders
            else _("You will not be emailed before unread messages are removed."),
        )
    if not (period_changed or reminders_changed):
        flash.info(request, _("Nothing was changed."))
    return redirect(reverse("settings") + "#storage")


@login_required
@never_cache
@require_POST
def read_receipts(request: HttpRequest) -> HttpResponse:
    """The read-receipts section: ask, always or never, where the operator leaves it
    to the reader (SEALBOX_READ_RECEIPTS=ask); under any other policy nothing changes."""
    user = signed_in(request)
    if settings.READ_RECEIPTS != "ask":
        flash.info(request, _("Nothing was changed."))
        return redirect(reverse("settings") + "#receipts")
    form = ReadReceiptsForm(user, request.POST)
    if not form.is_valid():
        return settings_response(request, status=400, receipts_form=form)
    chosen = form.cleaned_data["read_receipts"]
    if chosen == user.read_receipts:
        flash.info(request, _("Nothing was changed."))
    else:
        user.read_receipts = chosen
        user.save(update_fields=["read_receipts"])
        said = {
            ReadReceipts.ASK: _("When a sender asks for a read receipt, you will be asked."),
            ReadReceipts.ALWAYS: _(
                "When a sender asks for a read receipt, it will be sent when you open the message."
            ),
            ReadReceipts.NEVER: _("Read receipts will not be sent, and you will not be asked."),
        }
        flash.success(request, said[ReadReceipts(chosen)])
    return redirect(reverse("settings") + "#receipts")


def _period_text(user: User) -> str:
    """The account's period for the activity log: "7 days", "90 days, the default"."""
    period = period_label(user.effective_retention_days)
    if user.retention_days is None:
        return _("%(period)s, the default") % {"period": period}
    return period


def _said_period(user: User) -> str:
    """What the page says once a new period is saved, with what it removes."""
    days = user.effective_retention_days
    if not days:
        return _("Your messages are now kept until you delete them.")
    said = _("Your messages are now kept for %(period)s.") % {"period": period_label(days)}
    removed = older_than(user, [days]).get(days, 0)
    if removed:
        said += " " + ngettext(
            "%(n)d of your messages is already older: it will be removed at the next clean-up, "
            "%(when)s, and cannot be recovered.",
            "%(n)d of your messages are already older: they will be removed at the next "
            "clean-up, %(when)s, and cannot be recovered.",
            removed,
        ) % {"n": removed, "when": cleanup_within()}
    return said


@login_required
@never_cache
@require_POST
@sensitive_post_parameters("old_password", "new_password1", "new_password2")
def change_password(request: HttpRequest) -> HttpResponse:
    assert isinstance(request.user, User)
    if not request.user.has_usable_password():
        return _create_password(request, request.user)
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


def _create_password(request: HttpRequest, user: User) -> HttpResponse:
    """A first password for an account that signs in by passkey alone.

    No current password to ask for: this session must have confirmed it is
    the owner lately (with the passkey). Signing in with the password then
    takes the passkey as its second step, so recovery codes are made and
    shown, as when a first second factor is added. An account with neither
    password nor passkey (signed in with an emailed code) gets none here:
    it chooses one through an emailed link, which activates it.
    """
    form: SetPasswordForm[User] = SetPasswordForm(user, request.POST)
    if not (user.passkey_only and verification.recent(request)):
        form.is_valid()
        form.add_error(None, not_proven(user))
        return settings_response(request, status=403, password_form=form)
    if not form.is_valid():
        return settings_response(request, password_form=form)
    with transaction.atomic():
        user = form.save()
        links.password_changed(user)
        activity.record(user, Activity.Kind.PASSWORD_SET, request)
        codes = twofactor.new_recovery_codes(user)
    update_session_auth_hash(request, user)
    flash.success(
        request,
        _(
            "Your password was created. Signing in with it also asks for your passkey. "
            "Other devices were signed out."
        ),
    )
    return codes_page(request, codes)


def not_proven(user: User) -> str:
    """What a change that must be confirmed says when it was not."""
    if user.has_usable_password():
        return _("The password is not right.")
    if user.passkey_only:
        return str(CONFIRM_FIRST)
    return str(NO_WAY_IN)


def confirm(request: HttpRequest, user: User, form: Any, section: str) -> HttpResponse | None:
    """Check a settings form that asks for the password (and maybe a code) again.

    The check counts like a sign-in try (signin.counted), so a borrowed session
    cannot be used to guess the password. None when the form is valid; else the
    settings page with the form's errors, or with the pause.
    """

    if not user.has_usable_password() and not form.recent:
        form.is_valid()  # says CONFIRM_FIRST: nothing was guessed, nothing is counted
        return settings_response(request, status=403, **{section: form})

    def right() -> bool:
        form.is_valid()
        return not (form.has_error("__all__", "invalid") or form.has_error("old_password"))

    outcome = signin.counted(request, user, right)
    if isinstance(outcome, throttle.Refusal):
        return settings_response(request, status=429, refusal=outcome)
    if form.is_valid():
        return None
    return settings_response(request, **{section: form})


def codes_page(request: HttpRequest, codes: list[str]) -> HttpResponse:
    """The recovery codes, shown this once (the page is never cached)."""
    factors = twofactor.second_factors(signed_in(request))
    return render(request, "accounts/recovery_codes.html", {"codes": codes, "factors": factors})


@login_required
@never_cache
@require_POST
def signout_everywhere(request: HttpRequest) -> HttpResponse:
    user = signed_in(request)
    user.end_all_sessions()
    activity.record(user, Activity.Kind.SIGNOUT_EVERYWHERE, request)
    logout(request)
    flash.success(request, _("You were signed out on every device, this one too."))
    return redirect("signin")


@login_required
@never_cache
@require_safe
def activity_page(request: HttpRequest) -> HttpResponse:
    user = signed_in(request)
    entries = Paginator(Activity.objects.filter(user=user), 50).get_page(request.GET.get("page"))
    rows = [(e, activity.browser(e.user_agent)) for e in entries.object_list]
    return render(
        request,
        "accounts/activity.html",
        {"page": entries, "rows": rows, "days": settings.AUDIT_DAYS},
    )

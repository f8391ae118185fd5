"""Getting in: one-time links, sign-in and sign-out, and the settings page."""

from __future__ import annotations

from django.contrib import messages as flash
from django.contrib.auth import login, update_session_auth_hash
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import PasswordChangeForm, SetPasswordForm
from django.db import transaction
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from sealbox.accounts import links
from sealbox.accounts.forms import AddressForm, SignInForm
from sealbox.accounts.models import LinkToken, User

# The session keys that carry a link's token from the address bar to its form.
SESSION_TOKEN: dict[str, str] = {
    LinkToken.Purpose.ACTIVATE: "sealbox_link_token",
    LinkToken.Purpose.RESET: "sealbox_reset_token",
}
BACKEND = "django.contrib.auth.backends.ModelBackend"


def _link_invalid(request: HttpRequest) -> HttpResponse:
    return render(request, "accounts/link_invalid.html", {"form": AddressForm()}, status=410)


def _open_link(request: HttpRequest, token: str, purpose: str, form_view: str) -> HttpResponse:
    """Check the link, then move its token out of the address bar into the session."""
    link = LinkToken.find_valid(token, purpose)
    if link is None:
        return _link_invalid(request)
    # Only the token's hash goes into the session: the token itself is never stored.
    request.session[SESSION_TOKEN[purpose]] = link.token_hash
    return HttpResponseRedirect(reverse(form_view))


def _set_password(request: HttpRequest, purpose: str, template: str) -> HttpResponse:
    """The new-password form behind a link; on success the link is spent and the owner is in."""
    token_hash = request.session.get(SESSION_TOKEN[purpose], "")
    link = LinkToken.find_valid_hash(token_hash, purpose) if token_hash else None
    if link is None:
        return _link_invalid(request)
    user = link.user
    form: SetPasswordForm[User] = SetPasswordForm(user, request.POST or None)
    if request.method == "POST" and form.is_valid():
        if not links.set_password_with_link(link, form):
            return _link_invalid(request)
        request.session.pop(SESSION_TOKEN[purpose], None)
        login(request, user, backend=BACKEND)
        if purpose == LinkToken.Purpose.RESET:
            flash.success(request, _("Your password was changed. Other devices were signed out."))
        return redirect("inbox")
    return render(request, template, {"form": form, "mailbox": user.email})


@never_cache
@require_safe
def activate(request: HttpRequest, token: str) -> HttpResponse:
    return _open_link(request, token, LinkToken.Purpose.ACTIVATE, "activate-set-password")


@never_cache
@require_http_methods(["GET", "POST"])
@sensitive_post_parameters("new_password1", "new_password2")
def activate_set_password(request: HttpRequest) -> HttpResponse:
    return _set_password(request, LinkToken.Purpose.ACTIVATE, "accounts/activate.html")


@never_cache
@require_safe
def reset(request: HttpRequest, token: str) -> HttpResponse:
    return _open_link(request, token, LinkToken.Purpose.RESET, "reset-set-password")


@never_cache
@require_http_methods(["GET", "POST"])
@sensitive_post_parameters("new_password1", "new_password2")
def reset_set_password(request: HttpRequest) -> HttpResponse:
    return _set_password(request, LinkToken.Purpose.RESET, "accounts/reset.html")


def _ask_for_link(request: HttpRequest, forgot: bool) -> HttpResponse:
    """One answer whether or not the address has a mailbox: see links.send_link."""
    form = AddressForm(request.POST if request.method == "POST" else None)
    if form.is_valid():
        links.send_link(form.cleaned_data["email"])
        return redirect("link-sent")
    return render(request, "accounts/link_request.html", {"form": form, "forgot": forgot})


@never_cache
@require_http_methods(["GET", "POST"])
def link_new(request: HttpRequest) -> HttpResponse:
    return _ask_for_link(request, forgot=False)


@never_cache
@require_http_methods(["GET", "POST"])
def password_forgot(request: HttpRequest) -> HttpResponse:
    return _ask_for_link(request, forgot=True)


@never_cache
@require_safe
def link_sent(request: HttpRequest) -> HttpResponse:
    hours = int(links.shortest_lifetime().total_seconds() // 3600)
    return render(request, "accounts/link_sent.html", {"hours": hours})


# Django's views: a new session key at sign-in, ?next= checked against this
# host, CSRF and never_cache; sign-out only by POST.
signin = auth_views.LoginView.as_view(
    template_name="accounts/signin.html",
    authentication_form=SignInForm,
    redirect_authenticated_user=True,
)
signout = auth_views.LogoutView.as_view()


def _settings_page(request: HttpRequest, **forms: object) -> HttpResponse:
    """The settings page, one section per topic; a section's POST re-renders it with its form."""
    assert isinstance(request.user, User)
    context = {"password_form": PasswordChangeForm(request.user), **forms}
    return render(request, "accounts/settings.html", context)


@login_required
@never_cache
@require_safe
def settings_page(request: HttpRequest) -> HttpResponse:
    return _settings_page(request)


@login_required
@never_cache
@require_POST
@sensitive_post_parameters("old_password", "new_password1", "new_password2")
def change_password(request: HttpRequest) -> HttpResponse:
    assert isinstance(request.user, User)
    form = PasswordChangeForm(request.user, request.POST)
    if not form.is_valid():
        return _settings_page(request, password_form=form)
    with transaction.atomic():
        user = form.save()
        links.password_changed(user)
    # This session goes on under the new password; the others no longer match it.
    update_session_auth_hash(request, user)
    flash.success(request, _("Your password was changed. Other devices were signed out."))
    return redirect("settings")

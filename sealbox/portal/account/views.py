"""Getting in: one-time links, sign-in in one or two steps, and sign-out."""

from __future__ import annotations

from typing import Any

from django.contrib import messages as flash
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import SetPasswordForm
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from sealbox.accounts import (
    activity,
    languages,
    links,
    passkeys,
    phrase,
    signin,
    throttle,
    twofactor,
)
from sealbox.accounts.models import Activity, LinkToken, User
from sealbox.outbound import accountmail
from sealbox.portal.account.forms import AddressForm, CodeForm, SignInForm

# The session keys that carry a link's token from the address bar to its form.
SESSION_TOKEN: dict[str, str] = {
    LinkToken.Purpose.ACTIVATE: "sealbox_link_token",
    LinkToken.Purpose.RESET: "sealbox_reset_token",
}


def link_invalid(request: HttpRequest) -> HttpResponse:
    return render(request, "accounts/link_invalid.html", {"form": AddressForm()}, status=410)


def _open_link(request: HttpRequest, token: str, purpose: str, form_view: str) -> HttpResponse:
    """Check the link, then move its token out of the address bar into the session."""
    link = LinkToken.find_valid(token, purpose)
    if link is None:
        return link_invalid(request)
    # Only the token's hash goes into the session: the token itself is never stored.
    request.session[SESSION_TOKEN[purpose]] = link.token_hash
    return HttpResponseRedirect(reverse(form_view))


def session_link(request: HttpRequest, purpose: str) -> LinkToken | None:
    """The valid link this session opened (_open_link), or None."""
    token_hash = request.session.get(SESSION_TOKEN[purpose], "")
    return LinkToken.find_valid_hash(token_hash, purpose) if token_hash else None


def _set_password(request: HttpRequest, purpose: str, template: str) -> HttpResponse:
    """The new-password form behind a link; on success the link is spent and the owner is in.

    Where the link alone may give the account a new way in, the page also
    offers a passkey instead of a password (passkey_views.link_passkey).
    """
    link = session_link(request, purpose)
    if link is None:
        return link_invalid(request)
    user = link.user
    form: SetPasswordForm[User] = SetPasswordForm(user, request.POST or None)
    alone = links.link_alone_signs_in(user)
    if request.method == "POST" and form.is_valid():
        if user.has_two_factor and not alone:
            # An emailed link replaces the password, never the second factor:
            # the new password waits for it (links.hold_password), and until it
            # passes, the old password, the owner's sessions and the link stay.
            held = links.hold_password(link, form)
            signin.begin_second_step(request, user, reverse("inbox"), held=held)
            return redirect("signin-verify")
        if not links.set_password_with_link(link, form):
            return link_invalid(request)
        request.session.pop(SESSION_TOKEN[purpose], None)
        reset = purpose == LinkToken.Purpose.RESET
        if not reset:
            languages.keep_current(user)
        kind = Activity.Kind.PASSWORD_RESET if reset else Activity.Kind.PASSWORD_SET
        activity.record(user, kind, request)
        if reset:
            flash.success(request, _("Your password was changed. Other devices were signed out."))
        signin.complete(request, user, _("email link"))
        if not reset:
            phrase.show_next(request)
        return redirect(phrase.landing(request, reverse("inbox")))
    context = {
        "form": form,
        "mailbox": user.email,
        "passkey_instead": alone and passkeys.available(),
        "replaces_passkeys": alone and user.passkeys.exists(),
    }
    return render(request, template, context)


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
    """One answer whether or not the address has a mailbox: see accountmail.send_link.

    Requests count per address and per client, existing or not, and past the
    limit are refused for a while (with the same words for every address).
    """
    form = AddressForm(request.POST if request.method == "POST" else None)
    context: dict[str, Any] = {"form": form, "forgot": forgot}
    if form.is_valid():
        keys = signin.throttle_keys(
            request, form.cleaned_data["email"], throttle.LINK_ACCOUNT, throttle.LINK_CLIENT
        )
        refused = throttle.attempt(keys)
        if refused is None:
            accountmail.send_link(form.cleaned_data["email"])
            return redirect("link-sent")
        context["refusal"] = refused
        return render(request, "accounts/link_request.html", context, status=429)
    return render(request, "accounts/link_request.html", context)


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


class SignInView(auth_views.LoginView):
    """The password step. Django's view gives a new session key at sign-in,
    checks ?next= against this host, and brings CSRF and never_cache; this adds
    throttling, the activity log and the second step.
    """

    template_name = "accounts/signin.html"
    authentication_form = SignInForm
    redirect_authenticated_user = True

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        address = str(request.POST.get("username", ""))
        refused = signin.attempt(request, address)
        if refused is not None:
            form = self.get_form()
            context = self.get_context_data(form=form, refusal=refused)
            return self.render_to_response(context, status=429)
        return super().post(request, *args, **kwargs)

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context["passkeys_available"] = passkeys.available()
        return context

    def form_invalid(self, form: Any) -> HttpResponse:
        address = str(self.request.POST.get("username", ""))
        if address and self.request.POST.get("password"):
            signin.failed(self.request, address, signin.account_for(address), "password")
        else:
            signin.succeeded(self.request, address)  # a field left empty is no guess
        return super().form_invalid(form)

    def form_valid(self, form: Any) -> HttpResponse:
        user = form.get_user()
        signin.succeeded(self.request, str(self.request.POST.get("username", "")))
        if user.has_two_factor:
            signin.begin_second_step(self.request, user, self.get_success_url())
            return redirect("signin-verify")
        signin.complete(self.request, user, _("password"))
        return HttpResponseRedirect(phrase.landing(self.request, self.get_success_url()))


signin_view = SignInView.as_view()


def signin_page(request: HttpRequest, status: int = 200, **extra: Any) -> HttpResponse:
    """The sign-in page as SignInView shows it, answering another way in (a passkey)."""
    view = SignInView()
    view.setup(request)
    context = view.get_context_data(form=SignInForm(request), **extra)
    return view.render_to_response(context, status=status)


def signin_next(request: HttpRequest) -> str:
    """Where a sign-in goes next: the page's ?next= if it is on this site, else the inbox."""
    view = SignInView()
    view.setup(request)
    return str(view.get_success_url())


# Sign-out only by POST.
signout = auth_views.LogoutView.as_view()


def _verify_page(
    request: HttpRequest, user: User, form: CodeForm, status: int = 200, **extra: Any
) -> HttpResponse:
    context = {
        "form": form,
        "has_totp": user.has_totp,
        "has_passkeys": user.passkeys.exists(),
        "has_recovery": twofactor.unused_recovery_codes(user) > 0,
        "new_password_waits": bool(signin.held(request)),
        **extra,
    }
    return render(request, "accounts/signin_verify.html", context, status=status)


# Where a new password from a link is chosen again when its second step took too long.
SET_PASSWORD_VIEW: dict[str, str] = {
    LinkToken.Purpose.ACTIVATE: "activate-set-password",
    LinkToken.Purpose.RESET: "reset-set-password",
}


def _second_step(request: HttpRequest) -> tuple[User, str] | HttpResponse:
    """The half-signed-in account, or the response that sends the browser back to the start."""
    held = signin.held(request)
    pending = signin.pending_user(request)
    if pending is None:
        if held.get("purpose") in SET_PASSWORD_VIEW:
            flash.info(request, _("That took too long. Choose your new password again."))
            return redirect(SET_PASSWORD_VIEW[held["purpose"]])
        flash.info(request, _("Sign-in took too long. Enter your password again."))
        return redirect("signin")
    refused = throttle.refusal(signin.throttle_keys(request, pending[0].email))
    if refused is not None:
        return _verify_page(request, pending[0], CodeForm(), status=429, refusal=refused)
    return pending


def _second_step_passed(request: HttpRequest, user: User, how: str) -> HttpResponse | None:
    """Sign in after the second step; a new password held for it takes effect first.

    None when signed in; the "link no longer works" page when the held
    password's link was spent or expired meanwhile (nothing changed then).
    """
    held = signin.held(request)
    if held:
        if not links.apply_held_password(user, held):
            request.session.pop(signin.PENDING, None)
            return link_invalid(request)
        request.session.pop(SESSION_TOKEN.get(held["purpose"], ""), None)
    signin.complete(request, user, how, second_factor=True)
    if held:
        reset = held["purpose"] == LinkToken.Purpose.RESET
        kind = Activity.Kind.PASSWORD_RESET if reset else Activity.Kind.PASSWORD_SET
        activity.record(user, kind, request)
        if reset:
            flash.success(request, _("Your password was changed. Other devices were signed out."))
        else:
            phrase.show_next(request)
    return None


@never_cache
@require_http_methods(["GET", "POST"])
@sensitive_post_parameters("code")
def signin_verify(request: HttpRequest) -> HttpResponse:
    """The second step: a code from the authenticator app, or a recovery code."""
    pending = _second_step(request)
    if isinstance(pending, HttpResponse):
        return pending
    user, next_url = pending
    form = CodeForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        refused = signin.attempt(request, user.email)
        if refused is not None:
            return _verify_page(request, user, CodeForm(), status=429, refusal=refused)
        held = signin.held(request)
        if held and not links.held_link_works(user, held):
            # Before the code is checked: a recovery code is not spent on a dead link.
            request.session.pop(signin.PENDING, None)
            return link_invalid(request)
        how = twofactor.verify_code(user, form.cleaned_data["code"])
        if how is not None:
            signin.succeeded(request, user.email)
            refusal = _second_step_passed(
                request, user, _("authenticator app") if how == "app" else _("recovery code")
            )
            if refusal is not None:
                return refusal
            if how == "recovery":
                activity.record(user, Activity.Kind.RECOVERY_USED, request)
                left = twofactor.unused_recovery_codes(user)
                flash.warning(
                    request,
                    ngettext(
                        "You used a recovery code; %(n)d is left. Create new ones in Settings.",
                        "You used a recovery code; %(n)d are left. Create new ones in Settings.",
                        left,
                    )
                    % {"n": left},
                )
            return HttpResponseRedirect(phrase.landing(request, next_url or reverse("inbox")))
        signin.failed(request, user.email, user, "code")
        form.add_error(
            None,
            _(
                "That code did not work. Codes change every 30 seconds: try the newest one, or a recovery code."
            ),
        )
    return _verify_page(request, user, form)


@never_cache
@require_POST
def signin_passkey_options(request: HttpRequest) -> HttpResponse:
    pending = _second_step(request)
    if isinstance(pending, HttpResponse):
        return HttpResponse(status=403)
    return HttpResponse(
        passkeys.authentication_options(request, pending[0]), content_type="application/json"
    )


@never_cache
@require_POST
def signin_passkey(request: HttpRequest) -> HttpResponse:
    """The second step with a passkey: the browser's signed answer, posted by passkeys.js."""
    pending = _second_step(request)
    if isinstance(pending, HttpResponse):
        return pending
    user, next_url = pending
    refused = signin.attempt(request, user.email)
    if refused is not None:
        return _verify_page(request, user, CodeForm(), status=429, refusal=refused)
    try:
        key = passkeys.authenticate(request, user, str(request.POST.get("credential", "")))
    except passkeys.PasskeyError:
        signin.failed(request, user.email, user, "passkey")
        return _verify_page(
            request,
            user,
            CodeForm(),
            status=400,
            passkey_error=_("That passkey did not work. Try again, or use a code."),
        )
    signin.succeeded(request, user.email)
    refusal = _second_step_passed(request, user, _("passkey “%(name)s”") % {"name": key.name})
    if refusal is not None:
        return refusal
    return HttpResponseRedirect(phrase.landing(request, next_url or reverse("inbox")))


@login_required
@never_cache
@require_safe
def phrase_new(request: HttpRequest) -> HttpResponse:
    """The recipient's new personal phrase, shown once right after it was made (phrase.py)."""
    next_url = phrase.take_due(request)
    if next_url is None:
        return redirect("inbox")
    return render(request, "accounts/phrase_new.html", {"next_url": next_url})

"""Signing in with a code by email: asking for one, and typing it (rules in emailcode.py).

Both pages exist only while SEALBOX_SIGNIN_EMAIL_CODE is on; otherwise they are 404.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods

from sealbox.accounts import emailcode, phrase, signin, throttle
from sealbox.accounts.models import User
from sealbox.outbound import accountmail
from sealbox.portal.account.forms import AddressForm, CodeForm
from sealbox.portal.account.views import signin_next

View = Callable[..., HttpResponse]


def when_enabled(view: View) -> View:
    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not emailcode.enabled():
            raise Http404
        return view(request, *args, **kwargs)

    return wrapped


@when_enabled
@never_cache
@require_http_methods(["GET", "POST"])
def ask(request: HttpRequest) -> HttpResponse:
    """The address to send a code to: one answer for every address (accountmail.send_code).

    Requests count per address and per client together with the requests for
    links (the same limits and words), existing addresses or not.
    """
    # The page's ?next= as the sign-in page checks it (this site only), else the inbox.
    next_url = signin_next(request)
    if request.user.is_authenticated:
        # As the sign-in page does: someone signed in already goes on.
        return HttpResponseRedirect(next_url)
    form = AddressForm(request.POST if request.method == "POST" else None)
    context: dict[str, Any] = {"form": form, "next": next_url}
    if form.is_valid():
        address = form.cleaned_data["email"]
        keys = signin.throttle_keys(request, address, throttle.LINK_ACCOUNT, throttle.LINK_CLIENT)
        refused = throttle.attempt(keys)
        if refused is None:
            accountmail.send_code(request, address, next_url)
            return redirect("signin-code-enter")
        context["refusal"] = refused
        return render(request, "accounts/email_code_ask.html", context, status=429)
    return render(request, "accounts/email_code_ask.html", context)


def _enter_page(request: HttpRequest, form: CodeForm, status: int = 200, **extra: Any) -> Any:
    context = {
        "form": form,
        "address": emailcode.address(request),
        "minutes": emailcode.minutes(),
        **extra,
    }
    return render(request, "accounts/email_code_enter.html", context, status=status)


@when_enabled
@never_cache
@require_http_methods(["GET", "POST"])
@sensitive_post_parameters("code")
def enter(request: HttpRequest) -> HttpResponse:
    """The code from the email: a sign-in try like a password, then the second step if any."""
    state = emailcode.pending(request)
    if state is None:
        return redirect("signin-code")
    form = CodeForm(request.POST if request.method == "POST" else None)
    if request.method != "POST" or not form.is_valid():
        return _enter_page(request, form)
    address = state["address"]
    found: list[User] = []

    def right() -> bool:
        user = emailcode.check(request, form.cleaned_data["code"])
        if user is not None:
            found.append(user)
        return user is not None

    outcome = signin.counted(request, address, right, _("email code"))
    if isinstance(outcome, throttle.Refusal):
        return _enter_page(request, CodeForm(), status=429, refusal=outcome)
    if not found:
        form.add_error(
            None,
            _(
                "That code did not work. Use the newest code we sent, within its time, "
                "or ask for a new one."
            ),
        )
        return _enter_page(request, form, status=400)
    user = found[0]
    next_url = state["next"] or reverse("inbox")
    if user.has_two_factor:
        # The code stands in for the password only, never for the second factor.
        signin.begin_second_step(request, user, next_url)
        return redirect("signin-verify")
    # The code proves the mailbox only: see verification.recent.
    signin.complete(request, user, _("email code"), mailbox_only=True)
    return HttpResponseRedirect(phrase.landing(request, next_url))

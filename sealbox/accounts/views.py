"""Getting in: activation links, sign-in and sign-out."""

from __future__ import annotations

from django.contrib.auth import login
from django.contrib.auth.forms import SetPasswordForm
from django.db import transaction
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters

from sealbox.accounts.models import LinkToken

SESSION_TOKEN = "sealbox_link_token"  # noqa: S105 (a session key name)


@never_cache
def activate(request: HttpRequest, token: str) -> HttpResponse:
    """Check the link, then move its token out of the address bar into the session."""
    if LinkToken.find_valid(token, LinkToken.Purpose.ACTIVATE) is None:
        return render(request, "accounts/link_invalid.html", status=410)
    request.session[SESSION_TOKEN] = token
    return HttpResponseRedirect(reverse("activate-set-password"))


@never_cache
@sensitive_post_parameters("new_password1", "new_password2")
def activate_set_password(request: HttpRequest) -> HttpResponse:
    raw = request.session.get(SESSION_TOKEN, "")
    link = LinkToken.find_valid(raw, LinkToken.Purpose.ACTIVATE) if raw else None
    if link is None:
        return render(request, "accounts/link_invalid.html", status=410)
    user = link.user
    form = SetPasswordForm(user, request.POST or None)
    if request.method == "POST" and form.is_valid():
        with transaction.atomic():
            form.save()
            user.activated_at = user.activated_at or timezone.now()
            user.save(update_fields=["activated_at"])
            LinkToken.objects.filter(user=user, purpose=LinkToken.Purpose.ACTIVATE).delete()
        request.session.pop(SESSION_TOKEN, None)
        login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        return redirect("inbox")
    return render(request, "accounts/activate.html", {"form": form, "mailbox": user.email})

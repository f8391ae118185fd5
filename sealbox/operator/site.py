"""The operators' admin site: Django's admin behind the portal's own sign-in.

There is no second login form: the admin's login sends operators to the
portal's sign-in page, with its throttling and its second step, and signing
out goes through the portal's sign-out. With SEALBOX_ADMIN_REQUIRE_2FA (on by
default) an operator must have two-factor sign-in, and in any case a session
gets in only if its sign-in took the account's second factor, when it has one.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import admin, auth
from django.contrib import messages as flash
from django.contrib.auth import REDIRECT_FIELD_NAME
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from sealbox.accounts import signin
from sealbox.accounts.models import User
from sealbox.portal.account.views import signout


def may_administer(request: HttpRequest) -> bool:
    user = request.user
    if not (isinstance(user, User) and user.is_active and user.is_staff):
        return False
    if user.has_two_factor:
        # Whatever the setting: a session that did not take the account's
        # second step (signed in before it was turned on) never gets in.
        return bool(request.session.get(signin.SECOND_FACTOR))
    return not settings.ADMIN_REQUIRE_2FA


def admin_next(request: HttpRequest, index: str) -> str:
    """Where to go after signing in: the admin page asked for (?next=), else its index."""
    wanted = str(request.GET.get(REDIRECT_FIELD_NAME, ""))
    safe = url_has_allowed_host_and_scheme(
        wanted, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    )
    return wanted if safe and wanted.startswith(index) else index


class OperatorSite(admin.AdminSite):
    site_header = gettext_lazy("Sealbox operators")
    site_title = gettext_lazy("Sealbox operators")
    index_title = gettext_lazy("Accounts, message metadata, outgoing mail, audit log")
    site_url = None
    enable_nav_sidebar = False

    def has_permission(self, request: HttpRequest) -> bool:
        return may_administer(request)

    def login(self, request: HttpRequest, extra_context: Any = None) -> HttpResponse:
        user = request.user
        target = admin_next(request, reverse("admin:index", current_app=self.name))
        if not user.is_authenticated:
            return redirect_to_login(target, reverse("signin"))
        assert isinstance(user, User)
        if not (user.is_active and user.is_staff):
            raise PermissionDenied
        if settings.ADMIN_REQUIRE_2FA and not user.has_two_factor:
            flash.warning(
                request,
                _(
                    "The admin site needs two-factor sign-in. Turn it on here with an "
                    "authenticator app, then open the admin site again."
                ),
            )
            return redirect("settings")
        if not may_administer(request):
            # Signed in with the password alone (before two-factor was on): again, fully.
            auth.logout(request)
            flash.info(request, _("Sign in again with your second factor to open the admin site."))
            return redirect_to_login(target, reverse("signin"))
        return redirect(target)

    # The portal's sign-out and settings page stand in for the admin's own.
    def logout(self, request: HttpRequest, extra_context: Any = None) -> Any:
        return signout(request)

    def password_change(self, request: HttpRequest, extra_context: Any = None) -> Any:
        return redirect("settings")

    def password_change_done(self, request: HttpRequest, extra_context: Any = None) -> Any:
        return redirect("settings")

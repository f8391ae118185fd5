"""The language menu's target: remember the choice, then back to the page it was made on."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, HttpResponseRedirect
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from sealbox.accounts import languages
from sealbox.accounts.models import User


def _back(request: HttpRequest) -> str:
    """The page to return to: a path on this site only, else the start page."""
    target = request.POST.get("next", "")
    if target.startswith("/") and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return reverse("index")


@require_POST
def choose(request: HttpRequest) -> HttpResponse:
    language = languages.supported(request.POST.get("language"))
    if language is None:
        return HttpResponseBadRequest(_("That language is not available."))
    if isinstance(request.user, User) and request.user.is_authenticated:
        request.user.language = language
        request.user.save(update_fields=["language"])
    response = HttpResponseRedirect(_back(request))
    languages.set_cookie(response, language)
    return response

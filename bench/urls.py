"""Sealbox's URLs plus two trivial views, the portal section's baselines.

/bench/trivial/ does nothing but answer "ok": the floor of a request through
gunicorn and Sealbox's middleware. /bench/trivial-login/ is the same view behind
login_required and never_cache, as the portal's pages are: with the session
cookie it also pays the session lookup (and the session renewal, at most once
a minute) and the user lookup, so it is what the real pages are compared to.
"""

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.urls import include, path
from django.views.decorators.cache import never_cache


@never_cache
def trivial(request: HttpRequest) -> HttpResponse:
    return HttpResponse("ok", content_type="text/plain; charset=utf-8")


urlpatterns = [
    path("bench/trivial/", trivial, name="bench-trivial"),
    path("bench/trivial-login/", login_required(trivial), name="bench-trivial-login"),
    path("", include("sealbox.urls")),
]

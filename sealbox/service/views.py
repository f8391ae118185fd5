"""The service's own page: /healthz, for load balancers and monitoring."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from sealbox.service import health
from sealbox.web.unavailable import quiet


@require_GET
@never_cache
def healthz(request: HttpRequest) -> HttpResponse:
    """200 "ok" when the database answers, the data directory takes writes and,
    with encryption at rest, this process holds the key ("locked" until then).

    Space: 200 with a "low disk space" line below twice SEALBOX_MIN_FREE_MB,
    503 once intake refuses new mail (below it).
    """
    problems, warnings = health.check()
    if problems:
        response = HttpResponse("; ".join(problems) + "\n", status=503, content_type="text/plain")
        if problems == ["locked"]:
            quiet(response)
        return response
    if warnings:
        return HttpResponse("; ".join(warnings) + "\n", content_type="text/plain")
    return HttpResponse("ok\n", content_type="text/plain")

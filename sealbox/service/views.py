from __future__ import annotations

import os
import uuid
from pathlib import Path

from django.conf import settings
from django.db import connection
from django.http import HttpRequest, HttpResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from sealbox.intake import loops
from sealbox.vault import seal
from sealbox.vault.middleware import quiet


@require_GET
@never_cache
def healthz(request: HttpRequest) -> HttpResponse:
    """200 "ok" when the database answers, the data directory takes writes and,
    with encryption at rest, this process holds the key ("locked" until then)."""
    problems = []
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception:
        problems.append("database unavailable")
    probe = Path(settings.DATA_DIR) / "tmp" / f".healthz-{uuid.uuid4().hex}"
    try:
        probe.parent.mkdir(parents=True, exist_ok=True)
        probe.write_bytes(b"ok")
        os.unlink(probe)
    except OSError:
        problems.append("data directory not writable")
    if seal.locked():
        problems.append("locked")
    if problems:
        response = HttpResponse("; ".join(problems) + "\n", status=503, content_type="text/plain")
        if problems == ["locked"]:
            quiet(response)
        return response
    warnings = _loop_warnings()
    if warnings:
        return HttpResponse("; ".join(warnings) + "\n", content_type="text/plain")
    return HttpResponse("ok\n", content_type="text/plain")


def _loop_warnings() -> list[str]:
    """A routing loop refused in the last hour: a 200 that says so instead of "ok".

    Not a 503: the portal works, and taking it out of a load balancer or
    restarting it would not fix the gateway's route.
    """
    try:
        refused = loops.recent(hours=1)
    except Exception:  # e.g. not migrated yet: the other checks have answered
        return []
    if not refused:
        return []
    return [
        f"routing loop: {refused} message(s) refused in the last hour "
        "(Sealbox's own mail came back, or too many hops); check the gateway's routing"
    ]

from __future__ import annotations

import os
import uuid
from datetime import timedelta
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
    with encryption at rest, this process holds the key ("locked" until then).

    A routing loop refused in the last hour adds a "warning:" line to the 200:
    the gateway's routing is wrong, but the portal works and restarting it
    would not help.
    """
    problems = []
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception:
        problems.append("database unavailable")
    warnings = [] if problems else _loop_warnings()
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
    return HttpResponse(
        "".join(f"{line}\n" for line in ["ok", *warnings]), content_type="text/plain"
    )


def _loop_warnings() -> list[str]:
    try:
        refused = loops.recent(timedelta(hours=1))
    except Exception:  # e.g. not migrated yet: the other checks still answer
        return []
    if not refused:
        return []
    return [
        f"warning: routing loop: {refused} message(s) refused in the last hour "
        "(Sealbox's own mail came back, or too many hops); check the gateway's routing"
    ]

from __future__ import annotations

import os
import uuid
from pathlib import Path

from django.conf import settings
from django.db import connection
from django.http import HttpRequest, HttpResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

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
    return HttpResponse("ok\n", content_type="text/plain")

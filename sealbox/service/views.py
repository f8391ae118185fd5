from __future__ import annotations

import uuid
from contextlib import suppress
from pathlib import Path

from django.conf import settings
from django.db import connection
from django.http import HttpRequest, HttpResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from sealbox.intake import loops
from sealbox.service import diskspace
from sealbox.service.unavailable import quiet
from sealbox.vault import seal


@require_GET
@never_cache
def healthz(request: HttpRequest) -> HttpResponse:
    """200 "ok" when the database answers, the data directory takes writes and,
    with encryption at rest, this process holds the key ("locked" until then).

    Space: 200 with a "low disk space" line below twice SEALBOX_MIN_FREE_MB,
    503 once intake refuses new mail (below it).
    """
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
    except OSError as e:
        problems.append(
            "data directory full" if diskspace.is_full_error(e) else "data directory not writable"
        )
    finally:
        with suppress(OSError):  # a probe that failed half-way leaves nothing behind
            probe.unlink(missing_ok=True)
    warnings = []
    with suppress(OSError):  # made again once there is room
        diskspace.restore_reserve()
    try:
        space = diskspace.space()
    except OSError:
        pass  # no data directory to measure: said above
    else:
        if space.refusing:
            problems.append(space.describe())
        elif space.low:
            warnings.append(space.describe())
    if seal.locked():
        problems.append("locked")
    if problems:
        response = HttpResponse("; ".join(problems) + "\n", status=503, content_type="text/plain")
        if problems == ["locked"]:
            quiet(response)
        return response
    warnings += _loop_warnings()
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

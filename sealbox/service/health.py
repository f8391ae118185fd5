"""What /healthz reports: the database, the data directory and its space, the key, routing loops."""

from __future__ import annotations

import uuid
from contextlib import suppress
from pathlib import Path

from django.conf import settings
from django.db import connection

from sealbox import diskspace
from sealbox.intake import loops
from sealbox.vault import seal


def check() -> tuple[list[str], list[str]]:
    """(problems, warnings): a problem makes the service unhealthy (503), a warning does not.

    Warnings of routing loops are looked for only when there is no problem.
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
    if not problems:
        warnings += _loop_warnings()
    return problems, warnings


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

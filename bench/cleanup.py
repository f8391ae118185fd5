"""The cleanup section: how fast the retention clean-up removes expired messages.

100,000 expired messages (files and rows, over 1,000 mailboxes) plus 5,000
recent ones are made in a child process with the site's settings, then
removed by sealbox.housekeeping.retention.cleanup(), the function the worker
and `sealbox cleanup` run; the recent ones must all survive and every
mailbox's usage must still equal the sum of its messages. The baseline, in
the same run, is the least any clean-up can do for the same messages: one
DELETE of the rows and one unlink per file. Then the same again with two
clean-ups at once (two processes).

It runs on SQLite, and on PostgreSQL in a scratch database of its own
(sealbox_bench_cleanup, created and dropped here) when the server answers
(`BENCH_POSTGRES_URL`, default postgres://postgres@127.0.0.1:5432/postgres).
`BENCH_CLEANUP_MESSAGES` sets a smaller count for a quick run.

The child runs as `python -m bench.cleanup fill|clean|baseline|check N`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from typing import Any

from bench.util import ROOT, Context, Database, Section, Table, number, progress, ratio

EXPIRED = int(os.environ.get("BENCH_CLEANUP_MESSAGES", "100000"))
KEPT = max(EXPIRED // 20, 10)
MAILBOXES = max(EXPIRED // 100, 1)
ADMIN_URL = os.environ.get("BENCH_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/postgres")
SCRATCH = "sealbox_bench_cleanup"
BODY = b"Subject: old news\r\nFrom: carol@corp.example\r\n\r\n" + b"x" * 900 + b"\r\n"


# --- In the child (Django set up with the site's environment) ----------------------------


def _setup() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "sealbox.settings")
    import django

    django.setup()


def fill(expired: int) -> dict[str, Any]:
    """`expired` messages 200 days old and KEPT new ones, files laid out as blobs.write does."""
    from datetime import timedelta

    from django.utils import timezone

    from sealbox.accounts.models import User
    from sealbox.housekeeping import quota
    from sealbox.mailstore import blobs
    from sealbox.mailstore.models import Message

    started = time.monotonic()
    owners = list(User.objects.filter(email__endswith="@bench.invalid").order_by("pk"))
    if not owners:
        User.objects.bulk_create(
            [User(email=f"r{i:05d}@bench.invalid", password="!") for i in range(MAILBOXES)],
            batch_size=2000,
        )
        owners = list(User.objects.filter(email__endswith="@bench.invalid").order_by("pk"))
    now = timezone.now()
    old = now - timedelta(days=200)
    root = blobs.root()
    rows: list[Message] = []

    def flush() -> None:
        Message.objects.bulk_create(rows, batch_size=5000)
        rows.clear()

    for i in range(expired + KEPT):
        mid = uuid.uuid4()
        rel = blobs.relative_path(mid)
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(BODY)
        rows.append(
            Message(
                id=mid,
                owner=owners[i % len(owners)],
                blob=rel,
                size=len(BODY),
                received_at=old if i < expired else now,
            )
        )
        if len(rows) >= 5000:
            flush()
    flush()
    quota.recalc()
    return {"seconds": time.monotonic() - started}


def clean() -> dict[str, Any]:
    from sealbox.housekeeping import retention

    started = time.monotonic()
    dry = retention.cleanup(dry_run=True)
    dry_seconds = time.monotonic() - started
    started = time.monotonic()
    report = retention.cleanup()
    return {
        "dry_seconds": dry_seconds,
        "dry_messages": dry.messages,
        "seconds": time.monotonic() - started,
        "messages": report.messages,
    }


def clean_only() -> dict[str, Any]:
    from sealbox.housekeeping import retention

    started = time.monotonic()
    report = retention.cleanup()
    return {"seconds": time.monotonic() - started, "messages": report.messages}


def baseline() -> dict[str, Any]:
    """The floor: the same rows gone in one DELETE, the same files unlinked one by one."""
    from datetime import timedelta

    from django.utils import timezone

    from sealbox.mailstore import blobs
    from sealbox.mailstore.models import Message

    cutoff = timezone.now() - timedelta(days=100)
    doomed = Message.objects.filter(received_at__lt=cutoff)
    started = time.monotonic()
    names = list(doomed.values_list("blob", flat=True))
    count = doomed._raw_delete(doomed.db)  # type: ignore[attr-defined]
    root = blobs.root()
    for name in names:
        (root / name).unlink()
    return {"seconds": time.monotonic() - started, "messages": count}


def check() -> dict[str, Any]:
    """What is left: rows, files, and accounts whose usage differs from their messages."""
    from django.db.models import F, OuterRef, Subquery, Sum
    from django.db.models.functions import Coalesce

    from sealbox.accounts.models import User
    from sealbox.mailstore import blobs
    from sealbox.mailstore.models import Message

    sums = (
        Message.objects.filter(owner=OuterRef("pk"))
        .values("owner")
        .annotate(s=Sum("size"))
        .values("s")
    )
    wrong = (
        User.objects.annotate(actual=Coalesce(Subquery(sums), 0))
        .exclude(usage_bytes=F("actual"))
        .count()
    )
    messages_dir = blobs.root() / blobs.MESSAGES
    files = sum(1 for _ in messages_dir.rglob("*.eml")) if messages_dir.is_dir() else 0
    return {"rows": Message.objects.count(), "files": files, "usage_wrong": wrong}


def child_main(argv: list[str]) -> None:
    _setup()
    what = argv[0]
    result: dict[str, Any]
    if what == "fill":
        result = fill(int(argv[1]))
    elif what == "clean":
        result = clean()
    elif what == "clean-only":
        result = clean_only()
    elif what == "baseline":
        result = baseline()
    else:
        result = check()
    print(json.dumps(result), flush=True)


# --- In the parent -------------------------------------------------------------------


def _child(env: dict[str, str], *args: str) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-m", "bench.cleanup", *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"bench.cleanup {' '.join(args)} failed:\n{done.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def _expect_left(env: dict[str, str], what: str, fills: int) -> None:
    """Each fill's recent messages are all there, and nothing else."""
    kept = KEPT * fills
    left = _child(env, "check")
    if left != {"rows": kept, "files": kept, "usage_wrong": 0}:
        raise RuntimeError(
            f"after {what}: expected {kept} rows and files and exact usage, got {left}"
        )


def _measure(ctx: Context, database: Database, table: Table) -> None:
    site = ctx.site(LOG_LEVEL="warning")
    env = site.env(LOG_LEVEL="warning")
    name = database.engine
    progress(f"{name}: filling {EXPIRED:,} expired and {KEPT:,} recent messages")
    filled = _child(env, "fill", str(EXPIRED))
    progress(f"{name}: filled in {filled['seconds']:.0f}s; cleaning up")
    one = _child(env, "clean")
    if one["messages"] != EXPIRED or one["dry_messages"] != EXPIRED:
        raise RuntimeError(f"{name}: removed {one}, expected {EXPIRED}")
    _expect_left(env, "the clean-up", 1)

    progress(f"{name}: filling again for the baseline")
    _child(env, "fill", str(EXPIRED))
    base = _child(env, "baseline")
    # The baseline's plain DELETE leaves usage as it was: recount before checking.
    site.run("quota", "recalc")
    _expect_left(env, "the baseline", 2)

    progress(f"{name}: filling again for two clean-ups at once")
    _child(env, "fill", str(EXPIRED))
    argv = [sys.executable, "-m", "bench.cleanup", "clean-only"]
    started = time.monotonic()
    procs = [
        subprocess.Popen(argv, env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        for _ in range(2)
    ]
    outs = [p.communicate() for p in procs]
    both = time.monotonic() - started
    if any(p.returncode for p in procs):
        raise RuntimeError(f"{name}: a concurrent clean-up failed: {outs[0][1][-2000:]!r}")
    removed = [json.loads(o[0].decode().strip().splitlines()[-1])["messages"] for o in outs]
    if sum(removed) != EXPIRED:
        raise RuntimeError(f"{name}: two clean-ups removed {removed}, expected {EXPIRED} in all")
    _expect_left(env, "two clean-ups at once", 3)

    rate = EXPIRED / one["seconds"]
    base_rate = EXPIRED / base["seconds"]
    table.add(
        name,
        "baseline: one DELETE + unlink",
        number(base["seconds"], 2),
        number(base_rate),
        "1.000",
    )
    table.add(name, "cleanup()", number(one["seconds"], 2), number(rate), ratio(rate, base_rate))
    table.add(
        name,
        f"two at once ({removed[0]:,} + {removed[1]:,})",
        number(both, 2),
        number(EXPIRED / both),
        ratio(EXPIRED / both, base_rate),
    )
    table.add(
        name,
        "dry run (count only)",
        number(one["dry_seconds"], 2),
        number(EXPIRED / one["dry_seconds"]),
        ratio(EXPIRED / one["dry_seconds"], base_rate),
    )


def _postgres() -> Database | None:
    try:
        import psycopg

        with psycopg.connect(ADMIN_URL, autocommit=True, connect_timeout=5) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {SCRATCH}")
            conn.execute(f"CREATE DATABASE {SCRATCH}")
    except Exception as e:
        progress(f"PostgreSQL not measured: {e.__class__.__name__}: {e}")
        return None
    base, _, _ = ADMIN_URL.rpartition("/")
    return Database(f"{base}/{SCRATCH}")


def _drop_postgres() -> None:
    import psycopg

    with psycopg.connect(ADMIN_URL, autocommit=True, connect_timeout=5) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {SCRATCH} WITH (FORCE)")


def run(ctx: Context) -> None:
    table = Table(
        f"Clean-up of {EXPIRED:,} expired messages ({MAILBOXES:,} mailboxes, "
        f"{KEPT:,} recent ones kept)",
        ["database", "what", "seconds", "messages/s", "rate / baseline"],
    )
    sqlite = Context(Database(None))
    try:
        _measure(sqlite, sqlite.database, table)
    finally:
        sqlite.close()
    pg = _postgres()
    if pg is not None:
        pg_ctx = Context(pg)
        try:
            _measure(pg_ctx, pg, table)
        finally:
            pg_ctx.close()
            _drop_postgres()
    table.note("cleanup(): batches of 500, each a transaction (rows, usage), files after commit")
    table.note("every run checked: recent messages all kept, no file left, usage exact")
    table.note("two at once: two processes; on SQLite one writes at a time")
    table.print()


SECTION = Section("cleanup", "retention clean-up throughput", run)


if __name__ == "__main__":
    child_main(sys.argv[1:])

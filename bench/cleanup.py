"""The cleanup section: how fast the retention clean-up removes expired messages.

EXPIRED messages (100,000 by default; `--messages N` or BENCH_CLEANUP_MESSAGES
for a quick run) over EXPIRED / 100 mailboxes, 200 days old with a retention of
30 days, plus EXPIRED / 20 recent ones that must survive, are made in a child
process with the site's settings: rows inserted in batches of 5,000 with the
values Django would write, files laid out as sealbox.mailstore.blobs.write lays
them out (messages/xx/<hex>.eml, mode 0600) but without its fsync per file. They are then removed by
sealbox.housekeeping.retention.cleanup(), the function the worker and `sealbox
cleanup` run; first its dry run, which must count them and remove nothing.

The baseline, in the same run, is the least any clean-up can do for the same
messages: one plain DELETE of the rows and one unlink per file. Then the same
again with two clean-ups at once, two processes.

Every measured step runs in a child that sets Django up, connects, says it is
ready and waits for the word to go, so that the times hold no start-up; with two
at once the time runs from the first one's start to the last one's end. After
each, the rows left must be exactly the recent ones, the files exactly theirs,
the clean-ups' reports must add up to the expired messages and their bytes, and
every mailbox's usage must equal the sum of its messages: the section raises
otherwise.

It runs on SQLite (a fresh data directory) and on PostgreSQL, in a scratch
database it creates and drops (sealbox_bench_cleanup_<pid>) on the server of
BENCH_POSTGRES_URL, else of SEALBOX_DATABASE_URL, else postgres@127.0.0.1:5432.

The child runs as `python -m bench.cleanup fill|run|check ...`.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import resource
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from bench.util import (
    ROOT,
    Context,
    Database,
    KiB,
    Section,
    Table,
    number,
    proc_status,
    progress,
    ratio,
)

DEFAULT_MESSAGES = 100_000
RETENTION_DAYS = 30  # SEALBOX_RETENTION_DAYS of the site
AGE_DAYS = 200  # of the expired messages
SCRATCH_PREFIX = "sealbox_bench_cleanup"
DEFAULT_POSTGRES = "postgres://postgres@127.0.0.1:5432/postgres"
ROW_BATCH = 5000
VARYING = ("id", "owner", "blob", "size", "received_at")  # set per row by fill()
DAY = 24 * 3600  # arrival times spread over a day, owners mixed in every batch
# Small messages of a few sizes, so that a usage off by one message shows.
BODIES = [
    b"From: Carol <carol@corp.example>\r\nTo: r@example.net\r\nSubject: old news "
    + str(n).encode()
    + b"\r\n\r\n"
    + b"x" * (700 + 100 * n)
    + b"\r\n"
    for n in range(7)
]


@dataclass(frozen=True)
class Sizes:
    expired: int
    kept: int  # recent messages made by each fill
    mailboxes: int

    @classmethod
    def from_environment(cls) -> Sizes:
        raw = os.environ.get("BENCH_CLEANUP_MESSAGES") or str(DEFAULT_MESSAGES)
        try:
            expired = int(raw.replace("_", "").replace(",", ""))
        except ValueError:
            expired = 0
        if expired < 1:
            raise SystemExit(f"BENCH_CLEANUP_MESSAGES={raw!r}: give a whole number above 0")
        return cls(expired, max(expired // 20, 10), max(expired // 100, 1))


# --- In the child (Django set up with the site's environment) ----------------------------


def _setup() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "sealbox.settings")
    import django

    django.setup()


def _rss_mib(key: str) -> float:
    """VmRSS or VmHWM of this process in MiB."""
    return proc_status(os.getpid())[key] / KiB


def fill(expired: int, kept: int, mailboxes: int) -> dict[str, Any]:
    """`expired` messages AGE_DAYS old and `kept` new ones, over `mailboxes` accounts."""
    from datetime import timedelta

    from django.db import connection, transaction
    from django.utils import timezone

    from sealbox.accounts.models import User
    from sealbox.mailstore import blobs, quota
    from sealbox.mailstore.models import Message

    started = time.monotonic()
    mine = User.objects.filter(email__endswith="@bench.invalid").order_by("pk")
    if not mine.exists():
        User.objects.bulk_create(
            [User(email=f"r{i:05d}@bench.invalid", password="!") for i in range(mailboxes)],
            batch_size=2000,
        )
    owners = list(mine.values_list("pk", flat=True))
    now = timezone.now()
    old = now - timedelta(days=AGE_DAYS)
    root = blobs.root()
    for i in range(256):
        (root / blobs.MESSAGES / f"{i:02x}").mkdir(parents=True, exist_ok=True)
    rng = random.Random()
    # Rows as bulk_create would write them, without its cost per field and row
    # (most of a fill's time): every column's value prepared once from a model
    # instance with the defaults, and only the VARYING ones per row.
    fields = list(Message._meta.concrete_fields)
    prototype = Message(
        owner_id=owners[0], blob="", size=0, from_address="carol@corp.example", subject="old news"
    )
    fixed = [f.get_db_prep_save(f.pre_save(prototype, True), connection) for f in fields]
    varying = {f.name: i for i, f in enumerate(fields) if f.name in VARYING}
    by_name = {f.name: f for f in fields}
    insert = "INSERT INTO {} ({}) VALUES ({})".format(  # noqa: S608 (the model's own names)
        connection.ops.quote_name(Message._meta.db_table),
        ", ".join(connection.ops.quote_name(f.column) for f in fields),
        ", ".join(["%s"] * len(fields)),
    )
    rows: list[list[Any]] = []
    expired_bytes = 0
    file_seconds = 0.0

    def flush() -> None:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.executemany(insert, rows)
        rows.clear()

    for i in range(expired + kept):
        mid = uuid.uuid4()
        rel = blobs.relative_path(mid)
        body = BODIES[i % len(BODIES)]
        start = time.perf_counter()
        fd = os.open(f"{root}/{rel}", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.write(fd, body)
        finally:
            os.close(fd)
        file_seconds += time.perf_counter() - start
        is_expired = i < expired
        expired_bytes += len(body) if is_expired else 0
        values = {
            "id": mid,
            "owner": owners[i % len(owners)],
            "blob": rel,
            "size": len(body),
            "received_at": (old if is_expired else now) - timedelta(seconds=rng.randrange(DAY)),
        }
        row = list(fixed)
        for name, value in values.items():
            row[varying[name]] = by_name[name].get_db_prep_save(value, connection)
        rows.append(row)
        if len(rows) >= ROW_BATCH:
            flush()
    flush()
    quota.recalc()
    if connection.vendor == "postgresql":
        # What autovacuum would soon do: statistics, and no dead rows of the
        # previous round for the next clean-up to step over.
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE mailstore_message")
            cursor.execute("VACUUM ANALYZE accounts_user")
    return {
        "seconds": time.monotonic() - started,
        "file_seconds": file_seconds,
        "expired_bytes": expired_bytes,
    }


def _cleanup(dry_run: bool) -> dict[str, Any]:
    from sealbox.housekeeping import retention
    from sealbox.mailstore.models import Message

    report = retention.cleanup(dry_run=dry_run)
    return {
        "messages": report.messages,
        "bytes": report.bytes,
        "by_account": sum(report.by_account.values()),
        "rows_after": Message.objects.count(),
    }


def _baseline() -> dict[str, Any]:
    """The floor: the rows gone in one plain DELETE, the files unlinked one by one."""
    from datetime import timedelta

    from django.db import connection
    from django.utils import timezone

    from sealbox.mailstore import blobs
    from sealbox.mailstore.models import Message

    cutoff = timezone.now() - timedelta(days=RETENTION_DAYS)
    assert Message._meta.db_table == "mailstore_message"
    start = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute("SELECT blob FROM mailstore_message WHERE received_at < %s", [cutoff])
        names = [row[0] for row in cursor.fetchall()]
        cursor.execute("DELETE FROM mailstore_message WHERE received_at < %s", [cutoff])
        count = cursor.rowcount
    deleted = time.perf_counter()
    root = blobs.root()
    for name in names:
        os.unlink(root / name)
    return {
        "messages": count,
        "files": len(names),
        "delete_seconds": deleted - start,
        "unlink_seconds": time.perf_counter() - deleted,
    }


def run_step(what: str) -> dict[str, Any]:
    """Connect, say "ready", wait for a line on stdin, then do `what` and time it."""
    from django.db import connection

    connection.ensure_connection()
    idle = _rss_mib("VmRSS")
    before = resource.getrusage(resource.RUSAGE_SELF)
    print("ready", flush=True)
    sys.stdin.readline()
    started = time.time()
    if what == "baseline":
        result = _baseline()
    else:
        result = _cleanup(dry_run=what == "dry-run")
    ended = time.time()
    peak = _rss_mib("VmHWM")
    after = resource.getrusage(resource.RUSAGE_SELF)
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    return {
        **result,
        "started": started,
        "ended": ended,
        "idle_mib": idle,
        "peak_mib": peak,
        "cpu_seconds": cpu,
    }


def check(recent_days: int) -> dict[str, Any]:
    """What is left: rows, old rows, files and rows that do not match, wrong usages."""
    from datetime import timedelta

    from django.db.models import F, OuterRef, Subquery, Sum
    from django.db.models.functions import Coalesce
    from django.utils import timezone

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
    root = blobs.root()
    messages_dir = root / blobs.MESSAGES
    files = (
        {str(p.relative_to(root)) for p in messages_dir.rglob("*") if p.is_file()}
        if messages_dir.is_dir()
        else set()
    )
    blob_names = set(Message.objects.values_list("blob", flat=True))
    cutoff = timezone.now() - timedelta(days=recent_days)
    return {
        "rows": len(blob_names),
        "old_rows": Message.objects.filter(received_at__lt=cutoff).count(),
        "files": len(files),
        "files_without_row": len(files - blob_names),
        "rows_without_file": len(blob_names - files),
        "usage_wrong": wrong,
    }


def child_main(argv: list[str]) -> int:
    _setup()
    what, args = argv[0], argv[1:]
    if what == "fill":
        result = fill(*(int(a) for a in args))
    elif what == "run":
        result = run_step(args[0])
    elif what == "check":
        result = check(int(args[0]))
    else:
        print(f"unknown step {what!r}", file=sys.stderr)
        return 2
    print("RESULT " + json.dumps(result), flush=True)
    return 0


# --- In the parent -------------------------------------------------------------------


def _result(stdout: str, what: str, stderr: str = "") -> dict[str, Any]:
    lines = [x for x in stdout.splitlines() if x.startswith("RESULT ")]
    if not lines:
        raise RuntimeError(f"bench.cleanup {what} gave no result:\n{stderr[-3000:]}")
    result: dict[str, Any] = json.loads(lines[-1].removeprefix("RESULT "))
    return result


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
    return _result(done.stdout, " ".join(args), done.stderr)


@dataclass(frozen=True)
class Step:
    seconds: float  # from the first one's start to the last one's end
    results: list[dict[str, Any]]

    def total(self, key: str) -> int:
        return sum(int(r[key]) for r in self.results)

    @property
    def peak_mib(self) -> float:
        return max(float(r["peak_mib"]) for r in self.results)


def _together(env: dict[str, str], steps: Sequence[str]) -> Step:
    """Run the steps in one child each, started at the same moment once all are ready.

    Their stderr goes to files, so that a chatty child cannot stall on a full pipe.
    """
    with contextlib.ExitStack() as stack:
        errs = [stack.enter_context(tempfile.TemporaryFile("w+")) for _ in steps]
        procs = [
            subprocess.Popen(
                [sys.executable, "-m", "bench.cleanup", "run", what],
                env=env,
                cwd=ROOT,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=err,
                text=True,
            )
            for what, err in zip(steps, errs, strict=True)
        ]

        def failed(i: int, how: str) -> RuntimeError:
            procs[i].wait()
            errs[i].seek(0)
            return RuntimeError(f"bench.cleanup run {steps[i]} {how}:\n{errs[i].read()[-3000:]}")

        try:
            for i, proc in enumerate(procs):
                assert proc.stdout is not None
                if proc.stdout.readline().strip() != "ready":
                    raise failed(i, "did not start")
            for proc in procs:
                assert proc.stdin is not None
                proc.stdin.write("go\n")
                proc.stdin.flush()
            results = []
            for i, proc in enumerate(procs):
                out, _ = proc.communicate()
                if proc.returncode != 0:
                    raise failed(i, "failed")
                results.append(_result(out, f"run {steps[i]}"))
        finally:
            for proc in procs:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
    seconds = max(r["ended"] for r in results) - min(r["started"] for r in results)
    return Step(seconds, results)


def _expect_left(env: dict[str, str], what: str, kept: int) -> None:
    """Exactly the recent messages are left, each with its file, and usage is exact."""
    left = _child(env, "check", str(RETENTION_DAYS))
    expected = {
        "rows": kept,
        "old_rows": 0,
        "files": kept,
        "files_without_row": 0,
        "rows_without_file": 0,
        "usage_wrong": 0,
    }
    if left != expected:
        raise RuntimeError(f"after {what}: expected {expected}, found {left}")


def _expect_report(name: str, what: str, step: Step, sizes: Sizes, expired_bytes: int) -> None:
    """The reports add up to the expired messages and their bytes, none counted twice."""
    got = {k: step.total(k) for k in ("messages", "bytes", "by_account")}
    expected = {"messages": sizes.expired, "bytes": expired_bytes, "by_account": sizes.expired}
    if got != expected:
        raise RuntimeError(f"{name}, {what}: the reports say {got}, expected {expected}")


def _fill(env: dict[str, str], sizes: Sizes, kept_before: int, name: str) -> dict[str, Any]:
    """Fill, and check that every row and file is there and usage is exact."""
    progress(f"{name}: making {sizes.expired:,} expired and {sizes.kept:,} recent messages")
    filled = _child(env, "fill", str(sizes.expired), str(sizes.kept), str(sizes.mailboxes))
    left = _child(env, "check", str(RETENTION_DAYS))
    total = kept_before + sizes.expired + sizes.kept
    expected = {
        "rows": total,
        "old_rows": sizes.expired,
        "files": total,
        "files_without_row": 0,
        "rows_without_file": 0,
        "usage_wrong": 0,
    }
    if left != expected:
        raise RuntimeError(f"{name}: after filling, expected {expected}, found {left}")
    return filled


def _measure(ctx: Context, sizes: Sizes, table: Table, about: str) -> None:
    name = ctx.database.engine
    site = ctx.site(RETENTION_DAYS=str(RETENTION_DAYS), LOG_LEVEL="warning")
    env = site.env()
    fills = [_fill(env, sizes, 0, name)]
    expired_bytes = int(fills[-1]["expired_bytes"])

    progress(f"{name}: cleanup(dry_run=True)")
    dry = _together(env, ["dry-run"])
    got = {k: dry.total(k) for k in ("messages", "bytes", "by_account", "rows_after")}
    expected = {
        "messages": sizes.expired,
        "bytes": expired_bytes,
        "by_account": sizes.expired,
        "rows_after": sizes.expired + sizes.kept,  # nothing removed
    }
    if got != expected:
        raise RuntimeError(f"{name}: the dry run gave {got}, expected {expected}")
    progress(f"{name}: cleanup()")
    one = _together(env, ["cleanup"])
    _expect_report(name, "cleanup()", one, sizes, expired_bytes)
    _expect_left(env, "cleanup()", sizes.kept)

    fills.append(_fill(env, sizes, sizes.kept, name))
    progress(f"{name}: baseline")
    base = _together(env, ["baseline"])
    if (base.total("messages"), base.total("files")) != (sizes.expired, sizes.expired):
        raise RuntimeError(f"{name}: the baseline removed {base.results[0]}")
    site.run("quota", "recalc")  # a plain DELETE leaves the usage as it was
    _expect_left(env, "the baseline", 2 * sizes.kept)

    fills.append(_fill(env, sizes, 2 * sizes.kept, name))
    expired_bytes = int(fills[-1]["expired_bytes"])
    progress(f"{name}: two cleanup() at once")
    two = _together(env, ["cleanup", "cleanup"])
    _expect_report(name, "two cleanup() at once", two, sizes, expired_bytes)
    _expect_left(env, "two cleanup() at once", 3 * sizes.kept)

    base_rate = sizes.expired / base.seconds

    def row(what: str, seconds: float, peak: float, shown: str | None = None) -> None:
        rate = sizes.expired / seconds
        shown = ratio(rate, base_rate) if shown is None else shown
        table.add(f"{name}: {what}", number(seconds, 2), number(rate), shown, number(peak))

    b = base.results[0]
    split = " + ".join(f"{r['messages']:,}" for r in two.results)
    row("baseline, one DELETE + unlinks", base.seconds, base.peak_mib, "1.000")
    row("  the SELECT and DELETE alone", b["delete_seconds"], base.peak_mib, "")
    row("  the unlinks alone", b["unlink_seconds"], base.peak_mib, "")
    row("cleanup(dry_run=True)", dry.seconds, dry.peak_mib)
    row("cleanup()", one.seconds, one.peak_mib)
    row(f"two cleanup() at once ({split})", two.seconds, two.peak_mib)
    fill_seconds = [f["seconds"] for f in fills]
    table.note(
        f"{name}: {about}; each fill {number(min(fill_seconds))}-{number(max(fill_seconds))} s; "
        f"cleanup() used {number(one.results[0]['cpu_seconds'], 2)} s of CPU, "
        f"idle RSS {number(one.results[0]['idle_mib'])} MiB before it"
    )


def _admin_url(database: Database) -> str:
    if os.environ.get("BENCH_POSTGRES_URL"):
        return os.environ["BENCH_POSTGRES_URL"]
    if database.engine == "postgresql" and database.url:
        return database.url
    return DEFAULT_POSTGRES


def _with_path(url: str, dbname: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/" + dbname))


def _scratch_postgres(admin: str, dbname: str) -> tuple[str, str] | None:
    """Create the scratch database: (its URL, the server version), or None and say why not."""
    try:
        import psycopg

        with psycopg.connect(admin, autocommit=True, connect_timeout=5) as conn:
            row = conn.execute("show server_version").fetchone()
            conn.execute(f"CREATE DATABASE {dbname}")
    except Exception as e:
        progress(f"PostgreSQL not measured: {e.__class__.__name__}: {e}")
        return None
    version = str(row[0]).split()[0] if row else "?"
    return _with_path(admin, dbname), version


def _drop_postgres(admin: str, dbname: str) -> None:
    import psycopg

    with psycopg.connect(admin, autocommit=True, connect_timeout=5) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {dbname} WITH (FORCE)")


def run(ctx: Context) -> None:
    sizes = Sizes.from_environment()
    table = Table(
        f"Retention clean-up of {sizes.expired:,} expired messages in {sizes.mailboxes:,} "
        f"mailboxes, {sizes.kept:,} recent ones kept",
        ["step", "seconds", "messages/s", "rate / baseline", "peak RSS MiB"],
    )
    sqlite = Context(Database(None))
    try:
        _measure(sqlite, sizes, table, f"SQLite {sqlite3.sqlite_version}, a fresh data dir")
    finally:
        sqlite.close()
    admin = _admin_url(ctx.database)
    dbname = f"{SCRATCH_PREFIX}_{os.getpid()}"
    scratch = _scratch_postgres(admin, dbname)
    if scratch is None:
        table.note(f"postgresql: not measured, no server at {_with_path(admin, '')}")
    else:
        url, version = scratch
        parts = urlsplit(url)
        pg = Context(Database(url))
        try:
            about = (
                f"PostgreSQL {version} at {parts.hostname}:{parts.port or 5432}, "
                f"scratch database {dbname}, dropped after"
            )
            _measure(pg, sizes, table, about)
        finally:
            pg.close()
            _drop_postgres(admin, dbname)
    table.note(
        "baseline: the same number of messages removed by one plain DELETE of their rows "
        "and one unlink per file, nothing else (usage recounted afterwards)"
    )
    table.note(
        f"cleanup(): the whole of it, as `sealbox cleanup` runs it: expired messages in "
        f"batches of 500, each a transaction (rows, usage), files after commit, then links, "
        f"accounts, stray files; messages {AGE_DAYS} days old, retention {RETENTION_DAYS} days"
    )
    table.note(
        "seconds: the step alone, in a process already started and connected; two at once: "
        "two processes, first start to last end (on SQLite one writes at a time)"
    )
    table.note("peak RSS: VmHWM of the process that ran the step (the larger of two)")
    table.note(
        "checked after every step: exactly the recent rows and their files left, the "
        "reports add up to the expired messages and bytes, usage = sum of each mailbox"
    )
    table.print()


SECTION = Section("cleanup", "retention clean-up throughput", run)


if __name__ == "__main__":
    sys.exit(child_main(sys.argv[1:]))

"""A 48 MB message: the memory and time of opening it, first and again, four at once.

Per mode (encryption at rest off and on) one site holds one message of about
48 MB: a text and an HTML body and a 35 MiB attachment (base64). `sealbox web`
runs with one gunicorn worker (4 threads), as one worker of a real deployment;
the worker's peak memory is read from /proc (VmHWM, reset through clear_refs
before each step) and given as its growth over the worker's resident size
before the step.

The baseline, measured in the same run and the same site: what opening the
message cost before it was parsed once, `mime.view(blobs.read(...))` in a
child process with the same settings, alone and in four threads at once (each
request of a page, a frame or an attachment did that).

Steps with the server, each on a fresh worker where it matters:
- four first opens at once of /m/<id>/ (no derived file yet): one parses, three wait;
- one first open alone, and then the same page again (the view in memory), and
  once more from a fresh worker (the view read from the derived file);
- four downloads at once of the attachment, and the .eml, checked byte for byte
  (their SHA-256 and length).
"""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
import uuid
from email.message import EmailMessage
from email.policy import SMTP
from pathlib import Path
from typing import Any

from bench.portal import Client, Page, get, sign_in, start_web
from bench.util import (
    ROOT,
    Context,
    MiB,
    Process,
    Section,
    Site,
    Table,
    concurrently,
    median,
    number,
    proc_status,
    progress,
    ratio,
)

ATTACHMENT = 35 * MiB  # base64 makes it about 47 MB of the 48
PARALLEL = 4
REPEATS = 3  # fresh workers per single-open timing
PASSWORD = "bench-bigmail-password-0123"
SUBJECT = "Annual archive, bench marker 41d2"


# --- The message and the site (in a child process) --------------------------------------


def big_message() -> tuple[bytes, bytes]:
    msg = EmailMessage()
    msg["From"] = "Archive <archive@northwind.example>"
    msg["To"] = "reader@example.net"
    msg["Subject"] = SUBJECT
    msg["Message-ID"] = "<bigmail-bench@northwind.example>"
    paragraph = "The annual archive of the figures is attached, with notes per quarter. "
    msg.set_content(paragraph * 2000)
    html = "<html><body>" + f"<p>{paragraph}</p>" * 2000 + "</body></html>"
    msg.add_alternative(html, subtype="html")
    data = os.urandom(ATTACHMENT)
    msg.add_attachment(data, maintype="application", subtype="zip", filename="archive.zip")
    return msg.as_bytes(policy=SMTP), data


def fill(reader: str, password: str) -> dict[str, Any]:
    import django

    django.setup()
    from django.utils import timezone

    from sealbox.accounts.models import User
    from sealbox.intake.delivery import deliver

    raw, data = big_message()
    message = deliver("archive@northwind.example", [reader], raw)[0]
    owner = User.objects.get(pk=message.owner_id)
    owner.set_password(password)
    owner.activated_at = timezone.now()
    owner.save(update_fields=["password", "activated_at"])
    return {
        "id": str(message.id),
        "blob": message.blob,
        "size": message.size,
        "attachment_sha256": hashlib.sha256(data).hexdigest(),
        "attachment_size": len(data),
    }


def baseline(blob: str, threads: int) -> dict[str, Any]:
    """Opening the message as every request did before: read it whole, parse it whole."""
    import django

    django.setup()
    from sealbox.mailstore import blobs, mime
    from sealbox.vault import seal

    seal.unlocked()
    mime.view(b"Subject: warm-up\r\n\r\nhi\r\n")
    before = proc_status(os.getpid())["VmRSS"]
    Path("/proc/self/clear_refs").write_text("5")
    times: list[float] = []

    def one() -> None:
        start = time.perf_counter()
        view = mime.view(blobs.read(blob))
        times.append(time.perf_counter() - start)
        assert view.attachments

    workers = [threading.Thread(target=one) for _ in range(threads)]
    start = time.perf_counter()
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    wall = time.perf_counter() - start
    peak = proc_status(os.getpid())["VmHWM"]
    return {"seconds": wall, "each": median(times), "growth_kib": peak - before}


def _child(argv: list[str]) -> int:
    if argv[:1] == ["fill"] and len(argv) == 3:
        result = fill(argv[1], argv[2])
    elif argv[:1] == ["baseline"] and len(argv) == 3:
        result = baseline(argv[1], int(argv[2]))
    else:
        print("usage: python -m bench.bigmail fill READER PASSWORD | baseline BLOB THREADS")
        return 2
    print("RESULT " + json.dumps(result))
    return 0


def in_child(site: Site, *args: str) -> dict[str, Any]:
    env = site.env()
    env["DJANGO_SETTINGS_MODULE"] = "sealbox.settings"
    done = subprocess.run(
        [sys.executable, "-m", "bench.bigmail", *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    lines = [x for x in done.stdout.splitlines() if x.startswith("RESULT ")]
    if done.returncode != 0 or not lines:
        raise RuntimeError(f"bench.bigmail {args[0]} failed:\n{done.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(lines[-1].removeprefix("RESULT "))
    return result


# --- The server's worker ------------------------------------------------------------------


def worker_pid(process: Process) -> int:
    """The one gunicorn worker: the newest descendant of `sealbox web`."""
    deadline = time.monotonic() + 30
    while True:
        found: list[int] = []
        todo = [process.pid]
        while todo:
            pid = todo.pop()
            try:
                children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
            except OSError:
                children = []
            found += [int(c) for c in children]
            todo += [int(c) for c in children]
        if found:
            return max(found, key=lambda p: Path(f"/proc/{p}").stat().st_mtime)
        if time.monotonic() > deadline:
            raise RuntimeError("no gunicorn worker found")
        time.sleep(0.1)


class Worker:
    """Peak memory of a worker over a step: VmHWM reset before it, read after."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.last_peak = 0.0  # MiB: VmHWM after the last step, all of the worker

    def step(self, work: Any) -> tuple[float, float, Any]:
        """(seconds, peak growth in MiB over the resident size before, work's result)."""
        before = proc_status(self.pid)["VmRSS"]
        Path(f"/proc/{self.pid}/clear_refs").write_text("5")
        start = time.perf_counter()
        result = work()
        seconds = time.perf_counter() - start
        peak = proc_status(self.pid)["VmHWM"]
        self.last_peak = peak / 1024
        return seconds, (peak - before) / 1024, result


def parallel(port: int, cookie: str, page: Page, n: int) -> list[tuple[float, int]]:
    results: list[tuple[float, int]] = [(0.0, 0)] * n

    def work(i: int, start: Any) -> None:
        client = Client(port, cookie)
        try:
            start()
            results[i] = client.fetch(page)
        finally:
            client.close()

    concurrently(n, work)
    return results


def download(port: int, cookie: str, path: str) -> tuple[str, int]:
    """SHA-256 and length of a download, read as it streams."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
    try:
        conn.request("GET", path, headers={"Cookie": cookie, "Connection": "close"})
        response = conn.getresponse()
        if response.status != 200:
            raise RuntimeError(f"GET {path}: {response.status}")
        digest = hashlib.sha256()
        size = 0
        while chunk := response.read(1024 * 1024):
            digest.update(chunk)
            size += len(chunk)
        return digest.hexdigest(), size
    finally:
        conn.close()


# --- The section --------------------------------------------------------------------------


def measure(ctx: Context, mode: str, settings: dict[str, str]) -> dict[str, Any]:
    site = ctx.site(SMTP_MAX_MESSAGE_MB="100", **settings)
    reader = f"reader-{uuid.uuid4().hex[:8]}@example.net"
    progress(f"bigmail: delivering a 48 MB message, encryption {mode}")
    box = in_child(site, "fill", reader, PASSWORD)
    size_mib = box["size"] / MiB
    out: dict[str, Any] = {"size": box["size"]}
    progress(f"bigmail: the baseline (parse the whole message), encryption {mode}")
    out["before_1"] = in_child(site, "baseline", box["blob"], "1")
    out["before_4"] = in_child(site, "baseline", box["blob"], str(PARALLEL))
    derived = site.data_dir / "derived"
    page = Page("message", f"/m/{box['id']}/", (SUBJECT.encode(), b"archive.zip"))

    def fresh(clear: bool) -> tuple[Process, int, str, Worker]:
        if clear:
            shutil.rmtree(derived, ignore_errors=True)
        process, port = start_web(ctx, site, workers=1)
        cookie = sign_in(port, reader, PASSWORD)
        Client(port, cookie).fetch(Page("inbox", "/inbox/", (SUBJECT.encode(),)))  # warm
        return process, port, cookie, Worker(worker_pid(process))

    progress(f"bigmail: {PARALLEL} first opens at once, encryption {mode}")
    process, port, cookie, worker = fresh(clear=True)
    seconds, growth, _ = worker.step(lambda: parallel(port, cookie, page, PARALLEL))
    out["parallel"] = {"seconds": seconds, "growth": growth, "peak": worker.last_peak}
    process.stop()

    firsts, agains, fresh_workers = [], [], []
    for repeat in range(REPEATS):
        progress(f"bigmail: first and second open, encryption {mode}, round {repeat + 1}")
        process, port, cookie, worker = fresh(clear=True)
        client = Client(port, cookie)
        first = worker.step(lambda: client.fetch(page))  # noqa: B023
        again = worker.step(lambda: client.fetch(page))  # noqa: B023
        firsts.append(first[:2])
        agains.append(again[:2])
        process.stop()
        process, port, cookie, worker = fresh(clear=False)
        client = Client(port, cookie)
        fresh_workers.append(worker.step(lambda: client.fetch(page))[:2])  # noqa: B023
        if repeat < REPEATS - 1:
            process.stop()
    out["first"] = firsts
    out["again"] = agains
    out["fresh"] = fresh_workers

    progress(f"bigmail: {PARALLEL} attachment downloads at once and the .eml, encryption {mode}")
    status, html = get(port, f"/m/{box['id']}/", {"Cookie": cookie})
    if status != 200:
        raise RuntimeError(f"the message page answered {status}")
    found = re.search(rb'href="(/m/[^"]+/attachment/\d+/)"[^>]*>\s*archive\.zip', html)
    if found is None:
        raise RuntimeError("no link to archive.zip on the message page")
    attachment = found[1].decode()
    results: list[tuple[str, int]] = [("", 0)] * PARALLEL

    def get_all() -> None:
        def work(i: int, start: Any) -> None:
            start()
            results[i] = download(port, cookie, attachment)

        concurrently(PARALLEL, work)

    seconds, growth, _ = worker.step(get_all)
    expected = (box["attachment_sha256"], box["attachment_size"])
    if any(r != expected for r in results):
        raise RuntimeError(f"an attachment download differs: {results} != {expected}")
    out["downloads"] = {"seconds": seconds, "growth": growth}
    seconds, growth, eml = worker.step(lambda: download(port, cookie, f"/m/{box['id']}/eml/"))
    if eml[1] != box["size"]:
        raise RuntimeError(f".eml download: {eml[1]} bytes, not {box['size']}")
    out["eml"] = {"seconds": seconds, "growth": growth}
    process.stop()
    out["size_mib"] = size_mib
    return out


def run(ctx: Context) -> None:
    results = {"off": measure(ctx, "off", {}), "on": measure(ctx, "on", ctx.vault().settings())}
    table = Table(
        f"A {results['off']['size_mib']:.0f} MiB message (a {ATTACHMENT // MiB} MiB attachment "
        "in base64): time and the gunicorn worker's peak memory growth, encryption at rest off "
        f"and on (single opens: median of {REPEATS} fresh workers)",
        [
            "step",
            "enc.",
            "seconds",
            "peak growth MiB",
            "peak / message size",
            "time / first open",
            "target",
        ],
    )
    for mode, out in results.items():
        size = out["size_mib"]
        first_s = median([s for s, _ in out["first"]])

        def row(label: str, seconds: float, growth: float, target: str = "") -> None:
            table.add(
                label if mode == "off" else "",  # noqa: B023
                mode,  # noqa: B023
                f"{seconds:.3f}",
                number(growth),
                ratio(growth, size, 2),  # noqa: B023
                ratio(seconds, first_s, 3),  # noqa: B023
                target,
            )

        b1, b4 = out["before_1"], out["before_4"]
        row(
            "before: read + parse whole, 1 thread (baseline)",
            b1["seconds"],
            b1["growth_kib"] / 1024,
        )
        row(
            f"before: read + parse whole, {PARALLEL} threads",
            b4["seconds"],
            b4["growth_kib"] / 1024,
        )
        par = out["parallel"]
        verdict = "< 3x: " + ("met" if par["growth"] < 3 * size else "MISSED")
        row(f"{PARALLEL} first opens at once (one parses)", par["seconds"], par["growth"], verdict)
        row(
            "first open alone (parse, derived file written)",
            first_s,
            median([g for _, g in out["first"]]),
        )
        again_s = median([s for s, _ in out["again"]])
        verdict = "< 10%: " + ("met" if again_s < 0.1 * first_s else "MISSED")
        row("second open, same worker", again_s, median([g for _, g in out["again"]]), verdict)
        fresh_s = median([s for s, _ in out["fresh"]])
        verdict = "< 10%: " + ("met" if fresh_s < 0.1 * first_s else "MISSED")
        row(
            "open in a fresh worker (derived file)",
            fresh_s,
            median([g for _, g in out["fresh"]]),
            verdict,
        )
        dl = out["downloads"]
        row(f"{PARALLEL} attachment downloads at once", dl["seconds"], dl["growth"])
        row(".eml download", out["eml"]["seconds"], out["eml"]["growth"])
    table.note(
        "peak growth: the worker's VmHWM after the step minus its VmRSS before it (VmHWM reset "
        "through /proc/PID/clear_refs); baseline rows: the same in a child process"
    )
    table.note(
        f"the worker's whole peak (VmHWM) during the {PARALLEL} first opens: "
        + ", ".join(
            f"{out['parallel']['peak']:.0f} MiB with encryption {mode} "
            f"({out['parallel']['peak'] / out['size_mib']:.2f}x the message)"
            for mode, out in results.items()
        )
        + "; the ratio column counts only the growth"
    )
    table.note(
        "time / first open: against the first open alone of the same mode; a second open "
        "reads the view from the worker's memory, a fresh worker from the derived file "
        "(sealed with encryption on: one RSA decryption)"
    )
    table.note(
        "every page is checked for the subject and the attachment's name; every download "
        "for its SHA-256 and length; SEALBOX_PARSE_SLOTS at its default"
    )
    table.print()


SECTION = Section(
    "bigmail",
    "a 48 MB message: memory and time of opening it, first, again and four at once",
    run,
)


if __name__ == "__main__":
    sys.exit(_child(sys.argv[1:]))

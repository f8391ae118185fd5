"""Portal pages: latency of the inbox and message pages beside a trivial Django view.

One mailbox holds MAILBOX_SIZE messages: a few delivered for real with
deliver(), the rest bulk-created rows pointing at hard links (or copies) of
those files, since deliver() fsyncs every message. The newest message is a
newsletter of about 2 MB of HTML (tables, inline styles, a <style> block,
remote images), the page whose frame goes through css-inline and nh3.

`sealbox web` (gunicorn, gthread) serves the pages with
DJANGO_SETTINGS_MODULE=bench.settings, which adds the baselines of bench.urls: a
trivial view answering "ok", bare and behind login_required. CLIENTS threads,
signed in with one real POST to /signin/, request one page for RUN_SECONDS at a
time. Each page's run is paired with a run of the login_required baseline
just before or after it (the order alternating between the REPEATS rounds), and
its ratios are to those baseline runs, so that both figures of a ratio were
taken under the same load on a shared machine. Every response is checked for
its status and for text only the right page has. Latencies are pooled over the
runs; requests/s is the median of the runs.

The second table times the stages of the 2 MB message's frame in one process,
without a server, to show where that page's time goes.
"""

from __future__ import annotations

import http.client
import http.cookiejar
import itertools
import json
import os
import random
import re
import subprocess
import sys
import time
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.policy import SMTP
from pathlib import Path
from typing import Any

from bench.util import (
    ROOT,
    SEALBOX,
    Context,
    KiB,
    MiB,
    Process,
    Section,
    Site,
    Table,
    concurrently,
    free_port,
    median,
    number,
    percentile,
    progress,
    ratio,
    spread,
)

CLIENTS = 2  # as many as the server has workers (and this machine may have CPUs)
WORKERS = 2  # SEALBOX_WEB_WORKERS; each has 4 threads
REPEATS = 3
RUN_SECONDS = 2.5
WARMUP = 3  # requests per client and page before the measured runs
AT_LEAST = 10  # requests per client in a run, however long that takes (the 2 MB frame)
KEEP_ALIVE = False  # a connection per request, so that requests spread over the workers
MAILBOX_SIZE = 10_000
PAGE_SIZE = 50  # sealbox.portal.views.PAGE_SIZE
DEEP_PAGE = 100
BIG_HTML_CHARS = 2_000_000  # under sanitize.MAX_INLINE_CSS_INPUT (2 MiB): css-inline runs
PASSWORD = "bench-portal-password-0123"
SESSION_COOKIE = "sealbox_session"
END_MARKER = "End of the Northwind digest, bench marker 7f3a9c"
STYLE_ONLY_COLOUR = "8a8f98"  # set only by the <style> block: in the frame only if inlined


# --- Messages ---------------------------------------------------------------------

WORDS = (
    "market quarter revenue growth outlook board member update policy customer region "
    "supply chain report figures pension fund review budget team launch product service "
    "network partner council energy price rate index forecast survey study results health "
    "travel season city harbour museum festival library school research award project "
    "community volunteer weekend event schedule programme delivery invoice account annual"
).split()

STYLE = """
body { margin: 0; padding: 0; background-color: #f3f4f6; font-family: Arial, Helvetica, sans-serif; }
table { border-collapse: collapse; }
.wrapper { width: 100%; background-color: #f3f4f6; }
.container { width: 640px; background-color: #ffffff; margin: 0 auto; }
.masthead { background-color: #0a3d62; color: #ffffff; padding: 20px 24px; font-size: 24px; font-weight: bold; }
.section-title { font-size: 13px; color: #0a3d62; text-transform: uppercase; letter-spacing: 1px; padding: 18px 24px 4px 24px; }
td.cell { padding: 14px 24px; border-bottom: 1px solid #e5e7eb; vertical-align: top; }
.meta { font-size: 12px; color: #6b7280; margin: 0 0 4px 0; }
.headline { font-size: 19px; line-height: 1.3; color: #111827; margin: 0 0 6px 0; font-weight: bold; }
.lead { font-size: 15px; line-height: 1.5; color: #374151; margin: 0 0 10px 0; }
.lead strong { color: #111827; }
a.more { color: #0a3d62; font-weight: bold; text-decoration: none; }
a.button { background-color: #0a3d62; color: #ffffff; padding: 8px 16px; border-radius: 4px; text-decoration: none; display: inline-block; }
.thumb { display: block; border: 0; width: 150px; height: 100px; }
.footer { font-size: 11px; line-height: 1.4; color: #8a8f98; text-align: center; padding: 24px; }
@media only screen and (max-width: 600px) {
  .container { width: 100% !important; }
  .thumb { width: 100% !important; height: auto !important; }
}
"""


def _words(rng: random.Random, n: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(n))


def _article(rng: random.Random, i: int) -> str:
    title = _words(rng, rng.randint(5, 9)).capitalize()
    lead = ". ".join(
        _words(rng, rng.randint(10, 18)).capitalize() for _ in range(rng.randint(3, 5))
    )
    url = f"https://news.northwind.example/{i // 10}/{i}?utm_source=digest&amp;utm_medium=email"
    section = ""
    if i % 25 == 0:
        section = (
            f'<tr><td class="section-title">Section {i // 25 + 1}: '
            f"{_words(rng, 2).title()}</td></tr>\n"
        )
    return (
        f'{section}<tr><td class="cell">'
        '<table role="presentation" width="100%" cellpadding="0" cellspacing="0" border="0"><tr>'
        f'<td width="160" valign="top"><a href="{url}"><img class="thumb" '
        f'src="https://cdn.northwind.example/img/{i:05d}.jpg" width="150" height="100" '
        f'alt="{title}" style="border: 0;"></a></td>'
        '<td valign="top" style="padding-left: 12px;">'
        f'<p class="meta">{_words(rng, 2).title()} &middot; {rng.randint(1, 28)} November 2026</p>'
        f'<h2 class="headline"><a href="{url}" style="color: #111827; text-decoration: none;">'
        f"{title}</a></h2>"
        f'<p class="lead"><strong>{_words(rng, 3).capitalize()}.</strong> {lead}.</p>'
        f'<p style="margin: 0;"><a class="more" href="{url}">Read more &rsaquo;</a></p>'
        "</td></tr></table></td></tr>\n"
    )


def newsletter_html(chars: int, seed: int = 2026) -> str:
    """A newsletter digest of about chars characters (ASCII), built the way mailers do."""
    rng = random.Random(seed)
    head = (
        '<!DOCTYPE html>\n<html><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>The Northwind digest</title>\n<style>{STYLE}</style></head>\n"
        '<body><table class="wrapper" role="presentation" width="100%" cellpadding="0" '
        'cellspacing="0" border="0"><tr><td align="center">\n'
        '<table class="container" role="presentation" width="640" cellpadding="0" '
        'cellspacing="0" border="0">\n'
        '<tr><td class="masthead"><img src="https://cdn.northwind.example/logo.png" '
        'width="180" height="40" alt="Northwind"> The Northwind digest</td></tr>\n'
    )
    tail = (
        '<tr><td class="footer">You receive this digest because you subscribed at '
        'northwind.example. <a href="https://news.northwind.example/unsubscribe" '
        f'style="color: #9ca3af;">Unsubscribe</a>.<br>{END_MARKER}</td></tr>\n'
        "</table></td></tr></table></body></html>\n"
    )
    parts = [head]
    length = len(head) + len(tail)
    for i in itertools.count():
        article = _article(rng, i)
        if length + len(article) > chars:
            break
        parts.append(article)
        length += len(article)
    parts.append(tail)
    return "".join(parts)


def _mail(subject: str, sender: str, serial: int) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = "Reader <reader@example.net>"
    msg["Subject"] = subject
    msg["Date"] = "Fri, 20 Nov 2026 09:30:00 +0000"
    msg["Message-ID"] = f"<portal-bench.{serial}@northwind.example>"
    return msg


def sample_messages() -> list[bytes]:
    """The small messages the mailbox is filled with: a note, a newsletter, a report, an alert."""
    note = _mail("Lunch on Thursday", "Alice Example <alice@partner.example>", 1)
    note.set_content(
        "Hi,\n\nare we still on for lunch on Thursday? The place on the harbour "
        "opens at noon.\n\nAlice\n"
    )
    letter = _mail(
        "The Northwind digest, short edition", "Northwind News <news@northwind.example>", 2
    )
    letter.set_content("The Northwind digest: read it in a mail program that shows HTML.\n")
    letter.add_alternative(
        newsletter_html(30 * KiB, seed=1), subtype="html", cte="quoted-printable"
    )
    report = _mail("Quarterly figures", "Carol Reports <carol@supplier.example>", 3)
    report.set_content("Please find the figures attached.\n\nKind regards,\nCarol\n")
    rng = random.Random(3)
    report.add_attachment(
        rng.randbytes(60 * KiB), maintype="application", subtype="pdf", filename="figures.pdf"
    )
    alert = _mail("Your statement is ready", "Bank Notices <notices@bank.example>", 4)
    alert.set_content(
        '<html><body><table width="100%"><tr><td style="padding: 20px; font-family: Arial;">'
        "<p>Your monthly statement is ready in online banking.</p></td></tr></table>"
        "</body></html>",
        subtype="html",
    )
    return [m.as_bytes(policy=SMTP) for m in (note, letter, report, alert)]


def big_message() -> tuple[bytes, str, int]:
    """The 2 MB newsletter: (wire bytes, subject, characters of HTML)."""
    html = newsletter_html(BIG_HTML_CHARS)
    subject = "The Northwind digest, November 2026 special edition"
    msg = _mail(subject, "Northwind News <news@northwind.example>", 5)
    msg.set_content(
        "The Northwind digest, November 2026 special edition.\n\n"
        "This message is best read in a mail program that shows HTML.\n"
    )
    msg.add_alternative(html, subtype="html", cte="quoted-printable")
    return msg.as_bytes(policy=SMTP), subject, len(html)


# --- Filling the mailbox: in a child process, with Django set up -----------------------


def fill(reader: str, password: str) -> dict[str, Any]:
    """Fill reader's mailbox; return what the parent needs to request and check pages."""
    import django

    django.setup()
    from datetime import timedelta

    from django.conf import settings
    from django.db import connection, transaction
    from django.utils import timezone

    from sealbox.accounts.models import User
    from sealbox.intake.delivery import deliver
    from sealbox.mailstore.models import Message

    began = time.monotonic()
    samples = [deliver("news@northwind.example", [reader], raw)[0] for raw in sample_messages()]
    raw, big_subject, html_chars = big_message()
    big = deliver("news@northwind.example", [reader], raw)[0]
    owner = User.objects.get(pk=big.owner_id)
    owner.set_password(password)
    owner.activated_at = timezone.now()
    owner.save(update_fields=["password", "activated_at"])

    data_dir = Path(settings.DATA_DIR)
    oldest = timezone.now() - timedelta(days=1)
    rows = []
    linked = copied = 0
    for i in range(MAILBOX_SIZE - len(samples) - 1):
        source = samples[i % len(samples)]
        message_id = uuid.uuid4()
        hexid = message_id.hex
        rel = f"messages/{hexid[:2]}/{hexid}.eml"
        target = data_dir / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(data_dir / source.blob, target)
            linked += 1
        except OSError:
            target.write_bytes((data_dir / source.blob).read_bytes())
            copied += 1
        received = oldest - timedelta(minutes=3 * i)
        rows.append(
            Message(
                id=message_id,
                owner_id=owner.pk,
                folder=Message.Folder.INBOX,
                blob=rel,
                size=source.size,
                received_at=received,
                envelope_from=source.envelope_from,
                message_id=f"<portal-bench.{i}.{hexid[:8]}@northwind.example>",
                from_name=source.from_name,
                from_address=source.from_address,
                subject=f"{source.subject} (no. {i + 1:05d})",
                sent_date=received,
                attachment_count=source.attachment_count,
                read_at=None if i % 7 == 0 else received + timedelta(hours=1),
            )
        )
    with transaction.atomic():
        Message.objects.bulk_create(rows, batch_size=1000)
    if connection.vendor == "postgresql":
        # What autovacuum would soon do after so many new rows: statistics for
        # the planner and a visibility map for index-only scans. Without them
        # the first run plans for an empty table and a later one may not.
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE mailstore_message")

    inbox = Message.objects.filter(owner_id=owner.pk, folder=Message.Folder.INBOX).order_by(
        "-received_at", "-id"
    )
    count = inbox.count()
    if count != MAILBOX_SIZE:
        raise RuntimeError(f"the mailbox holds {count} messages, not {MAILBOX_SIZE}")
    subjects = list(inbox.values_list("subject", flat=True))
    return {
        "seconds": time.monotonic() - began,
        "vacuumed": connection.vendor == "postgresql",
        "linked": linked,
        "copied": copied,
        "count": count,
        "pages": -(-count // PAGE_SIZE),
        "first_subject": subjects[0],
        "deep_subject": subjects[(DEEP_PAGE - 1) * PAGE_SIZE],
        "big_id": str(big.id),
        "big_subject": big_subject,
        "big_size": big.size,
        "big_html_chars": html_chars,
        "stages": stage_timings(big.blob),
    }


def stage_timings(blob: str, repeats: int = 3) -> dict[str, Any]:
    """Median ms of each step of the message page and its frame for one stored message."""
    from django.template.loader import render_to_string

    from sealbox.mailstore import blobs, mime
    from sealbox.mailstore.sanitize import (
        MAX_INLINE_CSS_INPUT,
        clean_html,
        has_remote_images,
        inline_styles,
    )

    def timed(fn: Any) -> tuple[float, Any]:
        times = []
        result = None
        for _ in range(repeats):
            start = time.perf_counter()
            result = fn()
            times.append((time.perf_counter() - start) * 1000)
        return median(times), result

    def no_cid(cid: str) -> str | None:
        return None

    read_ms, raw = timed(lambda: blobs.read(blob))
    view_ms, view = timed(lambda: mime.view(raw))
    html = view.html or ""
    remote_ms, _ = timed(lambda: has_remote_images(html))
    inline_ms, inlined = timed(lambda: inline_styles(html))
    # The inlined HTML has no <style> left, so clean_html skips the inliner: nh3 alone.
    nh3_ms, clean = timed(lambda: clean_html(inlined, no_cid))
    clean_all_ms, _ = timed(lambda: clean_html(html, no_cid))
    render_ms, _ = timed(lambda: render_to_string("portal/frame.html", {"html": clean.html}))
    return {
        "rows": [  # step, ms, whether the frame (/m/<id>/body/) does it
            ["blobs.read()", read_ms, True],
            ["mime.view(): parse, decode the parts", view_ms, True],
            ["has_remote_images() (the message page only)", remote_ms, False],
            ["inline_styles(): css-inline", inline_ms, True],
            ["nh3 on the inlined HTML, with its Python attribute_filter", nh3_ms, True],
            ["clean_html(): css-inline + nh3, as the frame calls it", clean_all_ms, True],
            ["render_to_string('portal/frame.html')", render_ms, True],
        ],
        "page_ms": read_ms + view_ms + remote_ms,
        "frame_ms": read_ms + view_ms + clean_all_ms + render_ms,
        "html_chars": len(html),
        "inlined_chars": len(inlined),
        "clean_chars": len(clean.html),
        "inline_limit": MAX_INLINE_CSS_INPUT,
    }


def _child(argv: list[str]) -> int:
    if argv[:1] != ["fill"] or len(argv) != 3:
        print("usage: python -m bench.portal fill READER PASSWORD", file=sys.stderr)
        return 2
    result = fill(argv[1], argv[2])
    print("RESULT " + json.dumps(result))
    return 0


def fill_mailbox(site: Site, reader: str) -> dict[str, Any]:
    env = site.env()
    env["DJANGO_SETTINGS_MODULE"] = "sealbox.settings"
    done = subprocess.run(
        [sys.executable, "-m", "bench.portal", "fill", reader, PASSWORD],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    lines = [x for x in done.stdout.splitlines() if x.startswith("RESULT ")]
    if done.returncode != 0 or not lines:
        raise RuntimeError(
            f"filling the mailbox failed ({done.returncode}):\n{done.stderr[-3000:]}"
        )
    result: dict[str, Any] = json.loads(lines[-1].removeprefix("RESULT "))
    return result


# --- The server and its clients -----------------------------------------------------


def start_web(ctx: Context, site: Site) -> tuple[Process, int]:
    """`sealbox web` with bench.settings on a free port, answering /healthz."""
    port = free_port()
    env = site.env(WEB_WORKERS=str(WORKERS), BASE_URL=f"http://127.0.0.1:{port}")
    env["DJANGO_SETTINGS_MODULE"] = "bench.settings"  # sealbox.cli only sets a default
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    process = ctx.start(
        "sealbox web",
        [*SEALBOX, "web", "--listen", f"127.0.0.1:{port}"],
        env,
        cwd=site.data_dir,
    )
    deadline = time.monotonic() + 60
    while True:
        if process.popen.poll() is not None:
            raise RuntimeError(
                f"sealbox web exited with {process.popen.returncode}:\n{process.log_tail()}"
            )
        try:
            status, _ = get(port, "/healthz")
            if status == 200:
                return process, port
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"sealbox web did not answer on port {port}:\n{process.log_tail()}")
        time.sleep(0.1)


def get(port: int, path: str, headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("GET", path, headers=headers or {})
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def sign_in(port: int, email: str, password: str) -> str:
    """Sign in with a real form POST; return the Cookie header for the signed-in client."""
    base = f"http://127.0.0.1:{port}"
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    with opener.open(base + "/signin/", timeout=30) as response:
        form = response.read().decode()
    found = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form)
    if found is None:
        raise RuntimeError("no CSRF token in the sign-in form")
    data = urllib.parse.urlencode(
        {"csrfmiddlewaretoken": found[1], "username": email, "password": password, "next": ""}
    ).encode()
    with opener.open(base + "/signin/", data=data, timeout=30) as response:
        landed = urllib.parse.urlsplit(response.geturl()).path
        response.read()
    cookies = {c.name: c.value for c in jar}
    if landed != "/inbox/" or SESSION_COOKIE not in cookies:
        raise RuntimeError(f"signing in failed: landed on {landed}, cookies {sorted(cookies)}")
    return "; ".join(f"{name}={value}" for name, value in cookies.items())


@dataclass(frozen=True)
class Page:
    label: str
    path: str
    expect: tuple[bytes, ...]  # in every response, or the run fails
    signed_in: bool = True


@dataclass
class Run:
    requests: int
    seconds: float
    latencies: list[float] = field(default_factory=list)
    body_bytes: int = 0

    @property
    def rate(self) -> float:
        return self.requests / self.seconds


class Client:
    """One client thread's HTTP connection (or a fresh one per request)."""

    def __init__(self, port: int, cookie: str) -> None:
        self.port = port
        self.cookie = cookie
        self.conn: http.client.HTTPConnection | None = None

    def fetch(self, page: Page) -> tuple[float, int]:
        """GET the page, check the response; (seconds to the last byte, body bytes)."""
        headers = {"Accept": "text/html", "Accept-Language": "en"}
        if page.signed_in:
            headers["Cookie"] = self.cookie
        if not KEEP_ALIVE:
            headers["Connection"] = "close"
        start = time.perf_counter()
        if self.conn is None:
            self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
        self.conn.request("GET", page.path, headers=headers)
        response = self.conn.getresponse()
        body = response.read()
        elapsed = time.perf_counter() - start
        if response.will_close:
            self.close()
        if response.status != 200:
            raise RuntimeError(f"GET {page.path}: {response.status}, {body[:300]!r}")
        missing = [e for e in page.expect if e not in body]
        if missing:
            raise RuntimeError(f"GET {page.path}: 200 without {missing[0]!r}: {body[:300]!r}")
        return elapsed, len(body)

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None


def load(
    port: int,
    cookie: str,
    page: Page,
    *,
    per_client: int | None = None,
    seconds: float | None = None,
    at_least: int = 0,
) -> Run:
    """CLIENTS threads request the page, per_client times each or for as many seconds.

    A timed run lets each client finish the request it is waiting for at the
    deadline, and goes on until each client made at_least requests; the run
    lasts from the start to the last response.
    """
    latencies: list[list[float]] = [[] for _ in range(CLIENTS)]
    sizes = [0] * CLIENTS

    def work(i: int, start: Callable[[], object]) -> None:
        client = Client(port, cookie)
        try:
            start()
            deadline = time.perf_counter() + (seconds or 0)
            n = 0
            while (per_client is None or n < per_client) and (
                seconds is None or time.perf_counter() < deadline or n < at_least
            ):
                elapsed, size = client.fetch(page)
                latencies[i].append(elapsed)
                sizes[i] = size
                n += 1
        finally:
            client.close()

    elapsed = concurrently(CLIENTS, work)
    pooled = [x for per_thread in latencies for x in per_thread]
    return Run(len(pooled), elapsed, pooled, max(sizes))


# --- The section ----------------------------------------------------------------------


def latency(ctx: Context, site: Site, mailbox: dict[str, Any], reader: str) -> None:
    process, port = start_web(ctx, site)
    progress(f"portal: sealbox web ({WORKERS} workers) on port {port}; signing in")
    cookie = sign_in(port, reader, PASSWORD)
    big = mailbox["big_id"]
    big_subject = mailbox["big_subject"].encode()
    pages = [
        Page("trivial view, no session", "/bench/trivial/", (b"ok",), signed_in=False),
        Page("trivial view, login_required", "/bench/trivial-login/", (b"ok",)),
        Page(
            "/inbox/ (page 1)",
            "/inbox/",
            (
                mailbox["first_subject"].encode(),
                f"Page 1 of {mailbox['pages']}".encode(),
            ),
        ),
        Page(
            f"/inbox/?page={DEEP_PAGE}",
            f"/inbox/?page={DEEP_PAGE}",
            (
                mailbox["deep_subject"].encode(),
                f"Page {DEEP_PAGE} of {mailbox['pages']}".encode(),
            ),
        ),
        Page("/m/<id>/ (2 MB HTML)", f"/m/{big}/", (big_subject, f"/m/{big}/body/".encode())),
        Page(
            "/m/<id>/body/ (2 MB, cached)",
            f"/m/{big}/body/",
            (END_MARKER.encode(), STYLE_ONLY_COLOUR.encode()),
        ),
    ]
    bare, baseline, real = pages[0], pages[1], pages[2:]

    for page in pages:
        progress(f"portal: warming up {page.label}")
        load(port, cookie, page, per_client=WARMUP)
    runs: dict[str, list[Run]] = {p.label: [] for p in pages}
    # The baseline runs next to each page's runs, so that each ratio compares
    # figures taken under the same load on a shared machine.
    paired: dict[str, list[Run]] = {p.label: [] for p in pages}

    def measure(page: Page, label: str) -> None:
        run = load(port, cookie, page, seconds=RUN_SECONDS, at_least=AT_LEAST)
        runs[page.label].append(run)
        paired[label].append(run)
        progress(
            f"portal: {page.label} run {len(runs[page.label])}: {run.requests} requests "
            f"in {run.seconds:.2f}s, p50 {percentile(run.latencies, 50) * 1000:.1f} ms"
        )

    for repeat in range(REPEATS):
        # Alternate the orders so that no page always runs on a machine another warmed.
        forward = repeat % 2 == 0
        measure(bare, bare.label)
        for page in real if forward else real[::-1]:
            for each in (baseline, page) if forward else (page, baseline):
                measure(each, page.label)
    process.stop()

    def pooled(rs: list[Run]) -> list[float]:
        return [x * 1000 for r in rs for x in r.latencies]

    table = Table(
        f"Portal latency: {CLIENTS} concurrent clients against `sealbox web` "
        f"({WORKERS} gthread workers x 4 threads), one mailbox of {mailbox['count']:,} messages "
        f"({REPEATS} runs of {RUN_SECONDS:g}s or {AT_LEAST} requests per client per page, "
        "each next to a run of the trivial login_required view)",
        [
            "page",
            "requests",
            "KiB",
            "p50 ms",
            "p95 ms",
            "req/s",
            "p50 ratio to trivial",
            "p95 ratio to trivial",
            "spread req/s",
        ],
    )
    for page in pages:
        lat = pooled(runs[page.label])
        # The pages' own baseline runs; the bare view is compared to all of them.
        base = pooled(runs[baseline.label] if page in (bare, baseline) else paired[page.label])
        rates = [r.rate for r in runs[page.label]]
        table.add(
            page.label,
            f"{sum(r.requests for r in runs[page.label]):,}",
            number(max(r.body_bytes for r in runs[page.label]) / KiB),
            number(percentile(lat, 50)),
            number(percentile(lat, 95)),
            number(median(rates)),
            ratio(percentile(lat, 50), percentile(base, 50), 2),
            ratio(percentile(lat, 95), percentile(base, 95), 2),
            spread(rates),
        )
    table.note(
        "ratios are to the trivial view behind login_required: it pays the same session and "
        "user lookups (and the session renewal at most once a minute) as the real pages; each "
        "page's ratios use the baseline runs taken right before or after its own runs"
    )
    table.note(
        "the frame (/body/) is cached per process once sanitised, so these runs measure the "
        "cache; a first load pays the frame's steps in the table below"
    )
    table.note(
        "latency: from sending the GET to the last byte of the response, pooled over all runs; "
        "req/s: median over the runs"
    )
    table.note(
        "every response is checked: 200, and text only the right page has (the subjects of "
        "the rows expected on that page, the page count, the frame's end marker and a colour "
        "only inlining the <style> block puts in the frame)"
    )
    table.note(
        f"connections: {'kept alive per client' if KEEP_ALIVE else 'a new one per request'}; "
        "spread: (max - min) / median of req/s over the runs"
    )
    table.note(
        f"the 2 MB message: {mailbox['big_size'] / MiB:.2f} MiB stored, multipart/alternative, "
        f"{mailbox['big_html_chars']:,} characters of quoted-printable HTML (tables, inline "
        "styles, a <style> block, remote images)"
    )
    if mailbox["vacuumed"]:
        table.note("PostgreSQL: VACUUM ANALYZE mailstore_message ran after the bulk insert")
    table.print()


def stages_table(mailbox: dict[str, Any]) -> None:
    stages = mailbox["stages"]
    frame = stages["frame_ms"]
    table = Table(
        "Portal, where the 2 MB message's time goes: each step in one process, no server "
        "(median of 3)",
        ["step", "ms", "share of the frame"],
    )
    for label, ms, in_frame in stages["rows"]:
        share = f"{ms / frame * 100:.0f}%" if frame and in_frame else ""
        table.add(label, number(ms), share)
    table.add(
        "= the message page's steps (read, view, remote check)", number(stages["page_ms"]), ""
    )
    table.add("= the frame's steps (read, view, clean_html, render)", number(frame), "100%")
    limit = stages["inline_limit"]
    table.note(
        f"HTML: {stages['html_chars']:,} characters; {stages['inlined_chars']:,} after "
        f"css-inline, {stages['clean_chars']:,} after nh3"
    )
    table.note(
        f"css-inline runs only on HTML up to {limit:,} characters "
        f"(sanitize.MAX_INLINE_CSS_INPUT); this message is "
        f"{'under' if stages['html_chars'] <= limit else 'OVER'} it"
    )
    table.note("the css-inline and nh3 rows are the two parts of the clean_html() row")
    table.print()


def run(ctx: Context) -> None:
    site = ctx.site()
    reader = f"reader-{uuid.uuid4().hex[:8]}@example.net"
    progress(f"portal: filling the mailbox of {reader} with {MAILBOX_SIZE:,} messages")
    mailbox = fill_mailbox(site, reader)
    progress(
        f"portal: mailbox filled in {mailbox['seconds']:.1f}s "
        f"({mailbox['linked']} hard links, {mailbox['copied']} copies)"
    )
    latency(ctx, site, mailbox, reader)
    stages_table(mailbox)


SECTION = Section("portal", "inbox and message page latency beside a trivial Django view", run)


if __name__ == "__main__":
    sys.exit(_child(sys.argv[1:]))

"""The portal section's mailbox: its messages, and filling it in a child process.

One mailbox holds MAILBOX_SIZE messages: a few delivered for real with
deliver(), the rest bulk-created rows pointing at hard links (or copies) of
those files, since deliver() fsyncs every message. The newest message is a
newsletter of about 2 MB of HTML (tables, inline styles, a <style> block,
remote images), the page whose frame goes through css-inline and nh3; its
2 x FIRST_LOADS copies, the oldest rows, are each opened once for the frame's first
loads: half of them prepared as the worker prepares a new message (portal/frame.prepare),
half not.

With encryption at rest on (the site's settings), deliver() seals the delivered
messages itself, and each bulk-created row gets its index fields sealed by
sealbox.mailstore.sealed.seal_fields() as deliver() does, its plain columns
empty and its file a hard link to a sealed file.

The filling runs as `python -m bench.mailbox fill READER PASSWORD` with the
site's environment, and prints what the parent needs as one JSON line.
"""

from __future__ import annotations

import itertools
import json
import os
import random
import subprocess
import sys
import time
import uuid
from email.message import EmailMessage
from email.policy import SMTP
from pathlib import Path
from typing import Any

from bench.util import ROOT, KiB, Site, median

MAILBOX_SIZE = 10_000
PAGE_SIZE = 50  # sealbox.portal.views.PAGE_SIZE
DEEP_PAGE = 100
COLD_PAGES = 5  # pages 2.. whose first rows' subjects the cold inbox checks
BIG_HTML_CHARS = 2_000_000  # under sanitize.MAX_INLINE_CSS_INPUT (2 MiB): css-inline runs
PASSWORD = "bench-portal-password-0123"
STAGE_REPEATS = 5  # of each step in stage_timings()
# Copies of the 2 MB message, each opened once (page, then frame) for the frame's first
# loads in bench/portal.py; they are the mailbox's oldest rows, off the pages timed.
FIRST_LOADS = 12
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


def _another_copy(raw: bytes, n: int) -> bytes:
    """The 2 MB message again under a Message-ID of its own: a message no process has opened."""
    copy = raw.replace(
        b"<portal-bench.5@northwind.example>", f"<portal-bench.5.{n}@northwind.example>".encode(), 1
    )
    if copy == raw:
        raise RuntimeError("the 2 MB message has no Message-ID to change")
    return copy


# --- Filling the mailbox: in a child process, with Django set up -----------------------


def fill(reader: str, password: str) -> dict[str, Any]:
    """Fill reader's mailbox; return what the parent needs to request and check pages.

    With encryption at rest on (the site's settings), the delivered messages are
    sealed by deliver() itself, and every bulk-created row gets its index fields
    sealed by sealed.seal_fields(), as deliver() does, with the plain columns
    left empty; its file is a hard link to a sealed file.
    """
    import django

    django.setup()
    from datetime import timedelta

    from django.conf import settings
    from django.db import connection, transaction
    from django.utils import timezone

    from sealbox.accounts import phrase
    from sealbox.accounts.models import User
    from sealbox.intake.delivery import deliver
    from sealbox.mailstore import blobs, sealed, search
    from sealbox.mailstore.models import Message
    from sealbox.portal import frame
    from sealbox.vault import seal

    began = time.monotonic()
    to = seal.sealing_to()
    samples = [deliver("news@northwind.example", [reader], raw)[0] for raw in sample_messages()]
    raw, big_subject, html_chars = big_message()
    big = deliver("news@northwind.example", [reader], raw)[0]
    copies = [
        deliver("news@northwind.example", [reader], _another_copy(raw, n))[0]
        for n in range(FIRST_LOADS)
    ]
    prepared = [
        deliver("news@northwind.example", [reader], _another_copy(raw, FIRST_LOADS + n))[0]
        for n in range(FIRST_LOADS)
    ]
    prepare_ms = []
    for message in prepared:  # as the worker does before it sends the notification
        start = time.perf_counter()
        assert frame.prepare(message)
        prepare_ms.append((time.perf_counter() - start) * 1000)
    owner = User.objects.get(pk=big.owner_id)
    owner.set_password(password)
    owner.activated_at = timezone.now()
    owner.phrase = phrase.generate()  # as activation gives it: sign-in lands on the inbox
    owner.save(update_fields=["password", "activated_at", "phrase"])

    data_dir = Path(settings.DATA_DIR)
    oldest = timezone.now() - timedelta(days=1)
    rows = []
    linked = copied = 0
    seal_seconds = 0.0
    for i in range(MAILBOX_SIZE - len(samples) - 1 - 2 * FIRST_LOADS):
        source = samples[i % len(samples)]
        message_id = uuid.uuid4()
        rel = blobs.relative_path(message_id, to.set_id if to else None)
        target = data_dir / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(data_dir / source.blob, target)
            linked += 1
        except OSError:
            target.write_bytes((data_dir / source.blob).read_bytes())
            copied += 1
        received = oldest - timedelta(minutes=3 * i)
        content = {
            "from_name": source.from_name,
            "from_address": source.from_address,
            "subject": f"{source.subject} (no. {i + 1:05d})",
            "to_display": source.to_display,
            "sent_date": received,
            "attachment_names": source.attachment_names,
        }
        summary = None
        if to is not None:
            start = time.perf_counter()
            summary = sealed.seal_fields(content, to)
            seal_seconds += time.perf_counter() - start
            content = {name: value for name, value in sealed.blank_columns().items()
                       if name != "message_id"}  # fmt: skip
        else:
            # bulk_create() skips the pre_save signal that sets it (models.py).
            content["search_text"] = search.index_text(
                {**content, "envelope_from": source.envelope_from}
            )
        rows.append(
            Message(
                id=message_id,
                owner_id=owner.pk,
                folder=Message.Folder.INBOX,
                blob=rel,
                size=source.size,
                received_at=received,
                envelope_from=source.envelope_from,
                message_id=f"<portal-bench.{i}.{message_id.hex[:8]}@northwind.example>",
                attachment_count=source.attachment_count,
                read_at=None if i % 7 == 0 else received + timedelta(hours=1),
                sealed_summary=summary,
                **content,
            )
        )
    with transaction.atomic():
        Message.objects.bulk_create(rows, batch_size=1000)
        Message.objects.filter(id__in=[c.id for c in copies]).update(
            received_at=oldest - timedelta(days=30)
        )
    if connection.vendor == "postgresql":
        # What autovacuum would soon do after so many new rows: statistics for
        # the planner and a visibility map for index-only scans. Without them
        # the first run plans for an empty table and a later one may not.
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE mailstore_message")
    filled = time.monotonic() - began

    inbox = Message.objects.filter(owner_id=owner.pk, folder=Message.Folder.INBOX).order_by(
        "-received_at", "-id"
    )
    count = inbox.count()
    if count != MAILBOX_SIZE:
        raise RuntimeError(f"the mailbox holds {count} messages, not {MAILBOX_SIZE}")
    sealed_rows = inbox.filter(sealed_summary__isnull=False).count()
    if sealed_rows != (count if to else 0):
        raise RuntimeError(f"{sealed_rows} of {count} rows have a sealed summary")

    def subject_at(position: int) -> str:
        # One row loaded as a model, so that a sealed summary is opened.
        return str(inbox.only("id", "subject", "sealed_summary")[position].subject)

    report = samples[2]
    if report.attachment_count != 1:
        raise RuntimeError(f"the report has {report.attachment_count} attachments, not 1")
    # What the search pages look for (bench/portal.py): the report's attachment, in
    # one message in len(samples), and one message's number in its subject.
    with_attachment = inbox.filter(attachment_count=1, size=report.size).count()
    middle = MAILBOX_SIZE // 2  # the row numbered middle + 1, in the middle of the mailbox
    return {
        "seconds": filled,
        "seal_seconds": seal_seconds,
        "sealed": to is not None,
        "vacuumed": connection.vendor == "postgresql",
        "linked": linked,
        "copied": copied,
        "count": count,
        "pages": -(-count // PAGE_SIZE),
        # The first subject of pages 1 to COLD_PAGES + 1, and of DEEP_PAGE.
        "page_subjects": {
            str(n): subject_at((n - 1) * PAGE_SIZE) for n in [*range(1, COLD_PAGES + 2), DEEP_PAGE]
        },
        "big_id": str(big.id),
        "big_subject": big_subject,
        "big_size": big.size,
        "big_stored_bytes": (data_dir / big.blob).stat().st_size,
        "big_html_chars": html_chars,
        "first_load_ids": [str(c.id) for c in copies],
        "prepared_ids": [str(c.id) for c in prepared],
        "prepare_ms": prepare_ms,
        "small_id": str(report.id),
        "small_subject": report.subject,
        "small_size": report.size,
        "search_attachment_matches": with_attachment,
        "search_one": f"no. {middle + 1:05d}",
        "search_one_subject": f"{samples[middle % len(samples)].subject} (no. {middle + 1:05d})",
        "open_summary_ms": summary_timing(big) if to else None,
        "stages": stage_timings(big),
    }


def summary_timing(message: Any, repeats: int = 50) -> float:
    """Median ms to open one message's sealed summary: one RSA decryption and the JSON."""
    from sealbox.mailstore import sealed

    data = bytes(message.sealed_summary)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        sealed.open_fields(data)
        times.append((time.perf_counter() - start) * 1000)
    return median(times)


def stage_timings(message: Any, repeats: int = STAGE_REPEATS) -> dict[str, Any]:
    """Median ms of each step of the message page and its frame for one stored message."""
    from django.template.loader import render_to_string

    from sealbox.mailstore import blobs, mime, opened
    from sealbox.mailstore.sanitize import (
        MAX_INLINE_CSS_INPUT,
        clean_html,
        clean_html_in_time,
        has_remote_images,
        inline_styles,
    )
    from sealbox.vault import seal

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

    blob = message.blob
    file_ms, stored = timed(lambda: blobs.read_stored(blob))
    open_ms, raw = timed(lambda: seal.open_sealed(stored))
    read_ms = file_ms + open_ms
    view_ms, view = timed(lambda: mime.view(raw))
    html = view.html or ""
    remote_ms, _ = timed(lambda: has_remote_images(html))
    inline_ms, inlined = timed(lambda: inline_styles(html))
    # The inlined HTML has no <style> left, so clean_html skips the inliner: nh3 alone.
    nh3_ms, clean = timed(lambda: clean_html(inlined, no_cid))
    clean_all_ms, _ = timed(lambda: clean_html(html, no_cid))
    child_ms, _ = timed(lambda: clean_html_in_time(html, no_cid, False, 60))
    render_ms, _ = timed(lambda: render_to_string("portal/frame.html", {"html": clean.html}))

    # The frame looks for a kept copy (none yet: the page has just written the view),
    # sanitises, answers, and then keeps the result with the view (FrameResponse.close).
    opened.read(message)
    look_ms, _ = timed(lambda: opened.cleaned_html(message, "bench"))
    names = iter(range(repeats))
    keep_ms, _ = timed(
        lambda: opened.keep_cleaned_html(message, f"bench {next(names)}", clean.html)
    )

    def kept() -> str:
        opened.clear_memory()  # as in another worker: the view and the HTML from the file
        found = opened.cleaned_html(message, f"bench {repeats - 1}")
        if found is None:
            raise RuntimeError("the kept HTML was not found")
        return found

    kept_ms, _ = timed(kept)
    first_ms = look_ms + child_ms + render_ms
    return {
        "rows": [  # step, ms, whether the frame's first load (/m/<id>/body/) does it
            ["blobs.read_stored(): the file's bytes", file_ms, False],
            ["seal.open_sealed(): CMS decryption (off: a no-op)", open_ms, False],
            ["mime.view(): parse, decode the parts (the page's first view)", view_ms, False],
            ["has_remote_images() (the message page only)", remote_ms, False],
            ["inline_styles(): css-inline", inline_ms, False],
            ["nh3 on the inlined HTML, with its Python attribute_filter", nh3_ms, False],
            ["clean_html(): css-inline + nh3, in this process", clean_all_ms, False],
            [
                "opened.cleaned_html(): a kept copy? (none: the page just wrote the file)",
                look_ms,
                True,
            ],
            ["clean_html_in_time(): the same in a forked child, as served", child_ms, True],
            ["render_to_string('portal/frame.html')", render_ms, True],
            [
                "opened.keep_cleaned_html(): kept with the view, once the frame is sent",
                keep_ms,
                False,
            ],
            ["opened.cleaned_html(), kept: view and HTML from the derived file", kept_ms, False],
        ],
        "page_ms": read_ms + view_ms + remote_ms,
        "frame_ms": read_ms + view_ms + clean_all_ms + render_ms,
        "first_ms": first_ms,
        "kept_ms": kept_ms + render_ms,
        "html_chars": len(html),
        "inlined_chars": len(inlined),
        "clean_chars": len(clean.html),
        "inline_limit": MAX_INLINE_CSS_INPUT,
    }


def _child(argv: list[str]) -> int:
    if argv[:1] != ["fill"] or len(argv) != 3:
        print("usage: python -m bench.mailbox fill READER PASSWORD", file=sys.stderr)
        return 2
    result = fill(argv[1], argv[2])
    print("RESULT " + json.dumps(result))
    return 0


def fill_mailbox(site: Site, reader: str) -> dict[str, Any]:
    env = site.env()
    env["DJANGO_SETTINGS_MODULE"] = "sealbox.settings"
    done = subprocess.run(
        [sys.executable, "-m", "bench.mailbox", "fill", reader, PASSWORD],
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


if __name__ == "__main__":
    sys.exit(_child(sys.argv[1:]))

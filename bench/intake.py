"""SMTP intake: throughput beside a trivial aiosmtpd sink, and peak memory for one big message,
with encryption at rest off and on.

Throughput: CLIENTS threads, each with one SMTP connection, send messages one
transaction after the other (MAIL, RCPT, DATA, wait for the 250) to `sealbox
smtpd` with encryption at rest off, to another with it on, and to bench.sink,
the same SMTP library storing nothing. Runs of the three take turns; the figures
are medians over REPEATS runs, and the ratios to the sink and of on to off are
what to compare between machines and versions. With encryption on, the intake
has the certificates only (a 3072-bit service and a 3072-bit escrow certificate,
as bench.util.Vault makes them), never the key, as in production.

Memory: one message just under the 50 MiB limit sent to a freshly started
process; VmHWM in /proc/PID/status is its peak resident set.
"""

from __future__ import annotations

import base64
import itertools
import os
import smtplib
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from bench.util import (
    INTERNAL_DOMAIN,
    Context,
    KiB,
    MiB,
    Process,
    Section,
    Site,
    Table,
    concurrently,
    median,
    number,
    percentile,
    progress,
    ratio,
    spread,
    start_sink,
)

CLIENTS = 4
REPEATS = 3
MAX_MESSAGE_MB = 50  # SEALBOX_SMTP_MAX_MESSAGE_MB, also given to the sink
SENDER = f"reports@{INTERNAL_DOMAIN}"
RECIPIENTS = [f"r{i:02d}@example.net" for i in range(40)]
BIG_MESSAGE = 49 * MiB  # wire size, leaving room under the limit


RUN_SECONDS = 4.0  # each measured run; the sink gets through many more messages than Sealbox


@dataclass(frozen=True)
class Size:
    label: str
    bytes: int
    warmup: int  # messages each client sends before the measured runs


SIZES = [
    Size("10 KiB", 10 * KiB, warmup=10),  # 4 x 10 also opens all the recipients' mailboxes
    Size("1 MiB", 1 * MiB, warmup=3),
]

# --- Messages --------------------------------------------------------------------

_serial = itertools.count(1)


class Mail:
    """A multipart/mixed message of an exact wire size: a short text and a base64 attachment.

    The body (and its random attachment) is built once; every message gets its
    own headers of a fixed length: a distinct Message-ID, Subject and To.
    """

    BOUNDARY = "=_sealbox_bench_7f3a9c"
    DATE = "Fri, 20 Nov 2026 09:30:00 +0000"
    TEXT = (
        "Hello,\r\n"
        "\r\n"
        "please find attached the figures we discussed on the phone this morning.\r\n"
        "The totals on page 3 are still provisional; the final version follows next week.\r\n"
        "\r\n"
        "Kind regards,\r\n"
        "Carol Reports\r\n"
        "Finance, Corp Example Ltd."
    )

    def __init__(self, size: int) -> None:
        before = (
            "This is a multi-part message in MIME format.\r\n"
            "\r\n"
            f"--{self.BOUNDARY}\r\n"
            'Content-Type: text/plain; charset="utf-8"\r\n'
            "Content-Transfer-Encoding: 7bit\r\n"
            "\r\n"
            f"{self.TEXT}"
        ).encode()
        middle = (
            "\r\n"
            f"--{self.BOUNDARY}\r\n"
            'Content-Type: application/pdf; name="figures.pdf"\r\n'
            "Content-Transfer-Encoding: base64\r\n"
            'Content-Disposition: attachment; filename="figures.pdf"\r\n'
            "\r\n"
        ).encode()
        after = f"--{self.BOUNDARY}--\r\n".encode()
        fixed = len(self.head("r00@example.net")) + len(before) + len(middle) + len(after)
        if size < fixed + 78:
            raise ValueError(f"a message of {size} bytes is too small for its headers")
        # 57 bytes encode to one full 76-character base64 line and its CRLF: 78 bytes.
        lines, pad = divmod(size - fixed, 78)
        encoded = base64.encodebytes(os.urandom(lines * 57)).replace(b"\n", b"\r\n")
        # The text's last line takes up what the whole base64 lines leave over.
        self.body = before + b" " * pad + middle + encoded + after
        self.size = len(self.head("r00@example.net")) + len(self.body)
        assert self.size == size, (self.size, size)

    def head(self, rcpt: str, serial: int = 0) -> bytes:
        return (
            "From: Carol Reports <reports@corp.example>\r\n"
            f"To: <{rcpt}>\r\n"
            f"Subject: Figures, issue {serial:010d}\r\n"
            f"Date: {self.DATE}\r\n"
            f"Message-ID: <bench.{serial:010d}@corp.example>\r\n"
            "MIME-Version: 1.0\r\n"
            f'Content-Type: multipart/mixed; boundary="{self.BOUNDARY}"\r\n'
            "\r\n"
        ).encode()

    def wire(self, rcpt: str) -> bytes:
        """DATA as sent: headers, body and the terminating dot (no line starts with a dot)."""
        return self.head(rcpt, next(_serial)) + self.body + b".\r\n"


# --- Clients ---------------------------------------------------------------------


class Client:
    """One SMTP connection; send() times one whole transaction."""

    def __init__(self, address: tuple[str, int]) -> None:
        self.smtp = smtplib.SMTP(*address, timeout=600)
        # The client is the instrument: no Nagle delay on the final segment of DATA.
        assert self.smtp.sock is not None
        self.smtp.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.smtp.ehlo("gateway.bench.invalid")

    def send(self, mail: Mail, rcpt: str) -> float:
        data = mail.wire(rcpt)
        start = time.perf_counter()
        self._expect(self.smtp.mail(SENDER), 250)
        self._expect(self.smtp.rcpt(rcpt), 250)
        self.smtp.putcmd("data")
        self._expect(self.smtp.getreply(), 354)
        self.smtp.send(data)
        self._expect(self.smtp.getreply(), 250)
        return time.perf_counter() - start

    @staticmethod
    def _expect(reply: tuple[int, bytes], code: int) -> None:
        if reply[0] != code:
            raise RuntimeError(
                f"expected {code}, got {reply[0]} {reply[1].decode(errors='replace')}"
            )

    def close(self) -> None:
        try:
            self.smtp.quit()
        except (OSError, smtplib.SMTPException):
            self.smtp.close()


@dataclass
class Run:
    messages: int
    seconds: float
    latencies: list[float] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return self.messages / self.seconds


def load(
    address: tuple[str, int],
    mail: Mail,
    *,
    per_client: int | None = None,
    seconds: float | None = None,
    clients: int = CLIENTS,
) -> Run:
    """clients threads send at once, per_client messages each or for as many seconds.

    A timed run lets each client finish the message it is sending at the
    deadline; the run lasts from the start to the last 250.
    """
    latencies: list[list[float]] = [[] for _ in range(clients)]

    def work(i: int, start: Callable[[], object]) -> None:
        client = Client(address)
        try:
            start()
            deadline = time.perf_counter() + (seconds or 0)
            for j in itertools.count():
                if per_client is not None and j >= per_client:
                    break
                if seconds is not None and time.perf_counter() >= deadline:
                    break
                rcpt = RECIPIENTS[(j * clients + i) % len(RECIPIENTS)]
                latencies[i].append(client.send(mail, rcpt))
        finally:
            client.close()

    elapsed = concurrently(clients, work)
    pooled = [x for per_thread in latencies for x in per_thread]
    return Run(len(pooled), elapsed, pooled)


# --- Throughput ------------------------------------------------------------------

SINK = "aiosmtpd sink"
OFF = "sealbox, encryption off"
ON = "sealbox, encryption on"


def throughput(ctx: Context, site: Site) -> None:
    vault = ctx.vault()
    targets: dict[str, Process] = {
        SINK: start_sink(ctx, MAX_MESSAGE_MB * MiB),
        OFF: site.start_smtpd(),
        # The intake seals with the certificates alone: it never holds the key.
        ON: site.start_smtpd(**vault.settings(with_key=False)),
    }
    accepted = dict.fromkeys(targets, 0)

    table = Table(
        f"Intake throughput: {CLIENTS} concurrent SMTP clients against `sealbox smtpd` with "
        "encryption at rest off and on, and a trivial aiosmtpd sink "
        f"(median of {REPEATS} {RUN_SECONDS:g}s runs, the three in turn)",
        [
            "size",
            "server",
            "msgs/run",
            "msg/s",
            "ratio to sink",
            "on/off",
            "p50 ms",
            "p95 ms",
            "spread",
        ],
    )
    for size in SIZES:
        mail = Mail(size.bytes)
        runs: dict[str, list[Run]] = {name: [] for name in targets}
        for name, process in targets.items():
            progress(f"intake {size.label}: warming up {name}")
            warm = load(process.smtp_address, mail, per_client=size.warmup)
            accepted[name] += warm.messages
        for repeat in range(REPEATS):
            # Rotate the order so that each server runs first, second and last once.
            order = list(targets.items())
            order = order[repeat % len(order) :] + order[: repeat % len(order)]
            for name, process in order:
                run = load(process.smtp_address, mail, seconds=RUN_SECONDS)
                runs[name].append(run)
                accepted[name] += run.messages
                progress(
                    f"intake {size.label}: {name} run {repeat + 1}/{REPEATS}: "
                    f"{run.messages} messages in {run.seconds:.2f}s, {run.rate:.1f} msg/s"
                )
        rates = {name: median([r.rate for r in rs]) for name, rs in runs.items()}
        for name, rs in runs.items():
            lat = [x * 1000 for r in rs for x in r.latencies]
            table.add(
                size.label if name == SINK else "",
                name,
                f"{median([r.messages for r in rs]):,.0f}",
                number(rates[name]),
                "" if name == SINK else ratio(rates[name], rates[SINK]),
                ratio(rates[ON], rates[OFF]) if name == ON else "",
                number(percentile(lat, 50)),
                number(percentile(lat, 95)),
                spread([r.rate for r in rs]),
            )
    for process in targets.values():
        process.stop()

    plain, sealed = site.stored_files("*.eml"), site.stored_files("*.p7m")
    table.note(
        "ratio to sink = msg/s / the sink's msg/s: 1.000 would be as fast as a server that "
        "stores nothing; on/off = msg/s with encryption on / msg/s with it off"
    )
    table.note(
        "latency: one MAIL, RCPT, DATA transaction up to the 250, as a client sees it, over all runs"
    )
    table.note("spread: (max - min) / median of msg/s over the runs, a measure of the noise")
    table.note(
        f"each message: multipart text + base64 attachment, one recipient out of "
        f"{len(RECIPIENTS)} existing mailboxes (r00..r{len(RECIPIENTS) - 1}@example.net); "
        "both sealbox processes store into the same data directory and database"
    )
    table.note(
        f"encryption on: {ctx.vault().description}; the file and the index fields "
        "(subject, sender, ...) of every message are sealed"
    )
    table.note(
        f"stored: {plain} plain files for {accepted[OFF]} messages accepted with encryption off, "
        f"{sealed} sealed files for {accepted[ON]} accepted with it on"
    )
    table.print()


# --- Peak memory -----------------------------------------------------------------


def peak_memory(ctx: Context, site: Site) -> None:
    progress(f"intake memory: building a {BIG_MESSAGE // MiB} MiB message")
    big = Mail(BIG_MESSAGE)
    small = Mail(10 * KiB)
    table = Table(
        f"Intake memory: one {big.size / MiB:.1f} MiB message (limit {MAX_MESSAGE_MB} MiB) "
        "sent to a freshly started process",
        [
            "process",
            "idle RSS MiB",
            "peak RSS MiB",
            "peak - idle MiB",
            "(peak - idle) / message",
            "RSS 0.5s after MiB",
            "accepted in s",
        ],
    )
    starts: dict[str, Callable[[], Process]] = {
        "sealbox smtpd, encryption off": site.start_smtpd,
        "sealbox smtpd, encryption on": lambda: site.start_smtpd(
            **ctx.vault().settings(with_key=False)
        ),
        "aiosmtpd sink": lambda: start_sink(ctx, MAX_MESSAGE_MB * MiB),
    }
    for name, start in starts.items():
        progress(f"intake memory: {name}")
        process = start()
        client = Client(process.smtp_address)
        try:
            client.send(small, RECIPIENTS[0])  # imports and database connection done
            time.sleep(0.5)
            idle, _ = process.memory()
            seconds = client.send(big, RECIPIENTS[1])
            _, peak = process.memory()
            time.sleep(0.5)
            after, _ = process.memory()
        finally:
            client.close()
        process.stop()
        table.add(
            name,
            number(idle),
            number(peak),
            number(peak - idle),
            f"{(peak - idle) / (big.size / MiB):.2f}",
            number(after),
            f"{seconds:.2f}",
        )
    table.note("idle: VmRSS after one 10 KiB message (imports, database connection) and 0.5 s")
    table.note("peak: VmHWM, the process's peak resident set, read once the 250 arrived")
    table.note("RSS 0.5s after: VmRSS 0.5 s after the 250, what the process keeps of the message")
    table.note(
        "encryption on: the message is sealed as a whole (sealbox.mailstore.blobs.write "
        "joins it, seal.seal() encrypts it in one piece)"
    )
    table.print()


def run(ctx: Context) -> None:
    site = ctx.site(SMTP_MAX_MESSAGE_MB=str(MAX_MESSAGE_MB))
    throughput(ctx, site)
    peak_memory(ctx, site)


SECTION = Section("intake", "SMTP intake throughput and peak memory", run)

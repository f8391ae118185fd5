"""What every benchmark section needs: processes, sites, statistics, tables."""

from __future__ import annotations

import contextlib
import functools
import os
import platform
import shutil
import signal
import smtplib
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
SEALBOX = [sys.executable, "-m", "sealbox.cli"]
INTERNAL_DOMAIN = "corp.example"
SECRET_KEY = "bench-secret-key-not-for-production-use-0123456789"
KiB = 1024
MiB = 1024 * KiB


def progress(text: str) -> None:
    """A progress line on stderr, so that stdout holds only the tables."""
    print(f"  .. {text}", file=sys.stderr, flush=True)


# --- Sections ------------------------------------------------------------------


@dataclass(frozen=True)
class Section:
    name: str  # what to type after `python -m bench`
    title: str
    run: Callable[[Context], None]


# --- Database ------------------------------------------------------------------


@dataclass(frozen=True)
class Database:
    """The database the Sealbox processes use.

    Without SEALBOX_DATABASE_URL every site gets a fresh SQLite file in its own
    data directory. With it, all sites share that database: it is migrated but
    never emptied, so give it a scratch database.
    """

    url: str | None

    @classmethod
    def from_environment(cls) -> Database:
        return cls(os.environ.get("SEALBOX_DATABASE_URL") or None)

    @property
    def engine(self) -> str:
        if self.url is None:
            return "sqlite"
        scheme = urlsplit(self.url).scheme
        return "postgresql" if scheme.startswith("postgres") else scheme

    def url_for(self, data_dir: Path) -> str:
        return self.url or f"sqlite:///{data_dir / 'sealbox.sqlite3'}"

    def describe(self) -> str:
        if self.url is None:
            return f"SQLite {sqlite3.sqlite_version}, a fresh file in each section's temporary data dir"
        parts = urlsplit(self.url)
        where = f"{parts.scheme}://{parts.hostname}:{parts.port or ''}{parts.path}"
        version = ""
        if self.engine == "postgresql":
            version = " " + _postgres_version(self.url)
        return f"{self.engine}{version} at {where} (from SEALBOX_DATABASE_URL, shared, not emptied)"


def _postgres_version(url: str) -> str:
    try:
        import psycopg

        with psycopg.connect(url, connect_timeout=5) as conn:
            row = conn.execute("show server_version").fetchone()
            return str(row[0]).split()[0] if row else "?"
    except Exception as e:
        return f"(version unknown: {e.__class__.__name__})"


def machine_note(database: Database) -> list[str]:
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    model = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = ", " + line.partition(":")[2].strip()
                break
    memory = ""
    with contextlib.suppress(OSError, ValueError):
        total_kb = int(Path("/proc/meminfo").read_text().split()[1])
        memory = f", {total_kb / MiB:.1f} GiB RAM"
    load = ""
    with contextlib.suppress(OSError):
        load = ", load average " + " ".join(f"{x:.2f}" for x in os.getloadavg())
    versions = ", ".join(f"{name} {_version(name)}" for name in ("Django", "aiosmtpd", "psycopg"))
    return [
        f"machine:  {os.cpu_count()} CPUs ({usable} usable){model}{memory}{load}",
        f"system:   {platform.platform()}",
        f"python:   {platform.python_implementation()} {platform.python_version()}; {versions}",
        f"database: {database.describe()}",
        f"temp dir: {tempfile.gettempdir()}",
    ]


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "-"


# --- Processes -----------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def proc_status(pid: int) -> dict[str, int]:
    """The kB figures of /proc/PID/status (VmRSS, VmHWM, ...)."""
    values: dict[str, int] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, rest = line.partition(":")
        fields = rest.split()
        if len(fields) == 2 and fields[1] == "kB":
            values[key] = int(fields[0])
    return values


class Process:
    """A child process whose output goes to a log file, stopped with SIGTERM."""

    def __init__(
        self, name: str, argv: Sequence[str], env: dict[str, str], cwd: Path, log: Path
    ) -> None:
        self.name = name
        self.log = log
        self.address: tuple[str, int] | None = None
        with open(log, "wb") as out:
            self.popen = subprocess.Popen(
                list(argv), env=env, cwd=cwd, stdin=subprocess.DEVNULL, stdout=out, stderr=out
            )

    @property
    def pid(self) -> int:
        return self.popen.pid

    @property
    def smtp_address(self) -> tuple[str, int]:
        assert self.address is not None, f"{self.name} is not listening"
        return self.address

    def memory(self) -> tuple[float, float]:
        """(current RSS, peak RSS) in MiB, from VmRSS and VmHWM."""
        status = proc_status(self.pid)
        return status["VmRSS"] / KiB, status["VmHWM"] / KiB

    def log_tail(self, lines: int = 20) -> str:
        try:
            text = self.log.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def wait_for_smtp(self, host: str, port: int, timeout: float = 60) -> None:
        """Return once the process answers SMTP on host:port with a 220 greeting."""
        deadline = time.monotonic() + timeout
        while True:
            if self.popen.poll() is not None:
                raise RuntimeError(
                    f"{self.name} exited with {self.popen.returncode} before listening:\n"
                    + self.log_tail()
                )
            try:
                with smtplib.SMTP(host, port, timeout=5) as client:
                    client.noop()
                self.address = (host, port)
                return
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{self.name} did not listen on {host}:{port}") from None
                time.sleep(0.1)

    def stop(self, timeout: float = 20) -> None:
        """SIGTERM, then SIGKILL after timeout; say so when the exit was not clean."""
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                progress(f"{self.name} ignored SIGTERM for {timeout:.0f}s: killing it")
                self.popen.kill()
                self.popen.wait()
        code = self.popen.returncode
        if code not in (0, -signal.SIGTERM):
            progress(f"{self.name} exited with {code}; last lines of its log:\n{self.log_tail()}")


# --- Sites: a data directory and database for Sealbox processes ------------------


class Context:
    """What a section creates; close() stops its processes and removes its files."""

    def __init__(self, database: Database) -> None:
        self.database = database
        self._stack = contextlib.ExitStack()
        self.root = Path(tempfile.mkdtemp(prefix="sealbox-bench-"))
        self._stack.callback(shutil.rmtree, self.root, ignore_errors=True)
        self._count = 0
        self._vault: Vault | None = None

    def close(self) -> None:
        self._stack.close()

    def _name(self, prefix: str) -> str:
        self._count += 1
        return f"{prefix}-{self._count}"

    def tempdir(self, prefix: str = "tmp") -> Path:
        path = self.root / self._name(prefix)
        path.mkdir()
        return path

    def start(
        self, name: str, argv: Sequence[str], env: dict[str, str], cwd: Path | None = None
    ) -> Process:
        log = self.root / f"{self._name(name.replace(' ', '-'))}.log"
        process = Process(name, argv, env, cwd or ROOT, log)
        self._stack.callback(process.stop)
        return process

    def vault(self) -> Vault:
        """Key files for encryption at rest, written once into this section's temp dir."""
        if self._vault is None:
            self._vault = write_vault(self.tempdir("keys"))
        return self._vault

    def site(self, **settings: str) -> Site:
        """A fresh data directory with a migrated database.

        settings are extra SEALBOX_* variables for every process of the site,
        named without the prefix: site(SMTP_MAX_MESSAGE_MB="50").
        """
        site = Site(self, self.tempdir("data"), settings)
        progress(f"migrating the {self.database.engine} database for {site.data_dir}")
        site.run("migrate", "--verbosity", "0")
        return site


def base_env() -> dict[str, str]:
    """This process's environment without any SEALBOX_* variable."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SEALBOX_")}
    env["PYTHONUNBUFFERED"] = "1"
    return env


@dataclass
class Site:
    ctx: Context
    data_dir: Path
    settings: dict[str, str] = field(default_factory=dict)

    def env(self, **extra: str) -> dict[str, str]:
        """The environment of a process of this site; extra as for Context.site()."""
        env = base_env()
        env.update(
            SEALBOX_DATA_DIR=str(self.data_dir),
            SEALBOX_DATABASE_URL=self.ctx.database.url_for(self.data_dir),
            SEALBOX_INTERNAL_DOMAINS=INTERNAL_DOMAIN,
            SEALBOX_SECRET_KEY=SECRET_KEY,
            SEALBOX_SMTP_HOSTNAME="sealbox.bench.invalid",
        )
        for name, value in {**self.settings, **extra}.items():
            env[f"SEALBOX_{name}"] = value
        return env

    def run(self, *args: str, **extra: str) -> subprocess.CompletedProcess[str]:
        """Run one `sealbox` command to completion; raise with its output if it fails."""
        done = subprocess.run(
            [*SEALBOX, *args],
            env=self.env(**extra),
            cwd=self.data_dir,
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(
                f"sealbox {' '.join(args)} exited with {done.returncode}:\n{done.stderr[-3000:]}"
            )
        return done

    def start_smtpd(self, **extra: str) -> Process:
        """A fresh `sealbox smtpd` on a free loopback port, answering SMTP."""
        port = free_port()
        process = self.ctx.start(
            "sealbox smtpd",
            [*SEALBOX, "smtpd", "--listen", f"127.0.0.1:{port}"],
            self.env(**extra),
            cwd=self.data_dir,
        )
        process.wait_for_smtp("127.0.0.1", port)
        return process

    def stored_files(self, pattern: str = "*.eml") -> int:
        """Message files: plain (*.eml) by default, sealed ones with pattern="*.p7m"."""
        messages = self.data_dir / "messages"
        return sum(1 for _ in messages.rglob(pattern)) if messages.is_dir() else 0


def start_sink(ctx: Context, max_message_size: int) -> Process:
    """The baseline: bench.sink, aiosmtpd answering 250 to everything, storing nothing."""
    port = free_port()
    process = ctx.start(
        "aiosmtpd sink",
        [
            sys.executable,
            "-m",
            "bench.sink",
            "--port",
            str(port),
            "--max-size",
            str(max_message_size),
        ],
        base_env(),
    )
    process.wait_for_smtp("127.0.0.1", port)
    return process


# --- Encryption at rest ------------------------------------------------------------

VAULT_KEY_SIZE = 3072
VAULT_PASSWORD = "bench storage key password 0123"
SERVICE_EMAIL = f"storage@{INTERNAL_DOMAIN}"
ESCROW_EMAIL = f"escrow@{INTERNAL_DOMAIN}"


@dataclass(frozen=True)
class Vault:
    """The realistic set-up: the service's key and certificate, and an escrow certificate.

    Every stored message is sealed to both certificates (two recipients); the
    service opens with its own key, unlocked at start from a password file.
    """

    certs: Path  # SEALBOX_ENCRYPTION_CERTS: the service's and the escrow certificate
    key: Path
    password_file: Path
    description: str

    def settings(self, *, with_key: bool = True) -> dict[str, str]:
        """SEALBOX_* settings without the prefix, for Context.site() or Site.env().

        Without the key: what the SMTP intake needs, the certificates only.
        """
        values = {"STORAGE_ENCRYPTION": "on", "ENCRYPTION_CERTS": str(self.certs)}
        if with_key:
            values["ENCRYPTION_KEY"] = str(self.key)
            values["ENCRYPTION_KEY_PASSWORD_FILE"] = str(self.password_file)
        return values


@functools.cache
def _vault_pems() -> tuple[bytes, bytes, bytes]:
    """(service certificate, escrow certificate, service key): made once per run."""
    from sealbox.vault import keys

    progress(f"making a {VAULT_KEY_SIZE}-bit service key and a {VAULT_KEY_SIZE}-bit escrow key")
    service = keys.generate(SERVICE_EMAIL, 365, VAULT_KEY_SIZE)
    escrow = keys.generate(ESCROW_EMAIL, 365, VAULT_KEY_SIZE)
    # The product's own KDF rounds: what unlocking at start really costs.
    key = keys.encrypted_key_pem(service.key, VAULT_PASSWORD)
    return keys.certificate_pem(service.certificate), keys.certificate_pem(escrow.certificate), key


def write_vault(directory: Path) -> Vault:
    service_pem, escrow_pem, key_pem = _vault_pems()
    certs = directory / "certs.pem"
    certs.write_bytes(service_pem + escrow_pem)
    key = directory / "service.key"
    key.write_bytes(key_pem)
    key.chmod(0o600)
    password_file = directory / "password"
    password_file.write_text(VAULT_PASSWORD + "\n")
    password_file.chmod(0o600)
    return Vault(
        certs,
        key,
        password_file,
        f"CMS EnvelopedData, AES-256, to 2 RSA-{VAULT_KEY_SIZE} certificates "
        "(the service's and an escrow certificate)",
    )


# --- Statistics and tables -----------------------------------------------------


def percentile(values: Sequence[float], p: float) -> float:
    """The p-th percentile (0-100), linear between the closest ranks."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = (len(ordered) - 1) * p / 100
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def spread(values: Sequence[float]) -> str:
    """How far the repetitions lie apart: (max - min) / median, as a percentage."""
    mid = median(values)
    if len(values) < 2 or not mid:
        return "-"
    return f"{(max(values) - min(values)) / mid * 100:.0f}%"


def number(value: float, digits: int = 1) -> str:
    if value != value:  # NaN
        return "-"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:.{digits}f}"


def ratio(value: float, base: float, digits: int = 3) -> str:
    if not base or value != value or base != base:
        return "-"
    return f"{value / base:.{digits}f}"


class Table:
    """A plain-text table with a title and notes, printed to stdout."""

    def __init__(self, title: str, columns: Sequence[str]) -> None:
        self.title = title
        self.columns = list(columns)
        self.rows: list[list[str]] = []
        self.notes: list[str] = []

    def add(self, *cells: Any) -> None:
        assert len(cells) == len(self.columns), (cells, self.columns)
        self.rows.append([str(c) for c in cells])

    def note(self, text: str) -> None:
        self.notes.append(text)

    def render(self) -> str:
        widths = [len(c) for c in self.columns]
        for row in self.rows:
            widths = [max(w, len(c)) for w, c in zip(widths, row, strict=True)]

        def line(cells: Sequence[str]) -> str:
            first, *rest = cells
            out = [first.ljust(widths[0])]
            out += [c.rjust(w) for c, w in zip(rest, widths[1:], strict=True)]
            return " | ".join(out).rstrip()

        rule = "-+-".join("-" * w for w in widths)
        lines = [self.title, "", line(self.columns), rule]
        lines += [line(row) for row in self.rows]
        if self.notes:
            lines.append("")
            lines += [f"  {n}" for n in self.notes]
        return "\n".join(lines)

    def print(self) -> None:
        print(self.render() + "\n", flush=True)


# --- Concurrent clients ------------------------------------------------------------


def concurrently(clients: int, work: Callable[[int, Callable[[], object]], None]) -> float:
    """Run work(i, start) in `clients` threads and return the seconds they took together.

    Each thread sets itself up (connects, signs in) and then calls start(), so
    that all begin at once; the time runs from that common start to the end of
    the last thread. The first failure in any thread is raised here.
    """
    barrier = threading.Barrier(clients + 1, timeout=120)
    errors: list[BaseException] = []

    def run(i: int) -> None:
        try:
            work(i, barrier.wait)
        except BaseException as e:
            errors.append(e)
            barrier.abort()

    threads = [threading.Thread(target=run, args=(i,), daemon=True) for i in range(clients)]
    for t in threads:
        t.start()
    start = time.perf_counter()
    try:
        barrier.wait()
        start = time.perf_counter()
    except threading.BrokenBarrierError:
        pass
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - start
    if errors:
        raise RuntimeError(f"a client failed: {errors[0]!r}") from errors[0]
    return elapsed

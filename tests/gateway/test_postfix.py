"""A real Postfix in front of Sealbox, configured as docs/operations.md says.

Each test starts its own Postfix instance on loopback (`postfix -c DIR start`)
with its own configuration and queue in a fresh directory, and a loopback sink
standing in for the internet. No system Postfix is touched. The tests need
root and Debian's postfix package, and fail (never skip) without them.
"""

from __future__ import annotations

import os
import pwd
import re
import shutil
import signal
import smtplib
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, make_msgid
from pathlib import Path
from typing import Any

import django
import pytest
from django.utils import timezone

import sealbox
from sealbox.intake.models import RoutingLoop
from sealbox.mailstore.models import Message
from sealbox.outbound.models import OutgoingEmail
from tests.conftest import CAROL, INTERNAL, SEALBOX, RelaySink, free_port, process_env

pytestmark = [pytest.mark.postfix, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

POSTFIX = "/usr/sbin/postfix"
POSTQUEUE = "/usr/sbin/postqueue"
PIPE_USER = "sealbox-test"
PARTNER = "partner.example.net"
DAVE = f"dave@{PARTNER}"
ERIN = f"erin@{PARTNER}"
FRANK = "frank@elsewhere.example.net"
NOTIFY_FROM = f"secure@{INTERNAL}"

MAIN_CF = """\
compatibility_level = 3.6
queue_directory = {home}/spool
data_directory = {home}/lib
mail_owner = postfix
setgid_group = postdrop
maillog_file = {home}/maillog
maillog_file_prefixes = {home}
inet_interfaces = loopback-only
inet_protocols = ipv4
myhostname = gateway.{internal}
mydomain = {internal}
myorigin = {internal}
mydestination =
relay_domains =
mynetworks = 127.0.0.0/8
alias_maps =
alias_database =
local_recipient_maps =
biff = no
# Everything not routed elsewhere goes to the sink: the rest of the world.
relayhost = [127.0.0.1]:{relayhost}
transport_maps = texthash:{home}/etc/transport
"""

# The README's recipe: the checks only on the service the staff's mail arrives on,
# through a cleanup service of its own.
MASTER_CF = """\
127.0.0.1:{port} inet n - n - - smtpd
  -o cleanup_service_name=sealbox_cleanup
sealbox_cleanup unix n - n - 0 cleanup
  -o header_checks=regexp:{home}/etc/header_checks
cleanup   unix  n - n - 0 cleanup
qmgr      unix  n - n 300 1 qmgr
rewrite   unix  - - n - - trivial-rewrite
bounce    unix  - - n - 0 bounce
defer     unix  - - n - 0 bounce
trace     unix  - - n - 0 bounce
verify    unix  - - n - 1 verify
flush     unix  n - n 1000? 0 flush
proxymap  unix  - - n - - proxymap
smtp      unix  - - n - - smtp
relay     unix  - - n - - smtp
showq     unix  n - n - - showq
error     unix  - - n - - error
retry     unix  - - n - - error
discard   unix  - - n - - discard
anvil     unix  - - n - 1 anvil
scache    unix  - - n - 1 scache
postlog   unix-dgram n - n - 1 postlogd
"""

# The recipes of the README ("Behind Postfix"), with this test's port.
HEADER_RECIPE = """\
/^X-Secure: *yes/            FILTER smtp:[127.0.0.1]:{sealbox}
/^Subject: *\\[secure\\]/      FILTER smtp:[127.0.0.1]:{sealbox}
"""
DOMAIN_RECIPE = f"{PARTNER}    smtp:[127.0.0.1]:{{sealbox}}\n"


def wait_for(condition: Callable[[], Any], seconds: float, what: str) -> Any:
    deadline = time.monotonic() + seconds
    while True:
        result = condition()
        if result:
            return result
        assert time.monotonic() < deadline, f"timed out after {seconds} s waiting for {what}"
        time.sleep(0.2)


def listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def message(to: str, subject: str, *, secure_header: bool = False) -> EmailMessage:
    msg = EmailMessage(policy=SMTP)
    msg["From"] = f"Carol Sender <{CAROL}>"
    msg["To"] = to
    msg["Subject"] = subject
    msg["Date"] = format_datetime(timezone.now())
    msg["Message-ID"] = make_msgid(domain=INTERNAL)
    if secure_header:
        msg["X-Secure"] = "yes"
    msg.set_content("Hello,\n\nthe draft is attached.\n")
    return msg


@dataclass
class Postfix:
    home: Path
    port: int

    @property
    def config(self) -> Path:
        return self.home / "etc"

    def run(self, *args: str) -> None:
        done = subprocess.run(
            [POSTFIX, "-c", str(self.config), *args], capture_output=True, text=True, timeout=60
        )
        assert done.returncode == 0, f"postfix {' '.join(args)} failed:\n{self.log()}"

    def log(self) -> str:
        path = self.home / "maillog"
        return path.read_text(errors="replace") if path.exists() else "(no maillog)"

    def queue(self) -> str:
        return subprocess.run(
            [POSTQUEUE, "-c", str(self.config), "-p"], capture_output=True, text=True, timeout=30
        ).stdout

    def send(self, msg: EmailMessage) -> None:
        with smtplib.SMTP("127.0.0.1", self.port, timeout=30) as client:
            client.ehlo("mua.corp.example")
            client.send_message(msg, from_addr=CAROL)

    def wait_for_log(self, pattern: str, seconds: float = 40) -> re.Match[str]:
        found = wait_for(
            lambda: re.search(pattern, self.log()), seconds, f"{pattern!r} in Postfix's log"
        )
        assert isinstance(found, re.Match)
        return found

    def stop(self) -> None:
        pid_file = self.home / "spool" / "pid" / "master.pid"
        pid = int(pid_file.read_text().split()[0]) if pid_file.exists() else None
        subprocess.run([POSTFIX, "-c", str(self.config), "stop"], capture_output=True, timeout=60)
        if pid is None:
            return
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.2)
        os.kill(pid, signal.SIGKILL)  # the master this test started, by its id


def require_postfix() -> None:
    if not Path(POSTFIX).exists():
        pytest.fail(
            f"Postfix is not installed ({POSTFIX} is missing): the gateway tests need a real one "
            "(Debian: apt-get install postfix, as .ci/run does)"
        )
    if os.geteuid() != 0:
        pytest.fail("the gateway tests start their own Postfix instance and need root")


@pytest.fixture
def home() -> Iterator[Path]:
    """Postfix's configuration, queue and log: a directory its unprivileged daemons can reach
    (pytest's own temporary directories are private to root)."""
    path = Path(tempfile.mkdtemp(prefix="sealbox-postfix-"))
    path.chmod(0o755)
    # Postfix makes its queue directories under the umask it is given: the usual one,
    # not the private one the tests share with Sealbox (tests/conftest.py).
    umask = os.umask(0o022)
    yield path
    os.umask(umask)
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def start_postfix(home: Path) -> Iterator[Callable[..., Postfix]]:
    started: list[Postfix] = []

    def start(
        port: int, relayhost: int, transport: str = "", header_checks: str = "", services: str = ""
    ) -> Postfix:
        require_postfix()
        for name in ("etc", "spool", "lib"):
            (home / name).mkdir()
        shutil.chown(home / "lib", "postfix")
        etc = home / "etc"
        (etc / "main.cf").write_text(
            MAIN_CF.format(home=home, internal=INTERNAL, relayhost=relayhost)
        )
        (etc / "master.cf").write_text(MASTER_CF.format(port=port, home=home) + services)
        (etc / "transport").write_text(transport)
        (etc / "header_checks").write_text(header_checks)
        postfix = Postfix(home, port)
        started.append(postfix)
        postfix.run("check")
        postfix.run("start")
        wait_for(lambda: listening(port), 20, "Postfix to listen")
        return postfix

    yield start
    for postfix in started:
        postfix.stop()


@pytest.fixture
def start_sealbox(settings: Any, tmp_path: Path) -> Iterator[Callable[[int, int], Path]]:
    """`sealbox smtpd` and `sealbox worker` as real processes; returns their log file."""
    processes: list[subprocess.Popen[bytes]] = []
    log = tmp_path / "sealbox.log"

    def start(listen: int, relay: int) -> Path:
        env = process_env(
            settings.DATA_DIR,
            SEALBOX_RELAY_URL=f"smtp://127.0.0.1:{relay}",
            SEALBOX_SMTP_HOSTNAME=f"sealbox.{INTERNAL}",
            SEALBOX_NOTIFY_FROM=f"Sealbox <{NOTIFY_FROM}>",
            SEALBOX_WORKER_POLL_INTERVAL="1s",
        )
        with open(log, "ab") as out:
            for command in (["smtpd", "--listen", f"127.0.0.1:{listen}"], ["worker"]):
                processes.append(
                    subprocess.Popen([*SEALBOX, *command], env=env, stdout=out, stderr=out)
                )
        wait_for(lambda: listening(listen), 30, "sealbox smtpd to listen")
        return log

    yield start
    for process in processes:
        process.send_signal(signal.SIGTERM)
    for process in processes:
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def test_the_documented_header_and_subject_recipes_route_each_message_once(
    start_postfix: Callable[..., Postfix],
    start_sealbox: Callable[[int, int], Path],
    relay_sink: RelaySink,
) -> None:
    sealbox_port, postfix_port = free_port(), free_port()
    postfix = start_postfix(
        postfix_port, relay_sink.port, header_checks=HEADER_RECIPE.format(sealbox=sealbox_port)
    )
    log = start_sealbox(sealbox_port, postfix_port)

    postfix.send(message(DAVE, "Contract draft", secure_header=True))
    postfix.send(message(ERIN, "[secure] Payroll"))
    postfix.send(message(FRANK, "Lunch on Friday"))  # untagged: goes out as it is

    wait_for(
        lambda: len(relay_sink.received) >= 3,
        45,
        f"two notifications and the untagged message at the sink\n{postfix.log()}\n"
        f"{log.read_text()}",
    )
    time.sleep(4)  # several worker polls: a loop would show now
    by_rcpt = {got.rcpt_tos[0]: got for got in relay_sink.received}
    assert sorted(by_rcpt) == sorted([DAVE, ERIN, FRANK]), postfix.log()
    assert len(relay_sink.received) == 3
    for rcpt in (DAVE, ERIN):
        notification = by_rcpt[rcpt]
        assert notification.mail_from == NOTIFY_FROM
        assert b"\nSealbox-Loop: v1 " in notification.data  # under Postfix's Received line
        assert b"http://portal.test/activate/" in notification.data
    assert b"Subject: Lunch on Friday" in by_rcpt[FRANK].data
    stored = sorted(Message.objects.values_list("owner__email", "subject"))
    assert stored == [(DAVE, "Contract draft"), (ERIN, "[secure] Payroll")]
    assert RoutingLoop.objects.count() == 0
    assert "status=bounced" not in postfix.log()


def test_the_recipient_domain_recipe_loops_and_sealbox_refuses_its_own_notification(
    start_postfix: Callable[..., Postfix],
    start_sealbox: Callable[[int, int], Path],
    relay_sink: RelaySink,
) -> None:
    sealbox_port, postfix_port = free_port(), free_port()
    postfix = start_postfix(
        postfix_port, relay_sink.port, transport=DOMAIN_RECIPE.format(sealbox=sealbox_port)
    )
    log = start_sealbox(sealbox_port, postfix_port)

    postfix.send(message(DAVE, "Contract draft"))

    bounced = postfix.wait_for_log(rf"to=<{re.escape(DAVE)}>.*status=bounced \((.*)\)")
    assert "said: 554 5.4.6 Routing loop: this is Sealbox's own outgoing mail" in bounced[1]
    # Postfix reports the bounce to the notification's sender, at the sink.
    wait_for(lambda: relay_sink.received, 30, f"the bounce at the sink\n{postfix.log()}")
    time.sleep(4)  # several worker polls: nothing more may come
    [report] = relay_sink.received
    assert (report.mail_from, report.rcpt_tos) == ("<>", [NOTIFY_FROM])  # the null sender
    assert b"554 5.4.6 Routing loop" in report.data
    assert list(Message.objects.values_list("owner__email", flat=True)) == [DAVE]
    assert RoutingLoop.objects.get().reason == RoutingLoop.Reason.OWN_MAIL
    [notification] = OutgoingEmail.objects.all()
    assert notification.status == OutgoingEmail.Status.SENT  # Postfix took it, then bounced it
    assert "ROUTING LOOP: Sealbox's own outgoing mail came back" in log.read_text()


def pipe_user() -> pwd.struct_passwd:
    """The unprivileged user Postfix runs `sealbox deliver` as; created if missing."""
    try:
        return pwd.getpwnam(PIPE_USER)
    except KeyError:
        subprocess.run(
            ["useradd", "--system", "--no-create-home", "--home-dir", "/nonexistent",
             "--shell", "/usr/sbin/nologin", PIPE_USER],
            check=True, capture_output=True, timeout=60,
        )  # fmt: skip
        return pwd.getpwnam(PIPE_USER)


def run_as(user: pwd.struct_passwd, argv: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        argv, user=user.pw_uid, group=user.pw_gid, extra_groups=[], cwd="/",
        env={"PATH": "/usr/bin:/bin"}, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def interpreter_for(user: pwd.struct_passwd, home: Path) -> tuple[str, str]:
    """A Python of this version that the pipe user can run, importing this checkout's code,
    and the PYTHONPATH that makes it do so.

    The test's own interpreter may sit in a directory private to root (a pyenv
    under /root); then the system's Python of the same version serves. Where the
    checkout or its packages are private to root too (a clone in root's home), a
    copy of them under `home`, which the pipe user can read, serves instead.
    """
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    candidates = [sys.executable, os.path.realpath(sys.executable)]
    candidates += [f"/usr/bin/python{version}", f"/usr/local/bin/python{version}"]
    site_packages = Path(django.__file__).parents[1]
    checkout = Path(sealbox.__file__).parents[1]
    tried = []
    for copy in (False, True):
        if copy:
            code = home / "code"
            ignore = shutil.ignore_patterns("__pycache__", "playwright", "mypy*", "ruff*", "pip")
            shutil.copytree(checkout / "sealbox", code / "sealbox", ignore=ignore)
            shutil.copytree(site_packages, code / "site-packages", ignore=ignore, symlinks=True)
            subprocess.run(["chmod", "-R", "a+rX", str(code)], check=True, timeout=120)
            checkout, site_packages = code, code / "site-packages"
        pythonpath = f"{checkout}:{site_packages}"
        probe = "import sealbox, django; print(sealbox.__file__, django.__file__)"
        expected = [
            str(checkout / "sealbox" / "__init__.py"),
            str(site_packages / "django" / "__init__.py"),
        ]
        for python in dict.fromkeys(candidates):
            done = run_as(
                user, ["/usr/bin/env", f"PYTHONPATH={pythonpath}", python, "-s", "-c", probe]
            )
            if done.returncode == 0 and done.stdout.split() == expected:
                return python, pythonpath
            tried.append(f"{python} ({pythonpath}): {(done.stderr or done.stdout).strip()[-300:]}")
    pytest.fail(
        f"the pipe user {PIPE_USER} can run no Python with this checkout:\n" + "\n".join(tried)
    )


def test_the_pipe_delivers_as_its_own_user_and_defers_when_it_cannot_reach_its_data(
    home: Path, start_postfix: Callable[..., Postfix], relay_sink: RelaySink
) -> None:
    require_postfix()
    user = pipe_user()
    data_dir = home / "sealbox-data"
    data_dir.mkdir(mode=0o700)
    os.chown(data_dir, user.pw_uid, user.pw_gid)
    python, pythonpath = interpreter_for(user, home)
    env = [
        f"PYTHONPATH={pythonpath}",
        f"SEALBOX_DATA_DIR={data_dir}",
        f"SEALBOX_INTERNAL_DOMAINS={INTERNAL}",
        "SEALBOX_BASE_URL=http://portal.test",
    ]
    sealbox_as_user = ["/usr/bin/env", *env, python, "-s", "-m", "sealbox.cli"]
    migrated = run_as(user, [*sealbox_as_user, "migrate", "--verbosity", "0"])
    assert migrated.returncode == 0, migrated.stderr
    # The README's pipe recipe, routed by the policy header.
    service = (
        f"sealbox   unix  -       n       n       -       4       pipe\n"
        f"  flags=q user={PIPE_USER} argv={' '.join(sealbox_as_user)}\n"
        "  deliver --from ${sender} ${recipient}\n"
    )
    postfix = start_postfix(
        free_port(),
        relay_sink.port,
        header_checks="/^X-Secure: *yes/    FILTER sealbox:secure\n",
        services=service,
    )

    postfix.send(message(DAVE, "Contract draft", secure_header=True))

    postfix.wait_for_log(rf"to=<{re.escape(DAVE)}>, relay=sealbox, .*status=sent")
    listed = run_as(user, [*sealbox_as_user, "mailbox", "list", DAVE])
    first = listed.stdout.splitlines()[0]
    assert first.startswith(DAVE) and first.endswith(": 1 message(s)"), listed

    # The pipe user loses its data directory (a restore as root, a wrong chown).
    for path in [data_dir, *data_dir.rglob("*")]:
        os.chown(path, 0, 0)
    postfix.send(message(ERIN, "Payroll", secure_header=True))

    outcome = postfix.wait_for_log(rf"to=<{re.escape(ERIN)}>, relay=sealbox, .*status=(\w+) .*")
    assert outcome[1] == "deferred", outcome[0]
    assert "sealbox deliver: 4." in outcome[0], outcome[0]
    assert ERIN in postfix.queue()
    assert "status=bounced" not in postfix.log()
    assert relay_sink.received == []  # no bounce to Carol

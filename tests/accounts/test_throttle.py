"""Failed sign-ins and link requests are counted in the database and slowed down, then paused.

Per address (a guessed password, a wrong code) and per client; the same for every
address whether or not it has a mailbox; shared by every process of the portal.
Time is moved with time_machine wherever the portal runs in this process.
"""

from __future__ import annotations

import ipaddress
import re
import signal
import statistics
import subprocess
import time
import urllib.request
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from functools import partial
from http.cookiejar import CookieJar
from io import StringIO
from pathlib import Path
from typing import Any
from urllib.error import HTTPError
from urllib.parse import urlencode

import pyotp
import pytest
import time_machine
from django.core.management import call_command
from django.db.models import F
from django.test import Client, RequestFactory

from sealbox.accounts import twofactor
from sealbox.accounts.clientip import client_ip
from sealbox.accounts.models import Throttle, User
from tests.accounts.helpers import DAVE, PASSWORD, is_signed_in, recipient, without_csrf
from tests.conftest import SEALBOX, free_port, process_env

pytestmark = pytest.mark.django_db

NOT_RIGHT = "The email address or password is not right."
CODE_NOT_RIGHT = "That code did not work."
UNKNOWN = "nobody-here@example.com"
WRONG = "not the password at all"
START = datetime(2031, 3, 4, 9, 0, tzinfo=UTC)
WAIT = re.compile(r"Too many failed attempts\. Wait (\d+) seconds?, then try again\.")
PAUSED = re.compile(r"Too many failed attempts\. For your safety, this is paused: try again in")


def paused(minutes: int) -> str:
    unit = "minute" if minutes == 1 else "minutes"
    return (
        f"Too many failed attempts. For your safety, this is paused: try again in {minutes} {unit}."
    )


def wait(seconds: int) -> str:
    unit = "second" if seconds == 1 else "seconds"
    return f"Too many failed attempts. Wait {seconds} {unit}, then try again."


def page(response: Any) -> str:
    return str(response.content.decode())


def sign_in(client: Client, address: str, password: str) -> Any:
    return client.post("/signin/", {"username": address, "password": password})


def as_seen(response: Any, address: str) -> tuple[int, str]:
    """Status and page, the CSRF token and the address as typed left out."""
    return response.status_code, without_csrf(response).replace(address, "ADDRESS")


@contextmanager
def clock() -> Iterator[Any]:
    with time_machine.travel(START, tick=False) as traveller:
        yield traveller


def persist(traveller: Any, attempt: Callable[[], Any]) -> Any:
    """Try; when told to wait N seconds, let N seconds pass and try again."""
    r = attempt()
    while r.status_code == 429 and (m := WAIT.search(page(r))):
        traveller.shift(int(m.group(1)))
        r = attempt()
    return r


def wrong_in_a_row(client: Client, address: str, count: int) -> None:
    """Wrong passwords, each answered as such (no wait asked for)."""
    for _ in range(count):
        r = sign_in(client, address, WRONG)
        assert r.status_code == 200 and NOT_RIGHT in page(r)


def lock_by_passwords(client: Client, address: str, traveller: Any, failures: int = 10) -> None:
    for _ in range(failures):
        r = persist(traveller, lambda: sign_in(client, address, WRONG))
        assert r.status_code == 200 and NOT_RIGHT in page(r), page(r)


# --- 1. the account ----------------------------------------------------------


def test_ten_wrong_passwords_slow_down_then_pause_the_account(alice: User) -> None:
    client = Client()
    with clock() as traveller:
        for _ in range(4):
            r = sign_in(client, alice.email, WRONG)
            assert r.status_code == 200 and NOT_RIGHT in page(r)

        # From the fifth failure on, each next try waits twice as long; not even
        # the right password is looked at before the time is up.
        for failure, seconds in zip(range(5, 10), [2, 4, 8, 16, 32], strict=True):
            r = sign_in(client, alice.email, WRONG)
            assert r.status_code == 200 and NOT_RIGHT in page(r), failure
            r = sign_in(client, alice.email, PASSWORD)
            assert r.status_code == 429
            assert wait(seconds) in page(r)
            assert NOT_RIGHT not in page(r)
            traveller.shift(seconds - 1)
            r = sign_in(client, alice.email, PASSWORD)
            assert r.status_code == 429 and wait(1) in page(r)
            traveller.shift(1)

        r = sign_in(client, alice.email, WRONG)  # the tenth
        assert r.status_code == 200 and NOT_RIGHT in page(r)

        # The eleventh, with the right password, from here or anywhere else.
        for somewhere in (client, Client(REMOTE_ADDR="198.51.100.23")):
            r = sign_in(somewhere, alice.email, PASSWORD)
            assert r.status_code == 429, page(r)
            assert paused(15) in page(r)
            assert NOT_RIGHT not in page(r)
            assert not is_signed_in(somewhere)

        traveller.shift(timedelta(minutes=14, seconds=59))
        r = sign_in(client, alice.email, PASSWORD)
        assert r.status_code == 429 and paused(1) in page(r)

        # The pause ends by itself, and counting starts over.
        traveller.shift(1)
        for _ in range(2):
            r = sign_in(client, alice.email, WRONG)
            assert r.status_code == 200 and NOT_RIGHT in page(r)
        r = sign_in(client, alice.email, PASSWORD)
        assert r.status_code == 302 and r["Location"] == "/inbox/"
        assert is_signed_in(client)

        # The sign-in cleared those two failures as well: five more before any wait.
        other = Client()
        wrong_in_a_row(other, alice.email, 5)
        r = sign_in(other, alice.email, PASSWORD)
        assert r.status_code == 429 and wait(2) in page(r)


SPELLINGS = [
    "alice@example.net",
    "ALICE@example.net",
    "  Alice@Example.NET ",
    "<alice@example.net>",
    "alice@example.net.",
    "alice@EXAMPLE.NET",
    # The domain in other spellings (IDNA's UTS-46 mapping): the same address.
    "alice@\uff45xample.net",  # fullwidth e
    "alice@example.net\u3002",  # ideographic full stop
    "alice@example\uff0eNET",  # fullwidth full stop
]
# Lookalikes in the local part are other addresses (sealbox/addresses.py): they
# neither sign in to alice's mailbox nor count against it.
LOOKALIKES = [
    "\uff41lice@example.net",  # fullwidth a
    "\U0001d41alice@example.net",  # mathematical bold a
    "alice\uff20example.net",  # fullwidth @: no address at all
]


def test_every_spelling_of_the_address_counts_against_the_one_account(alice: User) -> None:
    with clock() as traveller:
        for n in range(10):
            client = Client(REMOTE_ADDR=f"198.51.100.{n + 1}")
            spelling = SPELLINGS[n % len(SPELLINGS)]
            r = persist(traveller, partial(sign_in, client, spelling, WRONG))
            assert r.status_code == 200 and NOT_RIGHT in page(r)
        for spelling in SPELLINGS:
            r = sign_in(Client(REMOTE_ADDR="198.51.100.99"), spelling, PASSWORD)
            assert r.status_code == 429 and paused(15) in page(r), spelling


def test_a_lookalike_of_the_address_neither_signs_in_nor_counts_against_it(alice: User) -> None:
    with clock() as traveller:
        for n in range(10):
            client = Client(REMOTE_ADDR=f"198.51.100.{n + 1}")
            spelling = LOOKALIKES[n % len(LOOKALIKES)]
            r = persist(traveller, partial(sign_in, client, spelling, PASSWORD))
            assert r.status_code == 200 and NOT_RIGHT in page(r), spelling
        client = Client(REMOTE_ADDR="198.51.100.99")
        r = sign_in(client, alice.email, PASSWORD)
        assert r.status_code == 302 and is_signed_in(client)


# --- 2. no telling who has a mailbox --------------------------------------------


def tries(address: str, password: str, remote_addr: str) -> list[tuple[int, str]]:
    """Twenty-two tries, five seconds apart: failures, waits, then the pause."""
    client = Client(REMOTE_ADDR=remote_addr)
    seen = []
    with clock() as traveller:
        for _ in range(22):
            seen.append(as_seen(sign_in(client, address, password), address))
            traveller.shift(5)
    return seen


def test_an_unknown_address_is_answered_exactly_like_a_mailbox_with_a_wrong_password(
    alice: User,
) -> None:
    unknown = tries(UNKNOWN, WRONG, "198.51.100.1")
    mailbox = tries(alice.email, WRONG, "198.51.100.2")
    recipient()  # a mailbox whose owner has not chosen a password yet
    not_activated = tries(DAVE, WRONG, "198.51.100.3")

    statuses = [status for status, _ in unknown]
    assert statuses.count(200) == 10 and 429 in statuses[:-3], statuses
    assert WAIT.search(unknown[7][1]), "the eighth try comes too soon after the seventh"
    assert NOT_RIGHT in unknown[19][1], "the tenth failure"
    assert paused(15) in unknown[20][1] and paused(15) in unknown[21][1]
    for i, (theirs, ours) in enumerate(zip(unknown, mailbox, strict=True)):
        assert theirs == ours, f"try {i + 1} tells the addresses apart"
    assert not_activated == unknown


def test_a_wrong_password_takes_as_long_for_an_unknown_address_as_for_a_mailbox(
    settings: Any,
) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.Argon2PasswordHasher"]
    erin = User.objects.create_user("erin@example.net", PASSWORD)
    assert erin.password.startswith("argon2$")
    client = Client()
    timings: dict[str, list[float]] = {erin.email: [], UNKNOWN: []}
    # Up to sixteen rounds, at least six, within about seven seconds on a busy machine.
    rounds, least, warm_up = 16, 6, 2
    deadline = time.monotonic() + 7
    for n in range(rounds + warm_up):
        if n >= warm_up + least and time.monotonic() > deadline:
            break
        # Alternate who goes first, so that drift on a busy machine hits both alike.
        order = [erin.email, UNKNOWN] if n % 2 else [UNKNOWN, erin.email]
        for address in order:
            Throttle.objects.all().delete()  # no slow-down: only the answer is timed
            began = time.perf_counter()
            r = sign_in(client, address, WRONG)
            took = time.perf_counter() - began
            assert r.status_code == 200 and NOT_RIGHT in page(r)
            if n >= warm_up:
                timings[address].append(took)
    mailbox, unknown = statistics.median(timings[erin.email]), statistics.median(timings[UNKNOWN])
    assert mailbox > 0.005, "argon2 must be doing the work here"
    assert 0.5 < mailbox / unknown < 2.0, (mailbox, unknown)


# --- 3. every process shares the count ---------------------------------------------


class Browser:
    """A browser with its own cookies, talking to one portal process."""

    class _NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args: Any, **kwargs: Any) -> None:
            return None

    def __init__(self, base: str) -> None:
        self.netloc = base.removeprefix("http://")
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(CookieJar()), self._NoRedirect()
        )
        self.token: str | None = None

    def request(self, path: str, form: dict[str, str] | None = None) -> tuple[int, str]:
        headers = {}
        data = None
        if form is not None:
            data = urlencode(form).encode()
            # What a browser sends under Referrer-Policy: no-referrer (portal/csrf.py).
            headers = {"Origin": "null", "Sec-Fetch-Site": "same-origin"}
        req = urllib.request.Request(f"http://{self.netloc}{path}", data=data, headers=headers)
        try:
            with self.opener.open(req, timeout=60) as response:
                return response.status, response.read().decode()
        except HTTPError as e:
            return e.code, e.read().decode()

    def open_signin(self) -> None:
        """Load the sign-in page: the CSRF cookie and the form's token."""
        status, html = self.request("/signin/")
        assert status == 200
        found = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html)
        assert found
        self.token = found.group(1)

    def sign_in(self, address: str, password: str) -> tuple[int, str]:
        if self.token is None:
            self.open_signin()
        assert self.token is not None
        form = {"csrfmiddlewaretoken": self.token, "username": address, "password": password}
        return self.request("/signin/", form)


@contextmanager
def web_processes(data_dir: Path, logs: Path, count: int, workers: int = 1) -> Iterator[list[str]]:
    """`sealbox web` started `count` times on the test database; their base URLs."""
    started: list[tuple[subprocess.Popen[bytes], str, Path]] = []
    try:
        for n in range(count):
            port = free_port()
            log = logs / f"web-{n}.log"
            with log.open("wb") as out:
                proc = subprocess.Popen(
                    [*SEALBOX, "web"],
                    env=process_env(
                        data_dir,
                        SEALBOX_HTTP_LISTEN=f"127.0.0.1:{port}",
                        SEALBOX_WEB_WORKERS=str(workers),
                    ),
                    stdout=out,
                    stderr=subprocess.STDOUT,
                )
            started.append((proc, f"127.0.0.1:{port}", log))
        deadline = time.monotonic() + 30
        for proc, netloc, log in started:
            while True:
                assert proc.poll() is None, log.read_text()
                try:
                    with urllib.request.urlopen(f"http://{netloc}/healthz", timeout=5) as r:
                        if r.status == 200:
                            break
                except OSError:
                    pass
                assert time.monotonic() < deadline, log.read_text()
                time.sleep(0.1)
        yield [f"http://{netloc}" for _, netloc, _ in started]
    finally:
        for proc, _, _ in started:
            proc.send_signal(signal.SIGTERM)
        for proc, _, _ in started:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def let_the_wait_pass() -> None:
    """What the slow-down asks for, without waiting it out: every failure two minutes older."""
    Throttle.objects.update(last_failure=F("last_failure") - timedelta(minutes=2))


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_two_portal_processes_share_one_count(settings: Any, tmp_path: Path) -> None:
    # The portal processes hash with argon2: her password must be one they can check.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.Argon2PasswordHasher"]
    alice = User.objects.create_user("alice@example.net", PASSWORD)
    with web_processes(settings.DATA_DIR, tmp_path, 2) as (one, two):
        status, _ = Browser(one).sign_in(alice.email, PASSWORD)
        assert status == 302, "her password works in these processes"

        browsers = [Browser(one), Browser(two)]
        for failure in range(1, 11):
            here, there = browsers[failure % 2], browsers[(failure + 1) % 2]
            status, html = here.sign_in(alice.email, WRONG)
            assert status == 200 and NOT_RIGHT in html, (failure, html)
            if 5 <= failure < 10:
                # The other process knows at once that the next try must wait.
                status, html = there.sign_in(alice.email, PASSWORD)
                assert status == 429 and WAIT.search(html), (failure, html)
                let_the_wait_pass()

        for browser in browsers:
            status, html = browser.sign_in(alice.email, PASSWORD)
            assert status == 429, html
            assert paused(15) in html
        # Only her address is paused.
        status, html = browsers[1].sign_in(UNKNOWN, WRONG)
        assert status == 200 and NOT_RIGHT in html


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_burst_of_guesses_at_two_processes_gets_no_more_than_the_limit(
    settings: Any, tmp_path: Path
) -> None:
    """Guesses sent all at once must not get beyond the limit (ten per pause).

    Two processes of two workers each (the default), four threads a worker.
    """
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.Argon2PasswordHasher"]
    alice = User.objects.create_user("alice@example.net", PASSWORD)
    with web_processes(settings.DATA_DIR, tmp_path, 2, workers=2) as bases:
        browsers = [Browser(bases[n % 2]) for n in range(16)]
        for browser in browsers:
            browser.open_signin()
        with ThreadPoolExecutor(len(browsers)) as pool:
            answers = list(pool.map(lambda b: b.sign_in(alice.email, WRONG), browsers))
        statuses = sorted(status for status, _ in answers)
        assert set(statuses) <= {200, 429}, statuses
        checked = statuses.count(200)
        # Each try is counted as it starts: the sixth finds five failures and a
        # wait running, whichever worker of whichever process it reached. (A
        # seventh could pass only if the burst outlasted that two-second wait.)
        assert checked <= 6, f"{checked} of 16 simultaneous guesses had their password checked"
        assert statuses.count(429) >= 10
        # The right password afterwards: refused while a wait runs, let in once it is over.
        status, html = browsers[0].sign_in(alice.email, PASSWORD)
        assert status == 302 or (status == 429 and WAIT.search(html)), html


# --- 4. per client ---------------------------------------------------------------


def failures(traveller: Any, make_request: Callable[[int], Any], count: int = 50) -> None:
    """Wrong passwords, each at another address, waiting whenever told to."""
    for n in range(count):
        r = persist(traveller, partial(make_request, n))
        assert r.status_code == 200 and NOT_RIGHT in page(r), (n, page(r))


def test_failures_at_many_addresses_from_one_client_pause_that_client(alice: User) -> None:
    attacker = Client(REMOTE_ADDR="203.0.113.66")
    with clock() as traveller:
        for n in range(25):
            r = sign_in(attacker, f"guess{n}@example.com", WRONG)
            assert r.status_code == 200 and NOT_RIGHT in page(r)
        # Past half of fifty the client slows down, whatever address it tries next.
        r = sign_in(attacker, "guess-new@example.com", WRONG)
        assert r.status_code == 429 and wait(2) in page(r)
        failures(traveller, lambda n: sign_in(attacker, f"more{n}@example.com", WRONG), 25)

        for address, password in [("another@example.com", WRONG), (alice.email, PASSWORD)]:
            r = sign_in(attacker, address, password)
            assert r.status_code == 429 and paused(15) in page(r), page(r)
        # Another client is not held back, at her address or any other.
        elsewhere = Client(REMOTE_ADDR="203.0.113.67")
        r = sign_in(elsewhere, "another@example.com", WRONG)
        assert r.status_code == 200 and NOT_RIGHT in page(r)
        r = sign_in(elsewhere, alice.email, PASSWORD)
        assert r.status_code == 302


def test_x_forwarded_for_from_a_client_is_ignored(alice: User) -> None:
    attacker = Client(REMOTE_ADDR="203.0.113.66")

    def guess(n: int) -> Any:
        return attacker.post(
            "/signin/",
            {"username": f"guess{n}@example.com", "password": WRONG},
            HTTP_X_FORWARDED_FOR=f"192.0.2.{n}",
        )

    with clock() as traveller:
        failures(traveller, guess)
        r = guess(99)
        assert r.status_code == 429 and paused(15) in page(r)


def test_behind_a_trusted_proxy_the_client_it_names_is_counted(alice: User, settings: Any) -> None:
    settings.TRUSTED_PROXIES = [ipaddress.ip_network("10.0.0.0/8")]
    proxy = Client(REMOTE_ADDR="10.0.0.2")

    def via_proxy(forwarded_for: str, address: str, password: str = WRONG) -> Any:
        return proxy.post(
            "/signin/",
            {"username": address, "password": password},
            HTTP_X_FORWARDED_FOR=forwarded_for,
        )

    with clock() as traveller:
        # The client writes anything it likes on the left; the proxy appends the peer.
        failures(traveller, lambda n: via_proxy(f"192.0.2.{n}, 203.0.113.66", f"g{n}@x.org"))

        for forwarded in ["203.0.113.66", "198.51.100.9, 203.0.113.66", "203.0.113.66, 10.1.2.3"]:
            r = via_proxy(forwarded, alice.email, PASSWORD)
            assert r.status_code == 429 and paused(15) in page(r), forwarded
        # Others behind the same proxy sign in as usual.
        r = via_proxy("203.0.113.67", "another@example.com")
        assert r.status_code == 200 and NOT_RIGHT in page(r)
        r = via_proxy("203.0.113.66, 203.0.113.67", alice.email, PASSWORD)
        assert r.status_code == 302


@pytest.mark.parametrize(
    ("trusted", "peer", "forwarded_for", "counted"),
    [
        ([], "203.0.113.5", None, "203.0.113.5"),
        ([], "203.0.113.5", "198.51.100.1", "203.0.113.5"),
        (["203.0.113.0/24"], "198.51.100.7", "192.0.2.1", "198.51.100.7"),
        (["10.0.0.0/8"], "10.0.0.2", None, "10.0.0.2"),
        (["10.0.0.0/8"], "10.0.0.2", "203.0.113.9", "203.0.113.9"),
        (["10.0.0.0/8"], "10.0.0.2", "1.2.3.4, 203.0.113.9", "203.0.113.9"),
        (["10.0.0.0/8"], "10.0.0.2", "not-an-ip, 203.0.113.9", "203.0.113.9"),
        (["10.0.0.0/8"], "10.0.0.2", " 203.0.113.9 ,10.0.0.7 , 10.9.9.9", "203.0.113.9"),
        (["10.0.0.0/8"], "10.0.0.2", "10.0.0.7", "10.0.0.7"),
        (["10.0.0.0/8"], "10.0.0.2", "203.0.113.9, garbage", "10.0.0.2"),
        (["::1/128"], "::1", "2001:db8::5", "2001:db8::5"),
        (["::1/128"], "::1", "[2001:db8::5]", "2001:db8::5"),
        ([], "", "203.0.113.9", None),
        # Ports written by some proxies, and IPv4 peers on a dual-stack socket.
        (["10.0.0.0/8"], "10.0.0.2", "203.0.113.9:51234", "203.0.113.9"),
        (["::1/128"], "::1", "[2001:db8::5]:443", "2001:db8::5"),
        (["10.0.0.0/8"], "::ffff:10.0.0.2", "203.0.113.9", "203.0.113.9"),
        ([], "::ffff:203.0.113.5", None, "203.0.113.5"),
    ],
)
def test_client_ip_reads_x_forwarded_for_from_the_right_only_behind_trusted_proxies(
    settings: Any, trusted: list[str], peer: str, forwarded_for: str | None, counted: str | None
) -> None:
    settings.TRUSTED_PROXIES = [ipaddress.ip_network(n) for n in trusted]
    extra: dict[str, Any] = {"REMOTE_ADDR": peer}
    if forwarded_for is not None:
        extra["HTTP_X_FORWARDED_FOR"] = forwarded_for
    request = RequestFactory().post("/signin/", **extra)

    assert client_ip(request) == counted


# --- 5. the second step counts too ---------------------------------------------------


@pytest.fixture
def secret(alice: User) -> str:
    value = pyotp.random_base32(32)
    twofactor.turn_on(alice, value, 0)
    return value


def wrong_code(secret: str) -> str:
    totp = pyotp.TOTP(secret)
    now = time.time()
    near = {totp.at(now + drift) for drift in (-30, 0, 30)}
    return next(c for c in ("000000", "111111", "222222", "333333") if c not in near)


def test_wrong_codes_count_with_wrong_passwords_and_pause_the_second_step(
    alice: User, secret: str
) -> None:
    client = Client()
    with clock() as traveller:
        for _ in range(4):
            r = sign_in(client, alice.email, WRONG)
            assert r.status_code == 200 and NOT_RIGHT in page(r)
        # The right password leads on to the code, and forgives nothing.
        r = sign_in(client, alice.email, PASSWORD)
        assert r.status_code == 302 and r["Location"] == "/signin/verify/"

        r = client.post("/signin/verify/", {"code": wrong_code(secret)})  # failure 5
        assert r.status_code == 200 and CODE_NOT_RIGHT in page(r)
        r = client.post("/signin/verify/", {"code": pyotp.TOTP(secret).now()})
        assert r.status_code == 429 and wait(2) in page(r)
        assert "Confirm it is you" in page(r)
        for failure in range(6, 11):
            r = persist(
                traveller, lambda: client.post("/signin/verify/", {"code": wrong_code(secret)})
            )
            assert r.status_code == 200 and CODE_NOT_RIGHT in page(r), failure

        # Paused: the right code is not even looked at, nor is the right password.
        r = client.post("/signin/verify/", {"code": pyotp.TOTP(secret).now()})
        assert r.status_code == 429, page(r)
        assert "Confirm it is you" in page(r) and paused(15) in page(r)
        assert not is_signed_in(client)
        r = client.get("/signin/verify/")
        assert r.status_code == 429 and paused(15) in page(r)
        r = sign_in(Client(), alice.email, PASSWORD)
        assert r.status_code == 429 and paused(15) in page(r)


def test_only_a_complete_sign_in_clears_the_count(alice: User, secret: str) -> None:
    client = Client()
    with clock() as traveller:
        lock_by_passwords(client, alice.email, traveller, failures=4)
        r = sign_in(client, alice.email, PASSWORD)
        assert r.status_code == 302 and r["Location"] == "/signin/verify/"
        for _ in range(5):  # failures 5 to 9
            r = persist(
                traveller, lambda: client.post("/signin/verify/", {"code": wrong_code(secret)})
            )
            assert r.status_code == 200 and CODE_NOT_RIGHT in page(r)
        r = persist(
            traveller, lambda: client.post("/signin/verify/", {"code": pyotp.TOTP(secret).now()})
        )
        assert r.status_code == 302 and r["Location"] == "/inbox/"
        assert is_signed_in(client)

        # Counting starts from nothing: five failures in a row before the first wait.
        other = Client()
        wrong_in_a_row(other, alice.email, 5)
        r = sign_in(other, alice.email, WRONG)
        assert r.status_code == 429 and wait(2) in page(r)


# --- 6. emailed links ---------------------------------------------------------------


def link_requests(path: str, address: str, remote_addr: str) -> list[tuple[int, str]]:
    client = Client(REMOTE_ADDR=remote_addr)
    seen = []
    with clock() as traveller:
        for _ in range(12):
            r = client.post(path, {"email": address})
            seen.append(as_seen(r, address))
        traveller.shift(timedelta(minutes=15))
        seen.append(as_seen(client.post(path, {"email": address}), address))
    return seen


@pytest.mark.parametrize("path", ["/password/forgot/", "/link/new/"])
def test_link_requests_for_one_address_are_paused_after_ten(alice: User, path: str) -> None:
    mailbox = link_requests(path, alice.email, "198.51.100.1")
    unknown = link_requests(path, UNKNOWN, "198.51.100.2")

    sent = (302, "")
    assert mailbox[:10] == [sent] * 10, mailbox[:10]
    for status, html in mailbox[10:12]:
        assert status == 429
        assert paused(15) in html
        assert 'name="email"' in html  # the form, to try again later
    assert mailbox[12] == sent, "the pause ends by itself"
    assert unknown == mailbox


def test_link_requests_from_one_client_are_paused_after_thirty(db: Any) -> None:
    client = Client(REMOTE_ADDR="203.0.113.66")
    with clock():
        for n in range(30):
            r = client.post("/password/forgot/", {"email": f"someone{n}@example.com"})
            assert r.status_code == 302, n
        r = client.post("/password/forgot/", {"email": "yet-another@example.com"})
        assert r.status_code == 429 and paused(15) in page(r)
        r = Client(REMOTE_ADDR="203.0.113.67").post(
            "/password/forgot/", {"email": "yet-another@example.com"}
        )
        assert r.status_code == 302


# --- 7. the operator ------------------------------------------------------------------


def test_the_operator_lifts_the_pause_with_sealbox_user_unlock(alice: User) -> None:
    client = Client()
    with clock() as traveller:
        lock_by_passwords(client, alice.email, traveller)
        r = sign_in(client, alice.email, PASSWORD)
        assert r.status_code == 429 and paused(15) in page(r)

        out = StringIO()
        call_command("user", "unlock", "  Alice@Example.NET ", stdout=out)
        assert out.getvalue().startswith("Sign-in for alice@example.net is no longer paused.")

        r = sign_in(client, alice.email, PASSWORD)
        assert r.status_code == 302 and r["Location"] == "/inbox/"


# --- the owner's own devices -------------------------------------------------------


def test_a_stranger_cannot_pause_the_account_on_its_owners_own_browser(alice: User) -> None:
    """Ten wrong passwords from anyone pause the account, except where it signed in before."""
    owner = Client(REMOTE_ADDR="198.51.100.20")
    attacker = Client(REMOTE_ADDR="203.0.113.66")
    with clock() as traveller:
        assert sign_in(owner, alice.email, PASSWORD).status_code == 302
        assert "sealbox_device" in owner.cookies
        owner.post("/signout/")
        failures_at = [
            persist(traveller, partial(sign_in, attacker, alice.email, WRONG)) for _ in range(10)
        ]
        assert all(r.status_code == 200 for r in failures_at)
        # Anywhere else the account is paused …
        r = sign_in(Client(REMOTE_ADDR="192.0.2.50"), alice.email, PASSWORD)
        assert r.status_code == 429 and paused(15) in page(r)
        # … but on her own browser her password works.
        r = sign_in(owner, alice.email, PASSWORD)
        assert r.status_code == 302 and r["Location"] == "/inbox/"
        # A forged cookie is no way round the pause.
        forged = Client(REMOTE_ADDR="192.0.2.51")
        forged.cookies["sealbox_device"] = "forged"
        r = sign_in(forged, alice.email, PASSWORD)
        assert r.status_code == 429


def test_one_ipv6_network_counts_as_one_client(alice: User) -> None:
    with clock() as traveller:
        for n in range(50):
            client = Client(REMOTE_ADDR=f"2001:db8:1:2::{n + 1:x}")
            r = persist(traveller, partial(sign_in, client, f"guess{n}@example.com", WRONG))
            assert r.status_code == 200
        r = sign_in(Client(REMOTE_ADDR="2001:db8:1:2:ffff::1"), alice.email, PASSWORD)
        assert r.status_code == 429 and paused(15) in page(r)
        r = sign_in(Client(REMOTE_ADDR="2001:db8:1:3::1"), alice.email, PASSWORD)
        assert r.status_code == 302


def test_the_operator_lifts_the_pause_of_an_ipv6_network(alice: User) -> None:
    with clock() as traveller:
        for n in range(50):
            client = Client(REMOTE_ADDR=f"2001:db8:7:7::{n + 1:x}")
            persist(traveller, partial(sign_in, client, f"guess{n}@example.com", WRONG))
        office = Client(REMOTE_ADDR="2001:db8:7:7::abcd")
        assert sign_in(office, alice.email, PASSWORD).status_code == 429
        out = StringIO()
        call_command("user", "unlock", "2001:db8:7:7::abcd", stdout=out)
        assert "Sign-in from 2001:db8:7:7::abcd is no longer paused." in out.getvalue()
        assert sign_in(office, alice.email, PASSWORD).status_code == 302


def test_link_requests_from_one_ipv6_network_count_together(db: Any) -> None:
    with clock():
        for n in range(30):
            client = Client(REMOTE_ADDR=f"2001:db8:9:9::{n + 1:x}")
            r = client.post("/password/forgot/", {"email": f"someone{n}@example.com"})
            assert r.status_code == 302
        r = Client(REMOTE_ADDR="2001:db8:9:9::ffff").post(
            "/password/forgot/", {"email": "one-more@example.com"}
        )
        assert r.status_code == 429 and paused(15) in page(r)

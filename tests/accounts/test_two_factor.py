"""Two-factor sign-in with an authenticator app: codes cross-checked with oathtool, recovery codes."""

from __future__ import annotations

import re
import subprocess
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine
from django.core.management import call_command
from django.test import Client

from sealbox.accounts import twofactor
from sealbox.accounts.models import Activity, RecoveryCode, User
from sealbox.operator.models import AuditEntry
from tests.accounts.helpers import PASSWORD, is_signed_in, page, signed_in

pytestmark = pytest.mark.django_db

# Several instants: a step's start, its last second, and times far apart.
TIMES = [
    datetime(2026, 11, 25, 10, 0, 0, tzinfo=UTC),
    datetime(2026, 11, 25, 10, 0, 29, tzinfo=UTC),
    datetime(2027, 3, 1, 23, 59, 45, tzinfo=UTC),
    datetime(2031, 7, 14, 4, 20, 11, tzinfo=UTC),
]


def oathtool(secret: str, when: datetime) -> str:
    """The code Debian's oathtool computes for this secret at this time (RFC 6238, SHA-1, 6 digits)."""
    out = subprocess.run(
        ["oathtool", "--totp", "-b", secret, "-N", when.strftime("%Y-%m-%d %H:%M:%S UTC")],
        capture_output=True,
        text=True,
        check=True,
    )
    return out.stdout.strip()


def enrolled(user: User, when: datetime) -> str:
    """Turn on two-factor sign-in for the user at this time; returns the secret."""
    secret = twofactor.new_secret()
    with time_machine.travel(when - timedelta(minutes=5), tick=False):
        step = twofactor.matching_step(secret, oathtool(secret, when - timedelta(minutes=5)))
        assert step is not None
        twofactor.turn_on(user, secret, step)
    return secret


def password_step(user: User, client: Client | None = None) -> Client:
    client = client or Client()
    r = client.post("/signin/", {"username": user.email, "password": PASSWORD})
    assert r.status_code == 302 and r["Location"] == "/signin/verify/", page(r)
    assert not is_signed_in(client), "the password alone must grant nothing"
    return client


@pytest.mark.parametrize("when", TIMES, ids=lambda t: t.isoformat())
def test_the_code_oathtool_computes_signs_in(alice: User, when: datetime) -> None:
    secret = enrolled(alice, when)
    with time_machine.travel(when, tick=False):
        client = password_step(alice)
        r = client.post("/signin/verify/", {"code": oathtool(secret, when)})
        assert r.status_code == 302 and r["Location"] == "/inbox/"
        assert is_signed_in(client)


def test_the_secret_is_160_bits_of_base32_and_the_uri_names_the_site(settings: Any) -> None:
    settings.SITE_NAME = "Acme Secure Mail"
    secret = twofactor.new_secret()
    assert re.fullmatch(r"[A-Z2-7]{32}", secret)
    uri = twofactor.provisioning_uri("alice@example.net", secret)
    assert uri.startswith("otpauth://totp/Acme%20Secure%20Mail:alice%40example.net?")
    assert f"secret={secret}" in uri and "issuer=Acme%20Secure%20Mail" in uri
    assert twofactor.grouped(secret).split(" ") == [secret[i : i + 4] for i in range(0, 32, 4)]


@pytest.mark.parametrize(
    ("drift", "accepted"), [(-60, False), (-30, True), (30, True), (60, False)]
)
def test_one_step_of_clock_drift_is_accepted_two_are_not(
    alice: User, drift: int, accepted: bool
) -> None:
    when = TIMES[0] + timedelta(seconds=10)
    secret = enrolled(alice, when)
    # The phone's clock is off by `drift` seconds: its code is the one for that time.
    code = oathtool(secret, when + timedelta(seconds=drift))
    with time_machine.travel(when, tick=False):
        assert twofactor.verify_totp(alice, code) is accepted


def test_a_used_code_is_refused_for_the_rest_of_its_validity(alice: User) -> None:
    when = TIMES[0]
    secret = enrolled(alice, when)
    code = oathtool(secret, when)
    with time_machine.travel(when, tick=False):
        client = password_step(alice)
        assert client.post("/signin/verify/", {"code": code}).status_code == 302
    # Someone who saw the code tries it within its validity (one step of drift).
    for later in (5, 29, 45):
        with time_machine.travel(when + timedelta(seconds=later), tick=False):
            other = password_step(alice)
            r = other.post("/signin/verify/", {"code": code})
            assert r.status_code == 200
            assert "That code did not work" in page(r)
            assert not is_signed_in(other)
    # An earlier code (still within the drift window) is refused as well.
    with time_machine.travel(when + timedelta(seconds=31), tick=False):
        assert not twofactor.verify_totp(alice, oathtool(secret, when - timedelta(seconds=30)))
        assert twofactor.verify_totp(alice, oathtool(secret, when + timedelta(seconds=31)))


def test_the_code_that_turned_it_on_cannot_sign_in(alice: User) -> None:
    when = TIMES[1]
    secret = twofactor.new_secret()
    code = oathtool(secret, when)
    with time_machine.travel(when, tick=False):
        step = twofactor.matching_step(secret, code)
        assert step is not None
        twofactor.turn_on(alice, secret, step)
        assert not twofactor.verify_totp(alice, code)


def test_enrolment_through_the_settings_page(reader: Client, alice: User) -> None:
    r = reader.get("/settings/two-factor/")
    html = page(r)
    assert r.status_code == 200
    assert "<svg" in html and "QR code" in html
    secret = re.search(r"data-secret>([A-Z2-7 ]+)<", html)
    assert secret is not None
    secret_text = secret.group(1).replace(" ", "")
    # A wrong code leaves it off.
    r = reader.post("/settings/two-factor/", {"code": "000000", "password": PASSWORD})
    assert "That code did not work" in page(r)
    alice.refresh_from_db()
    assert not alice.has_totp
    now = datetime.now(UTC)
    r = reader.post("/settings/two-factor/", {"code": oathtool(secret_text, now)})
    assert r.status_code == 200
    codes = re.findall(r"<li><code>([a-z2-9-]+)</code></li>", page(r))
    assert len(codes) == 10 and len(set(codes)) == 10
    assert all(re.fullmatch(r"[a-z2-9]{4}-[a-z2-9]{4}-[a-z2-9]{4}", c) for c in codes)
    assert "no-store" in r["Cache-Control"]
    alice.refresh_from_db()
    assert alice.has_totp and alice.totp_secret == secret_text
    # Stored only hashed.
    stored = list(RecoveryCode.objects.filter(user=alice).values_list("code_hash", flat=True))
    assert len(stored) == 10
    assert not any(c in h or c.replace("-", "") in h for c in codes for h in stored)
    assert Activity.objects.filter(user=alice, kind=Activity.Kind.TOTP_ON).exists()
    # The page that showed the codes is gone: settings now say it is on, with 10 codes left.
    html = page(reader.get("/settings/"))
    assert "You have 10 unused recovery codes." in html
    assert "data-secret" not in page(reader.get("/settings/two-factor/", follow=True))


def test_a_recovery_code_signs_in_once(alice: User) -> None:
    enrolled(alice, datetime.now(UTC))
    codes = twofactor.new_recovery_codes(alice)
    client = password_step(alice)
    r = client.post("/signin/verify/", {"code": codes[3].upper().replace("-", " ")}, follow=True)
    assert r.redirect_chain[-1][0] == "/inbox/"
    assert "You used a recovery code; 9 are left." in page(r)
    # The same code again: refused.
    other = password_step(alice)
    r = other.post("/signin/verify/", {"code": codes[3]})
    assert "That code did not work" in page(r)
    assert not is_signed_in(other)
    assert twofactor.unused_recovery_codes(alice) == 9
    assert Activity.objects.filter(user=alice, kind=Activity.Kind.RECOVERY_USED).count() == 1


def test_new_recovery_codes_need_the_password_and_void_the_old_ones(
    reader: Client, alice: User
) -> None:
    enrolled(alice, datetime.now(UTC))
    old = twofactor.new_recovery_codes(alice)
    r = reader.post("/settings/recovery-codes/", {"password": "wrong"})
    assert r.status_code == 200 and "The password is not right." in page(r)
    r = reader.post("/settings/recovery-codes/", {"password": PASSWORD})
    new = re.findall(r"<li><code>([a-z2-9-]+)</code></li>", page(r))
    assert len(new) == 10 and not set(new) & set(old)
    assert not twofactor.use_recovery_code(alice, old[0])
    assert twofactor.use_recovery_code(alice, new[0])


def test_turning_it_off_asks_for_password_and_code(alice: User) -> None:
    now = datetime.now(UTC)
    secret = enrolled(alice, now)
    client = password_step(alice)
    with time_machine.travel(now, tick=False):
        assert client.post("/signin/verify/", {"code": oathtool(secret, now)}).status_code == 302
    later = now + timedelta(seconds=30)
    with time_machine.travel(later, tick=False):
        code = oathtool(secret, later)
        # Right code, wrong password; right password, wrong code: the same answer.
        for data in ({"password": "wrong", "code": code}, {"password": PASSWORD, "code": "123456"}):
            r = client.post("/settings/two-factor/off/", data)
            assert r.status_code == 200
            assert "The password or code is not right." in page(r)
        alice.refresh_from_db()
        assert alice.has_totp
    with time_machine.travel(later + timedelta(seconds=30), tick=False):
        code = oathtool(secret, later + timedelta(seconds=30))
        r = client.post(
            "/settings/two-factor/off/", {"password": PASSWORD, "code": code}, follow=True
        )
        assert "Two-factor sign-in with an app is off." in page(r)
    alice.refresh_from_db()
    assert not alice.has_totp and not alice.totp_secret
    assert not RecoveryCode.objects.filter(user=alice).exists()
    # The password alone signs in again.
    signed_in(alice)


def test_the_half_signed_in_state_lasts_five_minutes_and_grants_nothing(alice: User) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    secret = enrolled(alice, now)
    with time_machine.travel(now, tick=False):
        client = password_step(alice)
        for path in ("/inbox/", "/settings/", "/activity/"):
            assert client.get(path).status_code == 302
    later = now + timedelta(minutes=5, seconds=1)
    with time_machine.travel(later, tick=False):
        r = client.post("/signin/verify/", {"code": oathtool(secret, later)}, follow=True)
        assert r.redirect_chain[-1][0] == "/signin/"
        assert "Sign-in took too long" in page(r)
        assert not is_signed_in(client)


def test_a_password_reset_link_does_not_skip_the_second_factor(alice: User) -> None:
    from sealbox.accounts.models import LinkToken

    enrolled(alice, datetime.now(UTC))
    token = LinkToken.issue(alice, LinkToken.Purpose.RESET)
    client = Client()
    client.get(f"/reset/{token}/")
    new = "a brand new passphrase 42"
    r = client.post(
        "/reset/set-password/", {"new_password1": new, "new_password2": new}, follow=True
    )
    assert r.redirect_chain[-1][0] == "/signin/verify/"
    assert not is_signed_in(client)


def test_an_operator_resets_two_factor_and_it_is_logged(
    alice: User, capsys: Any, caplog: Any
) -> None:
    enrolled(alice, datetime.now(UTC))
    twofactor.new_recovery_codes(alice)
    session = signed_in_fully(alice)
    caplog.set_level("WARNING", logger="sealbox.operator")
    call_command("user", "reset-2fa", "ALICE@example.net")
    out = capsys.readouterr().out
    assert "Two-factor sign-in of alice@example.net is reset" in out
    alice.refresh_from_db()
    assert not alice.has_two_factor
    assert not RecoveryCode.objects.filter(user=alice).exists()
    assert any("reset two-factor alice@example.net" in r.getMessage() for r in caplog.records)
    [entry] = AuditEntry.objects.filter(action="reset two-factor")
    assert entry.target == "alice@example.net" and entry.actor.startswith("command line (")
    assert Activity.objects.filter(user=alice, kind=Activity.Kind.TWO_FACTOR_RESET).exists()
    # Her sessions are over; the password alone now signs in.
    assert not is_signed_in(session)
    signed_in(alice)


def signed_in_fully(user: User) -> Client:
    client = password_step(user)
    code = twofactor.new_recovery_codes(user)[0]
    assert client.post("/signin/verify/", {"code": code}).status_code == 302
    return client


def test_a_session_signed_in_long_ago_needs_the_password_to_add_a_factor(alice: User) -> None:
    """A borrowed session cannot add its holder's app and shut the owner out."""
    start = datetime.now(UTC)
    with time_machine.travel(start, tick=False):
        owner, thief = signed_in(alice), signed_in(alice)
    later = start + timedelta(minutes=11)
    with time_machine.travel(later, tick=False):
        html = page(thief.get("/settings/two-factor/"))
        assert 'name="password"' in html
        secret = re.search(r"data-secret>([A-Z2-7 ]+)<", html).group(1).replace(" ", "")  # type: ignore[union-attr]
        for password in ("", "a guess"):
            r = thief.post(
                "/settings/two-factor/", {"code": oathtool(secret, later), "password": password}
            )
            assert "The password is not right." in page(r)
        alice.refresh_from_db()
        assert not alice.has_totp
        assert is_signed_in(owner)
        assert Activity.objects.filter(user=alice, kind=Activity.Kind.SIGNIN_FAILED).count() == 2
        # With the password it works, and the session counts as fresh again.
        r = thief.post(
            "/settings/two-factor/", {"code": oathtool(secret, later), "password": PASSWORD}
        )
        assert "Your recovery codes" in page(r)


def test_digits_from_other_scripts_are_simply_wrong(alice: User) -> None:
    enrolled(alice, datetime.now(UTC))
    client = password_step(alice)
    r = client.post("/signin/verify/", {"code": "١٢٣٤٥٦"})
    assert r.status_code == 200 and "That code did not work" in page(r)

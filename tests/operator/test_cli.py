"""`sealbox user ...` and `sealbox stats`: what an operator sees and does on the command line."""

from __future__ import annotations

import io
import json
import subprocess
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
import time_machine
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client

from sealbox.accounts import activity, throttle
from sealbox.accounts.models import Activity, Throttle, User
from sealbox.intake.delivery import deliver
from sealbox.mailstore.models import Message
from sealbox.operator.models import AuditEntry
from sealbox.outbound import queue
from sealbox.outbound.models import OutgoingEmail
from tests.conftest import CAROL, SEALBOX, process_env
from tests.mail import make_message

pytestmark = pytest.mark.django_db(transaction=True)

DAVE = "dave@example.com"
SUBJECT = "Confidential pelican report 6613"


def run(*args: str) -> str:
    out = io.StringIO()
    call_command("user", *args, stdout=out)
    return out.getvalue()


def line_of(output: str, email: str) -> str:
    [line] = [ln for ln in output.splitlines() if ln.startswith(email)]
    return line


def lock(email: str) -> None:
    Throttle.objects.create(
        key=throttle.Key(throttle.ACCOUNT, email).digest,
        failures=10,
        locked_until=datetime.now(UTC) + timedelta(minutes=15),
    )


def stats(*args: str) -> str:
    out = io.StringIO()
    call_command("stats", *args, stdout=out)
    return out.getvalue()


def test_list_shows_each_account_and_filters(alice: User, bob: User, settings: Any) -> None:
    settings.QUOTA_MB = 10
    deliver(CAROL, [DAVE], make_message(subject=SUBJECT, to=DAVE))
    User.objects.filter(pk=alice.pk).update(
        usage_bytes=9 * 1024 * 1024, last_login="2026-01-01T10:00Z"
    )
    User.objects.filter(pk=bob.pk).update(is_active=False)

    out = run("list")

    assert out.splitlines()[0].split()[:3] == ["ADDRESS", "STATUS", "CREATED"]
    assert "active" in line_of(out, alice.email)
    assert "9.0 MiB / 10 MiB  90%" in line_of(out, alice.email)
    assert "disabled" in line_of(out, bob.email)
    assert "never activated" in line_of(out, DAVE)
    assert line_of(out, DAVE).split()[-1] == "off"
    assert out.splitlines()[-1] == "3 account(s)"
    assert SUBJECT not in out

    assert run("list", "--over", "80").count("@") == 1
    assert alice.email in run("list", "--over", "80")
    never = run("list", "--never-signed-in")
    assert DAVE in never and alice.email not in never
    assert run("list", "--status", "never-activated").splitlines()[-1] == "1 account(s)"
    assert run("list", "--status", "disabled").count("@") == 1


def test_list_shows_locked_accounts_operators_and_local_times(
    alice: User, bob: User, settings: Any
) -> None:
    settings.TIME_ZONE = "Europe/Berlin"
    settings.QUOTA_MB = 0
    User.objects.filter(pk=alice.pk).update(last_login=datetime(2026, 1, 1, 10, 0, tzinfo=UTC))
    User.objects.create_superuser("op@corp.example", "an operator's long passphrase")
    lock(bob.email)

    out = run("list")

    assert "2026-01-01 11:00" in line_of(out, alice.email)  # 10:00 UTC in Berlin
    assert "0.0 MiB / no limit" in line_of(out, alice.email)
    assert "locked" in line_of(out, bob.email)
    assert run("list", "--status", "locked").count("@") == 1
    assert bob.email not in run("list", "--status", "active")
    operators = run("list", "--operators")
    assert "op@corp.example" in operators and operators.splitlines()[-1] == "1 account(s)"


def test_show_tells_everything_but_the_mail(alice: User) -> None:
    [message] = deliver(CAROL, [alice.email], make_message(subject=SUBJECT, to=alice.email))
    out = run("show", alice.email)
    assert "Status:         active" in out
    assert "Messages:       1 received (1 unread), 0 sent" in out
    assert "Keeps mail:     90 days (the default)" in out
    assert "Two-factor:     app off, 0 passkey(s), 0 recovery code(s) left" in out
    assert "Operator:       no" in out
    assert "Reminders:      on" in out
    assert "Read receipts:  asked each time (the default)" in out
    assert SUBJECT not in out and message.message_id not in out and CAROL not in out


def test_show_has_the_latest_five_activity_entries_and_own_settings(alice: User) -> None:
    for n in range(6):
        with time_machine.travel(datetime(2026, 3, 1 + n, 12, 0, tzinfo=UTC), tick=False):
            activity.record(alice, Activity.Kind.PASSWORD_CHANGED if n else Activity.Kind.SIGNIN)
    User.objects.filter(pk=alice.pk).update(
        retention_days=30,
        expiry_reminders=False,
        allow_compose=True,
        quota_mb=50,
        read_receipts="never",
    )

    out = run("show", alice.email)

    assert out.count("Password changed") == 5
    assert "Signed in" not in out  # the oldest of six
    assert "  2026-03-06 12:00  Password changed  -" in out
    assert "Keeps mail:     30 days (own choice)" in out
    assert "Reminders:      off" in out
    assert "Read receipts:  never sent (own choice)" in out
    assert "May write new:  yes" in out
    assert "/ 50 MiB  0% (own quota)" in out


def test_set_quota_is_shown_and_audited_with_the_command_line_as_actor(alice: User) -> None:
    assert "Quota of alice@example.net: 5 MiB." in run("set-quota", alice.email, "5")
    assert "/ 5 MiB" in run("show", alice.email)
    assert "no limit" in run("set-quota", alice.email, "0")
    assert "the default, 1024 MiB" in run("set-quota", alice.email, "default")
    entries = list(AuditEntry.objects.order_by("at", "id"))
    assert [e.detail for e in entries] == [
        "the default -> 5 MiB",
        "5 MiB -> no limit",
        "no limit -> the default",
    ]
    assert all(e.actor.startswith("command line (") and e.target == alice.email for e in entries)
    for wrong in ("big", "-5", "10000001", "9" * 30, "²", "٣"):
        with pytest.raises(CommandError, match="expected a number of MiB up to 10000000"):
            run("set-quota", alice.email, wrong)
    assert AuditEntry.objects.count() == 3
    assert "Quota of alice@example.net: 10000000 MiB." in run("set-quota", alice.email, "10000000")


def test_disable_ends_sessions_and_stops_sign_in_enable_undoes_it(alice: User) -> None:
    browser = Client()
    browser.force_login(alice)
    assert browser.get("/inbox/").status_code == 200

    assert "is disabled" in run("disable", alice.email)

    assert browser.get("/inbox/").status_code == 302
    signin = Client().post(
        "/signin/", {"username": alice.email, "password": "correct horse battery staple"}
    )
    assert signin.status_code == 200  # the form again, not the inbox
    assert "was already disabled" in run("disable", alice.email)
    assert "can sign in again" in run("enable", alice.email)
    signin = Client().post(
        "/signin/", {"username": alice.email, "password": "correct horse battery staple"}
    )
    assert signin["Location"] == "/inbox/"


def test_delete_removes_account_rows_and_files_after_confirmation(alice: User, bob: User) -> None:
    deliver(CAROL, [alice.email, bob.email], make_message(to=alice.email))
    files = [Path(settings.DATA_DIR) / m.blob for m in Message.objects.filter(owner=alice)]
    with pytest.raises(CommandError, match="add --yes"):
        run("delete", alice.email)  # stdin is not a terminal under pytest
    assert User.objects.filter(pk=alice.pk).exists()

    assert "Deleted alice@example.net and 1 message(s)." in run("delete", alice.email, "--yes")

    assert not User.objects.filter(email=alice.email).exists()
    assert not any(f.exists() for f in files)
    assert Message.objects.filter(owner=bob).count() == 1
    assert AuditEntry.objects.get(action="delete account").target == alice.email


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_delete_on_a_terminal_asks_for_the_address(alice: User) -> None:
    deliver(CAROL, [alice.email], make_message(to=alice.email))
    with mock.patch("sys.stdin", Terminal("alice@example.org\n")):
        with pytest.raises(CommandError, match="not confirmed; nothing deleted"):
            run("delete", alice.email)
    assert Message.objects.filter(owner=alice).count() == 1

    with mock.patch("sys.stdin", Terminal("Alice@Example.net\n")):
        out = run("delete", alice.email)

    assert "This deletes alice@example.net and its 1 message(s) for good." in out
    assert "Deleted alice@example.net and 1 message(s)." in out
    assert not User.objects.filter(email=alice.email).exists()
    assert not Message.objects.exists()


def test_resend_activation_sends_a_new_link(alice: User, settings: Any) -> None:
    deliver(CAROL, [DAVE], make_message(to=DAVE))
    assert "A new activation link was sent to dave@example.com." in run("resend-activation", DAVE)

    queue.process_due()

    [path] = Path(settings.OUTBOX_DIR).glob("*.eml")
    email = message_from_bytes(path.read_bytes(), policy=policy.default)
    assert email["To"] == DAVE
    assert "http://portal.test/activate/" in path.read_text()
    assert SUBJECT not in path.read_text()
    entry = AuditEntry.objects.get(action="resend activation")
    assert entry.target == DAVE and entry.actor.startswith("command line (")
    with pytest.raises(CommandError, match="already chosen a password"):
        run("resend-activation", alice.email)


def test_reset_2fa_and_unlock_are_audited(alice: User) -> None:
    lock(alice.email)
    assert "no longer paused" in run("unlock", alice.email)
    assert not Throttle.objects.exists()
    assert "had no two-factor sign-in" in run("reset-2fa", alice.email)
    assert list(AuditEntry.objects.order_by("id").values_list("action", "target")) == [
        ("lift sign-in pause", alice.email),
        ("reset two-factor", alice.email),
    ]


def test_unknown_address_is_one_clear_line(db: Any) -> None:
    with pytest.raises(CommandError, match=r"no account nobody@example\.com"):
        run("show", "nobody@example.com")


def test_stats_and_its_json(alice: User, bob: User, settings: Any) -> None:
    settings.QUOTA_MB = 10
    with time_machine.travel(datetime.now(UTC) - timedelta(days=85)):
        deliver(CAROL, [alice.email, DAVE], make_message(to=alice.email))
    deliver(CAROL, [alice.email], make_message(to=alice.email))
    User.objects.create_superuser("op@corp.example", "an operator's long passphrase")
    User.objects.filter(pk=alice.pk).update(usage_bytes=9 * 1024 * 1024)
    User.objects.filter(pk=bob.pk).update(usage_bytes=10 * 1024 * 1024, is_active=False)
    for _ in range(3):
        run("resend-activation", DAVE)
    first, second, _ = OutgoingEmail.objects.order_by("created", "id")
    OutgoingEmail.objects.filter(pk=first.pk).update(status="failed", attempts=5)
    OutgoingEmail.objects.filter(pk=second.pk).update(attempts=1)

    text = stats()

    assert "Recipients:          3 (1 never activated, 1 active, 0 locked, 1 disabled)" in text
    assert "Operators:           1" in text
    assert "Messages:            3, 1.5 KiB stored" in text
    assert "Oldest message:      85 days old" in text
    assert "Expiring in 7 days:  2" in text
    assert "Mailboxes:           2 over 80 %, 1 full" in text
    assert "Defaults:            messages kept 90 days, quota 10 MiB" in text
    assert "Outgoing queue:      1 pending, 1 retrying, 1 failed" in text
    assert SUBJECT not in text

    data = json.loads(stats("--json"))
    assert data["messages"] == 3
    assert data["accounts"] == {"never activated": 1, "active": 1, "locked": 0, "disabled": 1}
    assert data["stored_bytes"] == sum(Message.objects.values_list("size", flat=True))
    assert (data["over_warning"], data["full"], data["expiring_within_7_days"]) == (2, 1, 2)
    assert data["outgoing"] == {"pending": 1, "retrying": 1, "failed": 1}
    assert (data["retention_days"], data["quota_mb"]) == (90, 10)


def test_stats_says_0_days_for_mail_stored_by_a_clock_that_runs_ahead(alice: User) -> None:
    with time_machine.travel(datetime.now(UTC) + timedelta(days=2, hours=1)):
        deliver(CAROL, [alice.email], make_message(to=alice.email))
    assert "Oldest message:      0 days old" in stats()


def test_stats_and_over_share_with_the_default_quota(alice: User, bob: User) -> None:
    # 1024 MiB times 80 % passes PostgreSQL's integer: quota arithmetic must be in bigint.
    User.objects.filter(pk=bob.pk).update(usage_bytes=1000 * 1024 * 1024)
    over = run("list", "--over", "80")
    assert bob.email in over and alice.email not in over
    assert "Mailboxes:           1 over 80 %, 0 full" in stats()


def test_an_own_quota_above_two_gib_works(alice: User) -> None:
    run("set-quota", alice.email, "4096")
    deliver(CAROL, [alice.email], make_message(to=alice.email))
    User.objects.filter(pk=alice.pk).update(usage_bytes=4000 * 1024 * 1024)

    assert "/ 4096 MiB  97%" in run("show", alice.email)
    assert alice.email in run("list", "--over", "90")


def test_the_real_command_lists_accounts(alice: User) -> None:
    done = subprocess.run(
        [*SEALBOX, "user", "list", "--status", "active"],
        env=process_env(settings.DATA_DIR),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert alice.email in done.stdout
    assert done.stdout.splitlines()[-1] == "1 account(s)"
    missing = subprocess.run(
        [*SEALBOX, "user", "show", "nobody@example.com"],
        env=process_env(settings.DATA_DIR),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert missing.returncode == 1
    assert missing.stderr.strip() == "CommandError: no account nobody@example.com"

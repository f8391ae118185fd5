"""`sealbox user ...` and `sealbox stats`: what an operator sees and does on the command line."""

from __future__ import annotations

import io
import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client

from sealbox.accounts.models import User
from sealbox.intake.delivery import deliver
from sealbox.mailstore.models import Message
from sealbox.operator.models import AuditEntry
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


def test_show_tells_everything_but_the_mail(alice: User) -> None:
    [message] = deliver(CAROL, [alice.email], make_message(subject=SUBJECT, to=alice.email))
    out = run("show", alice.email)
    assert "Status:         active" in out
    assert "Messages:       1 received (1 unread), 0 sent" in out
    assert "Keeps mail:     90 days (the default)" in out
    assert "Two-factor:     app off, 0 passkey(s), 0 recovery code(s) left" in out
    assert SUBJECT not in out and message.message_id not in out and CAROL not in out


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
    with pytest.raises(CommandError, match="expected a number of MiB"):
        run("set-quota", alice.email, "big")


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


def test_resend_activation(alice: User) -> None:
    deliver(CAROL, [DAVE], make_message(to=DAVE))
    assert "A new activation link was sent to dave@example.com." in run("resend-activation", DAVE)
    assert [e.recipients for e in OutgoingEmail.objects.filter(kind="activation")] == [[DAVE]]
    with pytest.raises(CommandError, match="already chosen a password"):
        run("resend-activation", alice.email)


def test_unknown_address_is_one_clear_line(db: Any) -> None:
    with pytest.raises(CommandError, match=r"no account nobody@example\.com"):
        run("show", "nobody@example.com")


def test_stats_and_its_json(alice: User) -> None:
    deliver(CAROL, [alice.email, DAVE], make_message(to=alice.email))
    out = io.StringIO()
    call_command("stats", stdout=out)
    text = out.getvalue()
    assert "Recipients:          2 (1 never activated, 1 active, 0 locked, 0 disabled)" in text
    assert "Messages:            2," in text
    out = io.StringIO()
    call_command("stats", "--json", stdout=out)
    data = json.loads(out.getvalue())
    assert data["messages"] == 2
    assert data["accounts"]["active"] == 1
    assert data["stored_bytes"] == sum(Message.objects.values_list("size", flat=True))


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

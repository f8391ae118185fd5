"""Retention clean-up: exactly the expired messages go, files and rows, once, however many run it."""

from __future__ import annotations

import io
import os
import subprocess
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import time_machine
from django.conf import settings
from django.core.management import call_command
from django.db.models import Sum
from django.utils import timezone

from sealbox.accounts.models import LinkToken, User, hash_token
from sealbox.housekeeping import reseal, retention
from sealbox.intake.delivery import deliver
from sealbox.mailstore import blobs
from sealbox.mailstore.models import Message
from tests.conftest import CAROL, SEALBOX, process_env
from tests.intake.stored import files_under
from tests.mail import make_message

# Files go once the deleting transaction commits: every test commits for real.
pytestmark = pytest.mark.django_db(transaction=True)

DAVE = "dave@example.com"
START = datetime(2026, 1, 1, 9, 0, tzinfo=UTC)


def arrive(to: str, when: datetime, subject: str) -> Message:
    with time_machine.travel(when, tick=False):
        [message] = deliver(CAROL, [to], make_message(subject=subject, to=to))
    return message


def left() -> set[str]:
    return {m.subject for m in Message.objects.all()}


def files() -> set[str]:
    return {str(p.relative_to(settings.DATA_DIR)) for p in files_under(blobs.MESSAGES)}


def run(*args: str) -> str:
    out = io.StringIO()
    call_command("cleanup", *args, stdout=out)
    return out.getvalue()


@pytest.fixture
def mailboxes(db: Any, alice: User, bob: User) -> dict[str, Message]:
    """Alice keeps the default (90 days), Bob chose 7 days, Dave chose a year."""
    bob.retention_days = 7
    bob.save()
    User.objects.create_user(DAVE, "a third long passphrase", retention_days=365)
    return {
        "alice-100d": arrive(alice.email, START - timedelta(days=100), "alice-100d"),
        "alice-80d": arrive(alice.email, START - timedelta(days=80), "alice-80d"),
        "alice-new": arrive(alice.email, START, "alice-new"),
        "bob-10d": arrive(bob.email, START - timedelta(days=10), "bob-10d"),
        "bob-6d": arrive(bob.email, START - timedelta(days=6), "bob-6d"),
        "dave-200d": arrive(DAVE, START - timedelta(days=200), "dave-200d"),
        "dave-400d": arrive(DAVE, START - timedelta(days=400), "dave-400d"),
    }


def test_the_dry_run_names_what_the_clean_up_then_removes_exactly(
    mailboxes: dict[str, Message],
) -> None:
    gone = {"alice-100d", "bob-10d", "dave-400d"}
    with time_machine.travel(START, tick=False):
        dry = run("--dry-run")
        assert left() == set(mailboxes)  # the dry run removed nothing
        assert len(files()) == len(mailboxes)
        real = run()

    assert "Would remove 3 expired message(s)" in dry
    assert "  alice@example.net: 1\n  bob@example.org: 1\n  dave@example.com: 1\n" in dry
    assert "Nothing was removed (--dry-run)." in dry
    assert "Removed 3 expired message(s)" in real
    assert left() == set(mailboxes) - gone
    assert files() == {m.blob for k, m in mailboxes.items() if k not in gone}
    for email in ("alice@example.net", "bob@example.org", DAVE):
        owner = User.objects.get(email=email)
        stored = Message.objects.filter(owner=owner).aggregate(s=Sum("size"))["s"]
        assert owner.usage_bytes == stored


def test_running_again_removes_nothing_more(mailboxes: dict[str, Message]) -> None:
    with time_machine.travel(START, tick=False):
        assert retention.cleanup().messages == 3
        again = retention.cleanup()
    assert (again.messages, again.links, again.accounts, again.stray_files) == (0, 0, 0, 0)
    assert len(left()) == 4


def test_a_choice_changed_back_to_the_default_takes_effect(mailboxes: dict[str, Message]) -> None:
    User.objects.filter(email="bob@example.org").update(retention_days=None)
    with time_machine.travel(START, tick=False):
        retention.cleanup()
    assert {"bob-10d", "bob-6d"} <= left()


def test_moving_the_clock_expires_messages_as_they_reach_their_period(
    mailboxes: dict[str, Message],
) -> None:
    with time_machine.travel(START + timedelta(days=2), tick=False):
        retention.cleanup()
    assert "bob-6d" not in left()  # 8 days old now
    assert "alice-80d" in left()
    with time_machine.travel(START + timedelta(days=11), tick=False):
        retention.cleanup()
    assert "alice-80d" not in left()  # 91 days
    assert left() == {"alice-new", "dave-200d"}


def test_a_default_of_zero_keeps_mail_but_a_users_own_choice_still_applies(
    mailboxes: dict[str, Message], settings: Any
) -> None:
    settings.RETENTION_DAYS = 0
    with time_machine.travel(START, tick=False):
        retention.cleanup()
    assert left() == set(mailboxes) - {"bob-10d", "dave-400d"}


def test_expired_links_go_and_valid_ones_stay(db: Any) -> None:
    user = User.objects.create_user("new@example.com")
    with time_machine.travel(START - timedelta(days=30), tick=False):
        LinkToken.issue(user, LinkToken.Purpose.ACTIVATE)
        LinkToken.issue(user, LinkToken.Purpose.RESET)
    with time_machine.travel(START, tick=False):
        fresh = LinkToken.issue(user, LinkToken.Purpose.ACTIVATE)
        assert "Would remove 2 expired activation or reset link(s)." in run("--dry-run")
        retention.cleanup()
    assert list(LinkToken.objects.values_list("token_hash", flat=True)) == [hash_token(fresh)]


def test_only_never_activated_empty_old_enabled_accounts_are_removed(
    db: Any, settings: Any, alice: User
) -> None:
    old = START - timedelta(days=settings.UNUSED_ACCOUNT_DAYS + 1)
    with time_machine.travel(old, tick=False):
        User.objects.create_user("unused@example.com")
        User.objects.create_user("activated@example.com", "a long passphrase indeed")
        User.objects.create_superuser("operator@example.com")
        holder = User.objects.create_user("holder@example.com")
        disabled = User.objects.create_user("disabled@example.com")
        User.objects.filter(pk=disabled.pk).update(is_active=False)
    arrive(holder.email, START - timedelta(days=1), "kept")
    with time_machine.travel(START - timedelta(days=3), tick=False):
        User.objects.create_user("young@example.com")

    with time_machine.travel(START, tick=False):
        report = retention.cleanup()

    assert report.accounts == 1
    assert set(User.objects.values_list("email", flat=True)) == {
        alice.email,
        "activated@example.com",
        "operator@example.com",
        "holder@example.com",
        "young@example.com",
        "disabled@example.com",
    }


def stray(age: timedelta) -> Path:
    """A message file no row names (a delivery killed before its commit), of a given age."""
    rel = blobs.write(uuid.uuid4(), (b"Subject: lost\r\n\r\nx\r\n",))
    path = Path(settings.DATA_DIR) / rel
    then = time.time() - age.total_seconds()
    os.utime(path, (then, then))
    return path


def test_stray_files_are_swept_once_no_delivery_can_still_claim_them(alice: User) -> None:
    kept = arrive(alice.email, timezone.now(), "kept")
    old = stray(timedelta(days=2))
    recent = stray(timedelta(minutes=5))

    assert "Would remove 1 stray message file(s)." in run("--dry-run")
    assert old.exists()
    report = retention.cleanup()

    assert report.stray_files == 1
    assert not old.exists()
    assert recent.exists()
    assert (Path(settings.DATA_DIR) / kept.blob).exists()


def test_stray_files_wait_while_a_storage_command_runs(alice: User) -> None:
    old = stray(timedelta(days=2))
    with reseal.exclusive():
        out = run()
    assert "Stray files were left: a storage command is running" in out
    assert old.exists()


def test_many_files_without_messages_are_left_until_the_operator_says_so(
    alice: User, caplog: pytest.LogCaptureFixture
) -> None:
    """A database that is not this data directory's (an old backup, a wrong URL)."""
    strays = [stray(timedelta(days=2)) for _ in range(60)]
    kept = arrive(alice.email, timezone.now(), "kept")

    report = retention.cleanup()

    assert report.stray_files == 0 and report.skipped_files
    assert all(p.exists() for p in strays)
    assert "60 of 61 message files belong to no message; not removing them" in caplog.text
    out = run("--remove-strays")
    assert "Removed 60 stray message file(s)." in out
    assert not any(p.exists() for p in strays)
    assert (Path(settings.DATA_DIR) / kept.blob).exists()


def test_the_clean_up_logs_what_it_removed(
    mailboxes: dict[str, Message], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("INFO", logger="sealbox.housekeeping.retention")
    with time_machine.travel(START, tick=False):
        retention.cleanup()
    assert "clean-up: removed 1 expired message(s) of bob@example.org" in caplog.text
    assert "clean-up: 3 expired message(s)" in caplog.text


# --- real processes ----------------------------------------------------------------


def backdate(days: int) -> None:
    """Make every message `days` old (processes run on the real clock)."""
    Message.objects.update(received_at=timezone.now() - timedelta(days=days))


def bulk_mail(owners: list[User], per_owner: int) -> None:
    """Many small messages with real files, quickly."""
    rows = []
    for owner in owners:
        for i in range(per_owner):
            mid = uuid.uuid4()
            data = f"Subject: m{i}\r\n\r\nbody {i}\r\n".encode()
            rel = blobs.write(mid, (data,))
            rows.append(Message(id=mid, owner=owner, blob=rel, size=len(data), subject=f"m{i}"))
    Message.objects.bulk_create(rows, batch_size=500)
    from sealbox.mailstore import quota

    quota.recalc()


@pytest.mark.slow  # starts `sealbox` processes
def test_two_clean_ups_at_once_remove_everything_expired_exactly_once(settings: Any) -> None:
    owners = [
        User.objects.create_user(f"r{i}@example.com", "long passphrase 123") for i in range(6)
    ]
    bulk_mail(owners, 300)  # 1,800 messages: several batches each
    backdate(120)
    keeper = owners[0]
    keep = Message.objects.filter(owner=keeper).order_by("id")[:50]
    Message.objects.filter(id__in=list(keep.values_list("id", flat=True))).update(
        received_at=timezone.now()
    )
    env = process_env(settings.DATA_DIR)

    procs = [
        subprocess.Popen(
            [*SEALBOX, "cleanup"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        for _ in range(2)
    ]
    outputs = [p.communicate(timeout=120) for p in procs]

    assert [p.returncode for p in procs] == [0, 0], [o[1][-2000:] for o in outputs]
    removed = [int(out.decode().split("Removed ", 1)[1].split(" ", 1)[0]) for out, _ in outputs]
    assert sum(removed) == 1750
    assert Message.objects.count() == 50
    assert len(files_under(blobs.MESSAGES)) == 50
    for owner in owners:
        owner.refresh_from_db()
        stored = Message.objects.filter(owner=owner).aggregate(s=Sum("size"))["s"] or 0
        assert owner.usage_bytes == stored


def test_the_worker_runs_the_clean_up(settings: Any) -> None:
    owner = User.objects.create_user("w@example.com", "long passphrase 123")
    bulk_mail([owner], 3)
    backdate(91)
    deliver(CAROL, [owner.email], make_message(subject="fresh", to=owner.email))

    done = subprocess.run(
        [*SEALBOX, "worker", "--once"],
        env=process_env(settings.DATA_DIR),
        capture_output=True,
        timeout=120,
    )

    assert done.returncode == 0, done.stderr[-2000:]
    assert b"clean-up: removed 3 expired message(s) of w@example.com" in done.stderr
    assert [m.subject for m in Message.objects.all()] == ["fresh"]
    assert len(files_under(blobs.MESSAGES)) == 1

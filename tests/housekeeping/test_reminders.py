"""One reminder email before unread messages are removed."""

from __future__ import annotations

import re
import threading
import time
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from typing import Any

import pytest
import time_machine
from django.db import DatabaseError, connection
from django.test import Client
from django.utils import timezone

from sealbox.accounts.models import User
from sealbox.housekeeping import reminders, retention
from sealbox.intake.delivery import deliver
from sealbox.mailstore import mailbox, quota
from sealbox.mailstore.models import Message
from sealbox.operator import actions
from sealbox.outbound.models import OutgoingEmail
from sealbox.service.management.commands.worker import housekeeping
from tests.conftest import CAROL
from tests.mail import make_message

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 6, 1, 8, 0, tzinfo=UTC)


def arrive(to: str, days_ago: float, subject: str = "Figures") -> Message:
    with time_machine.travel(NOW - timedelta(days=days_ago), tick=False):
        [message] = deliver(CAROL, [to], make_message(subject=subject, to=to))
    return message


def reminders_to(address: str) -> list[Any]:
    return [
        message_from_bytes(bytes(e.data), policy=policy.default)
        for e in OutgoingEmail.objects.filter(kind="expiry-reminder")
        if address in e.recipients
    ]


def text(msg: Any) -> str:
    return str(msg.get_body(("plain",)).get_content())


def test_unread_messages_about_to_expire_get_one_reminder(alice: User) -> None:
    arrive(alice.email, 88)  # expires in 2 days
    arrive(alice.email, 88.5)  # in 1.5 days: the first to go
    arrive(alice.email, 80)  # in 10 days: not yet
    read = arrive(alice.email, 89)
    Message.objects.filter(id=read.id).update(read_at=timezone.now())

    with time_machine.travel(NOW, tick=False):
        assert reminders.send_due() == 1
        assert reminders.send_due() == 0  # the same messages are never named again

    [mail] = reminders_to(alice.email)
    assert mail["Subject"] == "Sealbox: 2 unread messages will be deleted soon"
    body = text(mail)
    assert "You have 2 unread messages" in body
    assert "deleted for good on June 2, 2026" in body  # 90 days after March 4, 20:00
    assert "http://portal.test/inbox/" in body
    assert "http://portal.test/settings/#storage" in body
    assert "Figures" not in body  # no subject in an email that leaves the portal


def test_a_message_that_comes_into_the_window_later_gets_its_own_reminder(alice: User) -> None:
    arrive(alice.email, 88)
    with time_machine.travel(NOW, tick=False):
        reminders.send_due()
    arrive(alice.email, 80)
    with time_machine.travel(NOW + timedelta(days=8), tick=False):
        assert reminders.send_due() == 1
    assert len(reminders_to(alice.email)) == 2
    assert (
        reminders_to(alice.email)[1]["Subject"] == "Sealbox: 1 unread message will be deleted soon"
    )


def test_steady_mail_gives_at_most_one_reminder_a_day(alice: User) -> None:
    # A message comes into the window every hour; the recipient hears once a day.
    arrive(alice.email, 88)
    with time_machine.travel(NOW, tick=False):
        assert reminders.send_due() == 1
    for hours in range(1, 24):
        arrive(alice.email, 88 - hours / 24)
        with time_machine.travel(NOW + timedelta(hours=hours), tick=False):
            assert reminders.send_due() == 0
    with time_machine.travel(NOW + timedelta(hours=24), tick=False):
        assert reminders.send_due() == 1
    first, second = reminders_to(alice.email)
    assert "You have 1 unread message" in text(first)
    # The next day's reminder names every message that came into the window meanwhile.
    assert "You have 23 unread messages" in text(second)
    assert not Message.objects.filter(owner=alice, expiry_reminded=False).exists()


def test_reminders_go_out_even_when_the_clean_up_fails(
    alice: User, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def cleanup_fails() -> None:
        raise DatabaseError("could not extend file: No space left on device")

    monkeypatch.setattr(retention, "cleanup", cleanup_fails)
    arrive(alice.email, 88)
    with time_machine.travel(NOW, tick=False):
        housekeeping()
    assert len(reminders_to(alice.email)) == 1
    assert "worker: cleanup_fails failed; trying again next round" in caplog.text


def test_no_reminder_when_turned_off_or_for_a_disabled_account(alice: User, settings: Any) -> None:
    User.objects.filter(pk=alice.pk).update(expiry_reminders=False)
    arrive(alice.email, 88)
    arrive("disabled@example.com", 88)
    User.objects.filter(email="disabled@example.com").update(is_active=False)
    with time_machine.travel(NOW, tick=False):
        assert reminders.send_due() == 0
    settings.EXPIRY_REMINDER_DAYS = 0
    User.objects.filter(pk=alice.pk).update(expiry_reminders=True)
    with time_machine.travel(NOW, tick=False):
        assert reminders.send_due() == 0
    assert not OutgoingEmail.objects.filter(kind="expiry-reminder").exists()


def test_a_recipient_who_never_chose_a_password_gets_a_new_activation_link(db: Any) -> None:
    # The notification's link ran out long ago (14 days); the mail is still there.
    arrive("new@example.com", 88)
    with time_machine.travel(NOW, tick=False):
        assert reminders.send_due() == 1
    [mail] = reminders_to("new@example.com")
    body = text(mail)
    assert "you will be asked to choose a new password for it" in body
    # The link would work 14 days, but the message goes in 2: that date is the one said.
    assert "The link works once. Use it before June 3, 2026." in body
    assert "14 days" not in body
    # No password yet: the settings page is out of reach, and not linked to.
    assert "/settings/" not in body
    [link] = re.findall(r"http://portal\.test(/activate/\S+/)", body)
    assert "Sign in to read" not in body
    html = str(mail.get_body(("html",)).get_content())
    assert f'href="http://portal.test{link}"' in html and "Open my mailbox at portal.test" in html
    with time_machine.travel(NOW + timedelta(days=1), tick=False):
        opened = Client().get(link)
    assert (opened.status_code, opened["Location"]) == (302, "/activate/set-password/")


def test_the_reminder_follows_the_recipients_own_period(alice: User) -> None:
    User.objects.filter(pk=alice.pk).update(retention_days=7)
    arrive(alice.email, 5)
    with time_machine.travel(NOW, tick=False):
        assert reminders.send_due() == 1
    assert "deleted for good on June 3, 2026" in text(reminders_to(alice.email)[0])


def test_an_account_removed_during_a_run_holds_up_no_other_reminder(
    alice: User, bob: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    arrive(alice.email, 88)
    arrive(bob.email, 88)
    found_due = reminders.due

    def due_then_alice_goes(now: datetime) -> dict[int, list[Message]]:
        found = found_due(now)
        actions.delete_account(actions.Actor.command_line(), User.objects.get(pk=alice.pk))
        return found

    monkeypatch.setattr(reminders, "due", due_then_alice_goes)
    with time_machine.travel(NOW, tick=False):
        assert reminders.send_due() == 1
    assert len(reminders_to(bob.email)) == 1
    assert reminders_to(alice.email) == []


@pytest.mark.django_db(transaction=True)
def test_a_reminder_and_a_deletion_at_once_both_go_through(
    alice: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A deletion holds the message, then wants the account; the reminder must not hold
    the account and want the message (PostgreSQL would end one of them)."""
    doomed = arrive(alice.email, 88)
    kept = arrive(alice.email, 88)
    deleting = threading.Event()
    release = quota.release

    def release_slowly(freed: Any) -> None:
        deleting.set()
        time.sleep(1.5)  # the reminder starts meanwhile
        release(freed)

    monkeypatch.setattr(quota, "release", release_slowly)
    errors: list[str] = []
    reminded: list[int] = []

    def delete() -> None:
        try:
            mailbox.remove(Message.objects.filter(id=doomed.id))
        except Exception as e:
            errors.append(f"delete: {e!r}")
        finally:
            connection.close()

    def remind() -> None:
        deleting.wait(5)
        try:
            with time_machine.travel(NOW, tick=False):
                reminded.append(reminders.send_due())
        except Exception as e:
            errors.append(f"remind: {e!r}")
        finally:
            connection.close()

    threads = [threading.Thread(target=delete), threading.Thread(target=remind)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)

    assert errors == []
    assert reminded == [1]
    assert not Message.objects.filter(id=doomed.id).exists()
    assert Message.objects.get(id=kept.id).expiry_reminded
    assert "You have 1 unread message" in text(reminders_to(alice.email)[0])

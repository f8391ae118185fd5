"""What a recipient sees of storage: usage and its warnings, and when messages will be deleted."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from sealbox.accounts.models import User
from sealbox.housekeeping import retention
from sealbox.intake.delivery import MailboxFull, deliver
from sealbox.mailstore.models import Message
from tests.conftest import CAROL
from tests.mail import make_message
from tests.portal.pages import Node, message_url, page

pytestmark = pytest.mark.django_db

MIB = 1024 * 1024
START = datetime(2026, 9, 1, 8, 0, tzinfo=UTC)
ALMOST = "Your mailbox is almost full"
FULL = "Your mailbox is full: new mail is refused."


def browser(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def using(user: User, size: int) -> None:
    User.objects.filter(pk=user.pk).update(usage_bytes=size)


def usage_of(doc: Node) -> Node:
    return doc.one("div", cls="usage")


def warnings(doc: Node) -> list[str]:
    return [p.text for p in doc.find_all("p", cls="quota-alert")]


def spaced(text: str) -> str:
    """Sizes are written with a no-break space between number and unit."""
    return text.replace("\xa0", " ")


# --- Usage -----------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/inbox/", "/settings/"])
def test_usage_is_shown_in_numbers_and_as_a_bar(alice: User, path: str) -> None:
    using(alice, int(12.3 * MIB))

    doc = page(browser(alice).get(path))

    usage = usage_of(doc)
    assert spaced(usage.one(cls="numbers").text) == "12.3 MB of 1.0 GB used (1 %)"
    meter = usage.one("meter")
    assert (meter.attrs["min"], meter.attrs["max"]) == ("0", str(1024 * MIB))
    assert meter.attrs["value"] == str(int(12.3 * MIB))
    assert usage.one("label", for_=meter.attrs["id"]).text == (
        "Storage" if path == "/inbox/" else "Space used"
    )
    assert meter.attrs["aria-describedby"] == usage.one(cls="numbers").attrs["id"]
    assert warnings(doc) == []


def test_the_inbox_shows_usage_compactly_below_the_messages(alice: User) -> None:
    deliver(CAROL, [alice.email], make_message())

    doc = page(browser(alice).get("/inbox/"))

    footer = doc.one("footer", cls="storage")
    assert "compact" in footer.one("div", cls="usage").classes()
    # A little is written in bytes, never as "0.0 MB".
    assert re.fullmatch(
        r"\d+ bytes of 1\.0 GB used \(0 %\)", spaced(footer.one(cls="numbers").text)
    )


def test_a_mailbox_past_the_warning_level_says_to_delete_messages(
    alice: User, settings: Any
) -> None:
    settings.QUOTA_MB = 1
    big = make_message(body=("x" * 75 + "\n") * 11_500)  # about 875 KB
    deliver(CAROL, [alice.email], big)
    client = browser(alice)

    for path in ("/inbox/", "/settings/"):
        doc = page(client.get(path))
        [warning] = warnings(doc)
        assert warning.startswith(f"{ALMOST} (8")
        assert "delete messages you no longer need" in warning
        assert FULL not in warning
        assert "of 1.0 MB used (8" in spaced(usage_of(doc).one(cls="numbers").text)
    assert "Storage settings" in page(client.get("/inbox/")).one("p", cls="quota-alert").text


def test_just_below_the_warning_level_nothing_is_said(alice: User, settings: Any) -> None:
    settings.QUOTA_MB = 100
    using(alice, 80 * MIB - 1)

    doc = page(browser(alice).get("/inbox/"))

    assert warnings(doc) == []
    assert spaced(usage_of(doc).one(cls="numbers").text) == "80.0 MB of 100.0 MB used (79 %)"

    using(alice, 80 * MIB)
    assert warnings(page(browser(alice).get("/inbox/"))) == [
        "Your mailbox is almost full (80 % used): delete messages you no longer need, "
        "or new mail will be refused once it is full. Storage settings"
    ]


def test_a_full_mailbox_says_new_mail_is_refused(alice: User, settings: Any) -> None:
    settings.QUOTA_MB = 1
    using(alice, MIB - 100)
    with pytest.raises(MailboxFull):
        deliver(CAROL, [alice.email], make_message())
    using(alice, MIB)
    client = browser(alice)

    for path in ("/inbox/", "/settings/"):
        doc = page(client.get(path))
        [warning] = warnings(doc)
        assert warning.startswith(FULL)
        assert "Delete messages you no longer need to make room." in warning
        assert ALMOST not in warning
        assert spaced(usage_of(doc).one(cls="numbers").text) == "1.0 MB of 1.0 MB used (100 %)"
        assert doc.one("p", cls="quota-alert").attrs["role"] == "alert"


def test_the_accounts_own_quota_is_the_one_shown(alice: User) -> None:
    User.objects.filter(pk=alice.pk).update(quota_mb=2048, usage_bytes=1800 * MIB)

    doc = page(browser(alice).get("/settings/"))

    # Large sizes in GB, as Django writes sizes in every language.
    assert spaced(usage_of(doc).one(cls="numbers").text) == "1.8 GB of 2.0 GB used (87 %)"
    assert warnings(doc)[0].startswith(f"{ALMOST} (87 % used)")


def test_without_a_limit_only_the_usage_is_shown(alice: User, settings: Any) -> None:
    settings.QUOTA_MB = 0
    using(alice, 5000 * MIB)
    client = browser(alice)

    for path, label in (("/inbox/", "Storage"), ("/settings/", "Space used")):
        doc = page(client.get(path))
        usage = usage_of(doc)
        assert spaced(usage.text) == f"{label}: 4.9 GB used"
        assert usage.find("meter") is None
        assert warnings(doc) == []


# --- When messages will be deleted -------------------------------------------------


def received(user: User, at: datetime, subject: str) -> Message:
    with time_machine.travel(at, tick=False):
        [message] = deliver(CAROL, [user.email], make_message(subject=subject, to=user.email))
    return message


def deletions(client: Client, path: str = "/inbox/") -> dict[str, str]:
    """Each listed message's subject, with what its row says about deletion ("" for nothing)."""
    rows = page(client.get(path)).one("ul", cls="messages").find_all("li")
    labels = {}
    for row in rows:
        label = row.find(cls="expires")
        labels[row.one(cls="subject").text] = label.text if label else ""
    return labels


def message_notice(client: Client, message: Message) -> str:
    notice = page(client.get(message_url(message))).find("p", cls="expires")
    return notice.text if notice else ""


@pytest.fixture
def mailbox(alice: User) -> dict[str, Message]:
    """Messages that the default 90 days remove on 30 Nov, 2 Dec, 3 Dec and in February."""
    return {
        "A": received(alice, START, "A"),
        "B": received(alice, START + timedelta(days=2), "B"),
        "C": received(alice, START + timedelta(days=3), "C"),
        "D": received(alice, START + timedelta(days=80), "D"),
    }


def test_rows_say_when_they_will_be_deleted_within_the_last_week(
    alice: User, mailbox: dict[str, Message]
) -> None:
    with time_machine.travel(datetime(2026, 11, 25, 12, 0, tzinfo=UTC), tick=False):
        client = browser(alice)

        assert deletions(client) == {
            "D": "",
            "C": "",  # 3 Dec 08:00: more than seven days away
            "B": "deleted on December 2",
            "A": "deleted on November 30",
        }
        assert message_notice(client, mailbox["A"]) == (
            "This message will be deleted on November 30, when its retention period runs out. "
            "Change how long messages are kept"
        )
        assert message_notice(client, mailbox["C"]) == ""

    with time_machine.travel(datetime(2026, 11, 27, 12, 0, tzinfo=UTC), tick=False):
        client = browser(alice)

        assert deletions(client) == {
            "D": "",
            "C": "deleted on December 3",
            "B": "deleted on December 2",
            "A": "deleted on November 30",
        }


def test_a_deletion_next_year_gives_the_year(alice: User) -> None:
    received(alice, datetime(2026, 10, 4, 9, 0, tzinfo=UTC), "New year's")

    with time_machine.travel(datetime(2026, 12, 29, 9, 0, tzinfo=UTC), tick=False):
        client = browser(alice)
        assert deletions(client) == {"New year's": "deleted on Jan. 2, 2027"}
        [message] = Message.objects.filter(owner=alice)
        assert "deleted on Jan. 2, 2027," in message_notice(client, message)


def test_a_message_past_its_time_is_deleted_today_at_the_next_clean_up(alice: User) -> None:
    received(alice, START, "Overdue")

    with time_machine.travel(START + timedelta(days=90, hours=3), tick=False):
        assert deletions(browser(alice)) == {"Overdue": "deleted on November 30"}
        retention.cleanup()
        assert page(browser(alice).get("/inbox/")).find("ul", cls="messages") is None


def test_nothing_is_said_when_messages_are_kept_for_ever(
    alice: User, mailbox: dict[str, Message], settings: Any
) -> None:
    settings.RETENTION_DAYS = 0

    with time_machine.travel(datetime(2026, 11, 29, 12, 0, tzinfo=UTC), tick=False):
        client = browser(alice)
        assert deletions(client) == {"D": "", "C": "", "B": "", "A": ""}
        assert message_notice(client, mailbox["A"]) == ""


def test_the_readers_own_period_is_the_one_shown(
    alice: User, bob: User, mailbox: dict[str, Message], settings: Any
) -> None:
    received(bob, START + timedelta(days=80), "For Bob")
    User.objects.filter(pk=alice.pk).update(retention_days=7)
    settings.RETENTION_DAYS = 0  # Bob keeps his for ever

    with time_machine.travel(START + timedelta(days=84), tick=False):
        assert deletions(browser(alice)) == {
            "D": "deleted on November 27",
            "C": "deleted on November 24",  # overdue: the next clean-up
            "B": "deleted on November 24",
            "A": "deleted on November 24",
        }
        assert deletions(browser(bob)) == {"For Bob": ""}


def test_sent_messages_say_when_they_will_be_deleted_too(alice: User) -> None:
    with time_machine.travel(START, tick=False):
        Message.objects.create(
            owner=alice,
            folder=Message.Folder.SENT,
            blob="messages/xx/sent.eml",
            size=1000,
            subject="My reply",
            to_display="carol@corp.example",
        )

    with time_machine.travel(START + timedelta(days=88), tick=False):
        assert deletions(browser(alice), "/sent/") == {"My reply": "deleted on November 30"}


def test_the_inbox_asks_the_database_as_often_for_many_rows_as_for_one(
    alice: User, settings: Any
) -> None:
    settings.QUOTA_MB = 1
    received(alice, START, "First")

    def queries() -> int:
        with time_machine.travel(START + timedelta(days=85), tick=False):
            client = browser(alice)
            with CaptureQueriesContext(connection) as captured:
                assert client.get("/inbox/").status_code == 200
        return len(captured)

    one = queries()
    for day in range(1, 12):
        received(alice, START + timedelta(days=day), f"Message {day}")
    many = queries()

    assert sum(1 for label in deletions_at(alice, 85).values() if label) == 3
    assert many == one


def deletions_at(user: User, day: int) -> dict[str, str]:
    with time_machine.travel(START + timedelta(days=day), tick=False):
        return deletions(browser(user))

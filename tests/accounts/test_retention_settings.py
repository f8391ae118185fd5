"""The settings page's storage section: how long messages are kept, and reminders."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine
from django.test import Client

from sealbox.accounts.models import Activity, User
from sealbox.housekeeping import retention
from sealbox.intake.delivery import deliver
from sealbox.mailstore.models import Message
from tests.conftest import CAROL
from tests.mail import make_message
from tests.portal.pages import Node, flash, parse_html

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
GONE_FOR_GOOD = (
    "Removed messages are gone for good: nobody can recover them, not even the operator."
)


def received(user: User, days_ago: float, subject: str = "Quarterly figures") -> Message:
    """A real delivery, made `days_ago` days before NOW."""
    with time_machine.travel(NOW - timedelta(days=days_ago), tick=False):
        [message] = deliver(CAROL, [user.email], make_message(subject=subject, to=user.email))
    return message


def browser(user: User, csrf: bool = False) -> Client:
    client = Client(enforce_csrf_checks=csrf)
    client.force_login(user)
    return client


def storage(client: Client) -> Node:
    r = client.get("/settings/")
    assert r.status_code == 200
    return parse_html(r.content).one("section", id="storage")


def options(section: Node) -> dict[str, str]:
    """Each period the page offers, by its label: what it says it removes ("" for nothing)."""
    found = {}
    for choice in section.find_all("div", cls="choice"):
        radio = choice.one("input")
        if radio.attrs["type"] != "radio":
            continue
        note = choice.find("small", cls="removes")
        found[choice.one("label").text] = note.text if note else ""
    return found


def chosen(section: Node) -> str:
    [radio] = [r for r in section.find_all("input", type="radio") if "checked" in r.attrs]
    return section.one("label", for_=radio.attrs["id"]).text


def save(client: Client, period: str, reminders: bool = True, follow: bool = True) -> Any:
    data = {"retention": period}
    if reminders:
        data["expiry_reminders"] = "on"
    return client.post("/settings/storage/", data, follow=follow)


def test_the_storage_section_offers_the_default_and_the_operators_periods(alice: User) -> None:
    section = storage(browser(alice))

    assert section.one("h2").text == "Storage"
    assert section.one("legend").text == "Keep messages for"
    assert list(options(section)) == [
        "The default (90 days)",
        "7 days",
        "30 days",
        "365 days",
    ]
    assert chosen(section) == "The default (90 days)"
    assert GONE_FOR_GOOD in section.text
    form = section.one("form")
    assert form.attrs["method"] == "post"
    assert form.attrs["action"] == "/settings/storage/"
    assert form.find("input", name="csrfmiddlewaretoken") is not None


def test_the_default_period_is_offered_once_even_to_an_account_set_to_it(
    alice: User, settings: Any
) -> None:
    # 90 days is both the default and one of the operator's periods; alice was given 90.
    User.objects.filter(pk=alice.pk).update(retention_days=90)
    section = storage(browser(alice))
    labels = list(options(section))
    assert labels == ["The default (90 days)", "7 days", "30 days", "365 days"]
    assert not any(label == "90 days" for label in labels)
    assert chosen(section) == "The default (90 days)"


def test_the_operators_own_periods_and_keeping_for_ever_are_named(
    alice: User, settings: Any
) -> None:
    settings.RETENTION_DAYS = 0
    settings.RETENTION_CHOICES = [14, 180]

    section = storage(browser(alice))

    assert list(options(section)) == ["The default (for ever)", "14 days", "180 days"]


def test_shorter_periods_say_how_many_messages_they_would_remove(alice: User) -> None:
    received(alice, 40, "Forty days old")
    received(alice, 20, "Twenty days old")
    received(alice, 10, "Ten days old")
    received(alice, 1, "Yesterday's")

    with time_machine.travel(NOW, tick=False):
        section = storage(browser(alice))

    assert options(section) == {
        "The default (90 days)": "",
        "7 days": "3 of your messages are already older: they will be removed at the next "
        "clean-up, within the hour.",
        "30 days": "1 of your messages is already older: it will be removed at the next "
        "clean-up, within the hour.",
        "365 days": "",
    }


def test_choosing_seven_days_saves_it_and_says_what_the_clean_up_will_remove(
    alice: User,
) -> None:
    received(alice, 40, "Forty days old")
    received(alice, 10, "Ten days old")
    received(alice, 1, "Yesterday's")

    with time_machine.travel(NOW, tick=False):
        client = browser(alice)
        r = save(client, "7")
        section = parse_html(r.content).one("section", id="storage")
        removed = retention.cleanup()

    assert r.redirect_chain == [("/settings/#storage", 302)]
    assert flash(parse_html(r.content)) == [
        "Your messages are now kept for 7 days. 2 of your messages are already older: they "
        "will be removed at the next clean-up, within the hour, and cannot be recovered."
    ]
    assert chosen(section) == "7 days"
    assert User.objects.get(pk=alice.pk).retention_days == 7
    # The page counted what the clean-up then removed.
    assert removed.messages == 2
    assert list(Message.objects.filter(owner=alice).values_list("subject", flat=True)) == [
        "Yesterday's"
    ]


def test_a_longer_period_removes_nothing_and_says_nothing_of_removal(alice: User) -> None:
    received(alice, 40)
    client = browser(alice)

    r = save(client, "365")

    assert flash(parse_html(r.content)) == ["Your messages are now kept for 365 days."]
    assert User.objects.get(pk=alice.pk).retention_days == 365


@pytest.mark.parametrize("tampered", ["1", "0", "-7", "8", "7.0", "seven", "", "None"])
def test_a_period_not_offered_is_refused_and_nothing_is_saved(alice: User, tampered: str) -> None:
    client = browser(alice)

    r = save(client, tampered, reminders=False, follow=False)

    assert r.status_code == 200
    section = parse_html(r.content).one("section", id="storage")
    errors = [p.text for p in section.find_all("p", cls="error")]
    assert errors == (
        ["This field is required."]
        if tampered == ""
        else [f"Select a valid choice. {tampered} is not one of the available choices."]
    )
    alice.refresh_from_db()
    assert alice.retention_days is None
    assert alice.expiry_reminders is True
    assert not Activity.objects.filter(user=alice, kind=Activity.Kind.RETENTION_CHANGED).exists()


def test_the_default_option_goes_back_to_the_operators_period(alice: User, settings: Any) -> None:
    settings.RETENTION_DAYS = 30
    User.objects.filter(pk=alice.pk).update(retention_days=7)
    client = browser(alice)
    assert chosen(storage(client)) == "7 days"

    r = save(client, "default")

    assert flash(parse_html(r.content)) == ["Your messages are now kept for 30 days."]
    assert User.objects.get(pk=alice.pk).retention_days is None
    assert chosen(parse_html(r.content).one("section", id="storage")) == "The default (30 days)"


def test_the_default_of_keeping_for_ever_is_said_so(alice: User, settings: Any) -> None:
    settings.RETENTION_DAYS = 0
    User.objects.filter(pk=alice.pk).update(retention_days=30)

    r = save(browser(alice), "default")

    assert flash(parse_html(r.content)) == ["Your messages are now kept until you delete them."]


def test_a_period_the_operator_set_stays_choosable(alice: User, bob: User) -> None:
    User.objects.filter(pk=alice.pk).update(retention_days=14)
    client = browser(alice)

    section = storage(client)
    assert chosen(section) == "14 days"
    assert list(options(section)) == [
        "The default (90 days)",
        "7 days",
        "14 days",
        "30 days",
        "365 days",
    ]
    r = save(client, "14", reminders=False)

    assert flash(parse_html(r.content)) == [
        "You will not be emailed before unread messages are removed."
    ]
    alice.refresh_from_db()
    assert (alice.retention_days, alice.expiry_reminders) == (14, False)
    # Bob was never given 14 days: he cannot pick it.
    assert save(browser(bob), "14", follow=False).status_code == 200
    assert User.objects.get(pk=bob.pk).retention_days is None


def test_reminders_are_turned_off_and_on_with_the_checkbox(alice: User) -> None:
    client = browser(alice)
    box = storage(client).one("input", type="checkbox")
    assert box.attrs["name"] == "expiry_reminders"
    assert "checked" in box.attrs
    label = storage(client).one("label", for_=box.attrs["id"])
    assert label.text == "Email me before unread messages are removed"

    r = save(client, "default", reminders=False)

    assert flash(parse_html(r.content)) == [
        "You will not be emailed before unread messages are removed."
    ]
    assert User.objects.get(pk=alice.pk).expiry_reminders is False
    assert "checked" not in storage(client).one("input", type="checkbox").attrs

    r = save(client, "default", reminders=True)

    assert flash(parse_html(r.content)) == [
        "You will be emailed before unread messages are removed."
    ]
    assert User.objects.get(pk=alice.pk).expiry_reminders is True
    # Nothing recorded: only the period is a change worth the activity log.
    assert not Activity.objects.filter(user=alice).exists()


def test_without_reminders_there_is_no_checkbox_and_saving_leaves_the_choice(
    alice: User, settings: Any
) -> None:
    settings.EXPIRY_REMINDER_DAYS = 0
    client = browser(alice)

    section = storage(client)
    assert section.find("input", type="checkbox") is None
    assert "Email me" not in section.text
    save(client, "30", reminders=False)

    alice.refresh_from_db()
    assert (alice.retention_days, alice.expiry_reminders) == (30, True)


def test_saving_without_a_change_says_so(alice: User) -> None:
    r = save(browser(alice), "default")

    assert flash(parse_html(r.content)) == ["Nothing was changed."]
    assert not Activity.objects.filter(user=alice).exists()


def test_a_new_period_is_in_the_activity_log(alice: User) -> None:
    client = browser(alice)

    save(client, "30")
    save(client, "default")

    r = client.get("/activity/")
    rows = [row.text for row in parse_html(r.content).one("tbody").find_all("tr")]
    assert len(rows) == 2
    assert "Retention period changed (90 days, the default)" in rows[0]
    assert "Retention period changed (30 days)" in rows[1]


def test_the_period_is_changed_only_with_the_csrf_token(alice: User) -> None:
    client = browser(alice, csrf=True)

    r = save(client, "7", follow=False)

    assert r.status_code == 403
    assert User.objects.get(pk=alice.pk).retention_days is None


def test_the_period_is_changed_only_when_signed_in(alice: User) -> None:
    r = Client().post("/settings/storage/", {"retention": "7"})

    assert r.status_code == 302
    assert r["Location"] == "/signin/?next=/settings/storage/"
    assert User.objects.get(pk=alice.pk).retention_days is None

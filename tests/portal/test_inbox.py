"""The inbox: newest first, fifty a page, marks, and actions on selected messages."""

from __future__ import annotations

import json
from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import time_machine
from django.conf import settings
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from sealbox.accounts.models import User
from sealbox.mailstore.models import Message
from tests.corpus import Sample, cid_images, forwarded, html_only, nested
from tests.mail import make_message
from tests.portal.pages import Node, deliver_to, flash, inbox_rows, listed_attachments, page

pytestmark = pytest.mark.django_db

INBOX = "/inbox/"
START = datetime(2026, 11, 1, 8, 0, tzinfo=UTC)


def received(message: Message, minutes: int) -> Message:
    """Pretend the message arrived `minutes` after START."""
    Message.objects.filter(id=message.id).update(received_at=START + timedelta(minutes=minutes))
    message.refresh_from_db()
    return message


def many(owner: User, count: int) -> list[Message]:
    """count rows for owner, "Message 0" oldest; only the inbox reads them, so no files."""
    return [
        Message.objects.create(
            owner=owner,
            blob=f"messages/xx/{owner.pk}-{i}.eml",
            size=1000 + i,
            received_at=START + timedelta(minutes=i),
            subject=f"Message {i}",
            from_name="Carol Sender",
            from_address="carol@corp.example",
        )
        for i in range(count)
    ]


def test_an_empty_inbox_says_so(reader: Client) -> None:
    doc = page(reader.get(INBOX))

    assert inbox_rows(doc) == []
    assert "Your secure mailbox is empty." in doc.text
    assert "When someone sends you a protected message, it appears here" in doc.text
    assert doc.find("form", cls="inbox") is None


def test_the_inbox_lists_the_readers_messages_newest_first(
    reader: Client, alice: User, bob: User
) -> None:
    received(deliver_to(alice, make_message(subject="Older")), 1)
    received(deliver_to(alice, make_message(subject="Newest")), 3)
    received(deliver_to(alice, make_message(subject="Middle")), 2)
    deliver_to(bob, make_message(subject="For Bob only", to=bob.email))

    rows = inbox_rows(page(reader.get(INBOX)))

    assert [r.subject for r in rows] == ["Newest", "Middle", "Older"]


def test_a_row_shows_sender_name_and_address_subject_date_and_size(
    reader: Client, alice: User
) -> None:
    message = received(
        deliver_to(
            alice,
            make_message(
                subject="Grüße aus Köln",
                sender="=?utf-8?q?J=C3=BCrgen_M=C3=BCller?= <jm@example.de>",
            ),
        ),
        90,
    )

    with time_machine.travel(START + timedelta(days=10), tick=False):
        doc = page(reader.get(INBOX))

    [row] = inbox_rows(doc)
    assert (row.sender, row.address, row.subject) == (
        "Jürgen Müller",
        "jm@example.de",
        "Grüße aus Köln",
    )
    item = doc.one("ul", cls="messages").one("li")
    assert item.one("time").attrs["datetime"] == "2026-11-01T09:30:00+00:00"
    # A date this year, not today or yesterday: the day alone, the full date beside it.
    time = item.one("time")
    assert [s.text for s in time.find_all("span") if s.attrs.get("aria-hidden")] == ["Nov 1"]
    assert time.one("span", cls="visually-hidden").text == "Nov. 1, 2026, 9:30 a.m."
    assert time.attrs["title"] == "Nov. 1, 2026, 9:30 a.m."
    assert item.one(cls="size").text == f"{message.size} bytes"
    assert item.one("a").attrs["href"] == reverse("message", args=[message.id])


def shown_dates(doc: Node) -> list[tuple[str, str]]:
    """Each row's date: (what the screen shows, what a screen reader and the tooltip say)."""
    found = []
    for time in doc.one("ul", cls="messages").find_all("time"):
        if time.attrs["data-local"] != "brief":
            continue  # "deleted on …"
        [short] = [s.text for s in time.find_all("span") if s.attrs.get("aria-hidden") == "true"]
        full = time.one("span", cls="visually-hidden").text
        assert time.attrs["title"] == full
        found.append((short, full))
    return found


TODAY = datetime(2026, 11, 20, 14, 5, tzinfo=UTC)
AGES = [timedelta(0), timedelta(days=1), timedelta(days=10), timedelta(days=731)]


@pytest.mark.parametrize(
    ("language", "expected"),
    [
        (
            "en",
            [
                # CLDR's short forms, as the browser's Intl writes them (portal.js).
                ("2:05 PM", "Nov. 20, 2026, 2:05 p.m."),
                ("Yesterday", "Nov. 19, 2026, 2:05 p.m."),
                ("Nov 10", "Nov. 10, 2026, 2:05 p.m."),
                ("Nov 19, 2024", "Nov. 19, 2024, 2:05 p.m."),
            ],
        ),
        (
            "de",
            [
                ("14:05", "20. November 2026 14:05"),
                ("Gestern", "19. November 2026 14:05"),
                ("10. Nov.", "10. November 2026 14:05"),
                ("19. Nov. 2024", "19. November 2024 14:05"),
            ],
        ),
    ],
)
def test_row_dates_are_short_as_in_a_mail_app_with_the_full_date_beside_them(
    reader: Client, alice: User, language: str, expected: list[tuple[str, str]]
) -> None:
    """Without script: today's time, "Yesterday", the day this year, the date before it."""
    for age in AGES:
        message = deliver_to(alice, make_message(subject=f"{age.days} days old"))
        Message.objects.filter(id=message.id).update(received_at=TODAY - age)

    with time_machine.travel(TODAY + timedelta(hours=1), tick=False):
        doc = page(reader.get(INBOX, headers={"accept_language": language}))

    assert shown_dates(doc) == expected


def test_row_dates_are_in_the_portals_time_zone(reader: Client, alice: User, settings: Any) -> None:
    """Late on the 19th in UTC is early on the 20th in Berlin: "today" there."""
    settings.TIME_ZONE = "Europe/Berlin"
    message = deliver_to(alice, make_message())
    Message.objects.filter(id=message.id).update(
        received_at=datetime(2026, 11, 19, 23, 30, tzinfo=UTC)
    )

    with time_machine.travel(datetime(2026, 11, 20, 8, 0, tzinfo=UTC), tick=False):
        doc = page(reader.get(INBOX))

    assert shown_dates(doc) == [("12:30 AM", "Nov. 20, 2026, 12:30 a.m.")]


def test_a_row_seen_before_shows_what_changed_since(reader: Client, alice: User) -> None:
    """A process keeps the rows it wrote (portal/listing.py): none outlives its message's
    state, the reader's language or the day."""
    message = deliver_to(alice, make_message(subject="Seen twice"))
    Message.objects.filter(id=message.id).update(received_at=TODAY)
    late = TODAY.replace(hour=23, minute=50)
    with time_machine.travel(late, tick=False):
        [first] = inbox_rows(page(reader.get(INBOX)))
        reader.get(reverse("message", args=[message.id]))
        read = page(reader.get(INBOX))
        german = page(reader.get(INBOX, headers={"accept_language": "de"}))
        Message.objects.filter(id=message.id).update(subject="Renamed", read_at=None)
        renamed = page(reader.get(INBOX))
    with time_machine.travel(late + timedelta(minutes=20), tick=False):
        next_day = page(reader.get(INBOX))

    assert first.unread
    assert [(r.subject, r.unread) for r in inbox_rows(read)] == [("Seen twice", False)]
    assert shown_dates(read) == [("2:05 PM", "Nov. 20, 2026, 2:05 p.m.")]
    assert shown_dates(german) == [("14:05", "20. November 2026 14:05")]
    assert [(r.subject, r.unread) for r in inbox_rows(renamed)] == [("Renamed", True)]
    assert shown_dates(next_day) == [("Yesterday", "Nov. 20, 2026, 2:05 p.m.")]


def test_a_row_escapes_what_the_message_says(reader: Client, alice: User) -> None:
    deliver_to(
        alice,
        make_message(subject='<b>Bold</b> & "quoted"', sender='"<i>Eve</i>" <eve@example.org>'),
    )

    response = reader.get(INBOX)

    assert b"<b>" not in response.content and b"<i>" not in response.content
    [row] = inbox_rows(page(response))
    assert (row.sender, row.subject) == ("<i>Eve</i>", '<b>Bold</b> & "quoted"')
    box = page(response).one("ul", cls="messages").one("input")
    assert box.attrs["aria-label"] == 'Select “<b>Bold</b> & "quoted"”'


def test_the_toolbar_knows_how_to_say_how_many_are_selected(reader: Client, alice: User) -> None:
    for _ in range(3):
        deliver_to(alice, make_message())

    bar = page(reader.get(INBOX)).one("div", cls="toolbar")

    counts = json.loads(bar.one(cls="count").attrs["data-counts"])
    assert counts == ["0 selected", "1 selected", "2 selected", "3 selected"]
    assert bar.one(cls="count").attrs["role"] == "status"
    # Without script there is nothing for "Select all" to do: it waits for the script.
    assert "hidden" in bar.one("label", cls="select-all").attrs
    # Without script the actions are there (the server asks for a selection).
    assert "hidden" not in bar.one(cls="actions").attrs


def test_a_message_without_subject_or_sender_name_still_has_a_row(
    reader: Client, alice: User
) -> None:
    deliver_to(alice, b"To: alice@example.net\r\n\r\nNo headers to speak of.\r\n")

    [row] = inbox_rows(page(reader.get(INBOX)))

    assert row.subject == "(no subject)"
    assert (row.sender, row.address) == ("carol@corp.example", "carol@corp.example")


def test_unread_messages_are_marked_and_read_ones_are_not(reader: Client, alice: User) -> None:
    read = received(deliver_to(alice, make_message(subject="Seen")), 1)
    received(deliver_to(alice, make_message(subject="Not seen")), 2)
    reader.get(reverse("message", args=[read.id]))

    rows = inbox_rows(page(reader.get(INBOX)))

    assert [(r.subject, r.unread) for r in rows] == [("Not seen", True), ("Seen", False)]


def test_messages_with_attachments_are_marked(reader: Client, alice: User) -> None:
    pdf = ("a.pdf", "application/pdf", b"%PDF-1.4")
    received(deliver_to(alice, make_message(subject="None")), 1)
    received(deliver_to(alice, make_message(subject="One", attachments=[pdf])), 2)
    received(deliver_to(alice, make_message(subject="Two", attachments=[pdf, pdf])), 3)

    rows = inbox_rows(page(reader.get(INBOX)))

    assert [(r.subject, r.attachments) for r in rows] == [
        ("Two", "2 attachments"),
        ("One", "1 attachment"),
        ("None", ""),
    ]


@pytest.mark.parametrize(
    ("build", "mark"),
    [
        (nested, "1 attachment"),
        (cid_images, "1 attachment"),
        (html_only, ""),
        (forwarded, "1 attachment"),
    ],
    ids=lambda v: getattr(v, "__name__", v),
)
def test_the_attachment_mark_counts_what_the_message_page_lists(
    reader: Client, alice: User, build: Callable[[], Sample], mark: str
) -> None:
    message = deliver_to(alice, build().raw)

    [row] = inbox_rows(page(reader.get(INBOX)))
    listed = listed_attachments(page(reader.get(reverse("message", args=[message.id]))))

    assert row.attachments == mark
    assert len(listed) == (int(mark.split()[0]) if mark else 0)


def test_the_inbox_shows_fifty_messages_a_page(reader: Client, alice: User) -> None:
    many(alice, 55)

    first = page(reader.get(INBOX))
    second = page(reader.get(INBOX + "?page=2"))

    assert [r.subject for r in inbox_rows(first)] == [f"Message {i}" for i in range(54, 4, -1)]
    assert [r.subject for r in inbox_rows(second)] == [f"Message {i}" for i in range(4, -1, -1)]
    pager = first.one("nav", cls="pager")
    assert "Page 1 of 2" in pager.text
    assert pager.one("a", rel="next").attrs["href"] == "?page=2"
    assert second.one("nav", cls="pager").one("a", rel="prev").attrs["href"] == "?page=1"


@pytest.mark.parametrize(
    ("asked", "shown"), [("abc", "Message 54"), ("999", "Message 4"), ("-1", "Message 4")]
)
def test_a_page_number_out_of_range_shows_a_real_page(
    reader: Client, alice: User, asked: str, shown: str
) -> None:
    many(alice, 55)

    rows = inbox_rows(page(reader.get(f"{INBOX}?page={asked}")))

    assert rows[0].subject == shown


def test_the_inbox_is_not_cached_and_not_framed(reader: Client) -> None:
    response = reader.get(INBOX)

    assert "no-store" in response["Cache-Control"]
    assert "frame-ancestors 'none'" in response["Content-Security-Policy"]
    assert response["X-Frame-Options"] == "DENY"
    assert response["Referrer-Policy"] == "no-referrer"


def test_anonymous_visitors_are_sent_to_sign_in(client: Client) -> None:
    response = client.get(INBOX)

    assert response.status_code == 302
    assert response["Location"] == f"{reverse('signin')}?next={INBOX}"


# --- Actions on selected messages ----------------------------------------------------------


def test_deleting_selected_messages_touches_only_the_readers_own(
    reader: Client,
    alice: User,
    bob: User,
    django_capture_on_commit_callbacks: Callable[..., AbstractContextManager[Any]],
) -> None:
    keep = deliver_to(alice, make_message(subject="Keep"))
    doomed = [deliver_to(alice, make_message(subject=f"Doomed {i}")) for i in range(2)]
    bobs = deliver_to(bob, make_message(subject="Bob's", to=bob.email))
    ids = [str(m.id) for m in [*doomed, bobs]]

    with django_capture_on_commit_callbacks(execute=True):
        response = reader.post(INBOX, {"action": "delete", "ids": ids})

    assert response.status_code == 302
    assert response["Location"] == INBOX
    doc = page(reader.get(INBOX))
    assert flash(doc) == ["2 messages deleted."]
    assert [r.subject for r in inbox_rows(doc)] == ["Keep"]
    assert set(Message.objects.values_list("id", flat=True)) == {keep.id, bobs.id}
    data = Path(settings.DATA_DIR)
    assert [(data / m.blob).exists() for m in [*doomed, bobs, keep]] == [False, False, True, True]


def test_marking_selected_messages_unread_and_read_touches_only_the_readers_own(
    reader: Client, alice: User, bob: User
) -> None:
    mine = deliver_to(alice, make_message())
    bobs = deliver_to(bob, make_message(to=bob.email))
    Message.objects.update(read_at=timezone.now())

    reader.post(INBOX, {"action": "unread", "ids": [str(mine.id), str(bobs.id)]})

    assert [r.unread for r in inbox_rows(page(reader.get(INBOX)))] == [True]
    bobs.refresh_from_db()
    assert bobs.read_at is not None

    Message.objects.filter(id=bobs.id).update(read_at=None)
    reader.post(INBOX, {"action": "read", "ids": [str(mine.id), str(bobs.id)]})

    assert [r.unread for r in inbox_rows(page(reader.get(INBOX)))] == [False]
    bobs.refresh_from_db()
    assert bobs.read_at is None


def test_marking_read_keeps_the_time_a_message_was_first_read(reader: Client, alice: User) -> None:
    message = deliver_to(alice, make_message())
    first = timezone.now() - timedelta(days=3)
    Message.objects.filter(id=message.id).update(read_at=first)

    reader.post(INBOX, {"action": "read", "ids": [str(message.id)]})

    message.refresh_from_db()
    assert message.read_at == first


def test_an_action_without_a_selection_says_what_to_do(reader: Client, alice: User) -> None:
    deliver_to(alice, make_message())

    response = reader.post(INBOX, {"action": "delete", "ids": ["not-a-uuid", ""]}, follow=True)

    assert flash(page(response)) == ["Select one or more messages first."]
    assert Message.objects.count() == 1


@pytest.mark.parametrize(("posted", "back"), [("2", f"{INBOX}?page=2"), ("javascript:x", INBOX)])
def test_an_action_returns_to_the_page_it_came_from(
    reader: Client, alice: User, posted: str, back: str
) -> None:
    message = deliver_to(alice, make_message())

    response = reader.post(INBOX, {"action": "read", "ids": [str(message.id)], "page": posted})

    assert response["Location"] == back


def test_the_inbox_form_carries_the_actions_and_a_checkbox_per_message(
    reader: Client, alice: User
) -> None:
    message = deliver_to(alice, make_message(subject="Pick me"))

    form = page(reader.get(INBOX)).one("form", cls="inbox")

    assert form.attrs["method"] == "post"
    assert [(b.attrs["value"], b.text) for b in form.find_all("button")] == [
        ("delete", "Delete"),
        ("unread", "Mark unread"),
        ("read", "Mark read"),
    ]
    checkbox = form.one("input", type="checkbox", name="ids")
    assert checkbox.attrs["value"] == str(message.id)
    assert checkbox.attrs["aria-label"] == "Select “Pick me”"
    assert form.find("input", name="csrfmiddlewaretoken") is not None


def test_inbox_actions_need_the_csrf_token(alice: User) -> None:
    message = deliver_to(alice, make_message())
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)

    response = client.post(INBOX, {"action": "delete", "ids": [str(message.id)]})

    assert response.status_code == 403
    assert Message.objects.filter(id=message.id).exists()


def test_anonymous_actions_change_nothing(client: Client, alice: User) -> None:
    message = deliver_to(alice, make_message())

    response = client.post(INBOX, {"action": "delete", "ids": [str(message.id)]})

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("signin"))
    assert Message.objects.filter(id=message.id).exists()

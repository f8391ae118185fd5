"""Search in Inbox and Sent: by sender, recipients, subject and attachment name,
paged, with encryption at rest off and on."""

from __future__ import annotations

import io
from urllib.parse import parse_qs, urlsplit

import pytest
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.urls import reverse

from sealbox.accounts.models import User
from sealbox.intake.delivery import deliver
from sealbox.mailstore import sealed, search
from sealbox.mailstore.mailbox import store_sent
from sealbox.mailstore.models import Message
from tests.mail import make_message
from tests.portal.pages import Node, deliver_to, page
from tests.portal.test_inbox import received
from tests.vault.conftest import encryption, vault_files  # noqa: F401 (fixtures)

pytestmark = pytest.mark.django_db

INBOX = reverse("inbox")
SENT = reverse("sent")
PDF = b"%PDF-1.7\n%%EOF\n"


@pytest.fixture(params=["plain", "sealed"])
def mode(request: pytest.FixtureRequest) -> str:
    """Every test here runs with encryption at rest off, then on."""
    if request.param == "sealed":
        request.getfixturevalue("encryption")
    return str(request.param)


def subjects(doc: Node) -> list[str]:
    listing = doc.find("ul", cls="messages")
    return [s.text for s in listing.find_all(cls="subject")] if listing else []


def results(reader: Client, query: str, url: str = INBOX, **more: str) -> Node:
    return page(reader.get(url, {"q": query, **more}))


def mailbox(alice: User, bob: User) -> dict[str, Message]:
    """Alice's inbox of a few messages, oldest first, and one of Bob's."""
    messages = {
        "report": make_message(
            subject="Quarterly report",
            sender="Carol Sender <carol@corp.example>",
            attachments=[("Prüfbericht März.pdf", "application/pdf", PDF)],
        ),
        "size": make_message(
            subject="Größe der Dateien",
            sender="Dávid Kovács <david@corp.example>",
            attachments=[("ÉTÉ-planning.xlsx", "application/octet-stream", b"PK")],
        ),
        "lunch": make_message(subject="Lunch on Friday", sender="Erin <erin@corp.example>"),
    }
    stored = {}
    for minutes, (key, raw) in enumerate(messages.items()):
        stored[key] = received(deliver_to(alice, raw), minutes)
    deliver(
        "carol@corp.example",
        [bob.email],
        make_message(subject="Quarterly report for Bob", to=bob.email),
    )
    return stored


@pytest.mark.parametrize(
    "query, found",
    [
        ("report", ["Quarterly report"]),  # subject
        ("Carol Sender", ["Quarterly report"]),  # sender name
        ("erin@corp", ["Lunch on Friday"]),  # sender address
        ("März.pdf", ["Quarterly report"]),  # attachment name
        ("planning.xlsx", ["Größe der Dateien"]),  # attachment name
        ("GRÖSSE", ["Größe der Dateien"]),  # case, with ß folded to ss
        ("été", ["Größe der Dateien"]),  # case of accented letters (the file is ÉTÉ-…)
        ("PRÜFBERICHT", ["Quarterly report"]),
        ("dávid", ["Größe der Dateien"]),
        ("da\u0301vid", ["Größe der Dateien"]),  # a decomposed á finds a composed one
        ("quarterly carol", ["Quarterly report"]),  # every word, anywhere
        ("quarterly erin", []),  # every word must match
        ("corp.example", ["Lunch on Friday", "Größe der Dateien", "Quarterly report"]),
        ("%", []),  # no wildcards
        ("_", []),
    ],
)
def test_a_search_finds_messages_by_each_field(
    reader: Client, alice: User, bob: User, mode: str, query: str, found: list[str]
) -> None:
    mailbox(alice, bob)

    doc = results(reader, query)

    assert subjects(doc) == found
    if found:
        n = len(found)
        heading = f"{n} result for “{query}”" if n == 1 else f"{n} results for “{query}”"
        assert doc.one("h2").text == heading
    else:
        assert doc.one("h2").text == f"No messages match “{query}”."
        assert "Your secure mailbox is empty." not in doc.text


def test_a_search_finds_by_the_envelope_sender(reader: Client, alice: User, mode: str) -> None:
    [message] = deliver("gateway-bounce@corp.example", [alice.email], make_message(sender=""))

    assert subjects(results(reader, "gateway-bounce")) == [message.subject]


def test_another_owners_messages_are_never_found(
    reader: Client, alice: User, bob: User, mode: str
) -> None:
    mailbox(alice, bob)

    assert subjects(results(reader, "bob")) == []
    assert subjects(results(reader, "Quarterly report")) == ["Quarterly report"]


def test_the_sent_folder_is_searched_by_recipient(
    reader: Client, alice: User, bob: User, mode: str
) -> None:
    store_sent(alice, make_message(subject="Re: Figures", sender=alice.email, to="Zoë <z@x.test>"))
    store_sent(alice, make_message(subject="Re: Lunch", sender=alice.email, to="erin@x.test"))
    deliver_to(alice, make_message(subject="From Zoë", sender="Zoë <z@x.test>"))

    assert subjects(results(reader, "ZOË", SENT)) == ["Re: Figures"]
    assert subjects(results(reader, "zoë")) == ["From Zoë"]  # the inbox: only the inbox


def test_search_results_are_paged_and_the_pages_keep_the_query(
    reader: Client, alice: User, mode: str
) -> None:
    for i in range(53):
        received(deliver_to(alice, make_message(subject=f"Invoice & co {i:02d}")), i)
    received(deliver_to(alice, make_message(subject="Something else")), 30)

    first = results(reader, "invoice & co")
    older = first.one("a", rel="next").attrs["href"]
    second = page(reader.get(INBOX + older))
    past_the_end = results(reader, "invoice & co", page="9")

    assert subjects(first) == [f"Invoice & co {i:02d}" for i in range(52, 2, -1)]
    assert parse_qs(urlsplit(older).query) == {"q": ["invoice & co"], "page": ["2"]}
    assert subjects(second) == ["Invoice & co 02", "Invoice & co 01", "Invoice & co 00"]
    assert "Page 2 of 2" in second.one("nav", cls="pager").text
    assert parse_qs(urlsplit(second.one("a", rel="prev").attrs["href"]).query)["q"] == [
        "invoice & co"
    ]
    assert subjects(past_the_end) == subjects(second)
    assert second.one("input", type="search").attrs["value"] == "invoice & co"


def test_the_query_is_shown_as_text_never_as_markup(reader: Client, alice: User) -> None:
    deliver_to(alice, make_message(subject="<b>bold</b> claims"))

    response = reader.get(INBOX, {"q": '<b>bold</b> "x'})

    assert b"<b>bold</b> claims" not in response.content
    assert results(reader, "<b>bold</b>").one("h2").text == "1 result for “<b>bold</b>”"
    field = page(response).one("input", type="search")
    assert field.attrs["value"] == '<b>bold</b> "x'


def test_no_match_offers_the_way_back(reader: Client, alice: User) -> None:
    deliver_to(alice, make_message(subject="Hello"))

    doc = results(reader, "nothing-like-this")
    back = doc.one("div", cls="search-results").one("a")

    assert doc.one("h2").text == "No messages match “nothing-like-this”."
    assert back.text == "Show all messages"
    assert subjects(page(reader.get(INBOX + back.attrs["href"]))) == ["Hello"]


def test_an_action_on_search_results_returns_to_the_same_search(
    reader: Client, alice: User, mode: str
) -> None:
    message = deliver_to(alice, make_message(subject="Report & figures"))
    deliver_to(alice, make_message(subject="Other"))

    response = reader.post(
        INBOX, {"ids": [str(message.id)], "action": "read", "page": "1", "q": "report & fig"}
    )

    assert response.status_code == 302
    assert parse_qs(urlsplit(response["Location"]).query) == {
        "q": ["report & fig"],
        "page": ["1"],
    }
    assert subjects(page(reader.get(response["Location"]))) == ["Report & figures"]


def test_the_search_box_is_labelled_and_in_a_search_landmark(reader: Client, alice: User) -> None:
    doc = page(reader.get(INBOX))
    form = doc.one("form", role="search")
    field = form.one("input", name="q")

    assert form.attrs["method"] == "get"
    assert field.attrs["type"] == "search"
    assert form.one("label", **{"for": field.attrs["id"]}).text == "Search messages"
    assert doc.find("div", cls="search-results") is None


@pytest.mark.usefixtures("encryption")
def test_with_encryption_at_rest_nothing_searched_is_in_the_database_in_the_clear(
    reader: Client, alice: User
) -> None:
    message = deliver_to(
        alice,
        make_message(
            subject="Merger plans",
            attachments=[("secret-merger-terms.pdf", "application/pdf", PDF)],
        ),
    )
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT subject, attachment_names, search_text FROM mailstore_message WHERE id = %s",
            [message.id.hex if connection.vendor == "sqlite" else message.id],
        )
        assert cursor.fetchone() == ("", "", "")

    stored = Message.objects.get(id=message.id)
    assert sealed.open_fields(stored.sealed_summary)["attachment_names"] == (
        "secret-merger-terms.pdf"
    )
    assert subjects(results(reader, "merger-terms")) == ["Merger plans"]


@pytest.mark.usefixtures("encryption")
def test_a_sealed_search_keeps_only_a_page_of_matches(alice: User) -> None:
    for i in range(7):
        deliver_to(alice, make_message(subject=f"Note {i}"))
    folder = Message.objects.filter(owner=alice).order_by("-received_at", "-id")

    found = search.search(folder, "note", 2, 3, ["id", "subject", "sealed_summary"])

    assert isinstance(found, search.Found)
    assert len(found) == 7
    # The page asked for (positions 3 to 5) and the last page (position 6), nothing more.
    assert {start: len(ids) for start, ids in found.pages.items()} == {3: 3, 6: 1}


def test_plain_mail_from_before_the_search_column_is_found_once_migrated(
    reader: Client, alice: User
) -> None:
    """The migration fills the column from the row (migrations/0006_message_search.py)."""
    message = deliver_to(alice, make_message(subject="Old news"))
    Message.objects.filter(id=message.id).update(search_text="")
    assert subjects(results(reader, "old news")) == []

    from importlib import import_module

    from django.apps import apps

    migration = import_module("sealbox.mailstore.migrations.0006_message_search")
    migration.fill_search_text(apps, None)

    assert subjects(results(reader, "old news")) == ["Old news"]


def test_mailbox_index_makes_older_mail_findable_by_attachment_name(
    reader: Client, alice: User, mode: str
) -> None:
    message = deliver_to(
        alice,
        make_message(subject="Scans", attachments=[("passport-scan.pdf", "application/pdf", PDF)]),
    )
    # As stored before attachment names were kept.
    stored = Message.objects.get(id=message.id)
    if mode == "sealed":
        content = sealed.open_fields(stored.sealed_summary)
        old = sealed.seal_fields({**content, "attachment_names": ""})
        Message.objects.filter(id=message.id).update(sealed_summary=old)
        sealed.clear_cache()
    else:
        values = {name: getattr(stored, name) for name in search.FIELDS}
        Message.objects.filter(id=message.id).update(
            attachment_names="", search_text=search.index_text({**values, "attachment_names": ""})
        )
    assert subjects(results(reader, "passport")) == []
    assert subjects(results(reader, "scans")) == ["Scans"]

    out = io.StringIO()
    call_command("mailbox", "index", stdout=out)
    call_command("mailbox", "index", stdout=io.StringIO())  # again: nothing more to do

    assert out.getvalue() == "1 message(s) given their attachment names for search.\n"
    assert subjects(results(reader, "passport")) == ["Scans"]


@pytest.mark.usefixtures("encryption")
def test_a_sealed_summary_that_does_not_open_does_not_stop_a_search(
    reader: Client, alice: User
) -> None:
    broken = deliver_to(alice, make_message(subject="Damaged"))
    deliver_to(alice, make_message(subject="Fine report"))
    Message.objects.filter(id=broken.id).update(sealed_summary=b"not a CMS envelope")
    sealed.clear_cache()

    assert subjects(results(reader, "report")) == ["Fine report"]

"""The read API (opened.read, opened.read_headers): every reader sees the same headers and
dates, a message's header block is read once per process, and nothing read lies on
disk in the clear."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from django.conf import settings as django_settings
from django.test import Client
from django.urls import reverse

from sealbox.accounts.models import User
from sealbox.mailstore import blobs, mailbox, mime, opened, parsing
from sealbox.mailstore.models import Message
from sealbox.mailstore.summary import summarize
from sealbox.outbound import loopmark, receipts
from sealbox.portal import sending
from tests.conftest import CAROL
from tests.mailstore.test_opened import big_message
from tests.portal.pages import content, deliver_to, listed_attachments, message_url, page
from tests.vault.conftest import Vault, encryption, vault_files  # noqa: F401 (fixtures)

pytestmark = pytest.mark.django_db

MARKER = "Budget-7f3a"


def mail(*lines: str, body: str = "Hello Alice.\r\n") -> bytes:
    head = [f"From: Carol Sender <{CAROL}>", "To: alice@example.net", f"Subject: {MARKER}"]
    return ("\r\n".join([*head, *lines]) + "\r\n\r\n" + body).encode()


@contextmanager
def head_reads() -> Iterator[mock.MagicMock]:
    """Counts the reads of a stored message's header block meanwhile."""
    with mock.patch.object(blobs, "read_head", wraps=blobs.read_head) as reads:
        yield reads


# --- Read once, kept in memory ---------------------------------------------------------


def test_headers_are_read_from_the_file_once(alice: User) -> None:
    message = deliver_to(alice, mail("Message-ID: <m1@corp.example>"))

    with head_reads() as reads:
        first = opened.read_headers(message)
        second = opened.read_headers(Message.objects.get(id=message.id))

    assert reads.call_count == 1
    assert second is first
    assert first["Subject"] == MARKER
    assert first["Message-ID"] == "<m1@corp.example>"


def test_the_page_its_frame_its_attachments_and_a_reply_read_the_message_once(
    reader: Client, alice: User
) -> None:
    raw, data = big_message(64 * 1024)
    message = deliver_to(alice, raw)
    before = opened.parses

    with head_reads() as reads:
        doc = page(reader.get(message_url(message)))
        frame = reader.get(message_url(message, "message-body"))
        files = {a.name: content(reader.get(a.url)) for a in listed_attachments(doc)}
        reply = reader.get(reverse("reply", args=[message.id]))
        sending.participants(message)

    assert frame.status_code == reply.status_code == 200
    assert files["data.zip"] == data
    assert opened.parses == before + 1
    assert reads.call_count == 1


def test_kept_headers_are_bounded(alice: User, monkeypatch: pytest.MonkeyPatch) -> None:
    messages = [deliver_to(alice, mail(f"Message-ID: <m{i}@corp.example>")) for i in range(6)]
    one = opened.HEADER_OVERHEAD + len(mail("Message-ID: <m0@corp.example>"))
    monkeypatch.setattr(opened, "HEADER_BUDGET", 3 * one)

    for message in messages:
        opened.read_headers(message)
    with head_reads() as reads:
        latest = opened.read_headers(messages[-1])
    assert reads.call_count == 0
    assert latest["Message-ID"] == "<m5@corp.example>"

    with head_reads() as reads:
        oldest = opened.read_headers(messages[0])
    assert reads.call_count == 1  # pushed out by the later ones: read again
    assert oldest["Message-ID"] == "<m0@corp.example>"


def test_a_deleted_message_is_forgotten(
    alice: User, django_capture_on_commit_callbacks: Any
) -> None:
    message = deliver_to(alice, mail())
    opened.read_headers(message)

    with django_capture_on_commit_callbacks(execute=True):
        mailbox.remove(Message.objects.filter(id=message.id))

    with pytest.raises(FileNotFoundError):
        opened.read_headers(message)


# --- One header parser: a lone CR is no line break for any reader ------------------------


def test_a_lone_cr_makes_no_second_header_on_the_page(reader: Client, alice: User) -> None:
    message = deliver_to(alice, mail("X-Note: hi\rFrom: CEO <ceo@corp.example>"))

    text = page(reader.get(message_url(message))).text

    assert "Carol Sender" in text
    assert "CEO" not in text
    assert [str(a) for a in opened.read(message).sender] == [f"Carol Sender <{CAROL}>"]
    assert opened.read_headers(message).get_all("From") == [f"Carol Sender <{CAROL}>"]


def test_a_lone_cr_makes_no_receipt_target(alice: User, settings: Any) -> None:
    settings.READ_RECEIPTS = "requested"
    smuggled = deliver_to(alice, mail(f"X-Note: hi\rDisposition-Notification-To: {CAROL}"))
    asking = deliver_to(alice, mail(f"Disposition-Notification-To: {CAROL}"))

    assert receipts.receipt_target(smuggled) is None
    assert receipts.decision(smuggled).action == receipts.SKIP
    assert receipts.receipt_target(asking) == CAROL


def test_a_lone_cr_makes_no_reply_address_or_reference(reader: Client, alice: User) -> None:
    message = deliver_to(
        alice,
        mail(
            "Message-ID: <orig@corp.example>",
            "References: <first@corp.example>",
            "X-Note: hi\rReply-To: dave@corp.example",
            "X-Other: hi\rReferences: <smuggled@corp.example>",
        ),
    )

    form = page(reader.get(reverse("reply", args=[message.id])))
    built, _envelope = sending.build(alice, [CAROL], [], "Re: x", "ok", [], message)

    assert form.one("input", name="to").attrs["value"] == CAROL
    assert "dave@corp.example" not in sending.participants(message)
    assert built["References"] == "<first@corp.example> <orig@corp.example>"


def test_loop_detection_takes_no_lone_cr_for_a_line_break_either() -> None:
    found = loopmark.read_headers(
        b"X-Note: hi\rMessage-ID: <smuggled@x>\r\nMessage-ID: <real@x>\r\n\r\nbody\r\n"
    )
    assert found.message_id == "<real@x>"


def test_the_header_parser_keeps_no_body() -> None:
    parsed = parsing.parse_headers(b"Subject: hi\r\n\r\n" + b"body " * 10_000)

    assert parsed["Subject"] == "hi"
    assert not parsed.get_payload()


# --- One date parser -------------------------------------------------------------------

DATES = [
    ("Fri, 20 Nov 2026 09:30:00 +0100", datetime(2026, 11, 20, 8, 30, tzinfo=UTC)),
    ("Fri, 20 Nov 2026 09:30:00 -0000", datetime(2026, 11, 20, 9, 30, tzinfo=UTC)),  # no zone
    ("20 Nov 2026 09:30", datetime(2026, 11, 20, 9, 30, tzinfo=UTC)),
    ("Fri, 20 Nov 2026 09:30:00 +0000 (UTC)", datetime(2026, 11, 20, 9, 30, tzinfo=UTC)),
    ("yesterday", None),
    ("", None),
    ("Fri, 32 Nov 2026 09:30:00 +0000", None),
    ("Fri, 20 Nov 2026 25:30:00 +0000", None),
    ("Fri, 20 Nov 2026 09:30:00 +2400", None),
    ("Fri, 20 Nov 99999999999 09:30:00 +0000", None),  # OverflowError in the email package
    ("Fri, 1 Jan 10000 00:00:00 +0000", None),
    ("Fri, 31 Dec 9999 23:30:00 -0100", None),  # no such time in UTC
]


@pytest.mark.parametrize(("value", "expected"), DATES)
def test_dates_are_read_the_same_by_the_inbox_and_the_page(
    value: str, expected: datetime | None
) -> None:
    raw = mail(f"Date: {value}")

    assert parsing.parse_date(value) == expected
    assert summarize(raw).sent_date == expected
    assert mime.view(raw).date == expected


def test_a_date_keeps_its_zone_and_is_aware() -> None:
    found = parsing.parse_date("Fri, 20 Nov 2026 09:30:00 +0530")

    assert found is not None
    assert found.utcoffset() == timedelta(hours=5, minutes=30)
    assert found.tzinfo == timezone(timedelta(hours=5, minutes=30))
    assert parsing.parse_date(None) is None


def test_a_message_with_an_impossible_date_is_stored_and_opens(reader: Client, alice: User) -> None:
    message = deliver_to(alice, mail("Date: Fri, 20 Nov 99999999999 09:30:00 +0000"))

    response = reader.get(message_url(message))

    assert message.sent_date is None
    assert response.status_code == 200
    assert MARKER in page(response).text


# --- Sealed: nothing read lies on disk in the clear ----------------------------------------


def test_with_encryption_at_rest_nothing_read_is_on_disk_in_the_clear(
    reader: Client,
    alice: User,
    encryption: Vault,  # noqa: F811
) -> None:
    message = deliver_to(alice, mail("Message-ID: <m1@corp.example>", body=f"Body {MARKER}\r\n"))
    assert page(reader.get(message_url(message))).text.count(MARKER)
    assert reader.get(reverse("reply", args=[message.id])).status_code == 200
    assert opened.read_headers(message)["Subject"] == MARKER

    for path in Path(django_settings.DATA_DIR).rglob("*"):
        if path.is_file():
            assert MARKER.encode() not in path.read_bytes(), path

"""The reply and write pages: what they offer, and what they refuse with a clear error."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from sealbox.accounts.models import User
from sealbox.mailstore.models import Message
from sealbox.outbound.models import OutgoingEmail
from tests.conftest import CAROL
from tests.portal.pages import deliver_to, flash, page
from tests.portal.writing import (
    PORTAL_ADDRESS,
    errors,
    form_fields,
    nothing_sent,
    original_mail,
    reply_url,
    send_form,
)

pytestmark = pytest.mark.django_db

DAVE = "dave@example.com"
START = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def portal_address(settings: Any) -> None:
    settings.PORTAL_ADDRESS = PORTAL_ADDRESS
    settings.ALLOW_COMPOSE = False
    settings.COMPOSE_ALLOWED_RECIPIENTS = []
    settings.COMPOSE_PER_HOUR = 20
    settings.MAX_UPLOAD_MB = 25


def write_url() -> str:
    return reverse("compose")


# --- The reply form, filled in --------------------------------------------------------


def test_reply_is_addressed_to_the_sender_with_re_subject_and_quoted_text(
    reader: Client, alice: User
) -> None:
    original = deliver_to(alice, original_mail(cc="Dan <dan@corp.example>"))

    fields = form_fields(reader.get(reply_url(original)))

    assert fields["to"] == CAROL
    assert fields["cc"] == ""
    assert fields["subject"] == "Re: Quarterly figures"
    body = fields["body"]
    assert "Carol Sender <carol@corp.example> wrote:" in body
    assert "> Hello Alice,\n>\n> the figures are attached.\n> Carol\n" in body
    assert body.startswith("\n")  # a line to write on above the quote


def test_replying_to_an_html_only_message_quotes_its_text_as_read(
    reader: Client, alice: User
) -> None:
    html = (
        "<html><head><title>Figures</title><style>p { color: red }</style></head><body>"
        "<p>Fish &amp; chips &lt;3</p><p>Second&nbsp;paragraph<br>line <b>two</b></p>"
        "<ul><li>one</li><li>two</li></ul><script>alert(1)</script></body></html>"
    )
    original = deliver_to(alice, original_mail(body=html, subtype="html"))

    body = form_fields(reader.get(reply_url(original)))["body"]

    assert body.endswith(
        " wrote:\n> Fish & chips <3\n>\n> Second paragraph\n> line two\n>\n> one\n> two\n"
    )
    assert "color" not in body
    assert "alert" not in body
    assert "Figures" not in body


def test_replying_to_html_too_slow_to_read_carefully_quotes_its_words_in_time(
    reader: Client, alice: User, settings: Any
) -> None:
    settings.HTML_TIME_LIMIT = 1
    # Deeply nested elements take nh3 time quadratic in their number (about 40 s here).
    html = "<div>" * 100_000 + "<p>Deep &amp; nested</p><script>alert(1)</script>"
    original = deliver_to(alice, original_mail(body=html, subtype="html"))

    started = time.monotonic()
    body = form_fields(reader.get(reply_url(original)))["body"]
    elapsed = time.monotonic() - started

    assert body.endswith(" wrote:\n> Deep & nested\n")
    assert elapsed < 10  # the limit, plus starting and stopping the work on a loaded machine


def test_reply_goes_to_the_reply_to_address_when_there_is_one(reader: Client, alice: User) -> None:
    original = deliver_to(alice, original_mail(reply_to="Finance team <finance@corp.example>"))

    fields = form_fields(reader.get(reply_url(original)))

    assert fields["to"] == "finance@corp.example"


@pytest.mark.parametrize(
    ("subject", "expected"),
    [
        ("Re: Quarterly figures", "Re: Quarterly figures"),
        ("RE: Quarterly figures", "RE: Quarterly figures"),
        ("AW: Quartalszahlen", "AW: Quartalszahlen"),
        ("", "Re:"),
    ],
)
def test_reply_subject_gets_one_re_prefix(
    reader: Client, alice: User, subject: str, expected: str
) -> None:
    original = deliver_to(alice, original_mail(subject=subject))

    assert form_fields(reader.get(reply_url(original)))["subject"] == expected


def test_reply_all_copies_everyone_else_but_not_the_reader_herself(
    reader: Client, alice: User
) -> None:
    original = deliver_to(
        alice,
        original_mail(
            to="Alice <ALICE@Example.NET>, Bob <bob@example.org>",
            cc=f"Dan <dan@corp.example>, Carol again <{CAROL}>",
        ),
    )

    plain = form_fields(reader.get(reply_url(original)))
    everyone = form_fields(reader.get(reply_url(original, everyone=True)))

    assert plain["cc"] == ""
    assert everyone["to"] == CAROL
    assert everyone["cc"] == "bob@example.org, dan@corp.example"


def test_reply_all_does_not_copy_the_sender_who_copied_themselves_in_another_spelling(
    reader: Client, alice: User
) -> None:
    original = deliver_to(
        alice, original_mail(sender="Carol <Carol@Corp.Example>", cc=f"Carol <{CAROL}>")
    )

    everyone = form_fields(reader.get(reply_url(original, everyone=True)))

    assert everyone["to"] == CAROL
    assert everyone["cc"] == ""


def test_only_a_received_message_of_ones_own_can_be_answered(
    reader: Client, alice: User, bob: User
) -> None:
    bobs = deliver_to(bob, original_mail())
    mine = deliver_to(alice, original_mail())
    send_form(reader, reply_url(mine), to=CAROL, body="ok")
    sent = Message.objects.get(owner=alice, folder=Message.Folder.SENT)

    assert reader.get(reply_url(bobs)).status_code == 404
    assert send_form(reader, reply_url(bobs), to=CAROL, body="x").status_code == 404
    assert reader.get(reply_url(sent)).status_code == 404
    assert OutgoingEmail.objects.count() == 1


def test_a_sent_reply_opens_its_sent_copy_with_a_confirmation(reader: Client, alice: User) -> None:
    original = deliver_to(alice, original_mail())

    response = send_form(reader, reply_url(original), to=CAROL, subject="Re: Q", body="Fine.")

    sent = Message.objects.get(owner=alice, folder=Message.Folder.SENT)
    assert response.status_code == 302
    assert response["Location"] == reverse("message", args=[sent.id])
    assert flash(page(reader.get(response["Location"]))) == ["Your message was sent."]


def test_the_form_keeps_what_was_typed_when_it_shows_an_error(reader: Client, alice: User) -> None:
    original = deliver_to(alice, original_mail())

    response = send_form(
        reader, reply_url(original), to="not an address", subject="Re: Q", body="My long answer"
    )

    fields = form_fields(response)
    assert fields["to"] == "not an address"
    assert fields["subject"] == "Re: Q"
    assert fields["body"].strip() == "My long answer"
    assert errors(response) == ["“not an address” is not a valid email address."]
    assert nothing_sent()


@pytest.mark.parametrize(
    ("typed", "shown"),
    [
        ("dan@corp.example, carol@", "carol@"),
        ("carol@corp.example dan@corp.example", "carol@corp.example dan@corp.example"),
        ("Carol <carol@corp.example> and Dan", "Carol <carol@corp.example> and Dan"),
        ("carol@corp", "carol@corp"),
    ],
)
def test_an_address_that_cannot_be_read_is_refused_never_dropped(
    reader: Client, alice: User, typed: str, shown: str
) -> None:
    original = deliver_to(alice, original_mail())

    response = send_form(reader, reply_url(original), to=typed, body="hi")

    assert errors(response) == [f"“{shown}” is not a valid email address."]
    assert nothing_sent()


# --- New messages: only where allowed, only to the organisation ------------------------


def test_writing_new_messages_is_off_by_default(reader: Client, alice: User) -> None:
    assert reader.get(write_url()).status_code == 404
    assert send_form(reader, write_url(), to=CAROL, body="hi").status_code == 404
    assert "Write" not in page(reader.get(reverse("inbox"))).one("nav").text
    assert nothing_sent()


def test_the_operator_can_allow_writing_for_everyone(
    reader: Client, alice: User, settings: Any
) -> None:
    settings.ALLOW_COMPOSE = True

    doc = page(reader.get(write_url()))

    assert doc.one("h1").text == "New message"
    assert "Write" in doc.one("nav").text
    assert form_fields(reader.get(write_url()))["to"] == ""


def test_one_account_may_be_allowed_to_write_when_others_may_not(
    reader: Client, alice: User
) -> None:
    alice.allow_compose = True
    alice.save()

    assert reader.get(write_url()).status_code == 200


def test_one_account_may_be_kept_from_writing_when_others_may(
    reader: Client, alice: User, settings: Any
) -> None:
    settings.ALLOW_COMPOSE = True
    alice.allow_compose = False
    alice.save()

    assert reader.get(write_url()).status_code == 404
    assert send_form(reader, write_url(), to=CAROL, body="hi").status_code == 404
    assert nothing_sent()


def test_a_new_message_to_an_outside_address_is_refused(
    reader: Client, alice: User, settings: Any
) -> None:
    settings.ALLOW_COMPOSE = True

    response = send_form(
        reader, write_url(), to=f"{CAROL}, Dave <{DAVE}>", subject="Hello", body="Hi"
    )

    assert errors(response) == [
        f"You can only write to addresses at corp.example. Not allowed: {DAVE}."
    ]
    assert nothing_sent()
    assert not User.objects.filter(email=DAVE).exists()


def test_a_reply_cannot_add_outside_people_who_were_not_on_the_message(
    reader: Client, alice: User
) -> None:
    original = deliver_to(alice, original_mail())

    response = send_form(reader, reply_url(original), to=CAROL, cc=DAVE, body="see below")

    assert errors(response) == [
        "A reply can go to the people on the original message and to addresses at "
        f"corp.example. Not allowed: {DAVE}."
    ]
    assert nothing_sent()


def test_a_reply_to_no_one_but_oneself_is_refused(reader: Client, alice: User) -> None:
    original = deliver_to(alice, original_mail())

    response = send_form(reader, reply_url(original), to="Alice@Example.net", body="note to self")

    assert errors(response) == ["Add at least one recipient other than yourself."]
    assert nothing_sent()


def test_the_third_message_within_an_hour_is_refused_and_an_hour_later_it_goes(
    reader: Client, alice: User, settings: Any
) -> None:
    settings.ALLOW_COMPOSE = True
    settings.COMPOSE_PER_HOUR = 2

    with time_machine.travel(START, tick=False):
        reader.force_login(alice)
        for n in (1, 2):
            sent = send_form(reader, write_url(), to=CAROL, subject=f"Note {n}", body="x")
            assert sent.status_code == 302, errors(sent)
    with time_machine.travel(START + timedelta(minutes=59), tick=False):
        reader.force_login(alice)  # a new session: this one was idle too long
        refused = send_form(reader, write_url(), to=CAROL, subject="Note 3", body="x")
        original = deliver_to(alice, original_mail())
        refused_reply = send_form(reader, reply_url(original), to=CAROL, body="x")
    with time_machine.travel(START + timedelta(minutes=61), tick=False):
        reader.force_login(alice)
        later = send_form(reader, write_url(), to=CAROL, subject="Note 3", body="x")

    limit = "You have sent 2 messages in the last hour, the most allowed. Please try again later."
    assert errors(refused) == [limit]
    assert errors(refused_reply) == [limit]
    assert form_fields(refused)["subject"] == "Note 3"
    assert later.status_code == 302, errors(later)
    sent_subjects = Message.objects.filter(folder=Message.Folder.SENT).values_list(
        "subject", flat=True
    )
    assert sorted(sent_subjects) == ["Note 1", "Note 2", "Note 3"]
    assert OutgoingEmail.objects.count() == 3


def test_deleting_sent_copies_does_not_reset_the_hourly_limit(
    reader: Client, alice: User, settings: Any
) -> None:
    settings.ALLOW_COMPOSE = True
    settings.COMPOSE_PER_HOUR = 2
    for n in (1, 2):
        sent = send_form(reader, write_url(), to=CAROL, subject=f"Note {n}", body="x")
        assert sent.status_code == 302, errors(sent)
    for message in Message.objects.filter(folder=Message.Folder.SENT):
        deleted = reader.post(reverse("message-delete", args=[message.id]))
        assert deleted.status_code == 302

    refused = send_form(reader, write_url(), to=CAROL, subject="Note 3", body="x")

    assert errors(refused) == [
        "You have sent 2 messages in the last hour, the most allowed. Please try again later."
    ]
    assert OutgoingEmail.objects.count() == 2


# --- Header injection fails cleanly ------------------------------------------------------

INJECTIONS = [
    pytest.param("to", f"{CAROL}\r\nBcc: {DAVE}", id="to-crlf"),
    pytest.param("to", f"{CAROL}\nBcc: {DAVE}", id="to-lf"),
    pytest.param("cc", f"dan@corp.example\r\nBcc: {DAVE}", id="cc-crlf"),
    pytest.param("subject", f"Hello\r\nBcc: {DAVE}", id="subject-crlf"),
    pytest.param("subject", "Hello\rX-Spam: yes", id="subject-cr"),
    pytest.param("subject", f"Hello\u2028Bcc: {DAVE}", id="subject-line-separator"),
    pytest.param("subject", f"Hello\u2029Bcc: {DAVE}", id="subject-paragraph-separator"),
    pytest.param("subject", f"Hello\x85Bcc: {DAVE}", id="subject-next-line"),
    pytest.param("subject", f"Hello\x0bBcc: {DAVE}", id="subject-vertical-tab"),
    pytest.param("to", f"car\u2028ol@corp.example, {CAROL}", id="to-line-separator"),
    pytest.param("cc", f"d\u2028Bcc: {DAVE}@corp.example", id="cc-line-separator"),
]


@pytest.mark.parametrize(("field", "value"), INJECTIONS)
def test_line_breaks_in_a_header_field_are_refused_and_nothing_is_sent(
    reader: Client, alice: User, field: str, value: str
) -> None:
    original = deliver_to(alice, original_mail())
    fields = {"to": CAROL, "subject": "Re: Quarterly figures", "body": "hello", field: value}

    response = send_form(reader, reply_url(original), **fields)

    assert response.status_code == 200
    shown = errors(response)
    assert len(shown) == 1
    assert "Line breaks are not allowed" in shown[0]
    assert nothing_sent()


@pytest.mark.parametrize("field", ["to", "cc", "subject"])
def test_url_encoded_line_breaks_are_refused_too(reader: Client, alice: User, field: str) -> None:
    original = deliver_to(alice, original_mail())
    fields = {"to": CAROL, "cc": "", "subject": "Re", "body": "hello"}
    fields[field] = fields[field] or "dan@corp.example"
    body = "&".join(
        f"{name}={value}%0d%0aBcc:%20{DAVE}" if name == field else f"{name}={value}"
        for name, value in fields.items()
    )

    response = reader.post(
        reply_url(original), body, content_type="application/x-www-form-urlencoded"
    )

    assert response.status_code == 200
    assert len(errors(response)) == 1
    assert "Line breaks are not allowed" in errors(response)[0]
    assert nothing_sent()


# --- Attachments --------------------------------------------------------------------------


def test_attachments_over_the_size_limit_are_refused(
    reader: Client, alice: User, settings: Any
) -> None:
    settings.MAX_UPLOAD_MB = 1
    original = deliver_to(alice, original_mail())
    big = SimpleUploadedFile("scan.pdf", b"%PDF" + b"\0" * (1536 * 1024), "application/pdf")

    response = send_form(reader, reply_url(original), to=CAROL, body="hi", attachments=[big])

    assert errors(response) == ["Attachments may add up to 1 MB at most."]
    assert "Up to 1 MB in all." in page(response).one("form", cls="compose").text
    assert nothing_sent()


def test_several_attachments_together_over_the_limit_are_refused(
    reader: Client, alice: User, settings: Any
) -> None:
    settings.MAX_UPLOAD_MB = 1
    original = deliver_to(alice, original_mail())
    files = [
        SimpleUploadedFile(f"part{i}.bin", b"\1" * (600 * 1024), "application/octet-stream")
        for i in range(2)
    ]

    response = send_form(reader, reply_url(original), to=CAROL, body="hi", attachments=files)

    assert errors(response) == ["Attachments may add up to 1 MB at most."]
    assert nothing_sent()

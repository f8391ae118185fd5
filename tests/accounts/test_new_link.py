"""Asking for a new link by email address: "Send me a new link" and "Forgot password?"."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine
from django.test import Client

from sealbox.accounts.models import LinkToken, User
from tests.accounts.helpers import DAVE, page, recipient, sent_emails, without_csrf
from tests.conftest import RelaySink

pytestmark = pytest.mark.django_db

SENT = (
    "If there is a mailbox for this address, we have sent a link to it. "
    "It works once and for 24 hours."
)
ASKING_PAGES = ["/link/new/", "/password/forgot/"]


def ask(address: str, url: str = "/link/new/", client: Client | None = None) -> Any:
    return (client or Client()).post(url, {"email": address}, follow=True)


@pytest.mark.parametrize("url", ASKING_PAGES)
def test_the_page_asks_for_the_email_address(url: str, db: Any) -> None:
    r = Client().get(url)

    assert r.status_code == 200
    html = page(r)
    assert '<label for="id_email">Email address</label>' in html
    assert (
        'type="text" inputmode="email" name="email" id="id_email" autocomplete="username"' in html
    )
    assert "no-store" in r["Cache-Control"]


def test_a_recipient_without_a_password_gets_a_new_activation_link() -> None:
    recipient()

    r = ask(DAVE)

    assert r.redirect_chain == [("/link/sent/", 302)]
    assert SENT in page(r)
    [email] = sent_emails()
    assert email.to == DAVE
    assert email.message["From"] == "Sealbox <secure@corp.example>"
    assert email.subject == "Sealbox: your new link to your mailbox"
    assert f"Here is a new link to your secure mailbox {DAVE} at portal.test." in email.text
    assert "The link works once and for 14 days." in email.text
    assert email.link.startswith("/activate/")
    assert f'href="http://portal.test{email.link}"' in email.html
    assert Client().get(email.link)["Location"] == "/activate/set-password/"


def test_a_recipient_with_a_password_gets_a_password_reset_link(alice: User) -> None:
    ask(alice.email)

    [email] = sent_emails()
    assert email.to == alice.email
    assert email.subject == "Sealbox: choose a new password"
    assert "asked for a new password for your secure mailbox alice@example.net" in email.text
    assert "The link works once and for 24 hours." in email.text
    assert email.link.startswith("/reset/")
    assert f'href="http://portal.test{email.link}"' in email.html
    assert Client().get(email.link)["Location"] == "/reset/set-password/"


def test_forgot_password_sends_an_activation_link_to_a_recipient_without_a_password() -> None:
    recipient()

    ask(DAVE, "/password/forgot/")

    [email] = sent_emails()
    assert email.link.startswith("/activate/")


@pytest.mark.parametrize("url", ASKING_PAGES)
def test_the_answer_does_not_tell_whether_a_mailbox_exists(url: str, alice: User) -> None:
    recipient("new@example.com")
    disabled = User.objects.create_user("gone@example.com", "an old long passphrase")
    disabled.is_active = False
    disabled.save()
    client = Client()

    answers = [
        ask(address, url, client)
        for address in [alice.email, "new@example.com", "gone@example.com", "nobody@example.com"]
    ]

    assert [r.redirect_chain for r in answers] == [[("/link/sent/", 302)]] * 4
    first = without_csrf(answers[0])
    assert SENT in first
    for r in answers[1:]:
        assert r.status_code == 200
        assert without_csrf(r) == first
    assert [e.to for e in sent_emails()] == [alice.email, "new@example.com"]


def test_nothing_is_sent_for_an_address_without_a_mailbox_or_a_disabled_one(db: Any) -> None:
    User.objects.create_user("gone@example.com", "an old long passphrase", is_active=False)

    ask("nobody@example.com")
    ask("gone@example.com", "/password/forgot/")

    assert sent_emails() == []
    assert not LinkToken.objects.exists()


def test_the_address_is_found_however_it_is_written() -> None:
    recipient()

    ask("  <Dave@EXAMPLE.com>  ")

    [email] = sent_emails()
    assert email.to == DAVE


def test_an_address_under_an_internationalised_domain_is_found() -> None:
    recipient("jürgen@bücher.example")

    ask("Jürgen@xn--bcher-kva.example")

    [email] = sent_emails()
    assert "jürgen@bücher.example" in email.text


@pytest.mark.parametrize("address", ["", "dave", "dave@", "two@example.com, three@example.com"])
def test_something_that_is_not_an_address_is_asked_again(address: str, db: Any) -> None:
    r = Client().post("/password/forgot/", {"email": address})

    assert r.status_code == 200
    html = page(r)
    assert "Forgot your password?" in html
    assert '<ul class="errorlist"' in html
    assert sent_emails() == []


def test_a_second_request_within_five_minutes_sends_nothing_more(alice: User) -> None:
    start = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
    with time_machine.travel(start, tick=False):
        ask(alice.email)
        ask(alice.email)  # the same answer, but no second email: no flooding a mailbox
        [only] = sent_emails()
    with time_machine.travel(start + timedelta(minutes=6), tick=False):
        ask(alice.email)
        first_again, later = sent_emails()
        first_works = Client().get(only.link).status_code
        later_works = Client().get(later.link).status_code

    assert first_again.link == only.link
    assert only.link != later.link
    assert first_works == later_works == 302


def test_the_subject_and_text_are_not_html_escaped(settings: Any) -> None:
    settings.SITE_NAME = "O'Brien & Partners Secure Mail"
    recipient()

    ask(DAVE)

    [email] = sent_emails()
    assert email.subject == "O'Brien & Partners Secure Mail: your new link to your mailbox"
    assert email.text.startswith("O'Brien & Partners Secure Mail\r\n")
    assert ">O&#x27;Brien &amp; Partners Secure Mail</span>" in email.html


def test_the_link_is_sent_through_the_relay(relay_sink: RelaySink, alice: User) -> None:
    ask(alice.email)

    sent_emails()  # the sending pass, now to the relay

    [got] = relay_sink.received
    assert got.rcpt_tos == [alice.email]
    assert got.mail_from == "secure@corp.example"
    assert b"http://portal.test/reset/" in got.data


def test_a_new_link_can_be_asked_for_by_get_and_post_only(db: Any) -> None:
    assert Client().put("/link/new/").status_code == 405
    assert Client().delete("/password/forgot/").status_code == 405

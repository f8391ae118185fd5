"""Signing in with a one-time code by email (SEALBOX_SIGNIN_EMAIL_CODE).

The codes travel through a real SMTP relay on loopback (relay_sink) and are
read from the email as the recipient would read them.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

import pytest
import time_machine
from django.test import Client
from django.utils import timezone

from sealbox.accounts import twofactor
from sealbox.accounts.models import Activity, User
from sealbox.outbound import queue
from tests.accounts.helpers import (
    DAVE,
    PASSWORD,
    is_signed_in,
    page,
    recipient,
    without_csrf,
)
from tests.accounts.test_two_factor import oathtool
from tests.conftest import RelaySink

pytestmark = pytest.mark.django_db

ASK = "/signin/email-code/"
ENTER = "/signin/email-code/enter/"
DID_NOT_WORK = (
    "That code did not work. Use the newest code we sent, within its time, or ask for a new one."
)
PAUSED = re.compile(r"Too many failed attempts\. For your safety, this is paused: try again in")
WAIT = re.compile(r"Too many failed attempts\. Wait (\d+) seconds?, then try again\.")


@pytest.fixture(autouse=True)
def email_code_on(settings: Any) -> None:
    settings.SIGNIN_EMAIL_CODE = True


def ask(client: Client, address: str, **extra: str) -> Any:
    return client.post(ASK, {"email": address, **extra}, follow=True)


def enter(client: Client, code: str) -> Any:
    return client.post(ENTER, {"code": code})


def emails(relay_sink: RelaySink) -> list[EmailMessage]:
    """Send what is queued through the relay; everything it received so far."""
    queue.process_due()
    out = []
    for got in relay_sink.received:
        msg = message_from_bytes(got.data, _class=EmailMessage, policy=policy.default)
        assert isinstance(msg, EmailMessage)
        out.append(msg)
    return out


def text_of(msg: EmailMessage) -> str:
    part = msg.get_body(("plain",))
    assert part is not None
    return str(part.get_content()).replace("\r\n", "\n")


def code_in(msg: EmailMessage) -> str:
    [code] = re.findall(r"^ +([0-9]{6})$", text_of(msg), re.M)
    return str(code)


def last_code(relay_sink: RelaySink) -> str:
    return code_in(emails(relay_sink)[-1])


def test_it_is_off_by_default(settings: Any, alice: User) -> None:
    settings.SIGNIN_EMAIL_CODE = False

    assert Client().get(ASK).status_code == 404
    assert Client().post(ASK, {"email": alice.email}).status_code == 404
    assert Client().post(ENTER, {"code": "123456"}).status_code == 404
    assert "sign-in code" not in page(Client().get("/signin/"))


def test_the_sign_in_page_offers_a_code_when_it_is_on(db: Any) -> None:
    html = page(Client().get("/signin/?next=/settings/"))

    assert '<a href="/signin/email-code/?next=/settings/">Email me a sign-in code</a>' in html


def test_the_page_asks_for_the_address(db: Any) -> None:
    r = Client().get(ASK)

    assert r.status_code == 200
    html = page(r)
    assert "<h1>Sign in with a code by email</h1>" in html
    assert '<label for="id_email">Email address</label>' in html
    assert '<button type="submit">Email me a code</button>' in html
    assert "no-store" in r["Cache-Control"]


def test_a_recipient_gets_a_code_and_signs_in_with_it(alice: User, relay_sink: RelaySink) -> None:
    client = Client()

    r = ask(client, "  Alice@Example.NET ")

    assert r.redirect_chain == [(ENTER, 302)]
    html = page(r)
    assert (
        "If there is a mailbox for alice@example.net, we have sent a code to it. "
        "It works once, for 10 minutes, in this browser only."
    ) in html
    assert (
        '<input type="text" name="code" id="id_code" inputmode="numeric" '
        'autocomplete="one-time-code"'
    ) in html
    [msg] = emails(relay_sink)
    assert relay_sink.received[0].rcpt_tos == [alice.email]
    assert msg["Subject"] == "Sealbox: your sign-in code"
    text = text_of(msg)
    assert text.startswith("Your personal phrase: amber otter lantern\n")
    assert "It works once, for 10 minutes, and only in that browser." in text
    assert "If you did not ask for this, ignore this email" in text
    code = code_in(msg)
    assert code in str(msg.get_body(("html",)).get_content())  # type: ignore[union-attr]
    assert "http" not in text.split("Your sign-in code is:")[1].split("--")[0]

    r = enter(client, code)

    assert r.status_code == 302 and r["Location"] == "/inbox/"
    assert is_signed_in(client)
    entry = Activity.objects.filter(user=alice).first()
    assert entry is not None and (entry.kind, entry.detail) == (Activity.Kind.SIGNIN, "email code")


def test_the_code_is_not_kept_in_the_clear(alice: User, relay_sink: RelaySink) -> None:
    ask(Client(), alice.email)
    code = last_code(relay_sink)

    stored = alice.email_codes.get()
    assert code not in stored.code_hash
    assert len(stored.code_hash) == 64


def test_it_goes_where_the_sign_in_page_was_asked_to(alice: User, relay_sink: RelaySink) -> None:
    client = Client()
    ask(client, alice.email, next="/settings/")

    r = enter(client, last_code(relay_sink))

    assert r["Location"] == "/settings/"


def test_it_goes_to_no_other_site(alice: User, relay_sink: RelaySink) -> None:
    client = Client()
    ask(client, alice.email, next="https://evil.example/")

    r = enter(client, last_code(relay_sink))

    assert r["Location"] == "/inbox/"


def test_a_wrong_code_is_refused(alice: User, relay_sink: RelaySink) -> None:
    client = Client()
    ask(client, alice.email)
    code = last_code(relay_sink)
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"

    r = enter(client, wrong)

    assert r.status_code == 400
    assert DID_NOT_WORK in page(r)
    assert not is_signed_in(client)
    entry = Activity.objects.filter(user=alice).first()
    assert entry is not None and entry.kind == Activity.Kind.SIGNIN_FAILED


def test_the_code_works_for_ten_minutes(alice: User, relay_sink: RelaySink) -> None:
    asked = timezone.now()
    late, in_time = Client(), Client()
    ask(late, alice.email)
    late_code = last_code(relay_sink)

    with time_machine.travel(asked + timedelta(minutes=10, seconds=1), tick=False):
        r = enter(late, late_code)
        assert r.status_code == 400 and DID_NOT_WORK in page(r)
        assert not is_signed_in(late)

    ask(in_time, alice.email)
    in_time_code = last_code(relay_sink)
    with time_machine.travel(timezone.now() + timedelta(minutes=9, seconds=50), tick=False):
        assert enter(in_time, in_time_code)["Location"] == "/inbox/"


def test_a_code_works_once(alice: User, relay_sink: RelaySink) -> None:
    client = Client()
    ask(client, alice.email)
    code = last_code(relay_sink)
    assert enter(client, code).status_code == 302
    client.post("/signout/")

    r = enter(client, code)

    assert r.status_code == 302 and r["Location"] == ASK
    assert not is_signed_in(client)


def test_a_new_code_voids_the_one_before(alice: User, relay_sink: RelaySink) -> None:
    client = Client()
    ask(client, alice.email)
    first = last_code(relay_sink)
    ask(client, alice.email)
    second = last_code(relay_sink)

    if first != second:
        r = enter(client, first)
        assert r.status_code == 400 and DID_NOT_WORK in page(r)
    assert enter(client, second)["Location"] == "/inbox/"
    assert len(emails(relay_sink)) == 2


def test_a_code_works_only_in_the_session_that_asked_for_it(
    alice: User, relay_sink: RelaySink
) -> None:
    mine, theirs = Client(), Client()
    ask(theirs, alice.email)
    ask(mine, alice.email)
    code = last_code(relay_sink)

    r = enter(theirs, code)

    assert r.status_code == 400 and DID_NOT_WORK in page(r)
    assert not is_signed_in(theirs)
    # A browser that never asked is sent to ask first.
    assert Client().post(ENTER, {"code": code})["Location"] == ASK


def test_wrong_codes_void_the_code(alice: User, relay_sink: RelaySink) -> None:
    client = Client()
    ask(client, alice.email)
    code = last_code(relay_sink)
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"

    with time_machine.travel(timezone.now(), tick=False) as traveller:
        for _ in range(5):
            assert enter(client, wrong).status_code == 400
        traveller.shift(60)
        r = enter(client, code)

    assert r.status_code == 400 and DID_NOT_WORK in page(r)
    assert not is_signed_in(client)


def test_wrong_codes_are_throttled_like_passwords(
    settings: Any, alice: User, relay_sink: RelaySink
) -> None:
    settings.SIGNIN_LOCK_AFTER = 4
    client = Client()
    ask(client, alice.email)
    code = last_code(relay_sink)
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"

    with time_machine.travel(timezone.now(), tick=False) as traveller:
        for _ in range(4):
            r = enter(client, wrong)
            while r.status_code == 429 and (m := WAIT.search(page(r))):
                traveller.shift(int(m.group(1)))
                r = enter(client, wrong)
            assert r.status_code == 400
        r = enter(client, code)
        assert r.status_code == 429
        assert PAUSED.search(page(r))
        # The same pause, in the same words, for the password.
        r = Client().post(
            "/signin/", {"username": alice.email, "password": "correct horse battery staple"}
        )
        assert r.status_code == 429 and PAUSED.search(page(r))
    assert not is_signed_in(client)
    assert Activity.objects.filter(user=alice, kind=Activity.Kind.LOCKED).exists()


def test_an_enrolled_second_factor_is_still_asked_for(alice: User, relay_sink: RelaySink) -> None:
    twofactor.turn_on(alice, twofactor.new_secret(), 0)
    client = Client()
    ask(client, alice.email)

    r = enter(client, last_code(relay_sink))

    assert r.status_code == 302 and r["Location"] == "/signin/verify/"
    assert not is_signed_in(client)
    assert "Code from your authenticator app" in page(client.get("/signin/verify/"))


def test_a_recipient_who_never_chose_a_password_signs_in(relay_sink: RelaySink) -> None:
    dave = recipient()
    client = Client()
    ask(client, DAVE)
    msg = emails(relay_sink)[-1]
    assert "personal phrase" not in text_of(msg)

    r = enter(client, code_in(msg))

    assert r["Location"] == "/inbox/"
    assert is_signed_in(client)
    dave.refresh_from_db()
    # A code does not activate the mailbox: no password, no phrase.
    assert not dave.is_activated and not dave.phrase and not dave.has_usable_password()


def test_an_unknown_address_gets_the_same_answer_and_no_email(
    alice: User, relay_sink: RelaySink
) -> None:
    known = ask(Client(), alice.email)
    unknown = ask(Client(), "nobody@example.com")

    assert without_csrf(unknown).replace("nobody@example.com", "X") == without_csrf(known).replace(
        alice.email, "X"
    )
    assert [m["To"] for m in emails(relay_sink)] == [alice.email]


def test_a_disabled_account_gets_the_same_answer_and_no_email(
    alice: User, relay_sink: RelaySink
) -> None:
    alice.is_active = False
    alice.save(update_fields=["is_active"])
    client = Client()

    r = ask(client, alice.email)

    assert r.redirect_chain == [(ENTER, 302)]
    assert emails(relay_sink) == []
    assert enter(client, "123456").status_code == 400


def test_at_most_five_codes_go_to_an_account_an_hour(alice: User, relay_sink: RelaySink) -> None:
    with time_machine.travel(timezone.now(), tick=False) as traveller:
        for _ in range(7):
            assert ask(Client(), alice.email).redirect_chain == [(ENTER, 302)]
            traveller.shift(60)
        assert len(emails(relay_sink)) == 5
        traveller.shift(3600)
        ask(Client(), alice.email)
        assert len(emails(relay_sink)) == 6


def test_a_bad_address_is_said_so(db: Any) -> None:
    r = Client().post(ASK, {"email": "not an address"})

    assert r.status_code == 200
    assert "Enter an email address, such as name@example.com." in page(r)


def test_someone_signed_in_already_goes_on(alice: User, relay_sink: RelaySink) -> None:
    client = Client()
    client.force_login(alice)

    r = client.post(ASK, {"email": alice.email})

    assert r.status_code == 302 and r["Location"] == "/inbox/"
    assert emails(relay_sink) == []


def signed_in_by_code(user: User, relay_sink: RelaySink) -> Client:
    client = Client()
    ask(client, user.email)
    r = enter(client, last_code(relay_sink))
    assert r.status_code == 302 and is_signed_in(client)
    return client


def test_a_code_sign_in_needs_the_password_to_turn_on_the_app(
    alice: User, relay_sink: RelaySink
) -> None:
    """The code proves the mailbox, not the owner: however fresh, it adds no second factor."""
    client = signed_in_by_code(alice, relay_sink)
    html = page(client.get("/settings/two-factor/"))
    assert 'name="password"' in html
    secret = re.search(r"data-secret>([A-Z2-7 ]+)<", html).group(1).replace(" ", "")  # type: ignore[union-attr]
    now = datetime.now(UTC)

    r = client.post("/settings/two-factor/", {"code": oathtool(secret, now)})

    assert "The password is not right." in page(r)
    alice.refresh_from_db()
    assert not alice.has_totp
    # With the password it works, as for any session older than ten minutes.
    r = client.post("/settings/two-factor/", {"code": oathtool(secret, now), "password": PASSWORD})
    assert "Your recovery codes" in page(r)
    alice.refresh_from_db()
    assert alice.has_totp


def test_a_code_sign_in_needs_the_password_to_change_the_phrase(
    alice: User, relay_sink: RelaySink
) -> None:
    client = signed_in_by_code(alice, relay_sink)
    before = alice.phrase
    assert 'id="id_phrase_own_password"' in page(client.get("/settings/"))

    r = client.post("/settings/phrase/", {"choice": "own", "phrase": "blue kettle song"})

    assert r.status_code == 400 and "The password is not right." in page(r)
    alice.refresh_from_db()
    assert alice.phrase == before


def test_a_code_and_the_second_step_count_as_a_fresh_sign_in(
    alice: User, relay_sink: RelaySink
) -> None:
    """Code and second factor together: as strong as a reset link and the second factor."""
    twofactor.turn_on(alice, twofactor.new_secret(), 0)
    client = Client()
    ask(client, alice.email)
    enter(client, last_code(relay_sink))
    [code, *_] = twofactor.new_recovery_codes(alice)
    assert client.post("/signin/verify/", {"code": code}).status_code == 302
    assert 'id="id_phrase_own_password"' not in page(client.get("/settings/"))

    client.post("/settings/phrase/", {"choice": "own", "phrase": "blue kettle song"})

    alice.refresh_from_db()
    assert alice.phrase == "blue kettle song"


def test_a_code_does_not_activate_through_settings(relay_sink: RelaySink) -> None:
    """No password or passkey from a code session: Settings offers a link instead."""
    dave = recipient()
    client = signed_in_by_code(dave, relay_sink)

    html = page(client.get("/settings/"))

    assert (
        "Your mailbox has no password or passkey yet. We can email you a link to choose one."
        in html
    )
    for offer in (
        "Create a password",
        "Confirm with a passkey",
        "Two-factor sign-in",
        "Add a passkey",
        "Choose another phrase",
    ):
        assert offer not in html
    new = {"new_password1": "Zx9-long-enough-pass", "new_password2": "Zx9-long-enough-pass"}
    r = client.post("/settings/password/", new)
    assert r.status_code == 403
    assert "also asks for your passkey" not in page(r)
    r = client.post("/settings/phrase/", {"choice": "random"})
    assert "We can email you a link to choose one." in page(r)
    r = client.post("/settings/passkeys/", {"name": "Phone", "credential": "{}"})
    assert "We can email you a link to choose one." in page(r)
    dave.refresh_from_db()
    assert not dave.is_activated and not dave.has_usable_password() and not dave.phrase
    assert not dave.passkeys.exists() and not dave.recovery_codes.exists()


@pytest.mark.parametrize("require_2fa", [False, True], ids=["", "two-factor required"])
def test_settings_send_a_code_session_its_activation_link(
    relay_sink: RelaySink, settings: Any, require_2fa: bool
) -> None:
    settings.REQUIRE_2FA = require_2fa
    dave = recipient()
    client = signed_in_by_code(dave, relay_sink) if not require_2fa else Client()
    if require_2fa:
        ask(client, DAVE)
        enter(client, last_code(relay_sink))
        # No mail before a second factor; the way to one starts with the link.
        assert client.get("/inbox/", follow=True).redirect_chain[-1][0] == "/settings/"
    html = page(client.get("/settings/"))
    assert re.search(r'<form method="post" action="/link/new/"', html)
    assert f'name="email" value="{DAVE}"' in html

    r = client.post("/link/new/", {"email": DAVE}, follow=True)

    assert r.redirect_chain[-1][0] == "/link/sent/"
    sent = emails(relay_sink)[-1]
    assert sent["To"] == DAVE and "/activate/" in text_of(sent)

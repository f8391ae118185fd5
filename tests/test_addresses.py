"""The one canonical form of an address, from SMTP intake to sign-in, links, the CLI and compose."""

from __future__ import annotations

import smtplib
import unicodedata
from io import StringIO
from typing import Any

import pytest
from django.core import checks
from django.core.management import call_command
from django.test import Client

from sealbox import addresses
from sealbox.accounts import signin, twofactor
from sealbox.accounts.models import User
from sealbox.mailstore.models import Message
from sealbox.outbound import notify, queue
from sealbox.outbound.models import OutgoingEmail
from tests.accounts.helpers import NEW_PASSWORD, is_signed_in, page, sent_emails
from tests.conftest import CAROL, LiveSMTP, RelaySink
from tests.mail import make_message

FULL = "\uff46\uff55\uff4c\uff4c@example.net"  # f-u-l-l in fullwidth letters
KELVIN = "\u212aim@example.net"  # K (KELVIN SIGN) im


@pytest.mark.parametrize(
    ("typed", "canonical"),
    [
        ("  <Alice@Example.NET.> ", "alice@example.net"),
        (FULL, FULL),
        ("\uff26\uff35\uff2c\uff2c@EXAMPLE.NET", FULL),  # fullwidth capitals: the same mailbox
        ("x@\uff43orp.example", "x@corp.example"),  # fullwidth c in the domain
        ("x@corp.example\u3002", "x@corp.example"),  # ideographic full stop
        ("x@corp\uff0eexample", "x@corp.example"),  # fullwidth full stop
        ("JOSE\u0301@XN--EXMPLE-CUA.DE", "jos\u00e9@ex\u00e4mple.de"),  # composed, U-labels
        ("stra\u00dfe@stra\u00dfe.de", "stra\u00dfe@stra\u00dfe.de"),  # ß is not "ss"
    ],
)
def test_every_spelling_of_an_address_has_one_canonical_form(typed: str, canonical: str) -> None:
    assert addresses.normalize(typed) == canonical
    assert addresses.normalize(canonical) == canonical


@pytest.mark.parametrize(
    "typed",
    [
        KELVIN,
        "a\u037eb@example.net",  # Greek question mark, folds to ";"
        "ali\u200bce@example.net",  # zero-width space
        "ali\u00a0ce@example.net",  # no-break space
        "alice@exa_mple.net",
        "alice@-example.net",
        "alice@example..net",
        "alice@[192.0.2.1]",
        "alice\uff20example.net",  # fullwidth at sign: no "@" at all
    ],
)
def test_a_lookalike_or_invalid_address_is_refused(typed: str) -> None:
    with pytest.raises(addresses.InvalidAddress):
        addresses.normalize(typed)


def test_the_canonical_form_of_a_canonical_form_is_itself() -> None:
    """Every assigned character in a local part; Latin, Greek, CJK punctuation and the
    fullwidth forms in a domain label (IDNA takes longer)."""
    for cp in range(0x20, 0x3_0000):
        ch = chr(cp)
        if unicodedata.category(ch) in ("Cn", "Cs", "Co"):
            continue
        spellings = [f"a{ch}b@example.net"]
        if cp < 0x0400 or 0x3000 <= cp < 0x3040 or 0xFF00 <= cp < 0xFFF0:
            spellings.append(f"ab@a{ch}b.example")
        for address in spellings:
            try:
                once = addresses.normalize(address)
            except addresses.InvalidAddress:
                continue
            assert addresses.normalize(once) == once, hex(cp)


# --- over real SMTP ---------------------------------------------------------------


def rcpt(live_smtp: LiveSMTP, address: str) -> tuple[int, bytes]:
    with smtplib.SMTP(live_smtp.host, live_smtp.port, timeout=10) as client:
        client.ehlo("gateway.corp.example")
        client.mail(CAROL, ["SMTPUTF8"])
        return client.rcpt(address)


def deliver(live_smtp: LiveSMTP, address: str) -> None:
    with smtplib.SMTP(live_smtp.host, live_smtp.port, timeout=10) as client:
        client.ehlo("gateway.corp.example")
        data = make_message(to=address).replace(b"\r\n", b"\n")
        client.sendmail(CAROL, [address], data, mail_options=["SMTPUTF8"])


@pytest.mark.django_db(transaction=True)
def test_a_fullwidth_mailbox_from_smtp_signs_in_with_its_own_address(live_smtp: LiveSMTP) -> None:
    deliver(live_smtp, FULL)
    notify.send_due()
    [note] = sent_emails()
    assert note.to == FULL

    browser = Client()
    assert browser.get(note.link).status_code == 302
    r = browser.post(
        "/activate/set-password/", {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD}
    )
    assert r.status_code == 302
    assert list(User.objects.values_list("email", flat=True)) == [FULL]

    for spelling in (FULL, "\uff26\uff35\uff2c\uff2c@Example.NET"):
        client = Client()
        r = client.post("/signin/", {"username": spelling, "password": NEW_PASSWORD})
        assert r.status_code == 302 and r["Location"] == "/inbox/", page(r)
        assert is_signed_in(client)
    # The ASCII lookalike is another address, with no mailbox here.
    client = Client()
    r = client.post("/signin/", {"username": "full@example.net", "password": NEW_PASSWORD})
    assert r.status_code == 200 and not is_signed_in(client)


@pytest.mark.django_db(transaction=True)
def test_a_kelvin_sign_address_is_refused_and_never_reaches_kim(live_smtp: LiveSMTP) -> None:
    kim = User.objects.create_user("kim@example.net", NEW_PASSWORD)

    code, text = rcpt(live_smtp, KELVIN)

    assert code == 553 and b"5.1.3" in text
    assert not Message.objects.filter(owner=kim).exists()
    assert list(User.objects.values_list("email", flat=True)) == ["kim@example.net"]
    r = Client().post("/signin/", {"username": KELVIN, "password": NEW_PASSWORD})
    assert r.status_code == 200


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    "address", ["x@\uff43orp.example", "x@corp.example\u3002", "x@SUB.CORP\uff0eexample"]
)
def test_an_internal_address_in_another_spelling_is_refused_at_rcpt(
    live_smtp: LiveSMTP, address: str
) -> None:
    code, text = rcpt(live_smtp, address)

    assert code == 550 and b"organisation's own domain" in text
    assert not User.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_internal_domains_are_compared_in_canonical_form(
    live_smtp: LiveSMTP, settings: Any
) -> None:
    settings.INTERNAL_DOMAINS = ["CORP\uff0eEXAMPLE", "xn--mnchen-3ya.de"]
    for address in ("x@corp.example", "x@m\u00fcnchen.de", "x@M\u00dcNCHEN.DE\u3002"):
        code, _text = rcpt(live_smtp, address)
        assert code == 550, address


# --- links, the command line, the admin and compose ---------------------------------------


@pytest.mark.django_db
def test_a_new_link_asked_for_with_a_fullwidth_domain_reaches_the_mailbox() -> None:
    dave, _ = User.objects.recipient("dave@example.com")
    r = Client().post("/link/new/", {"email": "DAVE@\uff45xample.com\u3002"})
    assert r.status_code == 302
    [sent] = sent_emails()
    assert sent.to == dave.email and "/activate/" in sent.link


@pytest.mark.django_db
def test_the_command_line_finds_the_account_in_any_spelling(alice: User) -> None:
    out = StringIO()
    call_command("mailbox", "list", "ALICE@\uff45xample.net\u3002", stdout=out)
    assert out.getvalue().startswith("alice@example.net (activated): 0 message(s)")
    out = StringIO()
    call_command("user", "show", "alice@EXAMPLE\uff0enet", stdout=out)
    assert "alice@example.net" in out.getvalue()


@pytest.mark.django_db
def test_the_admin_search_finds_an_account_by_another_spelling(
    client: Client, alice: User, bob: User
) -> None:
    operator = User.objects.create_superuser("op@corp.example", NEW_PASSWORD)
    twofactor.turn_on(operator, twofactor.new_secret(), 0)
    client.force_login(operator)
    session = client.session
    session[signin.SECOND_FACTOR] = True
    session.save()
    r = client.get("/admin/accounts/user/", {"q": "Alice@\uff45xample.NET"})
    assert r.status_code == 200
    assert "alice@example.net" in page(r) and "bob@example.org" not in page(r)


@pytest.mark.django_db
def test_compose_recipients_and_the_allow_list_are_compared_in_canonical_form(
    reader: Client, alice: User, settings: Any
) -> None:
    settings.ALLOW_COMPOSE = True
    settings.COMPOSE_ALLOWED_RECIPIENTS = ["Dave@\uff25\uff38\uff21\uff2d\uff30\uff2c\uff25.com"]
    r = reader.post(
        "/write/",
        {
            "to": "carol@\uff43orp.example, dave@example.com\u3002",
            "cc": "",
            "subject": "Hi",
            "body": "Hello",
        },
    )
    assert r.status_code == 302, page(r)
    # Carol by the relay; Dave, outside, in his Sealbox mailbox.
    [sent] = OutgoingEmail.objects.all()
    assert sent.recipients == ["carol@corp.example"]
    assert Message.objects.filter(owner__email="dave@example.com").count() == 1


@pytest.mark.django_db
def test_a_notification_reaches_a_german_sharp_s_domain_in_its_idna_2008_form(
    relay_sink: RelaySink,
) -> None:
    from sealbox.intake.delivery import deliver as store

    store(CAROL, ["jan@STRASSE.de"], make_message(to="jan@strasse.de"))
    store(CAROL, ["jan@stra\u00dfe.de"], make_message(to="jan@stra\u00dfe.de"))
    notify.send_due()
    queue.process_due()

    assert sorted(r.rcpt_tos[0] for r in relay_sink.received) == [
        "jan@strasse.de",
        "jan@xn--strae-oqa.de",  # ASCII for any relay: IDNA 2003 could not encode it
    ]


def test_check_names_an_internal_domain_or_allowed_address_that_has_no_canonical_form(
    settings: Any,
) -> None:
    settings.INTERNAL_DOMAINS = ["corp.example", "corp_example"]
    settings.COMPOSE_ALLOWED_RECIPIENTS = ["dave@example.com", "dave@[192.0.2.1]"]

    found = {(e.id, e.msg) for e in checks.run_checks(tags=["compatibility"])}

    assert (
        "sealbox.E020",
        "SEALBOX_INTERNAL_DOMAINS: 'corp_example' is not a valid domain.",
    ) in found
    assert (
        "sealbox.E021",
        "SEALBOX_COMPOSE_ALLOWED_RECIPIENTS: 'dave@[192.0.2.1]' is not a valid address.",
    ) in found

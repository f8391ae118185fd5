"""Sealbox's own emails as the recipient sees them: layout, phrase, language, logo, headers."""

from __future__ import annotations

import re
from datetime import timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
import time_machine

from sealbox.accounts.models import User
from sealbox.intake.delivery import deliver
from sealbox.outbound import notify
from tests.conftest import CAROL
from tests.mail import make_message
from tests.outbound import samples
from tests.outbound.samples import NEW, PHRASE

pytestmark = pytest.mark.django_db

PHRASE_LINE = (
    "Our emails always carry this phrase. If an email that seems to come from us does not, "
    "do not click its links."
)
TO_ACCOUNTS = [
    "notification-activated-1",
    "notification-activated-3",
    "reset",
    "expiry-reminder",
    "quota-full",
    "signin-code",
]


@pytest.fixture(autouse=True)
def branded(settings: Any, tmp_path: Path) -> None:
    samples.brand(settings, tmp_path)


def text(msg: EmailMessage) -> str:
    part = msg.get_body(("plain",))
    assert part is not None
    return str(part.get_content())


def html(msg: EmailMessage) -> str:
    part = msg.get_body(("html",))
    assert part is not None
    return str(part.get_content())


def visible(markup: str) -> str:
    """The text of an html part as shown, tags dropped and spaces collapsed."""
    body = markup.split("<body", 1)[1].split(">", 1)[1]
    return " ".join(re.sub(r"<[^>]+>", " ", body).split())


@pytest.mark.parametrize("kind", TO_ACCOUNTS)
def test_the_phrase_is_at_the_top_of_both_parts_after_activation(kind: str) -> None:
    msg = samples.KINDS[kind]()

    assert text(msg).startswith(f"Your personal phrase: {PHRASE}\r\n{PHRASE_LINE}\r\n")
    shown = visible(html(msg))
    assert shown.startswith(f"Your personal phrase: {PHRASE} {PHRASE_LINE} Harbour Bank")


@pytest.mark.parametrize(
    "kind",
    [
        "notification-new-1",
        "notification-new-3",
        "new-link",
        "expiry-reminder-new",
        "signin-code-new",
    ],
)
def test_before_activation_there_is_no_phrase(kind: str) -> None:
    msg = samples.KINDS[kind]()

    assert "phrase" not in text(msg) and "phrase" not in html(msg)
    assert text(msg).startswith("Harbour Bank\r\n")


def test_a_reset_for_an_account_without_a_phrase_yet_has_none() -> None:
    msg = samples.reset(samples.activated(phrase=""))

    assert "phrase" not in text(msg) and "phrase" not in html(msg)


def test_before_activation_the_notification_says_who_sent_what_when_and_where_it_leads() -> None:
    msg = samples.notification(NEW)

    assert msg["Subject"] == "Harbour Bank: a protected message from Carol Sender"
    body = text(msg)
    assert "Harbour Bank has a protected message for you." in body
    assert "From: Carol Sender (carol@corp.example)" in body
    # Sent 09:30 UTC, shown in the operator's time zone (SEALBOX_TIME_ZONE).
    assert "Sent: Nov. 20, 2026, 10:30 a.m. (CET)" in body
    assert "open your secure mailbox at secure.corp.example" in body
    assert "You will be asked to choose a new password for it." in body
    assert "We never ask for an existing password or for any other details." in body
    [link] = re.findall(r"^(https://secure\S+)\r$", body, re.M)
    assert link.startswith("https://secure.corp.example/activate/")
    assert f"Open my mailbox at secure.corp.example:\r\n{link}\r\n" in body
    shown = visible(html(msg))
    assert "From: Carol Sender (carol@corp.example) Sent: Nov. 20, 2026, 10:30 a.m. (CET)" in shown
    assert "open your secure mailbox at secure.corp.example" in shown
    assert f'<a href="{link}"' in html(msg)
    assert re.search(
        r'<a href="https://secure\.corp\.example/activate/[^"]+"[^>]*>'
        r"Open my mailbox at secure\.corp\.example</a>",
        html(msg),
    )


def test_several_messages_are_each_named_with_their_sender() -> None:
    msg = samples.notification(NEW, 3)

    assert msg["Subject"] == "Harbour Bank: 3 protected messages for you"
    assert text(msg).count("From: Carol Sender (carol@corp.example)") == 3
    assert "To read them, open your secure mailbox at secure.corp.example." in text(msg)


@pytest.mark.parametrize(
    "kind", sorted(set(samples.KINDS) - {"read-receipt", "relayed-reply", "mailbox-full-report"})
)
def test_every_link_shows_its_host_and_the_text_part_has_every_link(kind: str) -> None:
    msg = samples.KINDS[kind]()
    markup = html(msg)
    body = text(msg)

    for href, label, after in re.findall(r'<a href="([^"]+)"[^>]*>([^<]*)</a>([^<]{0,40})', markup):
        if href.startswith(("mailto:", "tel:")):
            continue  # the label is the address or number itself (the footer's test)
        host = href.split("/")[2]
        assert host in label or host in after, (href, label)
        assert "utm_" not in href
        # The text part carries the same link, on its own line.
        assert f"\r\n{href}\r\n" in body, href
    assert "Privacy policy:\r\nhttps://www.corp.example/privacy\r\n" in body
    assert "Questions? Contact us:\r\nsupport@corp.example\r\n+49 30 1234 5678\r\n" in body


def test_the_footer_names_contacts_links_with_their_host_and_why() -> None:
    shown = visible(html(samples.notification(NEW)))

    assert (
        "Questions? Contact us: support@corp.example · +49 30 1234 5678 · www.corp.example/help"
        in shown
    )
    assert "Privacy policy (www.corp.example) · Imprint (www.corp.example)" in shown
    assert shown.endswith(
        "You get this email because a message for dave@example.com was kept in a secure "
        "mailbox at secure.corp.example."
    )


def test_a_link_with_a_user_name_shows_only_its_host_and_port(settings: Any) -> None:
    settings.PRIVACY_URL = "https://www.corp.example@privacy.example:8443/policy"

    shown = visible(html(samples.notification(NEW)))

    assert "Privacy policy (privacy.example:8443)" in shown
    assert "corp.example@" not in shown


def test_the_button_uses_the_brand_colour_with_readable_text(settings: Any) -> None:
    assert 'background: #0b5cad;"><a href=' in html(samples.notification(NEW))
    settings.BRAND_COLOR = "#ffcc00"
    markup = html(samples.notification("erin@example.com"))
    assert re.search(r"background: #ffcc00;\"><a [^>]*color: #0b1520;", markup)


def test_a_png_logo_is_an_inline_part_the_html_points_to(settings: Any) -> None:
    msg = samples.notification(NEW)

    related = [p for p in msg.walk() if p.get_content_type() == "multipart/related"]
    assert len(related) == 1
    html_part, image = related[0].iter_parts()
    assert html_part.get_content_type() == "text/html"
    assert image.get_content_type() == "image/png"
    assert image.get_content() == Path(settings.ORG_LOGO).read_bytes()
    cid = image["Content-ID"].strip("<>")
    assert cid.endswith("@corp.example")
    assert image.get_content_disposition() == "inline"
    assert f'<img src="cid:{cid}" width="160" height="40" alt=""' in html(msg)
    assert "http" not in re.findall(r"<img [^>]*>", html(msg))[0]


def test_an_svg_logo_is_left_out_and_the_name_shown(settings: Any, tmp_path: Path) -> None:
    svg = tmp_path / "logo.svg"
    svg.write_text('<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"/>')
    settings.ORG_LOGO = svg

    msg = samples.notification(NEW)

    assert not [p for p in msg.walk() if p.get_content_maintype() == "image"]
    assert "<img" not in html(msg)
    assert ">Harbour Bank</span>" in html(msg)


def test_a_logo_over_the_portals_size_cap_is_left_out_as_on_pages(
    settings: Any, tmp_path: Path
) -> None:
    big = tmp_path / "big.png"
    big.write_bytes(samples.png(160, 40) + b"\0" * (512 * 1024))
    settings.ORG_LOGO = big

    msg = samples.notification(NEW)

    assert not [p for p in msg.walk() if p.get_content_maintype() == "image"]
    assert ">Harbour Bank</span>" in html(msg)


def test_an_account_in_german_gets_its_email_in_german() -> None:
    samples.arrive(NEW)
    User.objects.filter(email=NEW).update(language="de")
    from sealbox.outbound import notify

    notify.send_due()
    msg = samples.last_email()

    assert '<html lang="de" dir="ltr">' in html(msg)
    # Django's own German month name, in the operator's time zone.
    assert "20. November 2026 10:30" in text(msg)


def test_the_domain_map_chooses_the_language_of_an_account_without_one(settings: Any) -> None:
    settings.LANGUAGE_BY_DOMAIN = "example.com:fr"

    msg = samples.notification(NEW)

    assert '<html lang="fr" dir="ltr">' in html(msg)
    assert "20 novembre 2026" in text(msg)


def test_arabic_is_right_to_left() -> None:
    samples.arrive(NEW)
    User.objects.filter(email=NEW).update(language="ar")
    from sealbox.outbound import notify

    notify.send_due()
    markup = html(samples.last_email())

    assert '<html lang="ar" dir="rtl">' in markup
    assert '<body dir="rtl"' in markup
    assert "text-align: right;" in markup


def test_headers_name_the_organisation_and_mark_the_email_automatic() -> None:
    msg = samples.notification(NEW)

    assert msg["From"] == "Harbour Bank <secure@corp.example>"
    assert msg["To"] == NEW
    assert msg["Auto-Submitted"] == "auto-generated"
    assert re.fullmatch(r"<[^@<>]+@corp\.example>", msg["Message-ID"])
    assert msg["Date"]
    assert msg.get_content_type() == "multipart/alternative"
    assert "List-Unsubscribe" not in msg and "Precedence" not in msg


def test_without_an_organisation_the_from_names_the_portal_in_the_recipients_language(
    settings: Any,
) -> None:
    settings.ORG_NAME = settings.SITE_NAME = ""
    samples.arrive(NEW)
    User.objects.filter(email=NEW).update(language="de")

    notify.send_due()  # by a worker whose own language is English

    assert samples.last_email()["From"] == "Sicheres Postfach <secure@corp.example>"


def test_emails_to_the_organisations_senders_use_the_operators_language(settings: Any) -> None:
    settings.LANGUAGE_CODE = "de"
    user = samples.activated()
    User.objects.filter(pk=user.pk).update(language="fr")
    user.refresh_from_db()

    receipt = samples.read_receipt(user)

    first = next(receipt.iter_parts())
    # Django's own German date format, in the operator's time zone.
    assert "20. November 2026 10:30" in str(first.get_content())
    assert receipt["Message-ID"].endswith("@corp.example>")


@pytest.mark.parametrize(
    ("name", "shown"),
    [
        ("Carol Sender", "Carol Sender"),
        ("Carol \u202eredneS\u202c", "Carol redneS"),  # no direction override survives
        ("Carol\r\nSender\x00", "Carol Sender"),
        ("A" * 80, "A" * 59 + "\u2026"),
        ("Acme Security: verify at https://acme-bank.evil.example/login", "carol@corp.example"),
        ("support@acme.example", "carol@corp.example"),
        ("see acme-bank.example now", "carol@corp.example"),
        ("", "carol@corp.example"),
    ],
)
def test_a_senders_name_is_shown_without_tricks(name: str, shown: str) -> None:
    from sealbox.outbound.notify import shown_name

    assert shown_name(name, "carol@corp.example") == shown


def test_a_name_dressed_as_a_link_never_reaches_the_notification() -> None:
    lure = "Acme Security - ACTION REQUIRED: verify at https://acme-bank.evil.example/login"
    deliver(CAROL, [NEW], make_message(to=NEW, sender=f'"{lure}" <{CAROL}>', subject="Statement"))
    notify.send_due()
    msg = samples.last_email()

    assert "evil.example" not in msg["Subject"] and "evil.example" not in text(msg)
    assert "evil.example" not in html(msg)
    assert msg["Subject"] == f"Harbour Bank: a protected message from {CAROL}"


# --- Words that must be right -----------------------------------------------------------


def test_a_message_larger_than_the_mailbox_is_not_called_a_full_mailbox() -> None:
    msg = samples.KINDS["quota-too-large"]()
    said = " ".join(text(msg).split())
    assert "because it is larger than your whole secure mailbox at secure.corp.example" in said
    assert "the message is 2.2 MB, and the mailbox may hold 1.0 MB." in said
    assert "Deleting messages would not make room for it" in said
    assert "delete messages you no longer need" not in said.lower()
    assert "is full" not in said and "0.0" not in said
    assert "larger than your whole secure mailbox" in visible(html(msg))
    assert "full" not in str(msg["Subject"])


@pytest.mark.parametrize(("kind", "count"), [("expiry-reminder-1", 1), ("expiry-reminder", 2)])
def test_the_reminder_counts_and_names_the_messages(kind: str, count: int) -> None:
    msg = samples.KINDS[kind]()
    said = " ".join(text(msg).split())
    shown = visible(html(msg))
    noun = "unread message" if count == 1 else "unread messages"
    for part in (said, shown, str(msg["Subject"])):
        assert f"{count} {noun} " in part
    # Each named with its sender, as the notification names them.
    assert said.count("From: Carol Sender (carol@corp.example)") == count
    assert shown.count("From: Carol Sender (carol@corp.example)") == count
    assert "deleted for good on Feb. 18, 2027" in said
    # An activated recipient may change how long mail is kept: the link is there.
    assert "https://secure.corp.example/settings/#storage" in said


def test_a_reminder_names_at_most_ten_messages_and_counts_the_rest() -> None:
    msg = samples.expiry_reminder(samples.activated().email, 12)
    said = " ".join(text(msg).split())
    assert said.count("From: Carol Sender") == 10
    assert "And 2 more messages." in said
    assert "You have 12 unread messages" in said


def test_a_reminder_before_activation_never_promises_a_link_outliving_the_messages() -> None:
    msg = samples.KINDS["expiry-reminder-new"]()
    for said in (" ".join(text(msg).split()), visible(html(msg))):
        assert "1 unread message in your secure mailbox" in said
        assert "The link works once. Use it before Feb. 18, 2027." in said
        assert "14 days" not in said
        # Without a password the settings page is out of reach: no link to it.
        assert "settings" not in said
    assert "/settings/" not in html(msg)


def test_a_reminder_states_the_links_days_when_the_messages_outlive_it(settings: Any) -> None:
    settings.ACTIVATION_DAYS = 2
    msg = samples.KINDS["expiry-reminder-new"]()
    said = " ".join(text(msg).split())
    assert "The link works once and for 2 days." in said
    assert "Use it before" not in said


def test_a_notification_never_promises_a_link_outliving_the_messages(settings: Any) -> None:
    # Kept 7 days, the link works 14: the email gives the date the message goes instead.
    settings.RETENTION_DAYS = 7
    samples.arrive(samples.NEW)
    with time_machine.travel(samples.ARRIVED + timedelta(hours=1), tick=False):
        notify.send_due()
    msg = samples.last_email()
    for said in (" ".join(text(msg).split()), visible(html(msg))):
        assert "The link works once. Use it before Nov. 27, 2026." in said
        assert "14 days" not in said

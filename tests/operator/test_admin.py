"""The operators' admin site: who gets in, what it shows (never content), and its audited actions."""

from __future__ import annotations

import html
import re
from pathlib import Path
from typing import Any

import pyotp
import pytest
import time_machine
from django.conf import settings
from django.test import Client

from sealbox.accounts import signin, twofactor
from sealbox.accounts.models import LinkToken, User
from sealbox.intake.delivery import deliver
from sealbox.mailstore.models import Message
from sealbox.operator.models import AuditEntry
from sealbox.outbound import notify, queue
from sealbox.outbound.models import OutgoingEmail
from sealbox.outbound.sending import send
from tests.accounts.test_throttle import PAUSED, START, lock_by_passwords
from tests.conftest import CAROL
from tests.mail import make_message

pytestmark = pytest.mark.django_db(transaction=True)

OPERATOR = "ops@corp-ops.example"
OPERATOR_PASSWORD = "operator passphrase 2026"
DAVE = "dave@example.com"


def operator_with_totp() -> tuple[User, str]:
    user = User.objects.create_superuser(OPERATOR, OPERATOR_PASSWORD)
    secret = twofactor.new_secret()
    twofactor.turn_on(user, secret, 0)
    user.refresh_from_db()
    return user, secret


def signed_in(user: User, second_factor: bool = True) -> Client:
    client = Client()
    client.force_login(user)
    if second_factor:
        session = client.session
        session[signin.SECOND_FACTOR] = True
        session.save()
    return client


@pytest.fixture
def ops() -> Client:
    user, _ = operator_with_totp()
    return signed_in(user)


def body(response: Any) -> str:
    return response.content.decode()


def audit(action: str) -> list[AuditEntry]:
    return list(AuditEntry.objects.filter(action=action))


# --- getting in ---------------------------------------------------------------------


def test_the_admin_has_no_login_form_of_its_own() -> None:
    r = Client().get("/admin/", follow=True)
    assert r.redirect_chain[-1][0] == "/signin/?next=/admin/"
    assert "password" in body(r).lower()


def test_a_recipient_is_refused(alice: User) -> None:
    r = signed_in(alice).get("/admin/", follow=True)
    assert r.status_code == 403
    assert "Sealbox operators" not in body(r)


def test_an_operator_without_two_factor_is_sent_to_set_it_up() -> None:
    user = User.objects.create_superuser(OPERATOR, OPERATOR_PASSWORD)
    r = signed_in(user, second_factor=False).get("/admin/", follow=True)
    assert r.redirect_chain[-1][0] == "/settings/"
    assert "The admin site needs two-factor sign-in" in body(r)


def test_an_operator_without_two_factor_may_in_when_the_operator_allows_it(
    settings: Any,
) -> None:
    settings.ADMIN_REQUIRE_2FA = False
    user = User.objects.create_superuser(OPERATOR, OPERATOR_PASSWORD)
    r = signed_in(user, second_factor=False).get("/admin/")
    assert r.status_code == 200


def test_a_session_signed_in_with_the_password_alone_must_sign_in_again() -> None:
    user, _ = operator_with_totp()
    client = signed_in(user, second_factor=False)
    r = client.get("/admin/", follow=True)
    assert r.redirect_chain[-1][0] == "/signin/?next=/admin/"
    assert "Sign in again with your second factor" in body(r)
    assert "_auth_user_id" not in client.session


def test_the_portals_sign_in_with_a_code_opens_the_admin() -> None:
    _, secret = operator_with_totp()
    client = Client()
    r = client.post("/signin/?next=/admin/", {"username": OPERATOR, "password": OPERATOR_PASSWORD})
    assert r["Location"] == "/signin/verify/"
    r = client.post("/signin/verify/", {"code": pyotp.TOTP(secret).now()})
    assert r["Location"] == "/admin/"
    r = client.get("/admin/")
    assert r.status_code == 200
    assert "Sealbox operators" in body(r)


def test_operator_sign_in_is_throttled_like_any_other() -> None:
    operator_with_totp()
    client = Client()
    with time_machine.travel(START, tick=False) as traveller:
        lock_by_passwords(client, OPERATOR, traveller)
        r = client.post(
            "/signin/?next=/admin/", {"username": OPERATOR, "password": OPERATOR_PASSWORD}
        )
    assert r.status_code == 429
    assert PAUSED.search(body(r))


def test_signing_out_of_the_admin_ends_the_session(ops: Client) -> None:
    r = ops.post("/admin/logout/")
    assert r.status_code == 302
    assert ops.get("/admin/", follow=True).redirect_chain[-1][0] == "/signin/?next=/admin/"


# --- accounts ------------------------------------------------------------------------


def test_the_account_list_shows_status_usage_and_two_factor(
    ops: Client, alice: User, settings: Any
) -> None:
    settings.QUOTA_MB = 1
    deliver(CAROL, [alice.email, DAVE], make_message(to=alice.email))
    User.objects.filter(email=alice.email).update(usage_bytes=900 * 1024)
    User.objects.filter(email="bob@example.org").delete()
    User.objects.create_user("gone@example.org", "long enough pass 123", is_active=False)

    html = body(ops.get("/admin/accounts/user/"))

    def row(email: str) -> str:
        match = re.search(rf"<tr>.*?{re.escape(email)}.*?</tr>", html, re.S)
        assert match, email
        return re.sub(r"<[^>]+>", " ", match.group(0))

    assert "active" in row(alice.email)
    assert "900.0 KiB of 1.0 MiB (87 %)" in row(alice.email)
    assert "never activated" in row(DAVE)
    assert "disabled" in row("gone@example.org")
    assert "never" in row(DAVE)  # last sign-in
    assert re.search(r"\b1\b", row(DAVE))  # one message


def test_filters_never_signed_in_and_over_80_percent(
    ops: Client, alice: User, bob: User, settings: Any
) -> None:
    settings.QUOTA_MB = 10
    User.objects.filter(pk=alice.pk).update(
        usage_bytes=9 * 1024 * 1024, last_login="2026-01-01T00:00Z"
    )
    User.objects.filter(pk=bob.pk).update(usage_bytes=1024 * 1024, last_login="2026-01-01T00:00Z")
    deliver(CAROL, [DAVE], make_message(to=DAVE))

    over = body(ops.get("/admin/accounts/user/?usage=warn"))
    never = body(ops.get("/admin/accounts/user/?signed_in=never"))

    assert alice.email in over and bob.email not in over and DAVE not in over
    assert DAVE in never and alice.email not in never and bob.email not in never


def act(client: Client, action: str, users: list[User], **extra: str) -> Any:
    data = {"action": action, "_selected_action": [str(u.pk) for u in users], **extra}
    return client.post("/admin/accounts/user/", data, follow=True)


def test_set_quota_asks_for_the_size_then_sets_it_and_audits_it(ops: Client, alice: User) -> None:
    form = act(ops, "set_quota", [alice])
    assert "Quota in MiB" in body(form)
    assert User.objects.get(pk=alice.pk).quota_mb is None

    bad = act(ops, "set_quota", [alice], apply="1", quota="lots")
    assert "Enter a whole number" in body(bad)
    done = act(ops, "set_quota", [alice], apply="1", quota="5")

    assert "Quota set for 1 account(s)." in body(done)
    assert User.objects.get(pk=alice.pk).quota_mb == 5
    [entry] = audit("set quota")
    assert (entry.actor, entry.target, entry.detail) == (
        OPERATOR,
        alice.email,
        "the default -> 5 MiB",
    )
    assert entry.ip == "127.0.0.1"
    assert "of 5.0 MiB" in body(ops.get("/admin/accounts/user/"))


def test_disable_ends_sessions_and_enable_lets_them_back(ops: Client, alice: User) -> None:
    hers = signed_in(alice, second_factor=False)
    assert hers.get("/inbox/").status_code == 200

    act(ops, "disable", [alice])
    assert hers.get("/inbox/").status_code == 302
    r = Client().post(
        "/signin/", {"username": alice.email, "password": "correct horse battery staple"}
    )
    assert r.status_code != 302 or r["Location"] != "/inbox/"
    assert not User.objects.get(pk=alice.pk).is_active

    act(ops, "enable", [alice])
    assert User.objects.get(pk=alice.pk).is_active
    assert [e.target for e in audit("disable")] == [alice.email]
    assert [e.target for e in audit("enable")] == [alice.email]


def test_reset_two_factor(ops: Client, alice: User) -> None:
    twofactor.turn_on(alice, twofactor.new_secret(), 0)
    act(ops, "reset_two_factor", [alice])
    assert not User.objects.get(pk=alice.pk).has_totp
    assert [e.target for e in audit("reset two-factor")] == [alice.email]


def test_resend_activation_sends_a_new_link_and_skips_activated_accounts(
    ops: Client, alice: User
) -> None:
    deliver(CAROL, [DAVE], make_message(to=DAVE))
    dave = User.objects.get(email=DAVE)
    r = act(ops, "resend_activation", [dave, alice])
    assert "has already chosen a password" in body(r)
    assert "A new activation link was sent to 1 account(s)." in body(r)
    activation = [e for e in OutgoingEmail.objects.filter(kind="activation")]
    assert [e.recipients for e in activation] == [[DAVE]]
    assert LinkToken.objects.filter(user=dave, purpose="activate").count() == 1
    assert [e.target for e in audit("resend activation")] == [DAVE]


def test_delete_asks_then_removes_the_account_its_rows_and_its_files(
    ops: Client, alice: User, bob: User
) -> None:
    deliver(CAROL, [alice.email, bob.email], make_message(to=alice.email))
    files = [Path(settings.DATA_DIR) / m.blob for m in Message.objects.filter(owner=alice)]
    assert all(f.exists() for f in files)

    ask = act(ops, "delete_with_mail", [alice])
    assert "will be deleted for good" in body(ask)
    assert User.objects.filter(pk=alice.pk).exists()

    done = act(ops, "delete_with_mail", [alice], confirm="1")

    assert "1 account deleted with 1 message(s)." in body(done)
    assert not User.objects.filter(email=alice.email).exists()
    assert not Message.objects.filter(owner_id=alice.pk).exists()
    assert not any(f.exists() for f in files)
    assert Message.objects.filter(owner=bob).count() == 1
    [entry] = audit("delete account")
    assert entry.target == alice.email


def test_the_change_page_saves_and_audits_only_the_editable_fields(
    ops: Client, alice: User
) -> None:
    page = body(ops.get(f"/admin/accounts/user/{alice.pk}/change/"))
    assert 'name="password"' not in page and "totp_secret" not in page
    assert 'name="email"' not in page  # read-only
    r = ops.post(
        f"/admin/accounts/user/{alice.pk}/change/",
        {
            "display_name": "Alice A.",
            "is_active": "on",
            "quota_mb": "",
            "retention_days": "30",
            "expiry_reminders": "on",
            "allow_compose": "unknown",
            "email": "evil@example.com",
            "is_staff": "on",
        },
    )
    assert r.status_code == 302, body(r)[:3000]
    alice.refresh_from_db()
    assert (alice.display_name, alice.retention_days) == ("Alice A.", 30)
    assert (alice.email, alice.is_staff) == ("alice@example.net", False)
    [entry] = audit("change account")
    assert "retention_days: None -> 30" in entry.detail
    assert "display_name: '' -> 'Alice A.'" in entry.detail


# --- the outgoing queue ----------------------------------------------------------------


def test_the_queue_lists_failed_mail_to_retry_or_discard(ops: Client, alice: User) -> None:
    deliver(CAROL, [alice.email], make_message(to=alice.email))
    notify.send_due()
    items = list(OutgoingEmail.objects.all())
    assert len(items) == 1
    OutgoingEmail.objects.update(
        status=OutgoingEmail.Status.FAILED, attempts=3, last_error="550 no"
    )
    failed = body(ops.get("/admin/outbound/outgoingemail/?state=failed"))
    assert "550 no" in failed and alice.email in failed

    ops.post(
        "/admin/outbound/outgoingemail/",
        {"action": "retry", "_selected_action": [str(items[0].pk)]},
    )
    assert OutgoingEmail.objects.get(pk=items[0].pk).status == OutgoingEmail.Status.QUEUED
    ops.post(
        "/admin/outbound/outgoingemail/",
        {"action": "discard", "_selected_action": [str(items[0].pk)]},
    )
    assert not OutgoingEmail.objects.filter(pk=items[0].pk).exists()
    assert [e.action for e in AuditEntry.objects.order_by("at")] == [
        "retry outgoing email",
        "discard outgoing email",
    ]


# --- no content, anywhere -------------------------------------------------------------------


SECRETS = [
    "Zebrafish merger 4471",
    "Quentin Obscura",
    "body text lanternfish 9931",
    "plan-narwhal-5562.pdf",
    "reply about axolotl 8812",
]


def test_no_page_of_the_admin_shows_what_a_message_says(
    ops: Client, alice: User, relay_sink: Any
) -> None:
    raw = make_message(
        subject=SECRETS[0],
        sender=f"{SECRETS[1]} <{CAROL}>",
        body=SECRETS[2],
        to=alice.email,
        attachments=[(SECRETS[3], "application/pdf", b"%PDF-1.4 x")],
    )
    [message] = deliver(CAROL, [alice.email], raw)
    relay_sink.handler.reply = "451 4.3.0 try later"
    send(
        alice, to=[CAROL], cc=[], subject=SECRETS[4], body=SECRETS[4], uploads=[], original=message
    )
    queue.process_due()  # the reply waits, retrying, with its subject in the row
    sent = Message.objects.get(owner=alice, folder=Message.Folder.SENT)
    reply = OutgoingEmail.objects.get(kind="reply")
    act(ops, "set_quota", [alice], apply="1", quota="7")

    pages = [
        "/admin/",
        "/admin/accounts/user/",
        "/admin/accounts/user/?q=alice",
        "/admin/accounts/user/?status=active",
        "/admin/accounts/user/?usage=warn",
        f"/admin/accounts/user/{alice.pk}/change/",
        f"/admin/accounts/user/{alice.pk}/delete/",
        f"/admin/accounts/user/{alice.pk}/history/",
        "/admin/mailstore/message/",
        "/admin/mailstore/message/?q=alice",
        "/admin/mailstore/message/?folder=sent",
        f"/admin/mailstore/message/{message.pk}/change/",
        f"/admin/mailstore/message/{sent.pk}/change/",
        f"/admin/mailstore/message/{message.pk}/delete/",
        f"/admin/mailstore/message/{message.pk}/history/",
        "/admin/outbound/outgoingemail/",
        "/admin/outbound/outgoingemail/?state=retrying",
        f"/admin/outbound/outgoingemail/{reply.pk}/change/",
        "/admin/operator/auditentry/",
    ]
    shown = 0
    for url in pages:
        r = ops.get(url)
        assert r.status_code == 200, url
        text = body(r)
        for secret in SECRETS:
            assert secret not in text, (url, secret)
        shown += 1
    # The same pages show the metadata that is there to see.
    assert html.escape(message.message_id) in body(ops.get("/admin/mailstore/message/"))
    assert str(message.size) in body(ops.get("/admin/mailstore/message/"))
    assert "retrying" in body(ops.get("/admin/outbound/outgoingemail/"))
    for action in ("set_quota", "delete_with_mail"):
        text = body(act(ops, action, [alice]))
        assert not any(secret in text for secret in SECRETS)
    # Nor can a filter in the URL probe content one guess at a time.
    for url in (
        f"/admin/mailstore/message/?subject__startswith={SECRETS[0][:4]}",
        f"/admin/mailstore/message/?from_name__icontains={SECRETS[1][:4]}",
        f"/admin/outbound/outgoingemail/?subject__contains={SECRETS[4][:5]}",
        "/admin/outbound/outgoingemail/?data__contains=a",
    ):
        r = ops.get(url)
        assert r.status_code == 400, url  # refused: Django's DisallowedModelAdminLookup
    assert ops.get("/admin/mailstore/message/?folder__exact=sent").status_code == 200
    # The secrets are really in the data the admin sits on (so the test can fail).
    assert SECRETS[0] == Message.objects.get(pk=message.pk).subject
    assert SECRETS[4] in OutgoingEmail.objects.get(pk=reply.pk).subject
    assert shown == len(pages)

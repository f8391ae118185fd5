"""The operators' admin site: who gets in, what it shows (never content), and its audited actions."""

from __future__ import annotations

import html
import re
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import pyotp
import pytest
import time_machine
from django.conf import settings
from django.contrib import admin
from django.test import Client, RequestFactory
from django.utils import timezone

from sealbox.accounts import signin, throttle, twofactor
from sealbox.accounts.models import LinkToken, Throttle, User
from sealbox.intake.delivery import deliver
from sealbox.mailstore.models import Message
from sealbox.operator.models import AuditEntry
from sealbox.outbound import notify, queue
from sealbox.outbound.models import OutgoingEmail
from sealbox.portal.sending import send
from tests.accounts.helpers import sent_emails
from tests.accounts.test_throttle import PAUSED, START, lock_by_passwords
from tests.conftest import CAROL
from tests.mail import make_message
from tests.vault.conftest import forget_everything, make_pair

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


def test_the_admins_login_page_sends_to_the_portals_sign_in_and_back() -> None:
    client = Client()
    assert client.get("/admin/login/")["Location"] == "/signin/?next=/admin/"
    r = client.get("/admin/login/?next=/admin/accounts/user/%3Fstatus%3Dlocked")
    assert r["Location"] == "/signin/?next=/admin/accounts/user/%3Fstatus%3Dlocked"
    for elsewhere in ("https://evil.example/admin/", "/inbox/", "//evil.example/admin/"):
        r = client.get("/admin/login/", {"next": elsewhere})
        assert r["Location"] == "/signin/?next=/admin/", elsewhere
    r = client.get("/admin/accounts/user/", follow=True)
    assert r.redirect_chain[-1][0] == "/signin/?next=/admin/accounts/user/"
    assert 'name="password"' in body(r) and "Sealbox operators" not in body(r)


def test_a_recipient_is_refused(alice: User, bob: User) -> None:
    hers = signed_in(alice)
    for url in ("/admin/", "/admin/accounts/user/", f"/admin/accounts/user/{bob.pk}/change/"):
        r = hers.get(url, follow=True)
        assert r.status_code == 403, url
        assert "Sealbox operators" not in body(r) and bob.email not in body(r)
    selected = {"action": "disable", "_selected_action": [bob.pk]}
    r = hers.post("/admin/accounts/user/", selected, follow=True)
    assert r.status_code == 403 and bob.email not in body(r)
    assert User.objects.get(pk=bob.pk).is_active
    assert not AuditEntry.objects.exists()


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


@pytest.mark.parametrize("required", [True, False])
def test_a_session_signed_in_with_the_password_alone_must_sign_in_again(
    settings: Any, required: bool
) -> None:
    settings.ADMIN_REQUIRE_2FA = required
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
    # An account from before personal phrases is shown its new one first, then goes on.
    assert r["Location"] == "/phrase/"
    assert 'href="/admin/">Continue</a>' in body(client.get("/phrase/"))
    r = client.get("/admin/")
    assert r.status_code == 200
    assert "Sealbox operators" in body(r)
    assert "Accounts" in body(r) and "Groups" not in body(r)
    assert client.get("/admin/auth/group/").status_code == 404


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


def test_signing_out_goes_through_the_portals_sign_out() -> None:
    user, _ = operator_with_totp()
    ops = signed_in(user)
    page = body(ops.get("/admin/"))
    assert '<form id="logout-form" method="post" action="/signout/">' in page
    assert ops.get("/signout/").status_code == 405  # by POST only
    assert ops.post("/signout/")["Location"] == "/signin/"
    assert ops.get("/admin/", follow=True).redirect_chain[-1][0] == "/signin/?next=/admin/"
    # Django's own sign-out address does the same.
    other = signed_in(user)
    assert other.post("/admin/logout/")["Location"] == "/signin/"
    assert other.get("/admin/").status_code == 302


def test_the_admins_password_pages_lead_to_the_portals_settings(ops: Client) -> None:
    assert 'href="/settings/"' in body(ops.get("/admin/"))
    assert "/admin/password_change/" not in body(ops.get("/admin/"))
    for url in ("/admin/password_change/", "/admin/password_change/done/"):
        assert ops.get(url)["Location"] == "/settings/", url
        assert ops.post(url, {"old_password": "x"})["Location"] == "/settings/", url


def test_admin_pages_carry_the_portals_security_headers(ops: Client, reader: Client) -> None:
    portal = reader.get("/inbox/")
    for url in ("/admin/", "/admin/accounts/user/", "/admin/mailstore/message/"):
        r = ops.get(url)
        assert r.status_code == 200
        for header in (
            "Content-Security-Policy",
            "X-Frame-Options",
            "Referrer-Policy",
            "X-Content-Type-Options",
            "Cross-Origin-Opener-Policy",
            "Permissions-Policy",
        ):
            assert r[header] == portal[header], (url, header)
        assert "no-store" in r["Cache-Control"]
    assert "'unsafe-inline'" not in portal["Content-Security-Policy"]


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


def listed(client: Client, url: str) -> set[str]:
    """The addresses in the account list's rows."""
    page = body(client.get(url))
    return set(re.findall(r'<th class="field-email"><a href="[^"]*">([^<]+)</a>', page))


def test_filters_by_status_two_factor_and_full(
    ops: Client, alice: User, bob: User, settings: Any
) -> None:
    settings.QUOTA_MB = 1
    deliver(CAROL, [DAVE], make_message(to=DAVE))
    carol = User.objects.create_user(CAROL, "a long passphrase 1234", is_active=False)
    Throttle.objects.create(
        key=throttle.Key(throttle.ACCOUNT, bob.email).digest,
        failures=10,
        locked_until=timezone.now() + timedelta(minutes=15),
    )
    twofactor.turn_on(alice, twofactor.new_secret(), 0)
    User.objects.filter(pk=alice.pk).update(usage_bytes=1024 * 1024)
    url = "/admin/accounts/user/"

    assert listed(ops, url + "?status=active") == {alice.email, OPERATOR}
    assert listed(ops, url + "?status=locked") == {bob.email}
    assert listed(ops, url + "?status=never+activated") == {DAVE}
    assert listed(ops, url + "?status=disabled") == {carol.email}
    assert listed(ops, url + "?two_factor=on") == {alice.email, OPERATOR}
    assert listed(ops, url + "?two_factor=off") == {bob.email, DAVE, carol.email}
    assert listed(ops, url + "?usage=full") == {alice.email}
    assert listed(ops, url + "?q=example.org") == {bob.email}
    assert "locked" in body(ops.get(url + "?status=locked"))


def test_no_filter_in_the_url_can_probe_a_secret_or_a_message(ops: Client, alice: User) -> None:
    twofactor.turn_on(alice, twofactor.new_secret(), 0)
    alice.refresh_from_db()
    deliver(CAROL, [alice.email], make_message(subject="Probe me", to=alice.email))
    for url in (
        f"/admin/accounts/user/?totp_secret__startswith={alice.totp_secret[:1]}",
        f"/admin/accounts/user/?password__startswith={alice.password[:3]}",
        "/admin/accounts/user/?messages__subject__startswith=Probe",
        "/admin/accounts/user/?recovery_codes__code_hash__startswith=a",
        "/admin/operator/auditentry/?actor_user__password__startswith=m",
    ):
        assert ops.get(url).status_code == 400, url
    assert ops.get("/admin/accounts/user/?is_staff__exact=1").status_code == 200


def act(client: Client, action: str, users: list[User], **extra: str) -> Any:
    data = {"action": action, "_selected_action": [str(u.pk) for u in users], **extra}
    return client.post("/admin/accounts/user/", data, follow=True)


def test_set_quota_asks_for_the_size_then_sets_it_and_audits_it(ops: Client, alice: User) -> None:
    form = act(ops, "set_quota", [alice])
    assert "Quota in MiB" in body(form)
    assert User.objects.get(pk=alice.pk).quota_mb is None

    for wrong in ("lots", "10000001", "²"):
        bad = act(ops, "set_quota", [alice], apply="1", quota=wrong)
        assert bad.status_code == 200 and "Enter a whole number" in body(bad), wrong
    done = act(ops, "set_quota", [alice], apply="1", quota="5")

    assert "Quota set for 1 account." in body(done)
    assert User.objects.get(pk=alice.pk).quota_mb == 5
    assert "of 5.0 MiB" in body(ops.get("/admin/accounts/user/"))
    act(ops, "set_quota", [alice], apply="1", quota="0")
    assert "(no limit)" in body(ops.get("/admin/accounts/user/"))
    act(ops, "set_quota", [alice], apply="1", quota="")
    assert User.objects.get(pk=alice.pk).quota_mb is None
    assert "of 1,024.0 MiB" in body(ops.get("/admin/accounts/user/"))
    entries = [(e.actor, e.ip, e.target, e.detail) for e in AuditEntry.objects.order_by("id")]
    assert entries == [
        (OPERATOR, "127.0.0.1", alice.email, "the default -> 5 MiB"),
        (OPERATOR, "127.0.0.1", alice.email, "5 MiB -> no limit"),
        (OPERATOR, "127.0.0.1", alice.email, "no limit -> the default"),
    ]


def test_disable_ends_sessions_and_enable_lets_them_back(ops: Client, alice: User) -> None:
    hers = signed_in(alice, second_factor=False)
    assert hers.get("/inbox/").status_code == 200

    act(ops, "disable", [alice])
    assert hers.get("/inbox/").status_code == 302
    r = Client().post(
        "/signin/", {"username": alice.email, "password": "correct horse battery staple"}
    )
    # The sign-in page again, signed out: a disabled account opens nothing.
    assert r.status_code == 200 and "_auth_user_id" not in r.client.session
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
    assert "A new activation link was sent to 1 account." in body(r)
    activation = [e for e in OutgoingEmail.objects.filter(kind="activation")]
    assert [e.recipients for e in activation] == [[DAVE]]
    assert LinkToken.objects.filter(user=dave, purpose="activate").count() == 1
    assert [e.target for e in audit("resend activation")] == [DAVE]
    [email] = [e for e in sent_emails() if e.to == DAVE]
    assert Client().get(email.link, follow=True).status_code == 200  # the new link opens


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

    assert "1 account deleted with its mail. 1 message removed." in body(done)
    assert not User.objects.filter(email=alice.email).exists()
    assert not Message.objects.filter(owner_id=alice.pk).exists()
    assert not any(f.exists() for f in files)
    assert Message.objects.filter(owner=bob).count() == 1
    [entry] = audit("delete account")
    assert entry.target == alice.email


def test_the_change_page_saves_and_audits_only_the_editable_fields(
    ops: Client, alice: User
) -> None:
    twofactor.turn_on(alice, twofactor.new_secret(), 0)
    alice.refresh_from_db()
    page = body(ops.get(f"/admin/accounts/user/{alice.pk}/change/"))
    assert alice.password not in page and alice.totp_secret not in page
    assert 'name="password"' not in page and "totp" not in page
    assert 'name="email"' not in page and 'name="is_staff"' not in page  # read-only
    assert re.search(r"Last sign-in:</label>\s*<div class=\"readonly\">never</div>", page)
    assert ops.get("/admin/accounts/user/add/").status_code == 403
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


def test_quota_and_disabling_on_the_change_page_go_through_their_actions(
    ops: Client, alice: User
) -> None:
    hers = signed_in(alice, second_factor=False)
    form = {"display_name": "", "quota_mb": "12", "retention_days": "", "allow_compose": "unknown"}
    form["expiry_reminders"] = "on"  # is_active left out: unticked
    r = ops.post(f"/admin/accounts/user/{alice.pk}/change/", form)
    assert r.status_code == 302
    alice.refresh_from_db()
    assert (alice.quota_mb, alice.is_active) == (12, False)
    assert hers.get("/inbox/").status_code == 302  # her session ended
    assert [e.detail for e in audit("set quota")] == ["the default -> 12 MiB"]
    assert [e.target for e in audit("disable")] == [alice.email]
    assert not audit("change account")  # nothing else changed, nothing said twice
    assert "of 12.0 MiB" in body(ops.get("/admin/accounts/user/"))


def test_an_operator_cannot_disable_or_delete_their_own_account(ops: Client) -> None:
    me = User.objects.get(email=OPERATOR)
    page = body(ops.get(f"/admin/accounts/user/{me.pk}/change/"))
    assert 'name="is_active"' not in page and 'name="display_name"' in page
    assert ops.get(f"/admin/accounts/user/{me.pk}/delete/").status_code == 403
    r = act(ops, "disable", [me])
    assert "You cannot disable your own account." in body(r)
    r = act(ops, "reset_two_factor", [me])
    assert "Your own two-factor sign-in is managed in your settings." in body(r)
    r = act(ops, "delete_with_mail", [me])
    assert "You cannot delete your own account." in body(r)
    me.refresh_from_db()
    assert me.is_active and me.has_totp and not AuditEntry.objects.exists()
    assert ops.get("/admin/").status_code == 200


def test_the_delete_page_of_an_account_removes_its_mail_with_the_files(
    ops: Client, alice: User
) -> None:
    deliver(CAROL, [alice.email], make_message(subject="Cormorant 5531", to=alice.email))
    deliver(CAROL, [alice.email], make_message(to=alice.email))
    files = [Path(settings.DATA_DIR) / m.blob for m in Message.objects.filter(owner=alice)]
    url = f"/admin/accounts/user/{alice.pk}/delete/"

    ask = body(ops.get(url))
    assert "2 messages" in ask and alice.email in ask and "Cormorant" not in ask
    r = ops.post(url, {"post": "yes"}, follow=True)

    assert r.status_code == 200
    assert not User.objects.filter(email=alice.email).exists()
    assert not Message.objects.exists()
    assert files and not any(f.exists() for f in files)
    [entry] = audit("delete account")
    assert (entry.target, entry.detail) == (alice.email, f"account {alice.pk} and 2 message(s)")


# --- messages ----------------------------------------------------------------------------


def test_messages_are_listed_by_metadata_and_deleted_with_their_files(
    ops: Client, alice: User, bob: User
) -> None:
    [first] = deliver(CAROL, [alice.email], make_message(to=alice.email))
    [second] = deliver(CAROL, [bob.email], make_message(to=bob.email))
    Message.objects.filter(pk=first.pk).update(read_at=timezone.now())
    page = body(ops.get("/admin/mailstore/message/?q=alice"))
    assert alice.email in page and bob.email not in page
    assert str(first.size) in page and 'alt="True"' in page  # read
    assert html.escape(first.message_id) in page
    files = {m.pk: Path(settings.DATA_DIR) / m.blob for m in (first, second)}
    usage = User.objects.get(pk=alice.pk).usage_bytes
    assert usage == first.size

    url = f"/admin/mailstore/message/{first.pk}/delete/"
    assert alice.email in body(ops.get(url))
    ops.post(url, {"post": "yes"})
    selected = {"action": "delete_for_good", "_selected_action": [str(second.pk)]}
    ask = ops.post("/admin/mailstore/message/", selected)
    assert "will be deleted for good" in body(ask) and bob.email in body(ask)
    assert Message.objects.filter(pk=second.pk).exists()
    ops.post("/admin/mailstore/message/", {**selected, "confirm": "1"})

    assert not Message.objects.exists()
    assert not any(f.exists() for f in files.values())
    assert User.objects.get(pk=alice.pk).usage_bytes == 0
    assert [(e.target, e.detail) for e in AuditEntry.objects.order_by("id")] == [
        (alice.email, f"1 message(s): {first.pk}"),
        (bob.email, f"1 message(s): {second.pk}"),
    ]
    assert "/add/" not in page and ops.get("/admin/mailstore/message/add/").status_code == 403


def test_a_messages_page_names_it_by_id_and_recipient(ops: Client, alice: User) -> None:
    [message] = deliver(CAROL, [alice.email], make_message(to=alice.email))
    page = body(ops.get(f"/admin/mailstore/message/{message.pk}/change/"))
    assert f"<h2>{message.pk} for {alice.email}</h2>" in page
    assert f"<h2>{message.pk} for {alice.pk}</h2>" not in page


def test_a_sealed_messages_id_shows_as_encrypted(
    ops: Client, alice: User, settings: Any, tmp_path: Path
) -> None:
    [plain] = deliver(CAROL, [alice.email], make_message(to=alice.email))
    pair = make_pair(tmp_path, "service", "storage@corp.example", "service key password 1")
    forget_everything()
    settings.STORAGE_ENCRYPTION = True
    settings.ENCRYPTION_CERTS = pair.cert
    settings.ENCRYPTION_KEY = pair.key
    settings.ENCRYPTION_KEY_PASSWORD = pair.password
    try:
        [sealed] = deliver(CAROL, [alice.email], make_message(to=alice.email))
        assert Message.objects.filter(pk=sealed.pk, sealed_summary__isnull=False).exists()
        page = body(ops.get("/admin/mailstore/message/"))
        change = body(ops.get(f"/admin/mailstore/message/{sealed.pk}/change/"))
    finally:
        forget_everything()
    assert page.count("(encrypted)") == 1 and "(encrypted)" in change
    assert html.escape(plain.message_id) in page
    assert html.escape(sealed.message_id) not in page + change


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


def test_the_queue_shows_each_state_and_hides_sent_mail_unless_asked(ops: Client) -> None:
    def queued(to: str, **fields: Any) -> OutgoingEmail:
        return OutgoingEmail.objects.create(
            kind="notification",
            mail_from=CAROL,
            recipients=[to],
            data=b"x",
            give_up_at=timezone.now() + timedelta(days=1),
            **fields,
        )

    queued("pending@example.com")
    queued("retrying@example.com", attempts=2, last_error="451 greylisted")
    queued("failed@example.com", status="failed", attempts=9)
    queued("sent@example.com", status="sent", attempts=1)

    def shown(query: str) -> set[str]:
        page = body(ops.get("/admin/outbound/outgoingemail/" + query))
        return set(re.findall(r"(\w+)@example\.com", page))

    assert shown("") == {"pending", "retrying", "failed"}
    for state in ("pending", "retrying", "failed", "sent"):
        assert shown(f"?state={state}") == {state}, state
    assert shown("?state=all") == {"pending", "retrying", "failed", "sent"}
    assert "451 greylisted" in body(ops.get("/admin/outbound/outgoingemail/"))


def test_the_audit_log_is_read_only_and_filtered_by_action_or_searched(
    ops: Client, alice: User, bob: User
) -> None:
    act(ops, "disable", [alice, bob])
    act(ops, "enable", [bob])
    url = "/admin/operator/auditentry/"

    def targets(query: str) -> list[str]:
        return re.findall(r"(\w+)@example\.\w+</td>", body(ops.get(url + query)))

    assert sorted(targets("?action=disable")) == ["alice", "bob"]
    assert targets("?action=enable") == ["bob"]
    assert sorted(targets("?q=bob")) == ["bob", "bob"]
    assert len(targets(f"?q={OPERATOR}")) == 3  # by actor
    entry = AuditEntry.objects.first()
    assert entry is not None
    assert 'name="action"' not in body(ops.get(f"{url}{entry.pk}/change/"))
    assert ops.post(f"{url}{entry.pk}/delete/", {"post": "yes"}).status_code == 403
    assert AuditEntry.objects.count() == 3


def test_a_change_that_no_admin_audits_itself_is_audited_all_the_same(ops: Client) -> None:
    # The net under every admin: Django's history hooks write to the audit log too.
    item = OutgoingEmail.objects.create(
        kind="notification",
        mail_from=CAROL,
        recipients=["x@example.com"],
        data=b"x",
        give_up_at=timezone.now(),
    )
    request = RequestFactory().post("/admin/")
    request.user = User.objects.get(email=OPERATOR)
    model_admin = admin.site.get_model_admin(OutgoingEmail)
    model_admin.log_change(request, item, [])
    model_admin.log_deletions(request, OutgoingEmail.objects.all())
    assert [(e.action, e.actor) for e in AuditEntry.objects.order_by("id")] == [
        ("change outgoing email", OPERATOR),
        ("delete outgoing email", OPERATOR),
    ]


# --- no content, anywhere -------------------------------------------------------------------


SECRETS = [
    "Zebrafish merger 4471",
    "Quentin Obscura",
    "body text lanternfish 9931",
    "plan-narwhal-5562.pdf",
    "reply about axolotl 8812",
]


def crawl(client: Client, starts: list[str]) -> dict[str, str]:
    """Every admin page reachable by links from these: lists with each filter and sort
    (one at a time), change, history and delete pages. Address -> page."""
    pages: dict[str, str] = {}
    todo = list(starts)
    while todo:
        url = todo.pop()
        if url in pages:
            continue
        r = client.get(url)
        assert r.status_code == 200, url
        pages[url] = body(r)
        for href in re.findall(r'href="([^"#]*)"', pages[url]):
            link = urljoin(url, html.unescape(href))
            if link.startswith("/admin/") and not ("?" in link and "?" in url):
                todo.append(link)
    return pages


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
    other = next(m for m in deliver(CAROL, [DAVE, alice.email], raw) if m.owner_id == alice.pk)
    relay_sink.handler.reply = "451 4.3.0 try later"
    send(
        alice, to=[CAROL], cc=[], subject=SECRETS[4], body=SECRETS[4], uploads=[], original=message
    )
    queue.process_due()  # the reply waits, retrying, with its subject in the row
    sent = Message.objects.get(owner=alice, folder=Message.Folder.SENT)
    reply = OutgoingEmail.objects.get(kind="reply")
    # Some history: an action, a change on the change page, a message deleted on its page.
    shown = [body(act(ops, action, [alice])) for action in ("set_quota", "delete_with_mail")]
    shown.append(body(act(ops, "set_quota", [alice], apply="1", quota="7")))
    change = {"display_name": "A", "is_active": "on", "quota_mb": "7", "allow_compose": "unknown"}
    shown.append(body(ops.post(f"/admin/accounts/user/{alice.pk}/change/", change, follow=True)))
    shown.append(body(ops.post(f"/admin/mailstore/message/{other.pk}/delete/", {"post": "yes"})))

    pages = crawl(
        ops,
        [
            "/admin/",
            "/admin/accounts/user/?q=alice",
            "/admin/mailstore/message/?q=alice",
            "/admin/outbound/outgoingemail/?q=corp",
            "/admin/operator/auditentry/?q=alice",
        ],
    )

    for url, page in [*pages.items(), *(("POST", page) for page in shown)]:
        for secret in SECRETS:
            assert secret not in page, (url, secret)
    # The pages that matter were among them, and show the metadata there is to see.
    for url in (
        "/admin/accounts/user/?usage=warn",
        "/admin/accounts/user/?signed_in=never",
        "/admin/accounts/user/?status=active",
        f"/admin/accounts/user/{alice.pk}/change/",
        f"/admin/accounts/user/{alice.pk}/delete/",
        f"/admin/accounts/user/{alice.pk}/history/",
        "/admin/mailstore/message/?folder__exact=sent",
        f"/admin/mailstore/message/{message.pk}/change/",
        f"/admin/mailstore/message/{sent.pk}/delete/",
        f"/admin/mailstore/message/{message.pk}/history/",
        "/admin/outbound/outgoingemail/?state=retrying",
        f"/admin/outbound/outgoingemail/{reply.pk}/change/",
        "/admin/operator/auditentry/?action=set+quota",
    ):
        assert url in pages, url
    assert len(pages) > 60
    assert str(other.pk) in pages["/admin/"]  # its deletion, among the recent actions
    assert html.escape(message.message_id) in pages["/admin/mailstore/message/?q=alice"]
    assert "retrying" in pages["/admin/outbound/outgoingemail/?state=retrying"]
    assert "Quota in MiB" in shown[0] and "will be deleted for good" in shown[1]
    # Nor can a filter in the URL probe content one guess at a time.
    for url in (
        f"/admin/mailstore/message/?subject__startswith={SECRETS[0][:4]}",
        f"/admin/mailstore/message/?from_name__icontains={SECRETS[1][:4]}",
        f"/admin/outbound/outgoingemail/?subject__contains={SECRETS[4][:5]}",
        "/admin/outbound/outgoingemail/?data__contains=a",
    ):
        r = ops.get(url)
        assert r.status_code == 400, url  # refused: Django's DisallowedModelAdminLookup
    # The secrets are really in the data the admin sits on (so the test can fail).
    assert SECRETS[0] == Message.objects.get(pk=message.pk).subject
    assert SECRETS[4] in OutgoingEmail.objects.get(pk=reply.pk).subject
    assert SECRETS[4] == sent.subject


def test_turning_on_the_app_in_settings_opens_the_admin_in_the_same_session() -> None:
    user = User.objects.create_superuser(OPERATOR, OPERATOR_PASSWORD)
    client = Client()
    client.post("/signin/", {"username": OPERATOR, "password": OPERATOR_PASSWORD})
    r = client.get("/admin/", follow=True)
    assert r.redirect_chain[-1][0] == "/settings/"
    assert "The admin site needs two-factor sign-in" in body(r)

    page = body(client.get("/settings/two-factor/"))
    secret = re.search(r"data-secret>([A-Z2-7 ]+)<", page)
    assert secret is not None
    code = pyotp.TOTP(secret.group(1).replace(" ", "")).now()
    assert client.post("/settings/two-factor/", {"code": code}).status_code == 200
    user.refresh_from_db()
    assert user.has_totp

    assert client.get("/admin/").status_code == 200

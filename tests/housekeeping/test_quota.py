"""Quotas: usage kept exact, and intake refusing mail for a full mailbox over real SMTP."""

from __future__ import annotations

import io
import re
import smtplib
import subprocess
from email import message_from_bytes, policy
from typing import Any

import pytest
from django.core.management import call_command

from sealbox.accounts.models import LinkToken, User
from sealbox.housekeeping import retention
from sealbox.intake.delivery import MailboxFull, deliver
from sealbox.mailstore import mailbox, quota
from sealbox.mailstore.models import Message
from sealbox.operator import actions
from sealbox.outbound import notify
from sealbox.outbound.models import OutgoingEmail
from sealbox.portal.sending import SendError, send
from tests.conftest import CAROL, SEALBOX, LiveSMTP, process_env
from tests.intake.stored import files_under
from tests.mail import make_message

pytestmark = pytest.mark.django_db(transaction=True)

DAVE = "dave@example.com"
ERIN = "erin@example.org"
KIB = 1024


def usage(email: str) -> int:
    return User.objects.get(email=email).usage_bytes


def stored_total(email: str) -> int:
    return sum(Message.objects.filter(owner__email=email).values_list("size", flat=True))


def sized(n: int, subject: str = "Quarterly figures") -> bytes:
    """A message of about n bytes."""
    return make_message(subject=subject, body=("x" * 75 + "\n") * (n // 76))


def emails_to(address: str, kind: str) -> list[OutgoingEmail]:
    return [e for e in OutgoingEmail.objects.filter(kind=kind) if address in e.recipients]


def told_text(address: str) -> str:
    """The plain text of the one mailbox-full email to an address."""
    [told] = emails_to(address, "quota-full")
    text = message_from_bytes(bytes(told.data), policy=policy.default)
    return " ".join(text.get_body(("plain",)).get_content().split())  # type: ignore[union-attr]


# What the mailbox-full email says happens to the refused message, in each mode.
WHAT_NEXT = {
    "permanent": "The sender has been told that it was not delivered.",
    "temporary": "The sender's mail server will try again for a while",
}


@pytest.fixture
def tiny_quota(settings: Any) -> Any:
    """1 MiB per mailbox."""
    settings.QUOTA_MB = 1
    return settings


def fill(address: str, nearly: int) -> None:
    """Deliver until the mailbox holds at least `nearly` bytes."""
    while not User.objects.filter(email=address, usage_bytes__gte=nearly).exists():
        deliver(CAROL, [address], sized(200 * KIB))


# --- usage ----------------------------------------------------------------------


def test_usage_is_the_stored_size_after_deliveries_deletions_sending_and_clean_up(
    settings: Any, alice: User
) -> None:
    import time_machine

    with time_machine.travel("2026-01-01 10:00Z", tick=False):
        old = deliver(CAROL, [alice.email, DAVE], sized(5000))
    for _ in range(3):
        deliver(CAROL, [alice.email], sized(3000))
    assert usage(alice.email) == stored_total(alice.email) > 3 * 3000 + 5000
    assert usage(DAVE) == stored_total(DAVE) > 5000

    # A deletion in the portal.
    newest = Message.objects.filter(owner=alice).order_by("-received_at").first()
    assert newest is not None
    mailbox.remove(Message.objects.filter(id=newest.id))
    assert usage(alice.email) == stored_total(alice.email)

    # A reply: the copy in Sent counts.
    before = usage(alice.email)
    sent = send(alice, to=[CAROL], cc=[], subject="Re", body="Thanks", uploads=[], original=old[0])
    assert usage(alice.email) == before + sent.size == stored_total(alice.email)

    # The clean-up of the January message.
    report = retention.cleanup()
    assert report.messages == 2
    assert usage(alice.email) == stored_total(alice.email)
    # Dave never activated and now holds nothing: his account went too.
    assert report.accounts == 1
    assert not User.objects.filter(email=DAVE).exists()


def test_recalc_puts_drifted_usage_right(alice: User) -> None:
    deliver(CAROL, [alice.email], sized(4000))
    right = usage(alice.email)
    User.objects.filter(pk=alice.pk).update(usage_bytes=7)

    out = io.StringIO()
    call_command("quota", "recalc", stdout=out)

    assert usage(alice.email) == right
    assert f"{alice.email}: 7 -> {right} bytes" in out.getvalue()
    assert "1 mailbox(es) corrected" in out.getvalue()


# --- intake over real SMTP ------------------------------------------------------------


def smtp(live_smtp: LiveSMTP) -> smtplib.SMTP:
    client = smtplib.SMTP(live_smtp.host, live_smtp.port, timeout=10)
    client.ehlo("gateway.corp.example")
    return client


BOTH_MODES = pytest.mark.parametrize(
    ("mode", "code", "status"), [("permanent", 552, b"5.2.2"), ("temporary", 452, b"4.2.2")]
)


@BOTH_MODES
def test_a_full_mailbox_is_refused_at_rcpt_with_the_configured_reply(
    live_smtp: LiveSMTP, tiny_quota: Any, mode: str, code: int, status: bytes
) -> None:
    tiny_quota.QUOTA_FULL_REPLY = mode
    fill(DAVE, 1024 * KIB - 150 * KIB)
    data = sized(200 * KIB)
    files_before = files_under("messages")

    with smtp(live_smtp) as client:
        client.mail(CAROL, [f"SIZE={len(data)}"])
        full = client.rcpt(DAVE)
        fine = client.rcpt(ERIN)
        reply = client.data(data)

    assert full == (code, status + b" <dave@example.com>: the recipient's secure mailbox is full")
    assert fine[0] == 250
    assert reply[0] == 250
    # Stored for Erin only; nothing kept for Dave.
    newest = Message.objects.order_by("-received_at").first()
    assert newest is not None and newest.owner.email == ERIN
    assert len(files_under("messages")) == len(files_before) + 1
    assert usage(DAVE) == stored_total(DAVE) <= 1024 * KIB
    # Dave is told once that mail was refused, and what happens to it.
    told = told_text(DAVE)
    assert WHAT_NEXT[mode] in told
    # He never chose a password: the email brings him a new activation link.
    assert "Open your mailbox, choose a new password for it" in told
    assert re.search(r"http://portal\.test/activate/\S+/ The link works once and for 14 days", told)
    assert all(other not in told for other in WHAT_NEXT.values() if other != WHAT_NEXT[mode])


@BOTH_MODES
def test_without_a_declared_size_the_message_is_refused_at_data(
    live_smtp: LiveSMTP, tiny_quota: Any, mode: str, code: int, status: bytes
) -> None:
    tiny_quota.QUOTA_FULL_REPLY = mode
    fill(DAVE, 1024 * KIB - 150 * KIB)
    stored_before = set(Message.objects.values_list("id", flat=True))
    files_before = files_under("messages")

    with smtp(live_smtp) as client:
        client.mail(CAROL)
        assert client.rcpt(DAVE)[0] == 250  # has room for *a* message
        reply = client.data(sized(200 * KIB))

    assert reply == (code, status + b" <dave@example.com>: the recipient's secure mailbox is full")
    assert set(Message.objects.values_list("id", flat=True)) == stored_before
    assert files_under("messages") == files_before
    told = told_text(DAVE)
    assert WHAT_NEXT[mode] in told
    assert all(other not in told for other in WHAT_NEXT.values() if other != WHAT_NEXT[mode])


def test_the_recipient_is_told_once_until_there_is_room_again(
    live_smtp: LiveSMTP, tiny_quota: Any
) -> None:
    fill(DAVE, 1024 * KIB - 150 * KIB)
    for _ in range(3):
        with smtp(live_smtp) as client:
            client.mail(CAROL, ["SIZE=300000"])
            assert client.rcpt(DAVE)[0] == 552
    with pytest.raises(MailboxFull):
        deliver(CAROL, [DAVE], sized(300 * KIB))
    [told] = emails_to(DAVE, "quota-full")
    text = message_from_bytes(bytes(told.data), policy=policy.default)
    assert "could not be delivered" in text.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "mailbox" in str(text["Subject"]).lower()

    # Room again (a deletion), then full again: told a second time.
    mailbox.remove(Message.objects.filter(owner__email=DAVE))
    fill(DAVE, 1024 * KIB - 150 * KIB)
    with pytest.raises(MailboxFull):
        deliver(CAROL, [DAVE], sized(300 * KIB))
    assert len(emails_to(DAVE, "quota-full")) == 2


def test_a_disabled_account_is_not_emailed_nor_given_a_link(tiny_quota: Any) -> None:
    fill(DAVE, 1024 * KIB - 150 * KIB)
    dave = User.objects.get(email=DAVE)
    actions.disable(actions.Actor.command_line(), dave)
    links_before = LinkToken.objects.filter(user=dave).count()
    with pytest.raises(MailboxFull):
        deliver(CAROL, [DAVE], sized(300 * KIB))
    assert emails_to(DAVE, "quota-full") == []
    # Nothing that would open the mailbox once an operator enables it again.
    assert LinkToken.objects.filter(user=dave).count() == links_before


def test_an_activated_recipient_is_sent_to_sign_in(tiny_quota: Any, alice: User) -> None:
    fill(alice.email, 1024 * KIB - 150 * KIB)
    with pytest.raises(MailboxFull):
        deliver(CAROL, [alice.email], sized(300 * KIB))
    told = told_text(alice.email)
    assert "Sign in and delete messages you no longer need, so that new mail fits." in told
    assert "http://portal.test/inbox/" in told and "/activate/" not in told


def test_the_email_writes_sizes_as_the_page_does_in_the_recipients_language(
    alice: User,
) -> None:
    User.objects.filter(pk=alice.pk).update(quota_mb=1536, usage_bytes=1536 * KIB * KIB - 1)
    alice.refresh_from_db()
    notify.tell_full(alice)
    # The same numbers as the usage bar on the page ("1.5 GB of 1.5 GB used"), not 1,536.0 MB.
    assert "it holds 1.5 GB of the 1.5 GB it may use." in told_text(alice.email)

    OutgoingEmail.objects.all().delete()
    User.objects.filter(pk=alice.pk).update(language="de", quota_full_notified_at=None)
    alice.refresh_from_db()
    notify.tell_full(alice)  # from a worker whose own language is English
    assert "1,5 GB" in told_text(alice.email)


def test_a_message_larger_than_the_whole_mailbox_is_told_as_such(
    live_smtp: LiveSMTP, tiny_quota: Any
) -> None:
    # An empty 1 MiB mailbox and a 2.2 MB message: deleting mail could never make room.
    tiny_quota.QUOTA_FULL_REPLY = "temporary"  # trying again would not help either
    User.objects.create_user(DAVE)
    data = sized(2200 * KIB)

    with smtp(live_smtp) as client:
        client.mail(CAROL, [f"SIZE={len(data)}"])
        refused = client.rcpt(DAVE)

    assert refused == (
        552,
        b"5.2.3 <dave@example.com>: the message is larger than the recipient's whole secure "
        b"mailbox",
    )
    told = told_text(DAVE)
    assert (
        "because it is larger than your whole secure mailbox at portal.test: "
        "the message is 2.2 MB, and the mailbox may hold 1.0 MB." in told
    )
    assert "Deleting messages would not make room for it" in told
    assert "delete messages you no longer need" not in told.lower()
    assert "is full" not in told and "0.0" not in told
    [email] = emails_to(DAVE, "quota-full")
    subject = message_from_bytes(bytes(email.data), policy=policy.default)["Subject"]
    assert "too large for your mailbox" in subject and "full" not in subject


def test_a_message_larger_than_the_whole_mailbox_is_refused_at_data_too(
    live_smtp: LiveSMTP, tiny_quota: Any
) -> None:
    User.objects.create_user(DAVE)
    with smtp(live_smtp) as client:
        client.mail(CAROL)
        assert client.rcpt(DAVE)[0] == 250
        reply = client.data(sized(2200 * KIB))
    assert reply[0] == 552 and reply[1].startswith(b"5.2.3 ")
    assert b"larger than the recipient's whole secure mailbox" in reply[1]
    assert "larger than your whole secure mailbox" in told_text(DAVE)


def test_the_report_to_the_sender_says_the_message_is_larger_than_the_mailbox(
    tiny_quota: Any,
) -> None:
    User.objects.create_user(DAVE)
    User.objects.create_user(ERIN, quota_mb=10)
    deliver(CAROL, [DAVE, ERIN], sized(2200 * KIB))
    assert Message.objects.filter(owner__email=ERIN).count() == 1
    [report] = OutgoingEmail.objects.filter(kind="bounce")
    status = bytes(report.data).decode()
    assert "Status: 5.2.3" in status and "Status: 5.2.2" not in status
    text = message_from_bytes(bytes(report.data), policy=policy.default)
    body = " ".join(text.get_body(("plain",)).get_content().split())  # type: ignore[union-attr]
    assert "because it is larger than their whole secure mailbox: <dave@example.com>" in body
    assert "once they have made room" not in body


def test_mixed_recipients_at_data_store_for_those_with_room_and_report_the_rest(
    live_smtp: LiveSMTP, tiny_quota: Any
) -> None:
    tiny_quota.NOTIFY_FROM = "secure@corp.example"
    fill(DAVE, 1024 * KIB - 150 * KIB)
    dave_before = Message.objects.filter(owner__email=DAVE).count()

    with smtp(live_smtp) as client:
        client.mail(CAROL)
        client.rcpt(DAVE)
        client.rcpt(ERIN)
        code, _ = client.data(sized(200 * KIB, subject="Secret merger plans"))

    assert code == 250
    assert Message.objects.filter(owner__email=ERIN).count() == 1
    assert Message.objects.filter(owner__email=DAVE).count() == dave_before
    [report] = OutgoingEmail.objects.filter(kind="bounce")
    assert report.recipients == [CAROL]
    assert report.mail_from == ""
    dsn = message_from_bytes(bytes(report.data), policy=policy.default)
    assert dsn.get_content_type() == "multipart/report"
    # Named on the domain of SEALBOX_NOTIFY_FROM, as all of Sealbox's own emails are.
    assert str(dsn["Message-ID"]).endswith("@corp.example>")
    status = bytes(report.data).decode()
    assert "Final-Recipient: rfc822; dave@example.com" in status
    assert "Status: 5.2.2" in status
    assert "erin@example.org" not in status  # delivered: not reported
    # The report travels outside the secure mailbox: no subject, no content.
    assert "Secret merger" not in status


def test_a_mixed_delivery_in_temporary_mode_keeps_nothing_and_asks_to_try_later(
    live_smtp: LiveSMTP, tiny_quota: Any
) -> None:
    tiny_quota.QUOTA_FULL_REPLY = "temporary"
    fill(DAVE, 1024 * KIB - 150 * KIB)

    with smtp(live_smtp) as client:
        client.mail(CAROL)
        client.rcpt(DAVE)
        client.rcpt(ERIN)
        code, text = client.data(sized(200 * KIB))

    assert (code, text[:5]) == (452, b"4.2.2")
    assert not Message.objects.filter(owner__email=ERIN).exists()
    assert not OutgoingEmail.objects.filter(kind="bounce").exists()


def test_no_limit_takes_everything(live_smtp: LiveSMTP, settings: Any) -> None:
    settings.QUOTA_MB = 0
    deliver(CAROL, [DAVE], sized(900 * KIB))
    User.objects.filter(email=DAVE).update(usage_bytes=10**13)
    with smtp(live_smtp) as client:
        client.mail(CAROL, ["SIZE=1000000"])
        assert client.rcpt(DAVE)[0] == 250
        assert client.data(sized(900 * KIB))[0] == 250


def test_an_account_quota_overrides_the_default(live_smtp: LiveSMTP, tiny_quota: Any) -> None:
    fill(DAVE, 1024 * KIB - 150 * KIB)
    User.objects.filter(email=DAVE).update(quota_mb=5)
    with smtp(live_smtp) as client:
        client.mail(CAROL, ["SIZE=300000"])
        assert client.rcpt(DAVE)[0] == 250
        assert client.data(sized(290 * KIB))[0] == 250


@pytest.mark.slow  # starts `sealbox` processes
def test_the_pipe_command_exits_73_for_a_full_mailbox(tiny_quota: Any, tmp_path: Any) -> None:
    fill(DAVE, 1024 * KIB - 150 * KIB)
    env = process_env(tiny_quota.DATA_DIR, SEALBOX_QUOTA_MB="1")
    done = subprocess.run(
        [*SEALBOX, "deliver", "--from", CAROL, DAVE],
        input=sized(200 * KIB),
        capture_output=True,
        env=env,
        timeout=60,
    )
    assert done.returncode == 73, done.stderr
    assert done.stderr.decode().strip() == (
        "sealbox deliver: 5.2.2 <dave@example.com>: the recipient's secure mailbox is full"
    )

    temporary = subprocess.run(
        [*SEALBOX, "deliver", "--from", CAROL, DAVE],
        input=sized(200 * KIB),
        capture_output=True,
        env={**env, "SEALBOX_QUOTA_FULL_REPLY": "temporary"},
        timeout=60,
    )
    assert temporary.returncode == 75, temporary.stderr


# --- the portal ------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["permanent", "temporary"])
def test_sending_to_a_full_sealbox_mailbox_says_whose_mailbox_is_full(
    tiny_quota: Any, alice: User, mode: str
) -> None:
    # The portal tells its sender at once in either mode; nothing tries again.
    tiny_quota.QUOTA_FULL_REPLY = mode
    tiny_quota.ALLOW_COMPOSE = True
    tiny_quota.COMPOSE_ALLOWED_RECIPIENTS = [DAVE]
    fill(DAVE, 1024 * KIB - 150 * KIB)
    with pytest.raises(SendError, match=r"secure mailbox of dave@example\.com is full"):
        send(alice, to=[CAROL, DAVE], cc=[], subject="Hi", body="x" * 200_000, uploads=[])
    assert not OutgoingEmail.objects.filter(kind="reply").exists()
    assert not Message.objects.filter(owner=alice, folder=Message.Folder.SENT).exists()
    assert WHAT_NEXT["permanent"] in told_text(DAVE)


def test_sending_more_than_a_whole_sealbox_mailbox_says_so(tiny_quota: Any, alice: User) -> None:
    tiny_quota.ALLOW_COMPOSE = True
    tiny_quota.QUOTA_MB = 2
    tiny_quota.COMPOSE_ALLOWED_RECIPIENTS = [DAVE]
    User.objects.create_user(DAVE, quota_mb=1)
    with pytest.raises(SendError) as refused:
        send(alice, to=[DAVE], cc=[], subject="Hi", body="x" * 1_200_000, uploads=[])
    assert str(refused.value.args[0]) == (
        "Not sent: this message is larger than the whole secure mailbox of dave@example.com."
    )
    assert "larger than your whole secure mailbox" in told_text(DAVE)


def test_a_full_mailbox_cannot_send_until_it_has_room(tiny_quota: Any, alice: User) -> None:
    [original] = deliver(CAROL, [alice.email], sized(1000))
    User.objects.filter(pk=alice.pk).update(usage_bytes=1024 * KIB)
    alice.refresh_from_db()
    with pytest.raises(SendError, match="Your mailbox is full"):
        send(alice, to=[CAROL], cc=[], subject="Re", body="Thanks", uploads=[], original=original)
    assert quota.usage_share(alice) == 100


def test_quotas_of_several_gib_work(alice: User, settings: Any) -> None:
    """MiB times 1048576 passes 32 bits from 2 GiB: PostgreSQL must compute it in 64."""
    settings.QUOTA_MB = 3072
    User.objects.filter(pk=alice.pk).update(quota_mb=4096, usage_bytes=4000 * 1024 * KIB)
    assert deliver(CAROL, [alice.email], sized(1000))
    assert deliver(CAROL, [DAVE], sized(1000))
    User.objects.filter(pk=alice.pk).update(usage_bytes=4096 * 1024 * KIB)
    with pytest.raises(MailboxFull):
        deliver(CAROL, [alice.email], sized(1000))
    from sealbox.operator import overview

    assert list(overview.over_share(User.objects.all()).values_list("email", flat=True)) == [
        alice.email
    ]

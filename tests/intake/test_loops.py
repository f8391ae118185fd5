"""Routing loops: Sealbox refuses its own outgoing mail and mail with too many hops."""

from __future__ import annotations

import json
import logging
from email.message import EmailMessage
from email.policy import SMTP
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.test import Client

from sealbox.intake.models import RoutingLoop
from sealbox.outbound import notify, queue
from tests.conftest import CAROL, LiveSMTP, RelaySink
from tests.intake.stored import messages_for
from tests.intake.test_deliver_command import deliver as deliver_command
from tests.intake.test_smtpd import send
from tests.mail import make_message

pytestmark = pytest.mark.django_db(transaction=True)

DAVE = "dave@example.com"
LOOP_REPLY = (
    b"5.4.6 Routing loop: this is Sealbox's own outgoing mail coming back; "
    b"the gateway must not route Sealbox's mail to Sealbox"
)


def notification_for(live_smtp: LiveSMTP, relay_sink: RelaySink) -> bytes:
    """Store a message for Dave; return the notification Sealbox sent him, as the relay got it."""
    code, _ = send(live_smtp, [DAVE], make_message(to=DAVE))
    assert code == 250
    notify.send_due()
    queue.process_due()
    [got] = relay_sink.received
    assert got.rcpt_tos == [DAVE]
    return got.data


def with_received(count: int) -> bytes:
    hops = b"".join(
        b"Received: from mx%d.example.net (mx%d.example.net [192.0.2.%d])\r\n"
        b"\tby mx.example.com; Mon, 7 Dec 2026 10:00:00 +0000\r\n" % (i, i, i % 250)
        for i in range(count)
    )
    return hops + make_message(to=DAVE)


def stats_text() -> str:
    out = StringIO()
    call_command("stats", stdout=out)
    return out.getvalue()


def test_it_refuses_its_own_notification_coming_back_over_smtp(
    live_smtp: LiveSMTP, relay_sink: RelaySink, caplog: pytest.LogCaptureFixture
) -> None:
    notification = notification_for(live_smtp, relay_sink)
    assert notification.startswith(b"Sealbox-Loop: v1 ")

    with caplog.at_level(logging.ERROR, logger="sealbox.intake.loops"):
        code, reply = send(live_smtp, [DAVE], notification)

    assert (code, reply) == (554, LOOP_REPLY)
    assert len(messages_for(DAVE)) == 1
    [record] = [r for r in caplog.records if r.name == "sealbox.intake.loops"]
    assert record.levelno == logging.ERROR
    assert record.getMessage().startswith("ROUTING LOOP: Sealbox's own outgoing mail came back")
    # Nothing stored, so nothing more is notified: the loop ends here.
    notify.send_due()
    queue.process_due()
    assert len(relay_sink.received) == 1


def test_the_deliver_command_refuses_its_own_mail_with_exit_65(
    live_smtp: LiveSMTP, relay_sink: RelaySink, settings: Any
) -> None:
    settings.SECRET_KEY = "test-secret-key-for-subprocesses-only"  # the subprocess's key
    notification = notification_for(live_smtp, relay_sink)

    result = deliver_command(settings, notification, DAVE)

    assert result.returncode == 65
    assert result.stderr.splitlines() == [f"sealbox deliver: {LOOP_REPLY.decode()}"]
    assert len(messages_for(DAVE)) == 1
    assert RoutingLoop.objects.count() == 1


def test_stats_and_healthz_report_a_routing_loop(
    live_smtp: LiveSMTP, relay_sink: RelaySink, client: Client
) -> None:
    assert client.get("/healthz").content == b"ok\n"
    notification = notification_for(live_smtp, relay_sink)
    assert send(live_smtp, [DAVE], notification)[0] == 554
    assert send(live_smtp, [DAVE], with_received(51))[0] == 554

    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.content.decode() == (
        "routing loop: 2 message(s) refused in the last hour (Sealbox's own mail "
        "came back, or too many hops); check the gateway's routing\n"
    )
    assert "Routing loops:       2 refused in the last hour, 2 in the last day" in stats_text()
    out = StringIO()
    call_command("stats", "--json", stdout=out)
    assert json.loads(out.getvalue())["routing_loops"] == {"last_hour": 2, "last_day": 2}


def test_a_mark_copied_onto_other_mail_does_not_refuse_it(
    live_smtp: LiveSMTP, relay_sink: RelaySink
) -> None:
    notification = notification_for(live_smtp, relay_sink)
    mark_line = notification[: notification.index(b"\n") + 1]

    code, _ = send(live_smtp, [DAVE], mark_line + make_message(to=DAVE, subject="Other"))

    assert code == 250
    assert len(messages_for(DAVE)) == 2


def test_a_notification_forwarded_as_an_attachment_is_stored(
    live_smtp: LiveSMTP, relay_sink: RelaySink
) -> None:
    """Only the header block counts: the mark and hops inside the body are content."""
    notification = notification_for(live_smtp, relay_sink)
    forward = EmailMessage(policy=SMTP)
    forward["From"] = CAROL
    forward["To"] = DAVE
    forward["Subject"] = "Fwd: Secure message"
    forward.set_content("See below.\n" + "Received: from somewhere\n" * 60)
    forward.add_attachment(notification, maintype="message", subtype="rfc822")

    code, _ = send(live_smtp, [DAVE], forward.as_bytes())

    assert code == 250
    assert len(messages_for(DAVE)) == 2


def test_mail_marked_by_another_sealbox_is_stored(
    live_smtp: LiveSMTP, relay_sink: RelaySink, settings: Any
) -> None:
    notification = notification_for(live_smtp, relay_sink)
    settings.SECRET_KEY = "the secret key of another organisation's Sealbox"

    assert send(live_smtp, [DAVE], notification)[0] == 250


def test_a_mark_made_before_a_key_change_is_still_recognised(
    live_smtp: LiveSMTP, relay_sink: RelaySink, settings: Any
) -> None:
    notification = notification_for(live_smtp, relay_sink)
    settings.SECRET_KEY_FALLBACKS = [settings.SECRET_KEY]
    settings.SECRET_KEY = "a new secret key after rotation"

    assert send(live_smtp, [DAVE], notification) == (554, LOOP_REPLY)


def test_it_refuses_more_received_headers_than_the_hop_limit(live_smtp: LiveSMTP) -> None:
    assert send(live_smtp, [DAVE], with_received(51)) == (
        554,
        b"5.4.6 Routing loop: too many hops (51 Received: headers, the limit is 50)",
    )
    assert messages_for(DAVE) == []
    assert RoutingLoop.objects.get().reason == RoutingLoop.Reason.HOPS

    assert send(live_smtp, [DAVE], with_received(50))[0] == 250


def test_the_deliver_command_refuses_too_many_hops_with_exit_65(settings: Any) -> None:
    result = deliver_command(settings, with_received(60), DAVE)

    assert result.returncode == 65
    assert result.stderr.splitlines() == [
        "sealbox deliver: 5.4.6 Routing loop: too many hops (60 Received: headers, the limit is 50)"
    ]
    assert messages_for(DAVE) == []

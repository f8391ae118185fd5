"""`sealbox worker` as a real process, against a relay that is down and then comes up."""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Callable
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from django.utils import timezone

from sealbox.intake.delivery import deliver
from sealbox.outbound.models import OutgoingEmail
from tests.conftest import CAROL, SEALBOX, SinkHandler, free_port, process_env
from tests.mail import make_message

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

RECIPIENTS = ["dave@example.com", "erin@example.org", "frank@example.net"]


def wait_for(condition: Callable[[], bool], seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def retrying() -> bool:
    rows = list(OutgoingEmail.objects.all())
    return len(rows) == 3 and all(r.retrying for r in rows)


def test_the_worker_delivers_queued_notifications_once_the_relay_comes_up(
    settings: Any,
) -> None:
    port = free_port()  # nothing listens here yet: the relay is down
    for rcpt in RECIPIENTS:
        deliver(CAROL, [rcpt], make_message(to=rcpt))
    env = process_env(
        settings.DATA_DIR,
        SEALBOX_RELAY_URL=f"smtp://127.0.0.1:{port}",
        SEALBOX_WORKER_POLL_INTERVAL="1s",
    )
    worker = subprocess.Popen(
        [*SEALBOX, "worker"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    handler = SinkHandler()
    controller: Controller | None = None
    try:
        wait_for(retrying, 20, "three notifications to fail their first attempt")
        for row in OutgoingEmail.objects.all():
            assert row.attempts == 1
            assert row.next_attempt_at > timezone.now()
            assert "Connection refused" in row.last_error

        controller = Controller(handler, hostname="127.0.0.1", port=port)
        controller.start()
        OutgoingEmail.objects.update(next_attempt_at=timezone.now())
        wait_for(lambda: len(handler.received) >= 3, 20, "three notifications at the relay")
        time.sleep(2.5)  # two more polls: nothing may be sent twice

        worker.send_signal(signal.SIGTERM)
        code = worker.wait(timeout=5)
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()
        if controller is not None:
            controller.stop()
    output = worker.stdout.read().decode() if worker.stdout else ""

    assert code == 0, output
    assert sorted(r for got in handler.received for r in got.rcpt_tos) == sorted(RECIPIENTS)
    for got in handler.received:
        assert b"has a protected message for you." in got.data
        assert b"http://portal.test/activate/" in got.data
    assert set(OutgoingEmail.objects.values_list("status", flat=True)) == {"sent"}
    assert "worker stopped" in output

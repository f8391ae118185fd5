from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser
from django.db import close_old_connections

from sealbox import diskspace
from sealbox.housekeeping import reminders, retention
from sealbox.outbound import notify, queue
from sealbox.portal import frame
from sealbox.vault import unlock

# The name it had before it moved here: operators' log filters know it.
log = logging.getLogger("sealbox.outbound.worker")


def housekeeping() -> None:
    """Every SEALBOX_CLEANUP_INTERVAL: retention clean-up, old activity, expiry reminders.

    Each on its own: a clean-up that fails does not hold up the reminders.
    """
    _guarded(retention.cleanup)
    _guarded(reminders.send_due)


def _guarded(job: Callable[[], object]) -> int:
    """Run one job; its count of work done (0 for a job that counts none, or that failed)."""
    try:
        done = job()
        return done if isinstance(done, int) else 0
    except Exception:
        log.exception("worker: %s failed; trying again next round", job.__name__)
        return 0


class Command(BaseCommand):
    help = "Run the background worker: notifications and the outgoing mail queue."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--once", action="store_true", help="do what is due now, then exit")

    def handle(self, *args: Any, **options: Any) -> None:
        # Notifications name senders and queued replies are sealed: with
        # encryption at rest the worker starts its rounds once it holds the key.
        unlock.wait_for_key()
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        signal.signal(signal.SIGINT, lambda *_: stop.set())
        queue.release_dead_claims()
        log.info("worker started")
        last_housekeeping: float | None = None  # at once, then every interval
        while not stop.is_set():
            close_old_connections()
            if (
                last_housekeeping is None
                or time.monotonic() - last_housekeeping >= settings.CLEANUP_INTERVAL
            ):
                last_housekeeping = time.monotonic()
                housekeeping()
            # Each job on its own: one failing (a database outage, a damaged
            # row) must neither end the worker nor hold up the others.
            # Mail already queued (sign-in codes, links) goes first; then new messages'
            # frames are made, so that a notification's reader finds them made; then
            # the notifications are queued and sent.
            busy = _guarded(queue.process_due) + _guarded(frame.prepare_new)
            busy += _guarded(notify.send_due) + _guarded(queue.process_due)
            # The data directory's reserve, once a full disk is over (diskspace.py).
            _guarded(diskspace.restore_reserve)
            if options["once"]:
                break
            if not busy:
                stop.wait(settings.WORKER_POLL_INTERVAL)
        close_old_connections()
        log.info("worker stopped")

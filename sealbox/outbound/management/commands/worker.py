from __future__ import annotations

import logging
import signal
import threading
import time
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser
from django.db import close_old_connections

from sealbox.accounts import activity, throttle
from sealbox.outbound import notify, queue
from sealbox.vault import unlock

log = logging.getLogger("sealbox.outbound.worker")

HOUSEKEEPING_EVERY = 3600


def housekeeping() -> None:
    """Hourly: forget activity older than SEALBOX_AUDIT_DAYS and failure counts that ran out."""
    removed = activity.prune()
    throttle.prune()
    if removed:
        log.info("activity log: %d entries older than the audit period removed", removed)


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
        last_housekeeping = 0.0
        while not stop.is_set():
            close_old_connections()
            try:
                if time.monotonic() - last_housekeeping >= HOUSEKEEPING_EVERY:
                    last_housekeeping = time.monotonic()
                    housekeeping()
                busy = notify.send_due() + queue.process_due()
            except Exception:
                # A database outage must not end the worker: log it and try again.
                log.exception("worker pass failed")
                busy = 0
            if options["once"]:
                break
            if not busy:
                stop.wait(settings.WORKER_POLL_INTERVAL)
        close_old_connections()
        log.info("worker stopped")

from __future__ import annotations

import logging
import signal
import threading
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser
from django.db import close_old_connections

from sealbox.outbound import notify, queue

log = logging.getLogger("sealbox.outbound.worker")


class Command(BaseCommand):
    help = "Run the background worker: notifications and the outgoing mail queue."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--once", action="store_true", help="do what is due now, then exit")

    def handle(self, *args: Any, **options: Any) -> None:
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        signal.signal(signal.SIGINT, lambda *_: stop.set())
        queue.release_dead_claims()
        log.info("worker started")
        while not stop.is_set():
            close_old_connections()
            try:
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

from __future__ import annotations

import asyncio
import logging
import signal
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from sealbox.intake.smtpd import start_server
from sealbox.listen import split_host_port
from sealbox.mailstore import blobs

log = logging.getLogger("sealbox.intake.smtpd")


class Command(BaseCommand):
    help = "Run the SMTP intake server that receives mail from the organisation's gateway."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--listen", default=None, help="HOST:PORT (default SEALBOX_SMTP_LISTEN)"
        )
        parser.add_argument("--threads", type=int, default=8, help="deliveries stored at once")

    def handle(self, *args: Any, **options: Any) -> None:
        host, port = split_host_port(options["listen"] or settings.SMTP_LISTEN)
        blobs.clear_stale_tmp()
        asyncio.run(self.serve(host, port, options["threads"]))

    async def serve(self, host: str, port: int, threads: int) -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="deliver") as executor:
            server = await start_server(host, port, executor)
            tls = " with STARTTLS" if settings.SMTP_TLS_CERT else ""
            log.info("SMTP intake listening on %s:%d%s", host, port, tls)
            await stop.wait()
            log.info("SMTP intake stopping")
            server.close()
            await server.wait_closed()

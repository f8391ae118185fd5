from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from sealbox.listen import split_host_port
from sealbox.service import gunicorn


class Command(BaseCommand):
    help = "Run the web portal (gunicorn)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--listen", default=None, help="HOST:PORT (default SEALBOX_HTTP_LISTEN)"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        value = options["listen"] or settings.HTTP_LISTEN
        host, port = split_host_port(value)
        gunicorn.run(f"[{host}]:{port}" if ":" in host else f"{host}:{port}")

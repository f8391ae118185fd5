from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from sealbox.mailstore import quota
from sealbox.operator import overview


class Command(BaseCommand):
    help = "Accounts, storage and the outgoing queue at a glance (never any message content)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--json", action="store_true", help="one JSON object, for machines")

    def handle(self, *args: Any, **options: Any) -> None:
        stats = overview.stats()
        if options["json"]:
            data = {
                **asdict(stats),
                "retention_days": settings.RETENTION_DAYS,
                "quota_mb": settings.QUOTA_MB,
            }
            self.stdout.write(json.dumps(data, indent=2, sort_keys=True))
            return
        recipients = sum(stats.accounts.values())
        by_status = ", ".join(f"{n} {status}" for status, n in stats.accounts.items())
        oldest = (
            "-" if stats.oldest_message_days is None else f"{stats.oldest_message_days} days old"
        )
        kept = f"{settings.RETENTION_DAYS} days" if settings.RETENTION_DAYS else "for ever"
        limit = f"{settings.QUOTA_MB} MiB" if settings.QUOTA_MB else "no limit"
        queue = stats.outgoing
        lines = [
            ("Recipients", f"{recipients} ({by_status})"),
            ("Operators", str(stats.operators)),
            ("Messages", f"{stats.messages}, {quota.size_text(stats.stored_bytes)} stored"),
            ("Oldest message", oldest),
            ("Expiring in 7 days", str(stats.expiring_within_7_days)),
            (
                "Mailboxes",
                f"{stats.over_warning} over {settings.QUOTA_WARN_PERCENT} %, {stats.full} full",
            ),
            ("Defaults", f"messages kept {kept}, quota {limit}"),
            (
                "Outgoing queue",
                f"{queue['pending']} pending, {queue['retrying']} retrying, "
                f"{queue['failed']} failed",
            ),
            (
                "Routing loops",
                f"{stats.routing_loops['last_hour']} refused in the last hour, "
                f"{stats.routing_loops['last_day']} in the last day",
            ),
        ]
        for label, value in lines:
            self.stdout.write(f"{label + ':':<20} {value}")

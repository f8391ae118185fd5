from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from sealbox.mailstore import quota


class Command(BaseCommand):
    help = "Storage quotas: 'quota recalc' recounts every mailbox's usage from its messages."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        sub.add_parser("recalc", help="set each mailbox's usage to the size of its messages")

    def handle(self, *args: Any, **options: Any) -> None:
        changed = quota.recalc()
        for email, was, now in changed:
            self.stdout.write(f"{email}: {was} -> {now} bytes")
        self.stdout.write(
            f"Usage recounted; {len(changed)} mailbox(es) corrected."
            if changed
            else "Usage recounted; every mailbox was right."
        )

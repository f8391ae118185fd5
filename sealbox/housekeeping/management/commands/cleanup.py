from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from sealbox.housekeeping import retention
from sealbox.mailstore import quota


class Command(BaseCommand):
    help = (
        "Remove expired messages (files and rows), expired links, accounts that were never "
        "activated and hold no mail, and stray message files. The worker does this hourly."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--dry-run", action="store_true", help="only say what would be removed")
        parser.add_argument(
            "--remove-strays",
            action="store_true",
            help="remove message files without a message even when they are many "
            "(after checking that this database belongs to this data directory)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        dry = options["dry_run"]
        report = retention.cleanup(dry_run=dry, remove_strays=options["remove_strays"])
        verb = "Would remove" if dry else "Removed"
        self.stdout.write(
            f"{verb} {report.messages} expired message(s) ({quota.size_text(report.bytes)}) "
            f"from {len(report.by_account)} mailbox(es)."
        )
        for email, count in sorted(report.by_account.items()):
            self.stdout.write(f"  {email}: {count}")
        self.stdout.write(f"{verb} {report.links} expired activation or reset link(s).")
        self.stdout.write(
            f"{verb} {report.accounts} account(s) never activated and holding no mail."
        )
        self.stdout.write(f"{verb} {report.stray_files} stray message file(s).")
        if report.skipped_files:
            self.stdout.write(
                "Stray files were left: a storage command is running, or there are too many "
                "of them (see the log)."
            )
        if dry:
            self.stdout.write("Nothing was removed (--dry-run).")

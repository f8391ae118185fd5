from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from sealbox.housekeeping import retention


def _size(n: int) -> str:
    return f"{n / 1024 / 1024:.1f} MiB" if n >= 1024 * 1024 else f"{n / 1024:.1f} KiB"


class Command(BaseCommand):
    help = (
        "Remove expired messages (files and rows), expired links, accounts that were never "
        "activated and hold no mail, and stray message files. The worker does this hourly."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--dry-run", action="store_true", help="only say what would be removed")

    def handle(self, *args: Any, **options: Any) -> None:
        dry = options["dry_run"]
        report = retention.cleanup(dry_run=dry)
        verb = "Would remove" if dry else "Removed"
        self.stdout.write(
            f"{verb} {report.messages} expired message(s) ({_size(report.bytes)}) "
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
            self.stdout.write("Stray files were not checked: a storage command is running.")
        if dry:
            self.stdout.write("Nothing was removed (--dry-run).")

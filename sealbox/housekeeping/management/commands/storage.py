"""`sealbox storage encrypt-existing | rotate --certs NEW.pem | verify`."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError, CommandParser

from sealbox.housekeeping import reseal
from sealbox.vault import keys, seal, unlock


class Command(BaseCommand):
    help = "Encryption at rest: encrypt mail stored before it was on, re-encrypt, verify."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        sub.add_parser(
            "encrypt-existing",
            help="encrypt every message still stored unencrypted (resumable; needs no key)",
        )
        rotate = sub.add_parser(
            "rotate", help="re-encrypt every message to a new set of certificates (resumable)"
        )
        rotate.add_argument("--certs", type=Path, required=True, metavar="NEW.pem")
        sub.add_parser("verify", help="open every stored message; list those that do not open")

    def handle(self, *args: Any, **options: Any) -> None:
        action = options["action"]
        try:
            if action == "encrypt-existing":
                self.encrypt_existing()
            elif action == "rotate":
                self.rotate(options["certs"])
            else:
                self.verify()
        except reseal.Busy as e:
            raise CommandError(f"{e}: wait for it to finish") from None
        except KeyboardInterrupt:
            self.stderr.write(
                "\nInterrupted. Nothing is half done: run the same command again to go on."
            )
            sys.exit(130)

    def require_encryption(self) -> None:
        if not settings.STORAGE_ENCRYPTION:
            raise CommandError(
                "SEALBOX_STORAGE_ENCRYPTION is off: turn it on (with SEALBOX_ENCRYPTION_CERTS) "
                "first, so that new mail is encrypted too"
            )

    def encrypt_existing(self) -> None:
        self.require_encryption()
        outcome = reseal.encrypt_existing(sys.stderr)
        self.stdout.write(
            f"{outcome.changed} message(s) encrypted to {seal.recipients().set_id}. "
            "The disk blocks they used before may still hold the old text until overwritten."
        )
        self.report_failed(outcome)

    def rotate(self, path: Path) -> None:
        self.require_encryption()
        try:
            new = seal.recipients(path.absolute())
        except ImproperlyConfigured as e:
            raise CommandError(str(e).replace("SEALBOX_ENCRYPTION_CERTS", "--certs")) from e
        unlock.wait_for_key()
        holder = seal.holder()
        if holder not in new.certificates:
            self.stderr.write(
                f"Warning: this service's key ({keys.describe(holder)}) is not among the new "
                "certificates. After this, SEALBOX_ENCRYPTION_KEY must be a key of the new set."
            )
        if new.set_id != seal.recipients().set_id:
            self.stderr.write(
                f"Note: SEALBOX_ENCRYPTION_CERTS ({settings.ENCRYPTION_CERTS}) is another set: "
                "new mail is still encrypted to it. Point it at the new file, restart, and run "
                "this again to catch what arrived meanwhile."
            )
        outcome = reseal.rotate(new, sys.stderr)
        self.stdout.write(
            f"{outcome.changed} message(s) re-encrypted to certificate set {new.set_id}."
        )
        self.report_failed(outcome)

    def report_failed(self, outcome: reseal.Outcome) -> None:
        if outcome.failed:
            self.stdout.write(
                f"{outcome.failed} message(s) could not be read and were left as they are: "
                "`sealbox storage verify` lists them."
            )
            sys.exit(1)

    def verify(self) -> None:
        unlock.wait_for_key()
        report = reseal.verify(sys.stderr)
        for problem in report.problems:
            self.stdout.write(
                f"FAILED {problem.message_id} ({problem.owner}) {problem.blob}: {problem.reason}"
            )
        self.stdout.write(
            f"{report.checked} message(s) checked, {len(report.problems)} do not open."
        )
        if settings.STORAGE_ENCRYPTION and report.plain:
            self.stdout.write(
                f"{report.plain} message(s) are stored unencrypted: "
                "run `sealbox storage encrypt-existing`."
            )
        for set_id, count in sorted(report.other_sets.items()):
            self.stdout.write(
                f"{count} message(s) are encrypted to another certificate set ({set_id}): "
                "`sealbox storage rotate --certs` brings them to the configured one."
            )
        if report.orphans:
            self.stdout.write(
                f"{report.orphans} stored file(s) belong to no message: left by an interrupted "
                "delivery or deletion (or a delivery in progress)."
            )
        if report.problems:
            sys.exit(1)

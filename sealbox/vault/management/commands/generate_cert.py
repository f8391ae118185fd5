"""`sealbox generate-cert`: a self-signed S/MIME certificate and encrypted key for storage."""

from __future__ import annotations

import getpass
import os
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from sealbox.vault import keys

MIN_PASSWORD = 12


def _write(path: Path, data: bytes, mode: int) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with os.fdopen(fd, "wb") as f:
        os.fchmod(f.fileno(), mode)  # whatever the umask
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


class Command(BaseCommand):
    help = (
        "Create a self-signed S/MIME certificate NAME.pem and its private key NAME.key "
        "(PKCS#8, encrypted with a password) for encryption at rest or as an escrow key."
    )
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--email", required=True, help="address the certificate names")
        parser.add_argument(
            "--out-basename", required=True, metavar="NAME", help="writes NAME.pem and NAME.key"
        )
        parser.add_argument("--days", type=int, default=3650, help="validity (default 3650)")
        parser.add_argument(
            "--key-size", type=int, default=3072, choices=keys.KEY_SIZES, help="RSA bits"
        )
        parser.add_argument(
            "--password-file", type=Path, help="read the key password from this file"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["days"] < 1:
            raise CommandError("--days must be at least 1")
        base = Path(options["out_basename"])
        cert_path, key_path = Path(f"{base}.pem"), Path(f"{base}.key")
        for path in (cert_path, key_path):
            if path.exists():
                raise CommandError(f"{path} exists; choose another --out-basename")
        password = self.password(options["password_file"])
        pair = keys.generate(options["email"], options["days"], options["key_size"])
        _write(key_path, keys.encrypted_key_pem(pair.key, password), 0o600)
        _write(cert_path, keys.certificate_pem(pair.certificate), 0o644)
        self.stdout.write(
            f"Wrote {cert_path} (the certificate; it may be shared)\n"
            f"  and {key_path} (the private key, encrypted with your password).\n"
            f"SHA-256 fingerprint: {keys.fingerprint(pair.certificate)}\n"
            f"Valid until {pair.certificate.not_valid_after_utc:%Y-%m-%d}.\n"
            "\n"
            f"Back up {key_path} and its password now, offline and apart from each other.\n"
            "Without both, mail encrypted to this certificate can never be read again."
        )

    def password(self, path: Path | None) -> str:
        if path is not None:
            try:
                password = keys.read_password_file(path)
            except OSError as e:
                raise CommandError(f"cannot read {path}: {e.strerror}") from e
        else:
            try:
                password = getpass.getpass("Password for the new key: ")
                again = getpass.getpass("The same password again: ")
            except EOFError:
                raise CommandError("no password given") from None
            if password != again:
                raise CommandError("the two passwords differ; nothing was written")
        if len(password) < MIN_PASSWORD:
            raise CommandError(
                f"the password must be at least {MIN_PASSWORD} characters; nothing was written"
            )
        return password

"""System checks for encryption at rest: every misconfiguration explained at start."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.checks import Error, Tags, Warning, register

from sealbox import datadir
from sealbox.vault import keys, seal, unlock

DOCS = "See docs/encryption.md."


@register(Tags.compatibility)
def check_encryption(app_configs: Any, **kwargs: Any) -> list[Any]:
    if not settings.STORAGE_ENCRYPTION:
        if settings.ENCRYPTION_CERTS or settings.ENCRYPTION_KEY:
            return [
                Warning(
                    "SEALBOX_ENCRYPTION_CERTS or SEALBOX_ENCRYPTION_KEY is set, but "
                    "SEALBOX_STORAGE_ENCRYPTION is off: new mail is stored unencrypted.",
                    hint="Set SEALBOX_STORAGE_ENCRYPTION=on. " + DOCS,
                    id="sealbox.W101",
                )
            ]
        return []
    problems: list[Any] = []
    certs: list[Any] = []
    if settings.ENCRYPTION_CERTS is None:
        problems.append(
            Error(
                "SEALBOX_STORAGE_ENCRYPTION is on but SEALBOX_ENCRYPTION_CERTS is not set.",
                hint="Name a PEM file with the certificates every message is encrypted to. " + DOCS,
                id="sealbox.E101",
            )
        )
    else:
        try:
            certs = keys.load_certificates(settings.ENCRYPTION_CERTS)
        except keys.KeyFileError as e:
            problems.append(Error(f"SEALBOX_ENCRYPTION_CERTS: {e}.", id="sealbox.E102"))
        for cert in certs:
            expiry = keys.expiry_problem(cert)
            if expiry:
                problems.append(
                    Warning(
                        f"SEALBOX_ENCRYPTION_CERTS: {expiry}.",
                        hint="Stored mail stays readable; plan a new certificate and "
                        "`sealbox storage rotate`. " + DOCS,
                        id="sealbox.W102",
                    )
                )
    key = settings.ENCRYPTION_KEY
    if key is None:
        problems.append(
            Warning(
                "SEALBOX_ENCRYPTION_KEY is not set: this host can take in mail but the portal "
                "and worker cannot open it.",
                hint="Set it wherever `sealbox web`, `worker` or `serve` runs. " + DOCS,
                id="sealbox.W103",
            )
        )
    elif not os.access(key, os.R_OK):
        # A warning: SMTP intake runs without it. Web and worker refuse to start.
        problems.append(
            Warning(
                f"SEALBOX_ENCRYPTION_KEY: cannot read {key}: the portal and worker cannot "
                "start here, SMTP intake can.",
                id="sealbox.W106",
            )
        )
    password_file = settings.ENCRYPTION_KEY_PASSWORD_FILE
    if password_file is not None and not os.access(password_file, os.R_OK):
        problems.append(
            Error(
                f"SEALBOX_ENCRYPTION_KEY_PASSWORD_FILE: cannot read {password_file}.",
                id="sealbox.E104",
            )
        )
    for warning in unlock.password_file_warnings():
        problems.append(Warning(warning + ".", id="sealbox.W104"))
    if not settings.RELAY_URL:
        problems.append(
            Warning(
                f"Without SEALBOX_RELAY_URL, outgoing mail is written unencrypted to "
                f"{settings.OUTBOX_DIR}: notifications name senders, and replies carry text.",
                hint="Set SEALBOX_RELAY_URL in production. " + DOCS,
                id="sealbox.W105",
            )
        )
    return problems


@register(Tags.security, deploy=True)
def check_key_matches(app_configs: Any, **kwargs: Any) -> list[Any]:
    """With a configured password, open the key and find its certificate.

    Only under `check --deploy`: other commands (SMTP intake among them) must
    not open the key. Web and worker say the same when they unlock it.
    """
    key = settings.ENCRYPTION_KEY
    if not settings.STORAGE_ENCRYPTION or key is None or settings.ENCRYPTION_CERTS is None:
        return []
    try:
        certs = keys.load_certificates(settings.ENCRYPTION_CERTS)
        password = seal.configured_password()
    except Exception:
        return []  # reported by check_encryption
    if password is None:
        return []  # checked when an administrator unlocks it
    try:
        private = keys.load_private_key(key, password)
    except keys.WrongPassword:
        return [
            Error(
                "The configured key password does not open SEALBOX_ENCRYPTION_KEY "
                f"{settings.ENCRYPTION_KEY}.",
                id="sealbox.E105",
            )
        ]
    except keys.KeyFileError as e:
        return [Error(f"SEALBOX_ENCRYPTION_KEY: {e}.", id="sealbox.E108")]
    if keys.matching_certificate(private, certs) is None:
        return [
            Error(
                f"SEALBOX_ENCRYPTION_KEY {settings.ENCRYPTION_KEY} belongs to none of the "
                "certificates in SEALBOX_ENCRYPTION_CERTS.",
                hint="Add the key's own certificate to the PEM file; mail sealed to the others "
                "only could not be opened by this service. " + DOCS,
                id="sealbox.E106",
            )
        ]
    return []


@register(Tags.security, deploy=True)
def check_key_file_private(app_configs: Any, **kwargs: Any) -> list[Any]:
    """The private key is password-protected, but nobody else should get to try passwords on it."""
    if settings.ENCRYPTION_KEY is None:
        return []
    key = Path(settings.ENCRYPTION_KEY)
    mode = datadir.open_mode(key)
    if mode is None:  # private, or cannot be read: reported by check_encryption
        return []
    return [
        Error(
            f"SEALBOX_ENCRYPTION_KEY {key} is open to other users (mode {mode:04o}).",
            hint=datadir.close_hint(key),
            id="sealbox.E107",
        )
    ]

"""Configuration rules as system checks: `sealbox check --deploy` lists what is wrong."""

from __future__ import annotations

import os
from email.headerregistry import Address
from email.policy import SMTP
from typing import Any

from django.conf import settings
from django.core.checks import Error, Tags, Warning, register

from sealbox.outbound.relay import parse_relay_url


@register(Tags.compatibility)
def check_data_dir(app_configs: Any, **kwargs: Any) -> list[Any]:
    data_dir = settings.DATA_DIR
    if not data_dir.is_dir():
        return [
            Error(
                f"The data directory {data_dir} does not exist.",
                hint="`sealbox migrate` creates it; or set SEALBOX_DATA_DIR to the data directory.",
                id="sealbox.E001",
            )
        ]
    if not os.access(data_dir, os.W_OK | os.X_OK):
        return [
            Error(
                f"The data directory {data_dir} is not writable by this user.",
                hint="Set SEALBOX_DATA_DIR to a directory this user owns.",
                id="sealbox.E001",
            )
        ]
    return []


@register(Tags.compatibility)
def check_smtp_tls(app_configs: Any, **kwargs: Any) -> list[Any]:
    cert, key = settings.SMTP_TLS_CERT, settings.SMTP_TLS_KEY
    if bool(cert) != bool(key):
        return [
            Error(
                "Only one of SEALBOX_SMTP_TLS_CERT and SEALBOX_SMTP_TLS_KEY is set.",
                hint="STARTTLS needs both the certificate chain and its private key.",
                id="sealbox.E002",
            )
        ]
    errors = []
    for name, path in (("SEALBOX_SMTP_TLS_CERT", cert), ("SEALBOX_SMTP_TLS_KEY", key)):
        if path and not os.access(path, os.R_OK):
            errors.append(Error(f"{name}: cannot read {path}.", id="sealbox.E003"))
    if not errors and cert and key:
        import ssl

        try:
            ssl.create_default_context(ssl.Purpose.CLIENT_AUTH).load_cert_chain(str(cert), str(key))
        except (ssl.SSLError, OSError) as e:
            errors.append(
                Error(f"The SMTP TLS certificate and key do not load: {e}", id="sealbox.E004")
            )
    return errors


@register(Tags.compatibility)
def check_outgoing(app_configs: Any, **kwargs: Any) -> list[Any]:
    problems: list[Any] = []
    if settings.RELAY_URL:
        try:
            parse_relay_url(settings.RELAY_URL)
        except ValueError as e:
            problems.append(Error(f"SEALBOX_RELAY_URL: {e}.", id="sealbox.E005"))
    try:
        header = SMTP.header_factory("From", settings.NOTIFY_FROM)
        addrs: tuple[Address, ...] = header.addresses
        if len(addrs) != 1 or "@" not in addrs[0].addr_spec:
            raise ValueError
    except (ValueError, IndexError, AttributeError):
        problems.append(
            Error(
                f"SEALBOX_NOTIFY_FROM is not one email address: {settings.NOTIFY_FROM!r}.",
                hint="Use a form like: Secure Mail <secure@example.org>",
                id="sealbox.E006",
            )
        )
    return problems


@register(Tags.security, deploy=True)
def check_deploy(app_configs: Any, **kwargs: Any) -> list[Any]:
    warnings: list[Any] = []
    if not settings.HTTPS:
        warnings.append(
            Warning(
                "SEALBOX_BASE_URL is not https: links in notifications and the session "
                "cookie would travel in the clear.",
                hint="Serve the portal over HTTPS (behind a TLS proxy) and set SEALBOX_BASE_URL=https://...",
                id="sealbox.W001",
            )
        )
    if not settings.INTERNAL_DOMAINS:
        warnings.append(
            Warning(
                "SEALBOX_INTERNAL_DOMAINS is empty: mail for the organisation's own "
                "addresses would be stored as portal mailboxes.",
                hint="List the organisation's mail domains, e.g. SEALBOX_INTERNAL_DOMAINS=example.org",
                id="sealbox.W002",
            )
        )
    if not settings.RELAY_URL:
        warnings.append(
            Warning(
                "SEALBOX_RELAY_URL is not set: notifications are only written to "
                f"{settings.OUTBOX_DIR}, nobody receives them.",
                id="sealbox.W003",
            )
        )
    if settings.DATABASES["default"]["ENGINE"].endswith("sqlite3"):
        warnings.append(
            Warning(
                "The database is SQLite: fine for one host, but web, SMTP and worker "
                "processes on several hosts need PostgreSQL.",
                hint="Set SEALBOX_DATABASE_URL=postgres://... to scale out.",
                id="sealbox.W004",
            )
        )
    from sealbox.accounts import passkeys

    if not passkeys.available():
        warnings.append(
            Warning(
                f"The portal's address {settings.BASE_URL} is an IP address: browsers "
                "allow passkeys only for host names, so recipients cannot add any.",
                hint="Give the portal a host name in SEALBOX_BASE_URL.",
                id="sealbox.W006",
            )
        )
    return warnings


@register(Tags.security, deploy=True)
def check_python(app_configs: Any, **kwargs: Any) -> list[Any]:
    """The email package of older Pythons writes encoded line breaks out as real
    ones (CVE-2024-6923). Sealbox re-checks every message it sends, but the fixed
    Python is the real cure."""
    import sys

    fixed = {(3, 11): 10, (3, 12): 5}
    minor = sys.version_info[:2]
    if minor in fixed and sys.version_info[2] < fixed[minor]:
        return [
            Warning(
                f"Python {sys.version.split()[0]} has known flaws in its email package "
                "(CVE-2024-6923, CVE-2023-27043).",
                hint=f"Run Sealbox on Python {minor[0]}.{minor[1]}.{fixed[minor]} or newer.",
                id="sealbox.W005",
            )
        ]
    return []


@register(Tags.compatibility)
def check_address_settings(app_configs: Any, **kwargs: Any) -> list[Any]:
    """Domains and addresses in settings must have a canonical form to be compared in."""
    from sealbox import addresses

    errors: list[Any] = []
    for domain in settings.INTERNAL_DOMAINS:
        try:
            addresses.canonical_domain(domain.strip().lstrip("@"))
        except addresses.InvalidAddress:
            errors.append(
                Error(
                    f"SEALBOX_INTERNAL_DOMAINS: {domain!r} is not a valid domain.",
                    hint="List mail domains such as example.org (IDNA 2008).",
                    id="sealbox.E020",
                )
            )
    for entry in settings.COMPOSE_ALLOWED_RECIPIENTS:
        try:
            addresses.normalize(entry)
        except addresses.InvalidAddress:
            errors.append(
                Error(
                    f"SEALBOX_COMPOSE_ALLOWED_RECIPIENTS: {entry!r} is not a valid address.",
                    id="sealbox.E021",
                )
            )
    return errors


@register(Tags.database)
def check_account_addresses(app_configs: Any, databases: Any = None, **kwargs: Any) -> list[Any]:
    """Accounts not kept under their canonical form: no mail or sign-in reaches them.

    A database check: `sealbox check --database default` (and `sealbox migrate`) run it.
    """
    if not databases or "default" not in databases:
        return []
    from django.db import DatabaseError, connection
    from django.db.migrations.recorder import MigrationRecorder

    from sealbox import addresses
    from sealbox.accounts.models import User

    stranded = []
    try:
        if ("accounts", "0006_canonical_addresses") not in MigrationRecorder(
            connection
        ).applied_migrations():
            return []  # `sealbox migrate` is about to put them in canonical form
        for email in User.objects.values_list("email", flat=True).iterator():
            try:
                if addresses.normalize(email) == email:
                    continue
            except addresses.InvalidAddress:
                pass
            stranded.append(email)
    except DatabaseError:
        return []  # no database yet: `sealbox migrate` comes first
    if not stranded:
        return []
    shown = ", ".join(repr(e) for e in stranded[:10])
    more = f" and {len(stranded) - 10} more" if len(stranded) > 10 else ""
    return [
        Warning(
            f"{len(stranded)} account(s) are kept under an address that is not in canonical "
            f"form, so neither mail nor sign-in reaches them: {shown}{more}.",
            hint="Run `sealbox migrate`. What it leaves are addresses that are no longer "
            "valid (docs/operations.md, 'Addresses'): `sealbox mailbox list ADDRESS` shows "
            "what one holds, `sealbox user delete ADDRESS` removes it.",
            id="sealbox.W020",
        )
    ]


@register(Tags.security, deploy=True)
def check_private_files(app_configs: Any, **kwargs: Any) -> list[Any]:
    """Sessions, TOTP secrets and stored mail must be the service user's alone."""
    from sealbox import datadir

    return [
        Error(
            f"{path} is open to other users (mode {mode:04o}): they could read sessions, "
            "two-factor secrets and stored mail.",
            hint=f"{datadir.close_hint(path)} (sealbox migrate does it for files this user owns).",
            id="sealbox.E007",
        )
        for path, mode in datadir.exposed()
    ]

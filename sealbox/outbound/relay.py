"""The one place that hands outgoing mail over: the SMTP relay, or the outbox folder.

SEALBOX_RELAY_URL is smtp://host[:25], smtp+starttls://host[:587] or
smtps://host[:465], with optional user:password@. Without it, each email is
written as an .eml file to $SEALBOX_DATA_DIR/outbox/ so that a new install
shows what it would have sent. Everything handed over carries Sealbox's
mark (loopmark), so that the intake knows it if a gateway routes it back.
"""

from __future__ import annotations

import os
import smtplib
import ssl
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlsplit

from django.conf import settings
from django.utils import timezone

from sealbox import addresses
from sealbox.mailstore.blobs import fsync_dir
from sealbox.outbound import loopmark

SCHEMES = {"smtp": 25, "smtp+starttls": 587, "smtps": 465}


class RelayError(Exception):
    def __init__(self, text: str, *, temporary: bool) -> None:
        super().__init__(text)
        self.temporary = temporary


@dataclass(frozen=True)
class Relay:
    scheme: str
    host: str
    port: int
    username: str | None
    password: str | None = field(repr=False)  # kept out of logs and tracebacks

    def __str__(self) -> str:  # never shows the password
        return f"{self.scheme}://{self.host}:{self.port}"


def parse_relay_url(url: str) -> Relay:
    parts = urlsplit(url)
    if parts.scheme not in SCHEMES or not parts.hostname:
        raise ValueError("expected smtp://, smtp+starttls:// or smtps:// with a host name")
    return Relay(
        scheme=parts.scheme,
        host=parts.hostname,
        port=parts.port or SCHEMES[parts.scheme],
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
    )


def ascii_address(address: str) -> str:
    """The address with its domain in IDNA 2008 (xn--) form when the local part is ASCII.

    Mailboxes are kept under Unicode domains; this form reaches them through
    relays without SMTPUTF8 ("ß" stays "ß": xn--strae-oqa, not "ss").
    """
    local, at, domain = address.rpartition("@")
    if not at or domain.isascii() or not local.isascii():
        return address
    try:
        return f"{local}@{addresses.ascii_domain(domain)}"
    except addresses.InvalidAddress:
        return address


def configured_relay() -> Relay | None:
    return parse_relay_url(settings.RELAY_URL) if settings.RELAY_URL else None


def hand_over(mail_from: str, recipients: list[str], data: bytes) -> str:
    """Hand one message to the relay (or the outbox directory), with Sealbox's mark on it;
    return where it went."""
    data = loopmark.mark(data)
    relay = configured_relay()
    if relay is None:
        try:
            return str(write_to_outbox(data))
        except OSError as e:
            raise RelayError(f"cannot write to {settings.OUTBOX_DIR}: {e}", temporary=True) from e
    return send_smtp(relay, mail_from, recipients, data)


def write_to_outbox(data: bytes) -> Path:
    outbox = Path(settings.OUTBOX_DIR)
    outbox.mkdir(parents=True, exist_ok=True)
    name = f"{timezone.now():%Y%m%d-%H%M%S}-{uuid.uuid4().hex[:12]}.eml"
    tmp = outbox / f".{name}.tmp"
    # Readable by the service user alone, whatever the umask (it may hold a reply's text).
    with os.fdopen(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    final = outbox / name
    os.rename(tmp, final)
    fsync_dir(outbox)
    return final


def _needs_smtputf8(addresses: list[str], data: bytes = b"") -> bool:
    """UTF-8 in an address, or raw UTF-8 in the header section (RFC 6532)."""
    end = data.find(b"\r\n\r\n")
    headers = data[: end if end >= 0 else len(data)]
    return any(not a.isascii() for a in addresses) or not headers.isascii()


def send_smtp(relay: Relay, mail_from: str, recipients: list[str], data: bytes) -> str:
    context = ssl.create_default_context()
    timeout = settings.RELAY_TIMEOUT
    try:
        client: smtplib.SMTP
        if relay.scheme == "smtps":
            client = smtplib.SMTP_SSL(relay.host, relay.port, timeout=timeout, context=context)
        else:
            client = smtplib.SMTP(relay.host, relay.port, timeout=timeout)
        with client:
            client.ehlo(settings.SMTP_HOSTNAME)
            if relay.scheme == "smtp+starttls":
                client.starttls(context=context)
                client.ehlo(settings.SMTP_HOSTNAME)
            if relay.username:
                client.login(relay.username, relay.password or "")
            options = ["SMTPUTF8"] if _needs_smtputf8([mail_from, *recipients], data) else []
            refused = client.sendmail(mail_from, recipients, data, mail_options=options)
    except smtplib.SMTPRecipientsRefused as e:
        codes = [code for code, _ in e.recipients.values()]
        text = "; ".join(
            f"<{r}>: {c} {m.decode(errors='replace')}" for r, (c, m) in e.recipients.items()
        )
        raise RelayError(
            f"{relay} refused every recipient: {text}", temporary=all(c < 500 for c in codes)
        ) from e
    except smtplib.SMTPResponseException as e:
        message = (
            e.smtp_error.decode(errors="replace")
            if isinstance(e.smtp_error, bytes)
            else str(e.smtp_error)
        )
        raise RelayError(
            f"{relay} answered {e.smtp_code} {message}", temporary=e.smtp_code < 500
        ) from e
    except (TimeoutError, OSError, smtplib.SMTPException) as e:
        raise RelayError(f"{relay}: {e.__class__.__name__}: {e}", temporary=True) from e
    if refused:
        text = "; ".join(
            f"<{r}>: {c} {m.decode(errors='replace')}" for r, (c, m) in refused.items()
        )
        return f"{relay}, some recipients refused: {text}"
    return str(relay)

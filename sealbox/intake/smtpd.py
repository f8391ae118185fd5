"""The SMTP intake server (aiosmtpd), answering the organisation's mail gateway.

Every accepted message goes through deliver(); the 250 is sent only after it
returned, that is after the files are fsynced and the rows committed.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import ssl
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from aiosmtpd.smtp import SMTP, Envelope, Session
from django.conf import settings
from django.db import close_old_connections

from sealbox.intake.delivery import (
    DeliveryError,
    Trace,
    check_recipient,
    check_room,
    check_storage,
    deliver,
    temporary_failure,
)

log = logging.getLogger(__name__)

# aiosmtpd's own replies, given RFC 3463 enhanced status codes and plain words.
_REWRITES = {
    "552 Error: Too much mail data": "552 5.3.4 Message too big for this system",
    "552 Error: message size exceeds fixed maximum message size": "552 5.3.4 Message too big for this system",
}


class SealboxSMTP(SMTP):
    # Real-world mail has lines over the RFC's 1000 octets; accept them
    # as they are rather than refuse the recipient's mail.
    line_length_limit = 1024 * 1024

    async def push(self, status: Any) -> None:
        if isinstance(status, str):
            status = _REWRITES.get(status, status)
        await super().push(status)


def client_allowed(peer: Any) -> bool:
    try:
        ip = ipaddress.ip_address(peer[0])
    except (TypeError, ValueError, IndexError):
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return any(ip in net for net in settings.SMTP_ALLOWED_NETWORKS)


NOT_ALLOWED = "550 5.7.1 Your host is not allowed to deliver mail to this server"


class DeliveryHandler:
    def __init__(self, executor: ThreadPoolExecutor) -> None:
        self.executor = executor

    async def handle_MAIL(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if not client_allowed(session.peer):
            log.warning("refused mail from %s: not in SEALBOX_SMTP_ALLOWED_NETWORKS", session.peer)
            return NOT_ALLOWED
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 2.1.0 Sender OK"

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if not client_allowed(session.peer):
            return NOT_ALLOWED
        if len(envelope.rcpt_tos) >= settings.SMTP_MAX_RECIPIENTS:
            return "452 4.5.3 Too many recipients, send the rest in another transaction"
        try:
            normalized = check_recipient(address)
            # The data directory nearly full: the gateway keeps the mail for now.
            check_storage(_declared_size(envelope) * (len(envelope.rcpt_tos) + 1))
            # A full mailbox is refused here, for this recipient alone, when
            # it cannot take the size the client declared (or any more at all).
            await asyncio.get_running_loop().run_in_executor(
                self.executor, _check_room_in_thread, normalized, _declared_size(envelope)
            )
        except DeliveryError as e:
            log.info("refused recipient <%s>: %s", address, e.text)
            return e.smtp_reply
        except Exception as e:
            # The database is down or busy: the gateway keeps the mail and tries again.
            log.error("could not check the mailbox of <%s>, answered 451: %s", address, e)
            return temporary_failure().smtp_reply
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(options)
        return "250 2.1.5 Recipient OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if not client_allowed(session.peer):
            return NOT_ALLOWED
        data = envelope.original_content or b""
        trace = Trace(
            helo=str(session.host_name or ""),
            client_ip=str(session.peer[0]) if session.peer else "",
            protocol=_protocol(session, envelope),
        )
        loop = asyncio.get_running_loop()
        try:
            stored = await loop.run_in_executor(
                self.executor,
                _deliver_in_thread,
                envelope.mail_from or "",
                list(envelope.rcpt_tos),
                data,
                trace,
            )
        except DeliveryError as e:
            return e.smtp_reply
        except Exception as e:  # deliver() answers its own failures; this is a last guard
            log.error("delivery from <%s> failed, answered 451: %s", envelope.mail_from, e)
            return temporary_failure().smtp_reply
        ids = " ".join(m.id.hex[:12] for m in stored)
        return f"250 2.0.0 Stored for {len(stored)} recipient(s) as {ids}"


def _declared_size(envelope: Envelope) -> int:
    """The SIZE= the client gave in MAIL FROM (RFC 1870), or 1: the message is not empty."""
    for option in envelope.mail_options:
        name, _, value = option.partition("=")
        if name.upper() == "SIZE" and value.isdigit():
            return max(int(value), 1)
    return 1


def _check_room_in_thread(address: str, size: int) -> None:
    close_old_connections()
    try:
        check_room(address, size)
    finally:
        close_old_connections()


def _protocol(session: Session, envelope: Envelope) -> str:
    proto = "ESMTP" if session.extended_smtp else "SMTP"
    if "SMTPUTF8" in (o.upper() for o in envelope.mail_options):
        proto = "UTF8SMTP"
    if session.ssl:
        proto += "S"
    return proto


def _deliver_in_thread(mail_from: str, rcpts: list[str], data: bytes, trace: Trace) -> list:
    close_old_connections()
    try:
        return deliver(mail_from, rcpts, data, trace)
    finally:
        close_old_connections()


def tls_context() -> ssl.SSLContext | None:
    cert, key = settings.SMTP_TLS_CERT, settings.SMTP_TLS_KEY
    if not cert or not key:
        return None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(str(cert), str(key))
    return context


async def start_server(host: str, port: int, executor: ThreadPoolExecutor) -> asyncio.Server:
    handler = DeliveryHandler(executor)
    context = tls_context()

    def factory() -> SealboxSMTP:
        return SealboxSMTP(
            handler,
            data_size_limit=settings.SMTP_MAX_MESSAGE_SIZE,
            enable_SMTPUTF8=True,
            decode_data=False,
            hostname=settings.SMTP_HOSTNAME,
            ident="Sealbox ESMTP",
            tls_context=context,
            timeout=300,
        )

    loop = asyncio.get_running_loop()
    return await loop.create_server(factory, host=host, port=port, reuse_address=True)

"""The SMTP intake server (aiosmtpd), answering the organisation's mail gateway.

Every accepted message goes through deliver(); the 250 is sent only after it
returned, that is after the files are fsynced and the rows committed. Sessions
are kept within bounds: who may connect, how many at once, how long a command
line, how long without progress (docs/operations.md, "Limits of the SMTP intake").
"""

from __future__ import annotations

import asyncio
import functools
import ipaddress
import logging
import ssl
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from aiosmtpd.smtp import SMTP, Envelope, Session, syntax
from django.conf import settings
from django.db import close_old_connections

from sealbox import addresses
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
    "500 Command line too long": "500 5.5.2 Line too long",
}

# RFC 5321 4.5.3.1.4: a command line is at most 512 octets. MAIL FROM may carry
# more (RFC 1869): SIZE= (RFC 1870, 26), SMTPUTF8 (RFC 6531, 10) and BODY=8BITMIME.
COMMAND_LINE = 512
MAIL_LINE = COMMAND_LINE + 26 + 10 + 15
# Between commands no more than this is read ahead of a line end: a longer line
# is drained and answered 500, never held in memory.
COMMAND_BUFFER = 1024
# Real-world mail has lines over the RFC's 1000 octets; DATA takes them as they are.
DATA_LINE = 1024 * 1024

# A session that makes no progress is ended (421 4.7.0): this many junk commands
# (NOOP, RSET, VRFY, HELP, HELO/EHLO again, empty or over-long lines) without a
# stored message, or this many commands per allowed recipient plus a margin.
JUNK_LIMIT = 20
COMMANDS_PER_RECIPIENT = 2
COMMANDS_MARGIN = 50
_JUNK = frozenset({"NOOP", "RSET", "VRFY", "EXPN", "HELP", "HELO", "EHLO"})
_JUNK_REPLIES = frozenset({"500 5.5.2 Line too long", "500 Error: bad syntax"})
# Commands that move the idle deadline; junk does not.
_PROGRESS = frozenset({"MAIL", "RCPT", "DATA", "STARTTLS"})


def client_ip(peer: Any) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        ip = ipaddress.ip_address(peer[0])
    except (TypeError, ValueError, IndexError):
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        return ip.ipv4_mapped
    return ip


def client_allowed(peer: Any) -> bool:
    ip = client_ip(peer)
    return ip is not None and any(ip in net for net in settings.SMTP_ALLOWED_NETWORKS)


@dataclass
class Connections:
    """The sessions one server has open, in all and per client address."""

    total: int = 0
    per_client: Counter[str] = field(default_factory=Counter)

    def admit(self, client: str) -> str | None:
        """Count a new session in, or say why not."""
        if self.total >= settings.SMTP_MAX_CONNECTIONS:
            return "SEALBOX_SMTP_MAX_CONNECTIONS"
        if self.per_client[client] >= settings.SMTP_MAX_CONNECTIONS_PER_CLIENT:
            return "SEALBOX_SMTP_MAX_CONNECTIONS_PER_CLIENT"
        self.total += 1
        self.per_client[client] += 1
        return None

    def release(self, client: str) -> None:
        self.total -= 1
        self.per_client[client] -= 1
        if self.per_client[client] <= 0:
            del self.per_client[client]


class SealboxSMTP(SMTP):
    """aiosmtpd's SMTP session with the limits an Internet-facing port needs.

    Hooks aiosmtpd 1.4's session (_handle_client, _reset_timeout, _timeout_cb):
    clients outside SEALBOX_SMTP_ALLOWED_NETWORKS and those over the connection
    caps are answered at once and closed; command lines are read at most
    COMMAND_BUFFER octets ahead; the idle timer is moved by progress only, and a
    session ends at SEALBOX_SMTP_SESSION_LIMIT whatever it does.
    """

    line_length_limit = DATA_LINE

    def __init__(self, handler: Any, *, connections: Connections, **kwargs: Any) -> None:
        super().__init__(handler, **kwargs)
        self.connections = connections
        self.client = ""  # the address counted in connections, once admitted
        # aiosmtpd keeps these limits in a dict shared by every session and adds
        # room for SIZE and SMTPUTF8 to it at each EHLO: keep fixed ones per session.
        self.command_size_limits = _command_limits()
        now = self.loop.time()
        self.idle_deadline = now + self._timeout_duration
        self.session_deadline = now + settings.SMTP_SESSION_LIMIT
        self.junk = 0
        self.commands = 0
        self.last_reply = ""
        self._smtp_methods = {
            name: self._counted(name, method) for name, method in self._smtp_methods.items()
        }

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self._reader._limit = COMMAND_BUFFER  # type: ignore[attr-defined]

    def connection_lost(self, error: Exception | None) -> None:
        if self.client:
            self.connections.release(self.client)
            self.client = ""
        super().connection_lost(error)

    async def _handle_client(self) -> None:
        assert self.session is not None
        ip = client_ip(self.session.peer)
        if ip is None or not client_allowed(self.session.peer):
            log.warning(
                "refused connection from %s: not in SEALBOX_SMTP_ALLOWED_NETWORKS",
                self.session.peer,
            )
            await self._end(f"554 5.7.1 {self.hostname} Your host is not allowed to connect")
            return
        over = self.connections.admit(str(ip))
        if over is not None:
            log.warning("refused connection from %s: over %s", ip, over)
            await self._end(f"421 4.7.0 {self.hostname} Too many connections, try again later")
            return
        self.client = str(ip)
        await super()._handle_client()

    async def _end(self, reply: str) -> None:
        await SMTP.push(self, reply)
        if self.transport is not None:
            self.transport.close()

    def _reset_timeout(self, duration: float | None = None) -> None:
        # aiosmtpd re-arms its timer at connect and before every command it knows,
        # NOOP included: here the timer runs to the idle deadline, which only
        # progress moves (_counted), or to the end of the session if that is sooner.
        deadline = min(self.idle_deadline, self.session_deadline)
        super()._reset_timeout(max(deadline - self.loop.time(), 0.001))

    def _timeout_cb(self) -> None:
        assert self.session is not None
        if self.transport is not None and not self.transport.is_closing():
            late = self.loop.time() >= self.session_deadline - 0.01
            why = "Session too long" if late else "Idle too long"
            log.info("%r: %s, closing", self.session.peer, why.lower())
            self._writer.write(f"421 4.4.2 {self.hostname} {why}, closing\r\n".encode())
        super()._timeout_cb()

    def _counted(self, name: str, method: Callable[[Any], Awaitable[None]]) -> Any:
        async def run(arg: Any) -> None:
            self.commands += 1
            if name in _JUNK:
                self.junk += 1
            if await self._over_limits():
                return
            if name in _PROGRESS:
                self.idle_deadline = self.loop.time() + self._timeout_duration
                self._reset_timeout()
            await method(arg)
            if name == "DATA" and self.last_reply.startswith("250"):
                # A message was stored: the session is doing its job.
                self.junk = self.commands = 0

        # HELP reads the command's syntax from the method.
        return functools.update_wrapper(run, method)

    async def _over_limits(self) -> bool:
        limit = settings.SMTP_MAX_RECIPIENTS * COMMANDS_PER_RECIPIENT + COMMANDS_MARGIN
        if self.junk <= JUNK_LIMIT and self.commands <= limit:
            return False
        assert self.session is not None
        log.warning(
            "%r: %d commands (%d junk) without a message, closing",
            self.session.peer,
            self.commands,
            self.junk,
        )
        await self._end("421 4.7.0 Too many commands without a message, closing")
        return True

    @syntax("EHLO hostname")
    async def smtp_EHLO(self, hostname: str) -> None:
        await super().smtp_EHLO(hostname)
        self.command_size_limits = _command_limits()

    @syntax("DATA")
    async def smtp_DATA(self, arg: str) -> None:
        self._reader._limit = self.line_length_limit  # type: ignore[attr-defined]
        try:
            await super().smtp_DATA(arg)
        finally:
            self._reader._limit = COMMAND_BUFFER  # type: ignore[attr-defined]

    async def push(self, status: Any) -> None:
        if isinstance(status, str):
            status = _REWRITES.get(status, status)
            self.last_reply = status
        await super().push(status)
        if status in _JUNK_REPLIES:
            # Lines that never reach a command (over-long, empty) are junk too.
            self.junk += 1
            await self._over_limits()


def _command_limits() -> defaultdict[str, int]:
    return defaultdict(lambda: COMMAND_LINE, MAIL=MAIL_LINE)


class DeliveryHandler:
    def __init__(self, executor: ThreadPoolExecutor) -> None:
        self.executor = executor

    async def handle_MAIL(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if addresses.printable(address) != address:
            # Bytes that are not UTF-8: the sender is wrong for good, not for now.
            return "553 5.1.7 The sender address is not valid UTF-8"
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 2.1.0 Sender OK"

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
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
            log.info("refused recipient <%s>: %s", addresses.printable(address), e.text)
            return e.smtp_reply
        except Exception as e:
            # The database is down or busy: the gateway keeps the mail and tries again.
            log.error("could not check the mailbox of <%s>, answered 451: %s", address, e)
            return temporary_failure().smtp_reply
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(options)
        return "250 2.1.5 Recipient OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
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
    connections = Connections()

    def factory() -> SealboxSMTP:
        return SealboxSMTP(
            handler,
            connections=connections,
            data_size_limit=settings.SMTP_MAX_MESSAGE_SIZE,
            enable_SMTPUTF8=True,
            decode_data=False,
            hostname=settings.SMTP_HOSTNAME,
            ident="Sealbox ESMTP",
            tls_context=context,
            timeout=settings.SMTP_IDLE_TIMEOUT,
        )

    loop = asyncio.get_running_loop()
    return await loop.create_server(factory, host=host, port=port, reuse_address=True)

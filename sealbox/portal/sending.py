"""What a recipient sends from the portal: replies and new messages.

One function routes every address: the organisation's own addresses get the
message through the relay (by the durable outgoing queue); any other address
is never sent in the clear but delivered into that person's Sealbox mailbox
through the same deliver() as SMTP intake. The sender keeps a copy in Sent.
"""

from __future__ import annotations

import logging
import unicodedata
from dataclasses import dataclass
from datetime import timedelta
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP, SMTPUTF8
from email.utils import format_datetime, getaddresses, make_msgid

from django.conf import settings
from django.db import DatabaseError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from sealbox import addresses
from sealbox.accounts.models import User
from sealbox.intake.delivery import DeliveryError, MailboxFull, deliver, tell_full
from sealbox.mailstore import mailbox, opened, quota
from sealbox.mailstore.models import Message
from sealbox.mailstore.summary import message_id
from sealbox.outbound import queue
from sealbox.outbound.headers import SendError, check_built, sender_identity
from sealbox.outbound.models import SendRecord

log = logging.getLogger(__name__)

RELAY = "relay"
PORTAL = "portal"


@dataclass(frozen=True)
class Upload:
    filename: str
    content_type: str
    data: bytes


def route(address: str) -> str:
    """RELAY for the organisation's own addresses, PORTAL for everyone else."""
    return RELAY if addresses.is_internal(address) else PORTAL


# Every character that str.splitlines() breaks a line at. The email package
# refuses them all in a header value, so they must never get that far.
LINE_BREAKS = frozenset("\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029")


def has_line_break(value: str) -> bool:
    return any(ch in LINE_BREAKS for ch in value)


def _entries(value: str) -> list[str]:
    """A To/Cc field split at commas and semicolons outside quotes, <> and comments."""
    entries: list[str] = []
    current: list[str] = []
    quoted = escaped = False
    angle = comment = 0
    for ch in value:
        if escaped:
            escaped = False
        elif ch == "\\" and (quoted or comment):
            escaped = True
        elif ch == '"' and not comment:
            quoted = not quoted
        elif not quoted and ch in "<>()":
            if ch == "<":
                angle += 1
            elif ch == ">":
                angle = max(angle - 1, 0)
            elif ch == "(":
                comment += 1
            else:
                comment = max(comment - 1, 0)
        elif ch in ",;" and not (quoted or angle or comment):
            entries.append("".join(current))
            current = []
            continue
        current.append(ch)
    entries.append("".join(current))
    return [e.strip() for e in entries if e.strip()]


def parse_recipients(value: str) -> list[str]:
    """Addresses from a To/Cc field: comma- or semicolon-separated, with or without names.

    Each entry must be exactly one address: anything the email package would
    skip or split is refused, never silently dropped.
    """
    if has_line_break(value):
        raise SendError(_("Line breaks are not allowed in this field."))
    result: list[str] = []
    for entry in _entries(value):
        invalid = SendError(_("“%(value)s” is not a valid email address.") % {"value": entry})
        try:
            pairs = [pair for pair in getaddresses([entry]) if pair != ("", "")]
        except (RecursionError, ValueError, IndexError):
            raise invalid from None
        if len(pairs) != 1:
            raise invalid
        try:
            normalized = addresses.normalize(pairs[0][1])
            local, _at, domain = normalized.rpartition("@")
            Address(username=local, domain=domain)  # the email package agrees
        except (addresses.InvalidAddress, ValueError, IndexError):
            raise invalid from None
        if "." not in domain or any(unicodedata.category(ch) == "Cc" for ch in normalized):
            raise invalid
        if not addresses.is_plain(normalized):
            # Quoted local parts, "%" and "!" could be routed elsewhere by a relay.
            raise invalid
        if normalized not in result:
            result.append(normalized)
    return result


def participants(original: Message) -> set[str]:
    """Everyone on the original message: who a reply may go to."""
    msg = opened.read_headers(original)
    found = set()
    for header in ("From", "Reply-To", "To", "Cc", "Sender"):
        try:
            pairs = getaddresses([str(v) for v in msg.get_all(header, [])])
        except (RecursionError, ValueError, IndexError):
            continue
        for _name, addr in pairs:
            try:
                found.add(addresses.normalize(addr))
            except addresses.InvalidAddress:
                continue
    if original.envelope_from:
        try:
            found.add(addresses.normalize(original.envelope_from))
        except addresses.InvalidAddress:
            pass
    return found


def allowed_recipients() -> set[str]:
    """SEALBOX_COMPOSE_ALLOWED_RECIPIENTS in canonical form (an invalid entry allows nothing)."""
    found = set()
    for entry in settings.COMPOSE_ALLOWED_RECIPIENTS:
        try:
            found.add(addresses.normalize(entry))
        except addresses.InvalidAddress:
            continue  # reported by `sealbox check` (sealbox.E021)
    return found


def check_allowed(user: User, recipients: list[str], original: Message | None) -> None:
    """The portal must never become a way to mail the world.

    New messages go only to the organisation's domains and the operator's
    allow-list; a reply may also go to the people on the original message.
    """
    allowed = allowed_recipients()
    if original is not None:
        allowed |= participants(original)
    refused = [a for a in recipients if not addresses.is_internal(a) and a not in allowed]
    if refused:
        domains = ", ".join(settings.INTERNAL_DOMAINS) or "-"
        if original is None:
            text = _("You can only write to addresses at %(domains)s. Not allowed: %(refused)s.")
        else:
            text = _(
                "A reply can go to the people on the original message and to addresses at "
                "%(domains)s. Not allowed: %(refused)s."
            )
        raise SendError(text % {"domains": domains, "refused": ", ".join(refused)})


def check_rate(user: User) -> None:
    """Refuse a send over SEALBOX_COMPOSE_PER_HOUR; call inside the sending transaction.

    send() has locked the user's row already, so two sends at the same moment
    are counted one after the other.
    """
    limit = settings.COMPOSE_PER_HOUR
    since = timezone.now() - timedelta(hours=1)
    SendRecord.objects.filter(user=user, created__lt=since).delete()
    if SendRecord.objects.filter(user=user).count() >= limit:
        raise SendError(
            ngettext(
                "You have sent %(n)d message in the last hour, the most allowed. "
                "Please try again later.",
                "You have sent %(n)d messages in the last hour, the most allowed. "
                "Please try again later.",
                limit,
            )
            % {"n": limit}
        )


def safe_filename(name: str) -> str:
    name = unicodedata.normalize("NFC", name).replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if ch.isprintable() and ch not in '"<>:|?*')
    return name.strip(" .")[:200] or "attachment"


def build(
    user: User,
    to: list[str],
    cc: list[str],
    subject: str,
    body: str,
    uploads: list[Upload],
    original: Message | None,
) -> tuple[EmailMessage, str]:
    """The message as it will be sent, and its envelope sender."""
    if has_line_break(subject):
        raise SendError(_("Line breaks are not allowed in the subject."))
    from_header, envelope, reply_to = sender_identity(user)
    msg = EmailMessage(policy=SMTP)
    msg["From"] = from_header
    if reply_to:
        msg["Reply-To"] = reply_to
    msg["To"] = ", ".join(to)
    if cc:
        msg["Cc"] = ", ".join(cc)
    msg["Subject"] = subject
    msg["Date"] = format_datetime(timezone.now())
    msg["Message-ID"] = make_msgid(domain=settings.BASE_HOST)
    if original is not None and original.message_id:
        references = _references(original)
        msg["In-Reply-To"] = original.message_id
        msg["References"] = " ".join([*references, original.message_id])
    msg.set_content(body.replace("\r\n", "\n"))
    for upload in uploads:
        maintype, _slash, subtype = (upload.content_type or "application/octet-stream").partition(
            "/"
        )
        if not subtype or maintype in ("multipart", "message"):
            maintype, subtype = "application", "octet-stream"
        msg.add_attachment(
            upload.data, maintype=maintype, subtype=subtype, filename=safe_filename(upload.filename)
        )
    return msg, envelope


def _references(original: Message) -> list[str]:
    msg = opened.read_headers(original)
    value = " ".join(str(v) for v in msg.get_all("References", []))
    return [ref for ref in value.split() if message_id(ref)][-20:]


def send(
    user: User,
    *,
    to: list[str],
    cc: list[str],
    subject: str,
    body: str,
    uploads: list[Upload],
    original: Message | None = None,
) -> Message:
    """Send a reply or new message; return the copy kept in the sender's Sent folder."""
    recipients = [a for a in dict.fromkeys([*to, *cc]) if a != user.email]
    if not recipients:
        raise SendError(_("Add at least one recipient other than yourself."))
    if original is None and not user.may_compose:
        raise SendError(_("Writing new messages is not enabled for your mailbox."))
    check_allowed(user, recipients, original)
    msg, envelope = build(user, to, cc, subject, body, uploads, original)
    # A non-ASCII address anywhere (the sender's own one in Reply-To, too) needs
    # UTF-8 headers: an encoded word inside an address cannot be replied to.
    utf8 = any(not a.isascii() for a in [envelope, user.email, *recipients])
    data = msg.as_bytes(policy=SMTPUTF8 if utf8 else SMTP)
    check_built(data, {name.lower() for name in msg.keys()})
    internal = [a for a in recipients if route(a) == RELAY]
    outside = [a for a in recipients if route(a) == PORTAL]
    kind = "reply" if original is not None else "message"
    try:
        with transaction.atomic():
            # Every account this send touches, locked in address order (mailbox.store's
            # order): two mailboxes writing to each other at once cannot deadlock.
            quota.lock_accounts(User.objects.filter(email__in=[user.email, *outside]))
            check_rate(user)
            # The copy in Sent counts towards the sender's own storage.
            if not quota.has_room(user.email, len(data)):
                raise SendError(
                    _(
                        "This message is larger than your whole mailbox, so no copy of it "
                        "could be kept. Send it with smaller attachments."
                    )
                    if quota.larger_than_mailbox(user, len(data))
                    else _(
                        "Your mailbox is full, so no copy of this message could be kept. "
                        "Delete some messages to make room, then send it again."
                    )
                )
            if internal:
                queue.enqueue(msg, kind=kind, recipients=internal, mail_from=envelope, data=data)
            if outside:
                stored = deliver(user.email, outside, data, bounce_full=False)
                # Portal-to-portal mail: never a read receipt (receipts.py).
                Message.objects.filter(id__in=[m.id for m in stored]).update(from_portal=True)
            sent = mailbox.store_sent(user, data)
            SendRecord.objects.create(user=user)
    except MailboxFull as e:
        log.warning("%s from %s not sent: %s", kind, user.email, e.text)
        # deliver() told them inside the transaction that was just rolled back.
        tell_full(list(User.objects.filter(email__in=e.full)), size=len(data))
        filled = [a for a in e.full if a not in e.too_large]
        if filled:
            raise SendError(
                _("Not sent: the secure mailbox of %(addresses)s is full.")
                % {"addresses": ", ".join(filled)}
            ) from e
        raise SendError(
            _("Not sent: this message is larger than the whole secure mailbox of %(addresses)s.")
            % {"addresses": ", ".join(e.too_large)}
        ) from e
    except DeliveryError as e:
        log.error("%s from %s not sent: %s", kind, user.email, e.text)
        raise SendError(_("Your message could not be sent just now. Please try again.")) from e
    except (OSError, DatabaseError) as e:
        log.error("%s from %s not sent: %s", kind, user.email, e)
        raise SendError(_("Your message could not be sent just now. Please try again.")) from e
    log.info(
        "%s %s from %s: %d via relay, %d to Sealbox mailboxes",
        kind, sent.id, user.email, len(internal), len(outside),
    )  # fmt: skip
    return sent

"""Read receipts: an RFC 8098 message disposition notification to the sender.

SEALBOX_READ_RECEIPTS is the operator's policy:

- "off": never a receipt; the reader is not asked and sees no setting.
- "ask" (the default): when a message asks for a receipt (Disposition-
  Notification-To), the reader decides. Their personal setting
  (User.read_receipts) is "ask" (the message page asks "Send receipt" /
  "Don't send", and nothing goes before they answer), "always" (sent without
  asking when the message asks) or "never" (not asked, never sent).
- "requested": sent without asking when the message asks for one.
- "always": sent without asking, to the requesting or, failing that, the
  original sender.

Under "requested" and "always" the operator has decided: the reader's own
setting is not consulted (the settings page says so). decision() is the one
place this rule lives.

Whatever the policy, a receipt goes out at most once per message, only to
the organisation's own addresses (decided on the address the receipt is
actually sent to), never to Sealbox's own addresses, and never for a message
the recipient sent or one another recipient wrote through the portal
(Message.from_portal: its subject and both outside addresses would travel in
the clear). A receipt the reader declined is never sent.
"""

from __future__ import annotations

import email.message
import logging
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, getaddresses, make_msgid
from typing import NamedTuple

from django.conf import settings
from django.db import transaction
from django.template.loader import render_to_string
from django.utils import timezone

from sealbox import addresses, branding
from sealbox.accounts import languages
from sealbox.accounts.models import ReadReceipts
from sealbox.mailstore import opened
from sealbox.mailstore.models import Message
from sealbox.mailstore.summary import decode_header_value
from sealbox.outbound import queue
from sealbox.outbound.headers import check_built, sender_identity

log = logging.getLogger(__name__)


def _first_address(values: list[str]) -> str | None:
    try:
        pairs = getaddresses(values)
    except (RecursionError, ValueError, IndexError):
        return None
    for _name, addr in pairs:
        try:
            return addresses.normalize(addr)
        except addresses.InvalidAddress:
            continue
    return None


SEND = "send"
ASK = "ask"
SKIP = "skip"


class Decision(NamedTuple):
    """What happens about a message's receipt: SEND it without asking, ASK the reader, or SKIP.

    headers: the message's own top-level headers when deciding had to read
    them, so that build() does not read (and, sealed, decrypt) the file again.
    """

    action: str
    target: str | None = None
    headers: email.message.Message | None = None


def decision(message: Message) -> Decision:
    """The one rule for a message's read receipt: operator policy, then the reader's setting.

    SKIP once a receipt was sent or declined, for a message that does not ask
    (or may not have) one, and for a message whose headers cannot be read.
    Everything that needs no file is decided first: the stored message is
    read only when a receipt could still be asked for or sent. Decide once per
    request and hand the answer on (question(), message_opened(),
    reader_answered()).
    """
    if message.receipt_sent_at is not None or message.receipt_declined_at is not None:
        return Decision(SKIP)
    if not _may_have_receipt(message):
        return Decision(SKIP)
    operator_decided = settings.READ_RECEIPTS != "ask"  # "requested" or "always"
    choice = message.owner.read_receipts
    if not operator_decided and choice == ReadReceipts.NEVER:
        return Decision(SKIP)
    try:
        headers = opened.read_headers(message)
        target = _target(message, headers)
    except Exception:
        # Whatever a hostile message holds, reading it must never fail for this.
        log.warning("no read receipt for message %s", message.id, exc_info=True)
        return Decision(SKIP)
    if target is None:
        return Decision(SKIP)
    if operator_decided or choice == ReadReceipts.ALWAYS:
        return Decision(SEND, target, headers)
    return Decision(ASK, target, headers)


def question(message: Message, plan: Decision | None = None) -> str | None:
    """Whom the reader is asked about, when decision() (plan) leaves the receipt to them.

    The sender's name when the receipt would go to the From address, else the
    address it would go to; None when there is nothing to ask.
    """
    plan = decision(message) if plan is None else plan
    if plan.action != ASK or plan.target is None:
        return None
    if message.from_name and _first_address([message.from_address]) == plan.target:
        return message.from_name
    return plan.target


def _may_have_receipt(message: Message) -> bool:
    """Whether the policy and the message allow a receipt at all (no file read)."""
    return (
        settings.READ_RECEIPTS != "off"
        and message.folder == Message.Folder.INBOX
        and not message.from_portal
    )


def receipt_target(message: Message) -> str | None:
    """Where a receipt for this message goes under the configured policy, if anywhere.

    Under "ask" and "requested", only to a sender who asked for one.
    """
    if not _may_have_receipt(message):
        return None
    return _target(message, opened.read_headers(message))


def _target(message: Message, msg: email.message.Message) -> str | None:
    """receipt_target() on headers already read."""
    mode = settings.READ_RECEIPTS
    requested = _first_address([str(v) for v in msg.get_all("Disposition-Notification-To", [])])
    sender = _first_address([str(v) for v in msg.get_all("From", [])])
    envelope = _first_address([message.envelope_from]) if message.envelope_from else None
    # A receipt goes back to whoever sent the message, never to a third
    # address the message names (RFC 8098 would ask the reader first).
    if requested is not None and requested not in (sender, envelope):
        requested = None
    target = requested
    if target is None and mode == "always":
        target = sender or envelope
    if target is None or not addresses.is_internal(target) or not addresses.is_plain(target):
        return None
    if target in _own_addresses():
        return None
    return target


def _own_addresses() -> set[str]:
    """Sealbox's own sending addresses: a receipt there would only leak the subject."""
    own = {_first_address([settings.NOTIFY_FROM]), _first_address([settings.PORTAL_ADDRESS])}
    return {a for a in own if a}


def build(
    message: Message,
    target: str,
    *,
    manual: bool = False,
    original: email.message.Message | None = None,
) -> EmailMessage:
    """The receipt; manual: the reader chose to send this one (RFC 8098 "MDN-sent-manually").

    original: the message's top-level headers, when already read (Decision.headers).
    """
    user = message.owner
    from_header, _envelope, _reply_to = sender_identity(user)
    context = {
        "reader": user.email,
        "subject": message.subject,
        "sent_date": message.sent_date,
        "read_at": message.read_at or timezone.now(),
        "site_name": str(branding.current().title),
    }
    # For the organisation's own sender: the operator's language, never the reader's.
    with languages.for_staff(), timezone.override(settings.TIME_ZONE):
        subject = " ".join(render_to_string("emails/receipt-subject.txt", context).split())
        text = render_to_string("emails/receipt-body.txt", context)

    report = EmailMessage(policy=SMTP)
    report["From"] = from_header
    report["To"] = target
    report["Subject"] = subject
    report["Date"] = format_datetime(timezone.now())
    report["Message-ID"] = make_msgid(domain=branding.notify_domain())
    report["Auto-Submitted"] = "auto-replied"
    if message.message_id:
        report["In-Reply-To"] = message.message_id
        report["References"] = message.message_id
    report.set_content(text)
    report.make_mixed()
    report.set_type("multipart/report")
    report.set_param("report-type", "disposition-notification")

    fields = [
        f"Reporting-UA: {settings.SMTP_HOSTNAME}; Sealbox",
        f"Final-Recipient: rfc822;{user.email}",
    ]
    if message.message_id:
        fields.append(f"Original-Message-ID: {message.message_id}")
    sending_mode = "MDN-sent-manually" if manual else "MDN-sent-automatically"
    fields.append(f"Disposition: manual-action/{sending_mode}; displayed")
    notification = EmailMessage(policy=SMTP)
    notification.set_content(
        ("\r\n".join(fields) + "\r\n").encode("utf-8"),
        maintype="message",
        subtype="disposition-notification",
        cte="7bit" if all(f.isascii() for f in fields) else "8bit",
    )
    report.attach(notification)

    original_headers = EmailMessage(policy=SMTP)
    if original is None:
        original = opened.read_headers(message)
    # The original's own header lines where they are plain ASCII (encoded
    # words intact), decoded text where the sender used raw 8-bit.
    header_text = "".join(
        f"{name}: {value if str(value).isascii() else decode_header_value(value)}\n"
        for name, value in original.items()
        if name.lower() in ("from", "to", "cc", "subject", "date", "message-id")
    )
    original_headers.set_content(header_text, subtype="rfc822-headers")
    report.attach(original_headers)
    return report


def message_opened(message: Message, plan: Decision | None = None) -> bool:
    """Queue the read receipt for a message just opened for the first time, if it
    goes without asking (decision(), or plan, is SEND).

    Returns whether one was queued. Safe against two openings at once: the
    receipt is claimed on the message row in the same transaction.
    """
    plan = decision(message) if plan is None else plan
    if plan.action != SEND or plan.target is None:
        return False
    return _queue(message, plan, manual=False)


def reader_answered(message: Message, *, send: bool, plan: Decision | None = None) -> bool:
    """The reader's answer to the message page's question: send the receipt, or not.

    Only a message whose receipt decision() leaves to the reader (ASK) is
    changed; an answer given twice, or for a message that asked nothing, does
    nothing. Returns whether the answer was recorded (and, for send, the
    receipt queued in the same transaction).
    """
    plan = decision(message) if plan is None else plan
    if plan.action != ASK or plan.target is None:
        return False
    if send:
        return _queue(message, plan, manual=True)
    declined = Message.objects.filter(
        id=message.id, receipt_sent_at__isnull=True, receipt_declined_at__isnull=True
    ).update(receipt_declined_at=timezone.now())
    if declined:
        log.info("read receipt for message %s declined by its reader", message.id)
    return bool(declined)


def _queue(message: Message, plan: Decision, *, manual: bool) -> bool:
    target = plan.target
    assert target is not None
    try:
        report = build(message, target, manual=manual, original=plan.headers)
        data = report.as_bytes()
        check_built(data, {name.lower() for name in report.keys()})
    except Exception:
        # Whatever a hostile message holds, reading it must never fail for this.
        log.warning("no read receipt for message %s", message.id, exc_info=True)
        return False
    with transaction.atomic():
        claimed = Message.objects.filter(
            id=message.id, receipt_sent_at__isnull=True, receipt_declined_at__isnull=True
        ).update(receipt_sent_at=timezone.now())
        if not claimed:
            return False
        queue.enqueue(report, kind="receipt", recipients=[target], mail_from="", data=data)
    log.info("read receipt for message %s queued to %s", message.id, target)
    return True

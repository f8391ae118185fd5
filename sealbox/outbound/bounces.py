"""Delivery status notifications (RFC 3464) for mail accepted but not stored for everyone.

SMTP has one reply to a message's data for all its recipients. When some of
them have room and others do not, the message is stored for those with room
and the sender gets this report for the rest, as any mail server would send.
The report names the message by its Message-ID and date; it does not repeat
its subject or content, since it travels outside the secure mailbox. Its
human-readable part is in the operator's language (SEALBOX_LANGUAGE).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from email import message_from_string
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, make_msgid
from typing import TYPE_CHECKING

from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext as _

from sealbox import branding
from sealbox.accounts import languages
from sealbox.outbound import queue, relay

if TYPE_CHECKING:
    from sealbox.mailstore.mailbox import Trace
    from sealbox.mailstore.summary import Summary

log = logging.getLogger(__name__)


def mailbox_full(
    mail_from: str,
    full: list[str],
    summary: Summary,
    trace: Trace,
    too_large: Sequence[str] = (),
) -> None:
    """Queue a report of failure for the recipients whose mailbox is full.

    `too_large`: those of `full` whose whole mailbox is smaller than the message
    (mailstore/quota.larger_than_mailbox): making room would not help them.
    Call inside the delivery's transaction. A message with the null sender (a
    bounce itself) gets no report, so that two systems never bounce to each other.
    """
    if not mail_from:
        log.warning("no report for a bounce that found mailboxes full: %s", ", ".join(full))
        return
    reporting = settings.SMTP_HOSTNAME
    larger = [a for a in full if a in set(too_large)]
    filled = [a for a in full if a not in set(too_large)]
    original = summary.message_id or "(none)"
    # For the organisation's own sender: in the operator's language.
    with languages.for_staff():
        paragraphs = [_("This is the mail system at %(host)s.") % {"host": reporting}]
        for addresses, reason in (
            (
                filled,
                _(
                    "Your message %(id)s could not be delivered to the following recipients, "
                    "because their secure mailbox is full:"
                ),
            ),
            (
                larger,
                _(
                    "Your message %(id)s could not be delivered to the following recipients, "
                    "because it is larger than their whole secure mailbox:"
                ),
            ),
        ):
            if addresses:
                paragraphs += [
                    reason % {"id": original},
                    "\n".join(f"  <{address}>" for address in addresses),
                ]
        if not larger:
            paragraphs.append(
                _(
                    "It was delivered to its other recipients. The recipients above have been "
                    "told that their mailbox is full; you may send the message again once they "
                    "have made room."
                )
            )
        else:
            paragraphs.append(_("It was delivered to its other recipients."))
            if filled:
                paragraphs.append(
                    _(
                        "The recipients whose mailbox is full have been told; you may send the "
                        "message again to them once they have made room."
                    )
                )
            paragraphs.append(
                _(
                    "Sending it again would not help the recipients whose mailbox is smaller "
                    "than the message: send it in smaller parts, or another way."
                )
            )
        text = "\n\n".join(paragraphs) + "\n"
        subject = (
            _("Undelivered Mail: recipient's secure mailbox is full")
            if filled
            else _("Undelivered Mail: larger than the recipient's secure mailbox")
        )
    status = [
        f"Reporting-MTA: dns; {reporting}",
        f"Arrival-Date: {format_datetime(timezone.now())}",
    ]
    for address in full:
        code, why = (
            ("5.2.3", "the message is larger than the recipient's whole secure mailbox")
            if address in larger
            else ("5.2.2", "the recipient's secure mailbox is full")
        )
        status += [
            "",
            f"Final-Recipient: rfc822; {relay.ascii_address(address)}",
            "Action: failed",
            f"Status: {code}",
            f"Remote-MTA: dns; {reporting}",
            f"Diagnostic-Code: smtp; 552 {code} {why}",
        ]
    headers = [f"Message-ID: {summary.message_id}"] if summary.message_id else []
    if summary.sent_date is not None:
        headers.append(f"Date: {format_datetime(summary.sent_date)}")

    report = EmailMessage(policy=SMTP)
    report["From"] = f"Mail Delivery System <MAILER-DAEMON@{reporting}>"
    report["To"] = relay.ascii_address(mail_from)
    report["Subject"] = subject
    report["Date"] = format_datetime(timezone.now())
    report["Message-ID"] = make_msgid(domain=branding.notify_domain())
    report["Auto-Submitted"] = "auto-replied"
    report.set_content(text)
    report.make_mixed()
    report.replace_header("Content-Type", 'multipart/report; report-type="delivery-status"')
    # The parser makes message/delivery-status the list of field blocks the generator writes.
    status_text = "Content-Type: message/delivery-status\n\n" + "\n".join(status) + "\n"
    report.attach(message_from_string(status_text, _class=EmailMessage, policy=SMTP))
    if headers:
        headers_part = EmailMessage(policy=SMTP)
        headers_part.set_content("\n".join(headers) + "\n", subtype="rfc822-headers")
        report.attach(headers_part)
    queue.enqueue(report, kind="bounce", recipients=[mail_from], mail_from="")

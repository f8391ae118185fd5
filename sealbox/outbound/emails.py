"""Outgoing emails built from template triplets: emails/<name>-subject.txt, -body.txt, -body.html."""

from __future__ import annotations

from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, make_msgid
from typing import Any

from django.conf import settings
from django.template.loader import render_to_string
from django.utils import timezone, translation

from sealbox import branding
from sealbox.outbound import queue, relay
from sealbox.outbound.models import OutgoingEmail


def build(
    name: str, context: dict[str, Any], to: str, mail_from: str | None = None
) -> EmailMessage:
    brand = branding.current()
    ctx = {"brand": brand, "site_name": brand.title, "base_url": settings.BASE_URL, **context}
    with translation.override(settings.LANGUAGE_CODE):
        subject = " ".join(render_to_string(f"emails/{name}-subject.txt", ctx).split())
        text = render_to_string(f"emails/{name}-body.txt", ctx)
        html = render_to_string(f"emails/{name}-body.html", ctx)
    msg = EmailMessage(policy=SMTP)
    msg["From"] = mail_from or branding.notify_from()
    msg["To"] = relay.ascii_address(to)
    msg["Subject"] = subject
    msg["Date"] = format_datetime(timezone.now())
    msg["Message-ID"] = make_msgid(domain=branding.notify_domain())
    msg["Auto-Submitted"] = "auto-generated"
    msg.set_content(text)
    msg.add_alternative(html, subtype="html")
    return msg


def send(name: str, context: dict[str, Any], to: str) -> OutgoingEmail:
    """Queue the email of template `name` to one address."""
    return queue.enqueue(build(name, context, to), kind=name, recipients=[to])


def notification(to: str, context: dict[str, Any]) -> OutgoingEmail:
    return queue.enqueue(build("notification", context, to), kind="notification", recipients=[to])


def activation(to: str, context: dict[str, Any]) -> OutgoingEmail:
    return queue.enqueue(build("activation", context, to), kind="activation", recipients=[to])


def reset(to: str, context: dict[str, Any]) -> OutgoingEmail:
    return queue.enqueue(build("reset", context, to), kind="reset", recipients=[to])

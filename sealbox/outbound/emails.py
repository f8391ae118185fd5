"""Sealbox's own emails: built from template triplets in the recipient's language, and queued.

Each kind has its template triplet (emails/<name>-subject.txt, -body.txt and
-body.html, the bodies extending emails/base.txt and emails/base.html) and one
function here. An email to a recipient's account goes through `to_account()`,
the one place that picks its language (accounts/languages.py) and puts their
personal phrase (accounts/phrase.py) in it. docs/emails.md lists the
templates and what each one's context holds.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, make_msgid
from typing import Any

from django.conf import settings
from django.template.loader import render_to_string
from django.utils import timezone, translation

from sealbox import branding
from sealbox.accounts import languages, phrase
from sealbox.accounts.models import User
from sealbox.outbound import queue, relay
from sealbox.outbound.models import OutgoingEmail
from sealbox.web import brandfiles, contrast

# The logo's height in the email's header, in CSS pixels.
LOGO_HEIGHT = 40


@dataclass(frozen=True)
class Logo:
    """A PNG logo as an inline part of the email: no remote image is ever loaded."""

    data: bytes
    cid: str  # the Content-ID without its angle brackets
    width: int
    height: int


def _logo() -> Logo | None:
    """The organisation's logo if it is a PNG; an SVG is not shown (mail clients do not render it)."""
    found = brandfiles.logo()
    if found is None or found.content_type != brandfiles.PNG or len(found.data) < 24:
        return None
    width, height = struct.unpack(">II", found.data[16:24])
    if not width or not height:
        return None
    cid = make_msgid("logo", domain=branding.notify_domain())[1:-1]
    return Logo(found.data, cid, max(1, round(width * LOGO_HEIGHT / height)), LOGO_HEIGHT)


def _context(context: dict[str, Any], logo: Logo | None) -> dict[str, Any]:
    brand = branding.current()
    color = brand.color_light or contrast.DEFAULT_ACCENT
    links = [
        (url, branding.host(url))
        for url in (brand.privacy_url, brand.imprint_url)
    ]  # fmt: skip
    return {
        "brand": brand,
        "site_name": brand.title,
        "base_url": settings.BASE_URL,
        "portal_host": branding.host(settings.BASE_URL),
        "button_color": color,
        "button_text_color": contrast.button_text(color),
        "logo": logo,
        "privacy_host": links[0][1],
        "imprint_host": links[1][1],
        "phrase": "",
        **context,
    }


def build(
    name: str,
    context: dict[str, Any],
    to: str,
    language: str,
    mail_from: str | None = None,
) -> EmailMessage:
    """The email of template `name` to one address, in `language`, dates in SEALBOX_TIME_ZONE."""
    logo = _logo()
    ctx = _context(context, logo)
    with translation.override(language), timezone.override(settings.TIME_ZONE):
        subject = " ".join(render_to_string(f"emails/{name}-subject.txt", ctx).split())
        text = render_to_string(f"emails/{name}-body.txt", ctx)
        html = render_to_string(f"emails/{name}-body.html", ctx)
        # Without SEALBOX_ORG_NAME the From names the portal: in the recipient's language too.
        from_header = mail_from or branding.notify_from()
    msg = EmailMessage(policy=SMTP)
    msg["From"] = from_header
    msg["To"] = relay.ascii_address(to)
    msg["Subject"] = subject
    msg["Date"] = format_datetime(timezone.now())
    msg["Message-ID"] = make_msgid(domain=branding.notify_domain())
    msg["Auto-Submitted"] = "auto-generated"
    msg.set_content(text)
    msg.add_alternative(html, subtype="html")
    if logo is not None:
        # multipart/alternative [text/plain, multipart/related [text/html, image/png]]
        html_part = next(
            part for part in msg.iter_parts() if part.get_content_type() == "text/html"
        )
        assert isinstance(html_part, EmailMessage)
        html_part.add_related(
            logo.data,
            maintype="image",
            subtype="png",
            cid=f"<{logo.cid}>",
            disposition="inline",
            filename="logo.png",
        )
    return msg


def language_for(user: User) -> str:
    """The language of every email to a recipient's account."""
    return languages.for_email(user.language, user.email)


def to_account(name: str, user: User, context: dict[str, Any]) -> OutgoingEmail:
    """Queue email `name` to a recipient: in their language, their phrase at its top."""
    ctx = {"user": user, "email": user.email, **context, "phrase": phrase.for_email(user)}
    msg = build(name, ctx, user.email, language_for(user))
    return queue.enqueue(msg, kind=name, recipients=[user.email])


def notification(user: User, context: dict[str, Any]) -> OutgoingEmail:
    return to_account("notification", user, context)


def activation(user: User, context: dict[str, Any]) -> OutgoingEmail:
    return to_account("activation", user, context)


def reset(user: User, context: dict[str, Any]) -> OutgoingEmail:
    return to_account("reset", user, context)


def expiry_reminder(user: User, context: dict[str, Any]) -> OutgoingEmail:
    return to_account("expiry-reminder", user, context)


def quota_full(user: User, context: dict[str, Any]) -> OutgoingEmail:
    return to_account("quota-full", user, context)


def signin_code(user: User, context: dict[str, Any]) -> OutgoingEmail:
    return to_account("signin-code", user, context)

"""The emails that carry a way into an account: activation and reset links, sign-in codes.

Each is issued (accounts/links.py, accounts/emailcode.py) and its email queued
in one transaction. Asking for one gets the same answer, and as far as
practical the same work, whether or not the address has a mailbox: for an
address without one an email is rendered all the same and not queued.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import transaction
from django.http import HttpRequest
from django.urls import reverse

from sealbox import addresses
from sealbox.accounts import emailcode, languages, links
from sealbox.accounts.models import LinkToken, User
from sealbox.outbound import emails

# Stands in for a token in the email built for an address without a mailbox.
_NO_TOKEN = "x" * 43


def _link_context(user_email: str, purpose: str, token: str) -> dict[str, Any]:
    view = "activate" if purpose == LinkToken.Purpose.ACTIVATE else "reset"
    lifetime = LinkToken.lifetime(purpose)
    return {
        "email": user_email,
        "link": settings.BASE_URL + reverse(view, args=[token]),
        "days": lifetime.days,
        "hours": int(lifetime.total_seconds() // 3600),
    }


def send_link(address: str) -> bool:
    """Email a new link to the owner of an address; True if one was queued.

    Not activated yet: a new activation link. Activated: a password-reset link.
    No active account: nothing is sent, but the address is normalised, looked up
    and an email rendered all the same, so that the answer (and as far as
    practical its timing) does not tell whether a mailbox exists.
    """
    email = addresses.normalize(address)
    with transaction.atomic():
        user = User.objects.filter(email=email).first()
        if user is None or not user.is_active or links.sent_recently(user):
            language = languages.for_email("", email)
            emails.build(
                "reset", _link_context(email, LinkToken.Purpose.RESET, _NO_TOKEN), email, language
            )
            return False
        if user.is_activated:
            token = LinkToken.issue(user, LinkToken.Purpose.RESET)
            emails.reset(user, _link_context(user.email, LinkToken.Purpose.RESET, token))
        else:
            send_activation(user)
    return True


def send_activation(user: User) -> None:
    """Queue a new activation link to the account; call inside a transaction."""
    token = LinkToken.issue(user, LinkToken.Purpose.ACTIVATE)
    emails.activation(user, _link_context(user.email, LinkToken.Purpose.ACTIVATE, token))


def send_code(request: HttpRequest, address: str, next_url: str = "") -> bool:
    """Begin a code sign-in in this session and email the code; True if one was queued.

    No active account, or its codes for this hour used up: nothing is sent, but
    an email is rendered all the same (accounts/emailcode.py has the rules).
    """
    with transaction.atomic():
        started = emailcode.start(request, address, next_url)
        context = {"email": started.address, "code": started.code, "minutes": emailcode.minutes()}
        if started.user is None:
            language = languages.for_email("", started.address)
            emails.build("signin-code", context, started.address, language)
            return False
        emails.signin_code(started.user, context)
    return True

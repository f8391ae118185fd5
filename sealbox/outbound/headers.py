"""Mail Sealbox sends for a recipient (replies, new messages, read receipts): whom it
is from, per SEALBOX_REPLY_FROM, and the check that what was built has exactly
the headers that were set."""

from __future__ import annotations

import logging
from email.headerregistry import Address

from django.conf import settings
from django.utils.translation import gettext as _

from sealbox import branding
from sealbox.accounts import languages
from sealbox.accounts.models import User
from sealbox.mailstore.parsing import parse_headers

log = logging.getLogger(__name__)


class SendError(ValueError):
    """Something the sender must fix or wait for; the text is shown to them."""


def sender_identity(user: User) -> tuple[str, str, str | None]:
    """(From header, envelope sender, Reply-To header) per SEALBOX_REPLY_FROM."""
    own = address_header(user.display_name, user.email)
    if settings.REPLY_FROM == "user":
        return own, user.email, None
    # Read by the organisation's own people: in the operator's language, not the sender's.
    with languages.for_staff():
        name = _("%(name)s via %(site)s") % {
            "name": user.display_name or user.email,
            "site": str(branding.current().title),
        }
    return address_header(name, settings.PORTAL_ADDRESS), settings.PORTAL_ADDRESS, own


def address_header(name: str, addr: str) -> str:
    name = " ".join(name.split())  # no line break may reach a header
    local, _at, domain = addr.rpartition("@")
    return str(Address(display_name=name, username=local, domain=domain))


def check_built(data: bytes, expected: set[str]) -> None:
    """The serialised message has exactly the headers that were set.

    A safety net under every field check: an encoded word that decodes to a
    line break (CPython before 3.11.10, CVE-2024-6923) or any other surprise
    in the email package must not turn one header into several.
    """
    names = [name.lower() for name in parse_headers(data).keys()]
    if sorted(names) != sorted(expected):
        log.error("refused to send a message whose headers came out as %s", names)
        raise SendError(
            _("This message cannot be sent: a field contains text that is not allowed.")
        )

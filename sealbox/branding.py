"""The organisation's face: its name, logo, colour and contacts, read once from settings.

Pages (web/context.py) and emails (outbound/emails.py) both take what they
show from `current()`; the rules for each setting (what a support contact is,
which name goes on an email's From) live here and nowhere else.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from email.headerregistry import Address
from email.policy import SMTP
from pathlib import Path
from urllib.parse import urlsplit

from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

_COLOR = re.compile(r"#[0-9a-fA-F]{6}")
_PHONE = re.compile(r"\+?[0-9][0-9 ()./-]{4,30}")


@dataclass(frozen=True)
class Contact:
    kind: str  # "email", "phone" or "web"
    label: str
    href: str


@dataclass(frozen=True)
class Brand:
    org_name: str
    site_name: str | Promise
    logo: Path | None
    color_light: str
    color_dark: str
    contacts: tuple[Contact, ...]
    privacy_url: str
    imprint_url: str

    @property
    def title(self) -> str | Promise:
        """What recipients call the portal: the organisation's name, else the portal's."""
        return self.org_name or self.site_name


def parse_contact(item: str) -> Contact | None:
    """One SEALBOX_SUPPORT_CONTACT item as a link, or None if it is none of the three kinds."""
    item = item.strip()
    if item.startswith(("https://", "http://")):
        return Contact("web", item.split("://", 1)[1].rstrip("/"), item)
    if "@" in item and " " not in item:
        return Contact("email", item, f"mailto:{item}")
    if _PHONE.fullmatch(item):
        return Contact("phone", item, "tel:" + re.sub(r"[^0-9+]", "", item))
    return None


_DEFAULT_PORTS = {"http": 80, "https": 443}


def host(url: str) -> str:
    """Where a link goes, as its visible text shows it: the host, and its port unless the
    scheme's own; never a user name or password written before it ("user@host")."""
    parts = urlsplit(url.strip())
    name = parts.hostname or ""
    if ":" in name:
        name = f"[{name}]"  # an IPv6 address, as written in a URL
    try:
        port = parts.port
    except ValueError:
        port = None
    if port is not None and port != _DEFAULT_PORTS.get(parts.scheme.lower()):
        return f"{name}:{port}"
    return name


def parse_color(value: str) -> tuple[str, str] | None:
    """'#rrggbb' or '#light,#dark' as (light, dark); None if malformed; ('', '') if unset."""
    if not value.strip():
        return "", ""
    parts = [p.strip() for p in value.split(",")]
    if len(parts) > 2 or not all(_COLOR.fullmatch(p) for p in parts):
        return None
    return parts[0].lower(), parts[-1].lower()


@functools.cache
def current() -> Brand:
    colors = parse_color(settings.BRAND_COLOR) or ("", "")
    contacts = tuple(c for c in map(parse_contact, settings.SUPPORT_CONTACT) if c)
    return Brand(
        org_name=settings.ORG_NAME.strip(),
        site_name=settings.SITE_NAME.strip() or _("Secure mailbox"),
        logo=settings.ORG_LOGO,
        color_light=colors[0],
        color_dark=colors[1],
        contacts=contacts,
        privacy_url=settings.PRIVACY_URL.strip(),
        imprint_url=settings.IMPRINT_URL.strip(),
    )


def _notify_addresses() -> tuple[Address, ...]:
    header = SMTP.header_factory("From", settings.NOTIFY_FROM)
    return tuple(getattr(header, "addresses", ()))


def notify_from() -> str:
    """The From of Sealbox's emails: SEALBOX_NOTIFY_FROM, named for the organisation if it has no name."""
    addresses = _notify_addresses()
    if len(addresses) != 1 or addresses[0].display_name:
        return settings.NOTIFY_FROM
    brand = current()
    name = brand.org_name or str(brand.site_name)
    address = addresses[0]
    return str(Address(name, address.username, address.domain))


def notify_domain() -> str:
    """The domain of Sealbox's own emails (their Message-IDs): that of SEALBOX_NOTIFY_FROM."""
    addresses = _notify_addresses()
    if addresses and addresses[0].domain:
        return str(addresses[0].domain)
    return settings.BASE_HOST


@receiver(setting_changed)
def _forget(setting: str, **kwargs: object) -> None:
    """Settings change only in tests; the next look-up reads them again."""
    current.cache_clear()

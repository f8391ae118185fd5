"""Email addresses: normalising them and telling internal from external ones."""

from __future__ import annotations

import re
import unicodedata
from email.headerregistry import Address

from django.conf import settings

MAX_ADDRESS_LENGTH = 320


class InvalidAddress(ValueError):
    pass


def normalize(address: str) -> str:
    """The canonical form under which a mailbox is kept.

    Strips angle brackets, whitespace and a trailing root dot, lower-cases the
    whole address (mail systems treat local parts case-insensitively in
    practice), composes Unicode (NFC), and turns an IDNA (xn--) domain into its
    Unicode form, so that every spelling of an address reaches one mailbox.
    """
    try:
        # Bytes that are not UTF-8 come in as lone surrogates (surrogateescape):
        # no mailbox can have such an address.
        address.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidAddress(f"not UTF-8: {printable(address)!r}") from None
    value = unicodedata.normalize("NFC", address.strip().strip("<>").strip()).rstrip(".")
    if not value or len(value) > MAX_ADDRESS_LENGTH or any(ch in value for ch in "\r\n\0 <>,"):
        raise InvalidAddress(f"not an email address: {address!r}")
    local, at, domain = value.rpartition("@")
    if not at or not local or not domain or domain.startswith(".") or ".." in domain:
        raise InvalidAddress(f"not an email address: {address!r}")
    try:
        domain = unicode_domain(domain)
    except UnicodeError:
        raise InvalidAddress(f"bad internationalised domain in {address!r}") from None
    return f"{local}@{domain}".lower()


def printable(address: str) -> str:
    """The address with bytes that were not UTF-8 shown as U+FFFD, for replies and logs."""
    return "".join("\ufffd" if "\ud800" <= ch <= "\udfff" else ch for ch in address)


def unicode_domain(domain: str) -> str:
    """A domain in lower case, its IDNA (xn--) labels in Unicode form."""
    domain = domain.lower()
    # The idna codec only recognises a lower-case "xn--" prefix.
    return domain.encode("ascii").decode("idna") if "xn--" in domain else domain


def domain_of(address: str) -> str:
    return address.rpartition("@")[2].lower()


def is_internal(address: str) -> bool:
    """True for addresses in the organisation's own domains (and their subdomains)."""
    domain = domain_of(normalize(address))
    for internal in settings.INTERNAL_DOMAINS:
        try:
            internal = unicode_domain(internal)
        except UnicodeError:
            pass  # not valid IDNA: compare it as written
        if domain == internal or domain.endswith("." + internal):
            return True
    return False


def display(name: str, address: str) -> str:
    """A From/To header value, quoting the display name as needed."""
    local, _, domain = address.rpartition("@")
    try:
        return str(Address(display_name=name, username=local, domain=domain))
    except (ValueError, IndexError):
        return address


# A local part mail systems agree on: no quoting, and none of the characters
# that some relays still read as routing ("%" hack, "!" bang paths).
_PLAIN_LOCAL = re.compile(r"[\w#$&'*+/=?^`{|}~-]+(?:\.[\w#$&'*+/=?^`{|}~-]+)*")


def is_plain(address: str) -> bool:
    """Whether an address is one that a relay cannot route anywhere but its domain."""
    local, at, _domain = address.rpartition("@")
    return bool(at) and bool(_PLAIN_LOCAL.fullmatch(local))

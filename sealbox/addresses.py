"""Email addresses: the one canonical form of an address, and internal versus external.

normalize() is the only rule for what address a mailbox is kept under: intake,
sign-in, links, throttling, the admin, the command line and compose all look
addresses up through it, so that whatever spelling reaches a mailbox at intake
reaches the same mailbox everywhere else, and no other spelling does.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from email.headerregistry import Address

import idna
from django.conf import settings

MAX_ADDRESS_LENGTH = 320

# Invisible or unassigned characters: controls, format characters (zero-width
# space, direction marks), surrogates, private use, unassigned code points,
# and every kind of space or line separator.
_REFUSED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zs", "Zl", "Zp"})


class InvalidAddress(ValueError):
    pass


def normalize(address: str) -> str:
    """The canonical form of an address: the one spelling its mailbox is kept under.

    Angle brackets and surrounding whitespace are dropped. The local part is
    composed (Unicode NFC) and lower-cased, and nothing more: other characters
    are kept as written, so fullwidth letters (U+FF41 ...) stay fullwidth and
    make another mailbox than their ASCII lookalikes. A local part is refused (InvalidAddress)
    where that folding would turn a non-ASCII character into an ASCII one (the
    Kelvin sign K into k, the Greek question mark into ";"), so that no
    lookalike spelling reaches an ASCII mailbox; and where it holds invisible,
    unassigned or space characters. The domain goes through the UTS-46 mapping
    of IDNA 2008 and is kept in Unicode (U-labels): fullwidth letters, upper
    case, xn-- labels and the ideographic full stop all give one domain. A
    single trailing root dot is dropped. A domain IDNA refuses is refused.
    """
    try:
        # Bytes that are not UTF-8 come in as lone surrogates (surrogateescape):
        # no mailbox can have such an address.
        address.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidAddress(f"not UTF-8: {printable(address)!r}") from None
    value = address.strip().strip("<>").strip()
    if not value or len(value) > MAX_ADDRESS_LENGTH or any(ch in value for ch in "\r\n\0 <>,"):
        raise InvalidAddress(f"not an email address: {address!r}")
    local, at, domain = value.rpartition("@")
    if not at or not local or not domain:
        raise InvalidAddress(f"not an email address: {address!r}")
    try:
        canonical = f"{canonical_local(local)}@{canonical_domain(domain)}"
    except InvalidAddress as error:
        raise InvalidAddress(f"{error} in {address!r}") from None
    if len(canonical) > MAX_ADDRESS_LENGTH:
        raise InvalidAddress(f"not an email address: {address!r}")
    return canonical


def printable(address: str) -> str:
    """The address with bytes that were not UTF-8 shown as U+FFFD, for replies and logs."""
    return "".join("\ufffd" if "\ud800" <= ch <= "\udfff" else ch for ch in address)


def _fold(text: str) -> str:
    return unicodedata.normalize("NFC", unicodedata.normalize("NFC", text).lower())


def canonical_local(local: str) -> str:
    """A local part in canonical form (see normalize), or InvalidAddress."""
    for ch in local:
        if unicodedata.category(ch) in _REFUSED_CATEGORIES:
            raise InvalidAddress(f"invisible or unassigned character U+{ord(ch):04X}")
        if not ch.isascii() and _fold(ch).isascii():
            raise InvalidAddress(f"U+{ord(ch):04X} stands in for {_fold(ch)!r}")
    return _fold(local)


@functools.lru_cache(maxsize=1024)
def canonical_domain(domain: str) -> str:
    """A domain in canonical form: UTS-46 mapped, checked by IDNA 2008, in U-labels."""
    try:
        mapped = idna.decode(idna.encode(domain, uts46=True))
    except (idna.IDNAError, UnicodeError):
        raise InvalidAddress(f"not a valid domain: {domain!r}") from None
    mapped = mapped.removesuffix(".")
    if not mapped or mapped.startswith(".") or ".." in mapped:
        raise InvalidAddress(f"not a valid domain: {domain!r}")
    return mapped


def ascii_domain(domain: str) -> str:
    """A canonical domain in its IDNA 2008 ASCII form (xn-- labels), for relays without SMTPUTF8."""
    try:
        return idna.encode(domain, uts46=True).decode("ascii")
    except (idna.IDNAError, UnicodeError):
        raise InvalidAddress(f"not a valid domain: {domain!r}") from None


def domain_of(address: str) -> str:
    return address.rpartition("@")[2].lower()


def internal_domains() -> list[str]:
    """SEALBOX_INTERNAL_DOMAINS in canonical form (an invalid one as written, lower-cased)."""
    found = []
    for internal in settings.INTERNAL_DOMAINS:
        try:
            found.append(canonical_domain(internal.strip().lstrip("@")))
        except InvalidAddress:
            found.append(internal.strip().lstrip("@").lower())  # `sealbox check`: E020
    return found


def is_internal(address: str) -> bool:
    """True for addresses in the organisation's own domains (and their subdomains).

    Both sides are compared in canonical form: corp.example with a fullwidth
    letter, or ending in an ideographic full stop, is corp.example.
    """
    domain = domain_of(normalize(address))
    return any(domain == d or domain.endswith("." + d) for d in internal_domains())


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

"""Which language a recipient gets: the one rule, for pages and emails alike.

In order: the language the recipient chose (saved on the account), the
browser's Accept-Language (pages only), the language mapped to their address's
domain (SEALBOX_LANGUAGE_BY_DOMAIN), the operator's default (SEALBOX_LANGUAGE).
"""

from __future__ import annotations

import functools

from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver

from sealbox.config import ConfigError


def supported(code: str | None) -> str | None:
    """`code` if it is one of settings.LANGUAGES (a region falls back to its language), else None."""
    if not code:
        return None
    code = code.strip().lower().replace("_", "-")
    codes = {c for c, _name in settings.LANGUAGES}
    if code in codes:
        return code
    base = code.split("-", 1)[0]
    return base if base in codes else None


@functools.cache
def domain_map() -> dict[str, str]:
    """SEALBOX_LANGUAGE_BY_DOMAIN as {domain or top-level label: language}."""
    result: dict[str, str] = {}
    for item in settings.LANGUAGE_BY_DOMAIN.split(","):
        if not item.strip():
            continue
        domain, sep, code = item.partition(":")
        language = supported(code)
        domain = domain.strip().lower().strip(".")
        if not sep or not domain or language is None:
            raise ConfigError(
                f"SEALBOX_LANGUAGE_BY_DOMAIN: expected domain:language with a language "
                f"of SEALBOX's ({', '.join(c for c, _ in settings.LANGUAGES)}), got {item.strip()!r}"
            )
        result[domain] = language
    return result


def for_address(address: str) -> str | None:
    """The language mapped to an address's domain: the whole domain first, then shorter suffixes."""
    domain = address.rpartition("@")[2].lower().rstrip(".")
    mapping = domain_map()
    labels = domain.split(".")
    for i in range(len(labels)):
        language = mapping.get(".".join(labels[i:]))
        if language:
            return language
    return None


def default() -> str:
    return supported(settings.LANGUAGE_CODE) or "en"


def for_email(language: str, address: str) -> str:
    """The language of an email to a recipient: their choice, else their domain's, else the default."""
    return supported(language) or for_address(address) or default()


@receiver(setting_changed)
def _forget(setting: str, **kwargs: object) -> None:
    domain_map.cache_clear()

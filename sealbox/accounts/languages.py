"""Which language a recipient gets: the one rule, for pages and emails alike.

In order: the language the recipient chose (saved on the account), then for
pages the choice made in the language menu before signing in (a cookie) and the
browser's Accept-Language, then the language mapped to their address's domain
(SEALBOX_LANGUAGE_BY_DOMAIN), then the operator's default (SEALBOX_LANGUAGE).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TYPE_CHECKING

from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse
from django.utils import translation
from django.utils.cache import patch_vary_headers
from django.utils.translation.trans_real import parse_accept_lang_header

from sealbox.config import ConfigError

if TYPE_CHECKING:
    from sealbox.accounts.models import User


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


def for_staff() -> translation.override:
    """In the operator's language (SEALBOX_LANGUAGE): what the organisation's own people read
    (read receipts, bounce reports, a reply's "via" name), never its recipient's language."""
    return translation.override(default())


def for_email(language: str, address: str) -> str:
    """The language of an email to a recipient: their choice, else their domain's, else the default."""
    return supported(language) or for_address(address) or default()


def from_accept_language(header: str) -> str | None:
    """The first supported language of an Accept-Language header, by the browser's preference."""
    for code, quality in parse_accept_lang_header(header):
        if code != "*" and quality > 0 and (language := supported(code)):
            return language
    return None


def for_request(request: HttpRequest) -> str:
    """The language of a page: saved choice, menu cookie, browser, address's domain, default."""
    user = getattr(request, "user", None)
    account = user if user is not None and user.is_authenticated else None
    return (
        supported(getattr(account, "language", ""))
        or supported(request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME))
        or from_accept_language(request.headers.get("Accept-Language", ""))
        or _domain_language(getattr(account, "email", ""))
        or default()
    )


def _domain_language(address: str) -> str | None:
    # A malformed map is a system check error (accounts/checks.py), not a failing page.
    if not address:
        return None
    try:
        return for_address(address)
    except ConfigError:
        return None


def set_cookie(response: HttpResponse, language: str) -> None:
    """Remember a choice made in the language menu on this browser, for a year."""
    response.set_cookie(
        settings.LANGUAGE_COOKIE_NAME,
        language,
        max_age=settings.LANGUAGE_COOKIE_AGE,
        path=settings.LANGUAGE_COOKIE_PATH,
        secure=settings.LANGUAGE_COOKIE_SECURE,
        httponly=settings.LANGUAGE_COOKIE_HTTPONLY,
        samesite=settings.LANGUAGE_COOKIE_SAMESITE,  # type: ignore[arg-type]
    )


def keep_current(user: User) -> None:
    """On activation: the account keeps the language its pages were shown in, unless it has one."""
    language = supported(translation.get_language())
    if language and not user.language:
        user.language = language
        user.save(update_fields=["language"])


class LanguageMiddleware:
    """Every request in its language (for_request); in place of Django's LocaleMiddleware.

    After AuthenticationMiddleware: the signed-in recipient's saved choice comes first.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        language = for_request(request)
        translation.activate(language)
        request.LANGUAGE_CODE = translation.get_language()
        response = self.get_response(request)
        # The same address answers in another language for another browser or cookie.
        patch_vary_headers(response, ("Accept-Language", "Cookie"))
        response.headers.setdefault("Content-Language", language)
        return response


@receiver(setting_changed)
def _forget(setting: str, **kwargs: object) -> None:
    domain_map.cache_clear()

from __future__ import annotations

import functools
import json
from datetime import date, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import babel
import babel.dates
from django import template
from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.utils import formats, timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from sealbox.accounts.models import User
from sealbox.mailstore import quota

register = template.Library()


@register.filter
def join_if_list(value: Any) -> str:
    """A To/Cc field's value: the cleaned list of addresses, or the text as typed."""
    if isinstance(value, list | tuple):
        return ", ".join(str(v) for v in value)
    return "" if value is None else str(value)


def usage(user: User) -> dict[str, Any]:
    """What the usage bar and its warnings show, from the account row alone (no query)."""
    limit = user.quota_bytes
    share = quota.usage_share(user)
    if share is None:
        level = ""
    elif share >= 100:
        level = "full"
    elif share >= settings.QUOTA_WARN_PERCENT:
        level = "warn"
    else:
        level = ""
    return {
        "used": user.usage_bytes,
        "limit": limit,
        "share": share,
        "level": level,
        # The meter's regions: fine below the warning, a warning up to the limit, then full.
        "low": (limit or 0) * settings.QUOTA_WARN_PERCENT // 100,
        "high": (limit or 0) - 1,
    }


@register.inclusion_tag("portal/usage.html")
def storage_usage(user: User, compact: bool = False) -> dict[str, Any]:
    """The storage used, in numbers, and as a bar when there is a limit."""
    return {**usage(user), "compact": compact}


@register.inclusion_tag("portal/usage_warning.html")
def storage_warning(user: User, link: bool = True) -> dict[str, Any]:
    """Nothing below SEALBOX_QUOTA_WARN_PERCENT; then "almost full", then "full"."""
    return {**usage(user), "link": link}


# Dates and times are written in the active language's formats (Django's format
# localisation, e.g. "Dec. 2, 2026" in English, "2. Dezember 2026" in German), in
# the portal's time zone; portal.js rewrites them in the reader's own time zone.


@register.filter
def day(value: datetime) -> str:
    """A date alone: "December 2", with the year when not this year ("2 déc. 2026")."""
    local = timezone.localtime(value)
    this_year = timezone.localtime().year
    return formats.date_format(
        local, "MONTH_DAY_FORMAT" if local.year == this_year else "DATE_FORMAT"
    )


@register.filter
def when(value: datetime | str) -> str:
    """A date and time, short: "12/02/2026 9:30 a.m." in English; accepts ISO 8601 text."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return formats.date_format(timezone.localtime(value), "SHORT_DATETIME_FORMAT")


def cldr_locale() -> babel.Locale:
    """The page's language as CLDR has it: the data the browser's Intl writes dates with too."""
    try:
        return babel.Locale.parse(translation.to_locale(translation.get_language() or "en"))
    except (ValueError, babel.UnknownLocaleError):
        return babel.Locale("en")


@register.filter
def brief(value: datetime) -> str:
    """A date as a mail app's list shows it: the time today ("2:05 PM", "14:05"),
    "Yesterday", else the day ("Nov 10", "10. Nov."), with the year when not this year.

    The no-script form, in the portal's time zone; portal.js's brief() is the same
    rule in the reader's own zone, and writes the same text (CLDR's short forms:
    Babel's here, Intl's there).
    """
    return brief_on(timezone.localtime(value), timezone.localdate(), cldr_locale())


def brief_on(local: datetime, today: date, locale: babel.Locale) -> str:
    """`brief` of a time already in the portal's zone, for a list that writes many (listing.py)."""
    if local.date() == today:
        return babel.dates.format_time(local, "short", locale=locale)
    if local.date() == today - timedelta(days=1):
        return _("Yesterday")
    skeleton = "MMMd" if local.year == today.year else "yMMMd"
    return babel.dates.format_skeleton(skeleton, local, locale=locale)


@register.simple_tag
def selection_counts(most: int) -> str:
    """ "1 selected", "2 selected", ... up to `most`, as JSON for portal.js: the inbox's
    selection count in the page's language with its own plural rules (index n = n selected)."""
    return _selection_counts(translation.get_language(), most)


@functools.lru_cache(maxsize=64)
def _selection_counts(language: str | None, most: int) -> str:
    # Called with `language` active: the key is what the words depend on. Fifty-one
    # translations a page otherwise, the same on every page.
    return json.dumps(
        [
            # Translators: how many messages are ticked in the inbox's list.
            ngettext("%(n)d selected", "%(n)d selected", n) % {"n": n}
            for n in range(most + 1)
        ],
        ensure_ascii=False,
    )


@receiver(setting_changed)
def _forget(**kwargs: Any) -> None:
    _selection_counts.cache_clear()  # translations follow settings (tests change them)


@register.inclusion_tag("accounts/language_menu.html", takes_context=True)
def language_menu(
    context: template.Context, next_path: str = "", menu_id: str = ""
) -> dict[str, Any]:
    """The language menu: settings.LANGUAGES in their own names, posting back to this page.

    Back to this page's path; on the sign-in page with the page to go to after it
    (the sign-in view's `next`, already checked to be on this site).
    """
    request = context["request"]
    if not next_path:
        next_path = request.path
        if context.get("next"):
            next_path += "?" + urlencode({"next": context["next"]})
    return {
        "request": request,
        "csrf_token": context.get("csrf_token"),
        "choices": settings.LANGUAGES,
        "current": translation.get_language(),
        "next_path": next_path,
        "menu_id": menu_id,
    }

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from django import template
from django.conf import settings
from django.utils import dateformat, timezone, translation
from django.utils.formats import number_format

from sealbox.accounts.models import User
from sealbox.housekeeping import quota

register = template.Library()


@register.filter
def join_if_list(value: Any) -> str:
    """A To/Cc field's value: the cleaned list of addresses, or the text as typed."""
    if isinstance(value, list | tuple):
        return ", ".join(str(v) for v in value)
    return "" if value is None else str(value)


def megabytes(size: int) -> str:
    """Bytes as MiB with one decimal, grouped: "1,024.0"; a little is never shown as 0.0."""
    mb = size / quota.MIB
    if 0 < mb < 0.1:
        mb = 0.1
    return number_format(round(mb, 1), decimal_pos=1, force_grouping=True)


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
        "used_mb": megabytes(user.usage_bytes),
        "limit": limit,
        "limit_mb": number_format((limit or 0) // quota.MIB, force_grouping=True),
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


@register.filter
def day(value: datetime) -> str:
    """A short date in the portal's time zone: "2 Dec", with the year when not this year."""
    local = timezone.localtime(value)
    this_year = timezone.localtime().year
    return dateformat.format(local, "j M" if local.year == this_year else "j M Y")


@register.filter
def long_day(value: datetime) -> str:
    """A date in words: "2 December", with the year when not this year."""
    local = timezone.localtime(value)
    this_year = timezone.localtime().year
    return dateformat.format(local, "j F" if local.year == this_year else "j F Y")


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

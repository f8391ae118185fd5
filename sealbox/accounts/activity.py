"""The activity log: who signed in, from where, and what changed on the account."""

from __future__ import annotations

import logging
import re
from datetime import timedelta

from django.conf import settings
from django.http import HttpRequest
from django.utils import timezone

from sealbox import diskspace
from sealbox.accounts.clientip import client_ip
from sealbox.accounts.models import Activity, User

log = logging.getLogger("sealbox.accounts.activity")

Kind = Activity.Kind


def record(user: User, kind: str, request: HttpRequest | None = None, detail: str = "") -> Activity:
    """Add an entry to the account's log (and to the service log, without secrets)."""
    ip = client_ip(request) if request is not None else None
    agent = request.META.get("HTTP_USER_AGENT", "")[:300] if request is not None else ""
    entry = Activity(user=user, kind=kind, ip=ip, user_agent=agent, detail=detail[:200])
    with diskspace.unless_full("activity entry"):  # the service log below has it
        entry.save()
    log.info("account %s: %s %r from %s", user.pk, kind, detail, ip or "-")
    return entry


# Browser and system names for the activity page, from the User-Agent header.
# Order matters: Edge and Opera also claim to be Chrome, Chrome claims Safari.
_BROWSERS = (
    ("Edge", r"Edg(?:e|A|iOS)?/"),
    ("Opera", r"OPR/|Opera"),
    ("Samsung Internet", r"SamsungBrowser/"),
    ("Firefox", r"Firefox/|FxiOS/"),
    ("Chrome", r"Chrome/|CriOS/|Chromium/"),
    ("Safari", r"Safari/"),
)
_SYSTEMS = (
    ("iPhone", r"iPhone"),
    ("iPad", r"iPad"),
    ("Android", r"Android"),
    ("Windows", r"Windows"),
    ("macOS", r"Mac OS X|Macintosh"),
    ("ChromeOS", r"CrOS"),
    ("Linux", r"Linux|X11"),
)


def browser(user_agent: str) -> str:
    """A short description such as "Firefox on Windows"; "" when nothing is recognised."""
    name = next((n for n, pattern in _BROWSERS if re.search(pattern, user_agent)), "")
    system = next((n for n, pattern in _SYSTEMS if re.search(pattern, user_agent)), "")
    if name and system:
        return f"{name} on {system}"
    return name or system


def previous_signin(user: User) -> Activity | None:
    """The sign-in before the latest one (the latest is the one now in progress)."""
    signins = Activity.objects.filter(user=user, kind=Kind.SIGNIN).order_by("-at", "-id")
    return signins[1:2].first()


def prune() -> int:
    """Forget entries older than SEALBOX_AUDIT_DAYS."""
    cutoff = timezone.now() - timedelta(days=settings.AUDIT_DAYS)
    return Activity.objects.filter(at__lt=cutoff).delete()[0]

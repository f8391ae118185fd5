"""Signing in with a one-time code sent by email, where the operator turns it on.

SEALBOX_SIGNIN_EMAIL_CODE (off by default) lets a recipient sign in with six
digits emailed to their address instead of the password: for one-off
recipients, who should not have to choose a password to read one message.
It proves control of the mailbox, exactly as the activation and reset links
do, and is no stronger than that mailbox (docs/operations.md says so).

The one place for its rules:

- a code is six random digits (`secrets`), works for ten minutes, once, and
  only in the browser session that asked for it: the session holds a random
  value of its own, and only an HMAC of that value and the code, keyed with
  the server's secret, is stored (models.EmailCode). The code is never in a
  URL or a log;
- a new code replaces the account's previous one; MAX_WRONG wrong entries
  void it; at most SENDS_PER_HOUR codes go to one account an hour, however
  often they are asked for (nobody can flood a mailbox with them);
- asking gets one answer, whether or not the address has an active account
  (an email is rendered all the same, as for links: outbound/accountmail.py);
- entering a code is a sign-in try like a password (signin.attempt, failed,
  succeeded: the same counts, pauses and messages);
- the code replaces the password step only: an account with a second factor
  goes on to it (signin.begin_second_step);
- a code sign-in does not activate a mailbox: an account that never chose a
  password keeps none, gets no personal phrase (that comes with activation,
  links.password_changed) and its emails keep their before-activation form;
  Settings offers it only an emailed link (settings_views.fresh refuses the rest);
- a code alone proves the mailbox, not the person: the session is never
  "recently authenticated" (signin.complete with mailbox_only), so changes to
  how the account signs in ask for its password.
"""

from __future__ import annotations

import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone
from django.utils.crypto import salted_hmac

from sealbox.accounts import signin
from sealbox.accounts.models import EmailCode, User

DIGITS = 6
LIFETIME = timedelta(minutes=10)
MAX_WRONG = 5
SENDS_PER_HOUR = 5
# Session key: the address asked for, this session's own random value, and where to go after.
SESSION = "sealbox_email_code"
_SALT = "sealbox.accounts.emailcode"


def enabled() -> bool:
    return bool(settings.SIGNIN_EMAIL_CODE)


def minutes() -> int:
    return int(LIFETIME.total_seconds() // 60)


def _hash(binding: str, code: str) -> str:
    return salted_hmac(_SALT, f"{binding}\0{code}", algorithm="sha256").hexdigest()


def _new_code() -> str:
    return f"{secrets.randbelow(10**DIGITS):0{DIGITS}d}"


def _sent_this_hour(user: User) -> int:
    since = timezone.now() - timedelta(hours=1)
    return EmailCode.objects.filter(user=user, created__gte=since).count()


@dataclass(frozen=True)
class Started:
    """A code sign-in begun in a session: the code to email, and to whom if anyone."""

    address: str
    code: str
    user: User | None  # None: no active account, or its codes for this hour used up


def start(request: HttpRequest, address: str, next_url: str = "") -> Started:
    """Begin a code sign-in in this session; call inside the transaction that emails the code.

    The session is in the same state whether or not the address has an active
    account, and a code is made either way: outbound/accountmail.send_code renders
    an email for it all the same, so the answer does not tell which.
    """
    email = signin.canonical(address)
    binding = secrets.token_urlsafe(24)
    request.session[SESSION] = {
        "address": email,
        "binding": binding,
        "next": next_url,
    }
    code = _new_code()
    now = timezone.now()
    user = User.objects.select_for_update().filter(email=email, is_active=True).first()
    if user is None or _sent_this_hour(user) >= SENDS_PER_HOUR:
        return Started(email, code, None)
    # A new code replaces the one before.
    EmailCode.objects.filter(user=user, used_at__isnull=True).update(used_at=now)
    EmailCode.objects.create(
        user=user, code_hash=_hash(binding, code), created=now, expires_at=now + LIFETIME
    )
    return Started(user.email, code, user)


def pending(request: HttpRequest) -> dict[str, str] | None:
    """This session's code sign-in (address, binding, next); whether a code still works is check()'s."""
    state: Any = request.session.get(SESSION)
    if not isinstance(state, dict) or not state.get("binding"):
        return None
    return {k: str(state.get(k) or "") for k in ("address", "binding", "next")}


def address(request: HttpRequest) -> str:
    """The address this session asked a code for ("" when none)."""
    state = pending(request)
    return state["address"] if state else ""


def _normalize(code: str) -> str:
    return re.sub(r"[\s-]", "", code)


def check(request: HttpRequest, code: str) -> User | None:
    """Use this session's code: the account if it is right (it then works no more), else None.

    A wrong code counts against the code: after MAX_WRONG it is void. Every
    stored code is compared in constant time; the caller counts the try
    (signin.attempt) before and after.
    """
    state = pending(request)
    if state is None:
        return None
    user = User.objects.filter(email=state["address"], is_active=True).first()
    if user is None:
        return None
    typed = _normalize(code)
    now = timezone.now()
    with transaction.atomic():
        row = (
            EmailCode.objects.select_for_update()
            .filter(user=user, used_at__isnull=True, expires_at__gt=now)
            .order_by("-created")
            .first()
        )
        if row is None:
            return None
        right = re.fullmatch(rf"[0-9]{{{DIGITS}}}", typed) is not None and hmac.compare_digest(
            row.code_hash, _hash(state["binding"], typed)
        )
        if right:
            row.used_at = now
            row.save(update_fields=["used_at"])
        else:
            row.wrong += 1
            if row.wrong >= MAX_WRONG:
                row.used_at = now
            row.save(update_fields=["wrong", "used_at"])
    if not right:
        return None
    request.session.pop(SESSION, None)
    return user


def prune() -> int:
    """Delete codes that neither work nor count towards the hour's limit any more."""
    old = EmailCode.objects.filter(created__lt=timezone.now() - timedelta(hours=1))
    return old.delete()[0]

"""Signing in, in one or two steps.

After the password, an account with a second factor is only half signed in:
the session names the account and when the password was right, and grants
nothing. The second step (an app code, a recovery code or a passkey) must
come within five minutes, from the same session, and completes the sign-in.
A new password chosen through an emailed link waits in that half-signed-in
state too (held(): only its hash, in the server-side session) and takes
effect only when the second step passes; see links.apply_held_password.
Failures in either step count against the address and the client alike
(throttle.py): each try is counted as it starts and taken back when it
turns out right, and a complete sign-in clears the address's count.
"""

from __future__ import annotations

import functools
import ipaddress
import secrets
import time
from collections.abc import Callable
from typing import Any, TypeVar, cast, overload

from django.contrib.auth import login
from django.core import signing
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.utils.translation import gettext as _

from sealbox import addresses
from sealbox.accounts import activity, phrase, throttle, verification
from sealbox.accounts.clientip import client_ip
from sealbox.accounts.models import Activity, User

# What a session proved is verification's to record; the names stay here too.
AUTHENTICATED_AT = verification.AUTHENTICATED_AT
SECOND_FACTOR = verification.SECOND_FACTOR
MAILBOX_ONLY = verification.MAILBOX_ONLY

BACKEND = "django.contrib.auth.backends.ModelBackend"
PENDING = "sealbox_pending_signin"
PENDING_SECONDS = 300
PREVIOUS = "sealbox_previous_signin"
DEVICE_COOKIE = "sealbox_device"
DEVICE_SALT = "sealbox.accounts.device"
DEVICE_DAYS = 180


def canonical(address: str) -> str:
    """The address as sign-in looks it up: its canonical form (addresses.normalize).

    Throttling must count every spelling that reaches an account (other case,
    IDNA forms of the domain) under that one account, and no other spelling.
    What is not an address at all reaches no account: it counts as typed.
    """
    try:
        return addresses.normalize(address)
    except addresses.InvalidAddress:
        return address.strip()


def account_for(address: str) -> User | None:
    return User.objects.filter(email=canonical(address)).first()


def _device(request: HttpRequest) -> tuple[int, str] | None:
    """The (account, device) a valid "signed in here before" cookie names."""
    raw = request.COOKIES.get(DEVICE_COOKIE)
    if not raw:
        return None
    try:
        value = signing.loads(raw, salt=DEVICE_SALT, max_age=DEVICE_DAYS * 86400)
        return int(value["u"]), str(value["d"])
    except (signing.BadSignature, KeyError, TypeError, ValueError):
        return None


def throttle_keys(
    request: HttpRequest,
    address: str,
    account_scope: throttle.Scope = throttle.ACCOUNT,
    client_scope: throttle.Scope = throttle.CLIENT,
) -> list[throttle.Key]:
    """What a try counts against: the account and the client (sign-ins, or link requests).

    A browser where the account signed in before (its device cookie) has a
    sign-in count of its own for the account: a stranger's failures can pause
    the account everywhere else, but not on its owner's own devices.
    The keys are worked out once per request and address.
    """
    memo: dict[tuple[str, str], list[throttle.Key]] = request.__dict__.setdefault(
        "_sealbox_throttle_keys", {}
    )
    if (address, account_scope.name) in memo:
        return memo[address, account_scope.name]
    account = canonical(address)
    key = throttle.Key(account_scope, account)
    device = _device(request) if account_scope is throttle.ACCOUNT else None
    if device is not None:
        user = account_for(account)
        if user is not None and user.pk == device[0]:
            key = throttle.Key(account_scope, f"{account}\0device:{device[1]}")
    keys = [key, *client_keys(request, client_scope)]
    memo[address, account_scope.name] = keys
    return keys


def client_keys(
    request: HttpRequest, scope: throttle.Scope = throttle.CLIENT
) -> list[throttle.Key]:
    """What a try counts against when it names no account (a passkey no account has): the client."""
    ip = client_ip(request)
    return [throttle.Key(scope, client_network(ip))] if ip else []


def client_network(ip: str) -> str:
    """What one client is: its IPv4 address, or its IPv6 /64 (one site's network)."""
    parsed = ipaddress.ip_address(ip)
    if isinstance(parsed, ipaddress.IPv6Address):
        return str(ipaddress.ip_network(f"{parsed}/64", strict=False))
    return ip


@overload
def counted(
    request: HttpRequest, account: User | str | None, check: Callable[[], bool], detail: str = ""
) -> throttle.Refusal | bool: ...


@overload
def counted(
    request: HttpRequest,
    account: User | str | None,
    check: Callable[[], bool | None],
    detail: str = "",
) -> throttle.Refusal | bool | None: ...


def counted(
    request: HttpRequest,
    account: User | str | None,
    check: Callable[[], bool | None],
    detail: str = "",
) -> throttle.Refusal | bool | None:
    """Run a check of a password, code or passkey as one counted try (throttle.attempt).

    `account` is whom the try is at: an account, an address as typed (an
    account's or not), or None for a passkey no account has (the client's
    count only). The answer is the pause, when one is running (check() is
    not run then); else what check() said: True, and the try is taken back;
    False, a failure, logged on the account when there is one; or None when
    no guess was made (a field left empty): taken back, and not logged.
    """
    address = account.email if isinstance(account, User) else account
    keys = client_keys(request) if address is None else throttle_keys(request, address)
    refused = throttle.attempt(keys)
    if refused is not None:
        return refused
    outcome = check()
    if outcome is not True and outcome is not None:  # only a right answer or no guess is forgiven
        if address is not None:
            user = account if isinstance(account, User) else account_for(address)
            failed(request, address, user, detail or _("password in Settings"))
    else:
        throttle.forgive(keys)
    return outcome


def failed(request: HttpRequest, address: str, user: User | None, detail: str = "") -> None:
    """Log a failed try on the account, when there is one (attempt() counted it)."""
    if user is None:
        return
    activity.record(user, Activity.Kind.SIGNIN_FAILED, request, detail)
    if throttle.locked(throttle_keys(request, address)[0]):
        activity.record(user, Activity.Kind.LOCKED, request)


def begin_second_step(
    request: HttpRequest, user: User, next_url: str, held: dict[str, str] | None = None
) -> None:
    """Half sign the account in; `held` is a new password waiting for the second step."""
    request.session.cycle_key()
    request.session[PENDING] = {
        "user": user.pk,
        "hash": user.get_session_auth_hash(),
        "since": time.time(),
        "next": next_url,
        "held": held or {},
    }


def held(request: HttpRequest) -> dict[str, str]:
    """The new password (hash, link and purpose) waiting for this session's second step."""
    state: Any = request.session.get(PENDING)
    value = state.get("held") if isinstance(state, dict) else None
    return {str(k): str(v) for k, v in value.items()} if isinstance(value, dict) else {}


def pending_user(request: HttpRequest) -> tuple[User, str] | None:
    """The half-signed-in account and where to go after, while the five minutes last."""
    state: Any = request.session.get(PENDING)
    if not isinstance(state, dict):
        return None
    if time.time() - float(state.get("since", 0)) > PENDING_SECONDS:
        request.session.pop(PENDING, None)
        return None
    user = User.objects.filter(pk=int(state.get("user") or 0), is_active=True).first()
    # A password changed meanwhile voids the first step.
    if user is None or user.get_session_auth_hash() != state.get("hash"):
        request.session.pop(PENDING, None)
        return None
    return user, str(state.get("next") or "")


def complete(
    request: HttpRequest,
    user: User,
    how: str = "",
    *,
    second_factor: bool = False,
    mailbox_only: bool = False,
) -> None:
    """Sign the account in: a new session, the log entry, the count cleared.

    What the sign-in proved is recorded here, once: `second_factor` when it
    took a second step (or a passkey alone), `mailbox_only` when all it took
    was an emailed code. A password, a passkey, or a password chosen through
    an emailed link (the session just typed the account's password) proves
    who it is; a code only proves the mailbox, so such a session is never
    "recently authenticated" (verification.recent) until it gives the
    password or a passkey again. A code followed by the second step is as
    strong as a reset link followed by it, which may change the password:
    that counts as proof.

    An account activated before personal phrases existed gets its phrase now;
    the caller's redirect goes through phrase.landing, which shows it.
    """
    request.session.pop(PENDING, None)
    throttle.clear(throttle_keys(request, user.email)[:1])
    login(request, user, backend=BACKEND)
    verification.signed_in(request, second_factor=second_factor, mailbox_only=mailbox_only)
    # Remembered by this browser: see throttle_keys. Set on the way out by
    # DeviceCookieMiddleware.
    device = _device(request)
    if device is None or device[0] != user.pk:
        request.sealbox_device = signing.dumps(  # type: ignore[attr-defined]
            {"u": user.pk, "d": secrets.token_urlsafe(12)}, salt=DEVICE_SALT
        )
    activity.record(user, Activity.Kind.SIGNIN, request, how)
    if phrase.upgrade(user):
        phrase.show_next(request)
    previous = activity.previous_signin(user)
    if previous is not None:
        when = timezone.localtime(previous.at)
        request.session[PREVIOUS] = {
            "at": when.isoformat(),
            "ip": previous.ip or "",
            "browser": activity.browser(previous.user_agent),
        }


def reconfirmed(request: HttpRequest, user: User) -> throttle.Refusal | bool:
    """Whether this session proved who it is lately, or does now (the password again).

    Asked before a change to how the account signs in (a new second factor,
    a personal phrase): a borrowed session must not be able to add its
    holder's own app or passkey, which would sign the owner out and keep
    them out. True within verification.RECENT_SECONDS of a password, passkey
    or second step; else the password in the POST, a counted try, which
    starts the ten minutes again when right. An account without a password
    confirms with a passkey beforehand (passkey_views.confirm). An account
    with neither (signed in with an emailed code, which proves the mailbox
    only) gets its first way in through an emailed link, never here.
    """
    if not user.has_way_in:
        return False
    if verification.recent(request):
        return True
    if not user.has_usable_password():
        return False
    outcome = counted(
        request, user, lambda: user.check_password(str(request.POST.get("password", "")))
    )
    if outcome is True:
        verification.reauthenticated(request)
    return outcome


# What a view under recent_auth_required answers when the session did not prove
# who it is: given the throttle's refusal when the tries are used up, else None
# (a wrong password, or none to give: see reconfirmed).
Refused = Callable[[HttpRequest, "throttle.Refusal | None"], HttpResponse]
View = TypeVar("View", bound=Callable[..., HttpResponse])


def recent_auth_required(refused: Refused) -> Callable[[View], View]:
    """For a POST that changes how the account signs in or is recognised.

    The view runs when this session proved who it is in the last
    verification.RECENT_SECONDS, or proves it in this POST with the account's
    password (reconfirmed: a counted try, which starts the ten minutes again).
    Otherwise `refused` answers instead of the view. A GET runs as it is: the
    page asks for the password where verification.recent says it will be needed.
    """

    def decorator(view: View) -> View:
        @functools.wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            user = request.user
            if request.method == "POST":
                if not isinstance(user, User):  # under login_required: never, but never run
                    raise PermissionDenied
                proven = reconfirmed(request, user)
                if proven is not True:
                    return refused(
                        request, proven if isinstance(proven, throttle.Refusal) else None
                    )
            return view(request, *args, **kwargs)

        return cast(View, wrapped)

    return decorator

from __future__ import annotations

import ipaddress
import logging
import sys
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db.models import Count, Q
from django.utils import timezone

from sealbox import addresses
from sealbox.accounts import signin, throttle, twofactor
from sealbox.accounts.models import Activity, ReadReceipts, User
from sealbox.mailstore import quota
from sealbox.mailstore.models import Message
from sealbox.operator import actions, overview

# The name it had before it moved here: operators' log filters know it.
log = logging.getLogger("sealbox.accounts.operator")

STATUS_OPTIONS = {s.replace(" ", "-"): s for s in overview.STATUSES}


def _is_ip(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


def when(value: Any) -> str:
    return timezone.localtime(value).strftime("%Y-%m-%d %H:%M") if value else "never"


def usage_text(user: User) -> str:
    used = quota.size_text(user.usage_bytes)
    limit = user.quota_bytes
    if limit is None:
        return f"{used} / no limit"
    return f"{used} / {limit / quota.MIB:.0f} MiB  {quota.usage_share(user)}%"


class Command(BaseCommand):
    help = (
        "Manage accounts: list, show, set-quota, disable, enable, delete, resend-activation, "
        "reset-2fa, unlock. Changes are written to the audit log."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        lister = sub.add_parser("list", help="one line per account: status, usage, two-factor")
        lister.add_argument("--status", choices=sorted(STATUS_OPTIONS))
        lister.add_argument("--never-signed-in", action="store_true")
        lister.add_argument(
            "--over", type=int, metavar="PERCENT", help="only accounts using this share or more"
        )
        lister.add_argument("--operators", action="store_true", help="only operator accounts")
        show = sub.add_parser("show", help="everything about one account, never its mail")
        show.add_argument("email")
        set_quota = sub.add_parser("set-quota", help="MiB, 0 for no limit, or 'default'")
        set_quota.add_argument("email")
        set_quota.add_argument("mib", metavar="MIB|default")
        for name, text in (
            ("disable", "stop the account signing in (mail for it is still kept)"),
            ("enable", "let a disabled account sign in again"),
            ("resend-activation", "email a new activation link to an account never activated"),
        ):
            sub.add_parser(name, help=text).add_argument("email")
        delete = sub.add_parser("delete", help="delete the account with all its mail, for good")
        delete.add_argument("email")
        delete.add_argument("--yes", action="store_true", help="do not ask for confirmation")
        reset = sub.add_parser(
            "reset-2fa",
            help="remove the app, passkeys and recovery codes of someone who lost them all; "
            "ends their sessions",
        )
        reset.add_argument("email")
        unlock = sub.add_parser(
            "unlock",
            help="lift a sign-in pause after failed attempts, of an address or a client IP",
        )
        unlock.add_argument("email", metavar="EMAIL|IP")

    def _user(self, email: str) -> User:
        # An address with no canonical form is looked up as typed: an account
        # the upgrade left under it (sealbox.W020) can still be shown and deleted.
        try:
            return User.objects.get(email=_canonical(email) or email.strip())
        except User.DoesNotExist:
            raise CommandError(f"no account {email}") from None

    def handle(self, *args: Any, **options: Any) -> None:
        action = options["action"]
        if action == "list":
            self.list(options)
            return
        if action == "unlock" and _is_ip(options["email"]):
            ip = str(ipaddress.ip_address(options["email"]))
            network = signin.client_network(ip)  # IPv6 clients count by their /64
            throttle.clear([throttle.Key(throttle.CLIENT, network)])
            actions.audit(actions.Actor.command_line(), "lift sign-in pause", ip)
            self.stdout.write(f"Sign-in from {ip} is no longer paused.")
            return
        user = self._user(options["email"])
        actor = actions.Actor.command_line()
        if action == "show":
            self.show(user)
        elif action == "set-quota":
            self.set_quota(actor, user, options["mib"])
        elif action == "disable":
            done = actions.disable(actor, user)
            self.stdout.write(
                f"{user.email} is disabled: it cannot sign in, its sessions ended; "
                "mail for it is still kept."
                if done
                else f"{user.email} was already disabled."
            )
        elif action == "enable":
            done = actions.enable(actor, user)
            self.stdout.write(
                f"{user.email} can sign in again." if done else f"{user.email} was not disabled."
            )
        elif action == "resend-activation":
            try:
                actions.resend_activation(actor, user)
            except actions.NotPossible as e:
                raise CommandError(str(e)) from None
            self.stdout.write(f"A new activation link was sent to {user.email}.")
        elif action == "delete":
            self.delete(actor, user, options["yes"])
        elif action == "reset-2fa":
            had = actions.reset_two_factor(actor, user)
            if had:
                self.stdout.write(
                    f"Two-factor sign-in of {user.email} is reset: app, passkeys and recovery codes "
                    "removed, every session ended. They sign in with their password alone and "
                    "can set it up again."
                )
            else:
                self.stdout.write(f"{user.email} had no two-factor sign-in; every session ended.")
        elif action == "unlock":
            actions.unlock(actor, user)
            self.stdout.write(
                f"Sign-in for {user.email} is no longer paused. (A pause of their network "
                "is lifted with 'sealbox user unlock IP'.)"
            )

    def list(self, options: dict[str, Any]) -> None:
        qs = overview.accounts().order_by("email")
        if options["status"]:
            qs = overview.with_status(qs, STATUS_OPTIONS[options["status"]])
        if options["never_signed_in"]:
            qs = overview.never_signed_in(qs)
        if options["over"] is not None:
            qs = overview.over_share(qs, options["over"])
        if options["operators"]:
            qs = qs.filter(is_staff=True)
        header = (
            f"{'ADDRESS':<40} {'STATUS':<16} {'CREATED':<16} {'LAST SIGN-IN':<16} "
            f"{'MESSAGES':>8}  {'USAGE / QUOTA':<28} 2FA"
        )
        self.stdout.write(header)
        locked = overview.locked_keys()
        count = 0
        for user in qs.iterator(chunk_size=2000):
            count += 1
            self.stdout.write(
                f"{user.email:<40} {overview.status(user, locked):<16} {when(user.created):<16} "
                f"{when(user.last_login):<16} {user.message_count:>8}  "  # type: ignore[attr-defined]
                f"{usage_text(user):<28} {'on' if user.two_factor else 'off'}"  # type: ignore[attr-defined]
            )
        self.stdout.write(f"{count} account(s)")

    def show(self, user: User) -> None:
        counts = Message.objects.filter(owner=user).aggregate(
            received=Count("id", filter=Q(folder=Message.Folder.INBOX)),
            sent=Count("id", filter=Q(folder=Message.Folder.SENT)),
            unread=Count("id", filter=Q(folder=Message.Folder.INBOX, read_at__isnull=True)),
        )
        days = user.effective_retention_days
        kept = "for ever" if not days else f"{days} days"
        retention = (
            f"{kept} (the default)" if user.retention_days is None else f"{kept} (own choice)"
        )
        limit = user.quota_bytes
        own = "" if user.quota_mb is None else " (own quota)"
        lines = [
            ("Address", user.email),
            ("Name", user.display_name or "-"),
            ("Status", overview.status(user)),
            ("Operator", "yes" if user.is_staff else "no"),
            ("Created", when(user.created)),
            ("Activated", when(user.activated_at)),
            ("Last sign-in", when(user.last_login)),
            (
                "Messages",
                f"{counts['received']} received ({counts['unread']} unread), {counts['sent']} sent",
            ),
            ("Usage", f"{usage_text(user)}{own}" if limit else usage_text(user)),
            ("Keeps mail", retention),
            ("Reminders", "on" if user.expiry_reminders else "off"),
            ("Read receipts", receipts_text(user)),
            (
                "Two-factor",
                f"app {'on' if user.has_totp else 'off'}, {user.passkeys.count()} passkey(s), "
                f"{twofactor.unused_recovery_codes(user)} recovery code(s) left",
            ),
            ("May write new", "yes" if user.may_compose else "no"),
        ]
        for label, value in lines:
            self.stdout.write(f"{label + ':':<15} {value}")
        recent = Activity.objects.filter(user=user).order_by("-at", "-id")[:5]
        self.stdout.write("Recent activity:")
        for entry in recent:
            self.stdout.write(f"  {when(entry.at)}  {entry.get_kind_display()}  {entry.ip or '-'}")
        if not recent:
            self.stdout.write("  (none)")

    def set_quota(self, actor: actions.Actor, user: User, value: str) -> None:
        try:
            mb = None if value.lower() == "default" else quota.parse_mb(value)
        except ValueError:
            raise CommandError(
                f"expected a number of MiB up to {quota.MAX_MB}, 0 or 'default', got {value!r}"
            ) from None
        actions.set_quota(actor, user, mb)
        user.refresh_from_db()
        default = f"the default, {settings.QUOTA_MB} MiB" if settings.QUOTA_MB else "the default"
        text = default if mb is None else ("no limit" if mb == 0 else f"{mb} MiB")
        self.stdout.write(f"Quota of {user.email}: {text}. Now using {usage_text(user)}.")

    def delete(self, actor: actions.Actor, user: User, yes: bool) -> None:
        count = Message.objects.filter(owner=user).count()
        if not yes:
            if not sys.stdin.isatty():
                raise CommandError("not on a terminal: add --yes to delete without asking")
            self.stdout.write(
                f"This deletes {user.email} and its {count} message(s) for good. "
                "Type the address to confirm: ",
                ending="",
            )
            self.stdout.flush()
            if _canonical(sys.stdin.readline()) != user.email:
                raise CommandError("not confirmed; nothing deleted")
        removed = actions.delete_account(actor, user)
        self.stdout.write(f"Deleted {user.email} and {removed} message(s).")


def _canonical(typed: str) -> str | None:
    """A typed address in the form accounts are kept under; None if it is none."""
    try:
        return addresses.normalize(typed)
    except addresses.InvalidAddress:
        return None


def receipts_text(user: User) -> str:
    """The account's read receipts as the operator's policy and its own setting make them."""
    if settings.READ_RECEIPTS != "ask":
        return f"{settings.READ_RECEIPTS} (SEALBOX_READ_RECEIPTS, for every account)"
    said = {"ask": "asked each time", "always": "sent when asked", "never": "never sent"}
    own = " (the default)" if user.read_receipts == ReadReceipts.ASK else " (own choice)"
    return said[user.read_receipts] + own

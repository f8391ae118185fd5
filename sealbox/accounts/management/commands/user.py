from __future__ import annotations

import ipaddress
import logging
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from sealbox import addresses
from sealbox.accounts import activity, signin, throttle, twofactor
from sealbox.accounts.models import Activity, User

log = logging.getLogger("sealbox.accounts.operator")


def _is_ip(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


class Command(BaseCommand):
    help = "Manage accounts: 'user reset-2fa EMAIL', 'user unlock EMAIL'."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
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
        try:
            return User.objects.get(email=addresses.normalize(email))
        except (User.DoesNotExist, addresses.InvalidAddress):
            raise CommandError(f"no account {email}") from None

    def handle(self, *args: Any, **options: Any) -> None:
        if options["action"] == "unlock" and _is_ip(options["email"]):
            ip = str(ipaddress.ip_address(options["email"]))
            network = signin.client_network(ip)  # IPv6 clients count by their /64
            throttle.clear([throttle.Key(throttle.CLIENT, network)])
            log.warning("operator lifted the sign-in pause of client %s", ip)
            self.stdout.write(f"Sign-in from {ip} is no longer paused.")
            return
        user = self._user(options["email"])
        if options["action"] == "reset-2fa":
            had = user.has_two_factor
            twofactor.reset(user)
            activity.record(user, Activity.Kind.TWO_FACTOR_RESET, detail="sealbox user reset-2fa")
            log.warning("operator reset two-factor sign-in of account %s (%s)", user.pk, user.email)
            if had:
                self.stdout.write(
                    f"Two-factor sign-in of {user.email} is reset: app, passkeys and recovery codes "
                    "removed, every session ended. They sign in with their password alone and "
                    "can set it up again."
                )
            else:
                self.stdout.write(f"{user.email} had no two-factor sign-in; every session ended.")
        elif options["action"] == "unlock":
            throttle.clear([throttle.Key(throttle.ACCOUNT, user.email)])
            log.warning("operator lifted the sign-in pause of account %s", user.pk)
            self.stdout.write(
                f"Sign-in for {user.email} is no longer paused. (A pause of their network "
                "is lifted with 'sealbox user unlock IP'.)"
            )

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from sealbox import addresses
from sealbox.accounts.models import User
from sealbox.mailstore import search
from sealbox.mailstore.models import Message
from sealbox.vault import unlock


class Command(BaseCommand):
    help = (
        "Inspect mailboxes: 'mailbox list EMAIL' shows one line per stored message; "
        "'mailbox index' makes mail stored before search knew attachment names findable by them."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        lister = sub.add_parser("list", help="list the messages stored for an address")
        lister.add_argument("email")
        sub.add_parser(
            "index",
            help="read the attachment names of mail stored before they were kept, for search "
            "(resumable; with encryption at rest it needs the key)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["action"] == "index":
            self.index()
            return
        try:
            email = addresses.normalize(options["email"])
        except addresses.InvalidAddress:
            email = options["email"].strip()  # as typed: an account left so by the upgrade
        try:
            user = User.objects.get(email=email)
        except User.DoesNotExist:
            raise CommandError(f"no mailbox for {options['email']}") from None
        messages = Message.objects.filter(owner=user).order_by("received_at")
        state = "activated" if user.is_activated else "not activated yet"
        self.stdout.write(f"{user.email} ({state}): {messages.count()} message(s)")
        rows = messages.values_list(
            "id", "received_at", "size", "folder", "message_id", "sealed_summary"
        )
        for pk, received_at, size, folder, message_id, summary in rows:
            if summary:
                # Sealed with the rest of what the message says about itself.
                message_id = "(encrypted)"
            when = timezone.localtime(received_at).strftime("%Y-%m-%d %H:%M:%S %z")
            self.stdout.write(f"{pk}  {when}  {size:>10}  {folder:<5}  {message_id or '-'}")

    def index(self) -> None:
        if Message.objects.filter(sealed_summary__isnull=False).exists():
            unlock.wait_for_key()
        done, skipped = search.index_attachment_names()
        self.stdout.write(f"{done} message(s) given their attachment names for search.")
        if skipped:
            self.stdout.write(
                f"{skipped} message(s) skipped: their file does not open, or it is encrypted "
                "to other certificates than the configured ones (run `sealbox storage rotate` "
                "first). They are still found by sender, recipients and subject."
            )

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from sealbox.outbound import queue
from sealbox.outbound.models import OutgoingEmail

STATES = (*queue.STATES, "all")
RETRY_STATES = ("retrying", "failed")


class Command(BaseCommand):
    help = (
        "Inspect the outgoing mail queue: 'outbox list [--state failed]'; send waiting or failed "
        "mail now: 'outbox retry ID', 'outbox retry --state retrying|failed', 'outbox retry --all'."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        lister = sub.add_parser("list", help="list queued, retrying and failed emails")
        lister.add_argument("--state", choices=STATES, default=None, help="only this state")
        retry = sub.add_parser("retry", help="send failed or waiting emails now")
        retry.add_argument("id", nargs="?", help="one email")
        which = retry.add_mutually_exclusive_group()
        which.add_argument("--all", action="store_true", help="every email not sent yet")
        which.add_argument("--state", choices=RETRY_STATES, help="every email in this state")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["action"] == "retry":
            self.retry(options["id"], options["all"], options["state"])
        else:
            self.show(options["state"])

    def retry(self, email_id: str | None, every: bool, state: str | None) -> None:
        if (email_id is None) == (not every and state is None):
            raise CommandError("give one email's ID, --state retrying|failed or --all")
        if email_id is not None:
            self.retry_one(email_id)
            return
        n = queue.retry_now(queue.in_state(OutgoingEmail.objects.all(), state))
        self.stdout.write(f"{n} email(s) queued to be sent now")

    def retry_one(self, email_id: str) -> None:
        try:
            item = OutgoingEmail.objects.get(id=email_id)
        except (OutgoingEmail.DoesNotExist, ValidationError, ValueError) as e:
            raise CommandError(f"no outgoing email {email_id}") from e
        if not queue.retry(item):
            item.refresh_from_db()
            if item.status == OutgoingEmail.Status.SENT:
                raise CommandError(f"{item.id} was already sent; nothing to retry")
            raise CommandError(f"{item.id} is being sent right now; nothing to retry")
        self.stdout.write(f"{item.id} queued again")

    def show(self, state: str | None) -> None:
        qs = OutgoingEmail.objects.order_by("created")
        if state != "all":
            qs = queue.in_state(qs, state)
        rows = list(qs)
        if not rows:
            self.stdout.write(
                "The outgoing queue is empty." if state is None else f"No {state} emails."
            )
            return
        for item in rows:
            label = "retrying" if item.retrying else item.status
            when = timezone.localtime(item.created).strftime("%Y-%m-%d %H:%M:%S")
            line = (
                f"{item.id}  {when}  {label:<8}  {item.kind:<12}  to {', '.join(item.recipients)}"
            )
            if item.attempts:
                line += f"  attempts {item.attempts}"
            if item.last_error:
                line += f"  last error: {item.last_error}"
            self.stdout.write(line)

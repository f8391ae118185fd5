from __future__ import annotations

import logging
import sys
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from sealbox.intake.delivery import DeliveryError, MailboxFull, deliver
from sealbox.intake.exits import (
    EX_CANTCREAT,
    EX_DATAERR,
    EX_NOUSER,
    EX_OK,
    EX_TEMPFAIL,
    cause,
    temporary_problem,
)
from sealbox.mailstore.mailbox import Trace

log = logging.getLogger("sealbox.intake.deliver")


class Command(BaseCommand):
    help = (
        "Deliver one message read from standard input to the recipients' mailboxes. "
        "Exit 0 delivered, 75 temporary failure, 65, 67 or 73 (mailbox full) permanent failure."
    )
    # A problem elsewhere (say the SMTP certificate) must not bounce mail:
    # the MTA takes a failed system check's exit status 1 as permanent.
    requires_system_checks: list[str] = []

    def create_parser(self, prog_name: str, subcommand: str, **kwargs: Any) -> CommandParser:
        parser = super().create_parser(prog_name, subcommand, **kwargs)
        # A bad command line raises CommandError (answered below), not argparse's exit 2.
        parser.called_from_command_line = False
        return parser

    def run_from_argv(self, argv: list[str]) -> None:
        try:
            super().run_from_argv([*argv[:2], *addresses_as_arguments(argv[2:])])
        except CommandError as e:
            # The pipe's configuration, not the message, is wrong: the MTA keeps the mail.
            reason = str(e).removeprefix("Error: ")
            sys.exit(self.fail(EX_TEMPFAIL, f"4.3.0 bad command line: {reason}"))

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--from", dest="sender", required=True, help="envelope sender ('' for a bounce)"
        )
        parser.add_argument("recipients", nargs="+", metavar="RECIPIENT")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["verbosity"] < 2:
            # The MTA takes all of stderr as the reason: keep it to our one line.
            logging.disable(logging.CRITICAL)
        sys.exit(self.run(options["sender"], options["recipients"]))

    def fail(self, code: int, reason: str) -> int:
        self.stderr.write(f"sealbox deliver: {reason}")
        return code

    def run(self, sender: str, recipients: list[str]) -> int:
        limit = settings.SMTP_MAX_MESSAGE_SIZE
        data = sys.stdin.buffer.read(limit + 1)
        if len(data) > limit:
            return self.fail(EX_DATAERR, f"5.3.4 message too big: over {limit} bytes")
        try:
            stored = deliver(sender, recipients, data, Trace(protocol="local (pipe)"))
        except DeliveryError as e:
            if e.temporary:
                return self.fail(EX_TEMPFAIL, f"{e.status} {e.text}{cause(e.__cause__)}")
            code = EX_NOUSER if e.status.startswith("5.1") else EX_DATAERR
            if isinstance(e, MailboxFull):
                code = EX_CANTCREAT
            return self.fail(code, f"{e.status} {e.text}")
        except Exception as e:  # e.g. the database is unreachable before deliver() began
            log.error("delivery failed: %s", e)
            return self.fail(EX_TEMPFAIL, temporary_problem(e))
        log.info("delivered to %d recipient(s)", len(stored))
        return EX_OK


# Options that take a value: given as --name=VALUE, the value is never read as an option.
_WITH_VALUE = ("--from", "-v", "--verbosity", "--settings", "--pythonpath")


def addresses_as_arguments(words: list[str]) -> list[str]:
    """The command line with every address an argument, never an option.

    argparse reads "-dash@example.org" as an option, whether it follows --from or is a
    recipient; the MTA passes addresses as they are. A word with an "@" is an address.
    """
    options: list[str] = []
    recipients: list[str] = []
    rest = iter(words)
    for word in rest:
        if word == "--":
            recipients.extend(rest)
        elif word in _WITH_VALUE:
            value = next(rest, None)
            options.append(word if value is None else f"{word}={value}")
        elif word.startswith("-") and ("@" not in word or word.partition("=")[0] in _WITH_VALUE):
            options.append(word)
        else:
            recipients.append(word)
    return [*options, "--", *recipients]

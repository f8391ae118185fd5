"""The `sealbox` command: Django's management commands under the product's name."""

from __future__ import annotations

import os
import sys
from typing import NoReturn

# Commands whose documented name has a hyphen (Django's are module names).
ALIASES = {"generate-cert": "generate_cert"}


def command_name(args: list[str]) -> str:
    """The management command the arguments name; "help" for help and the version."""
    if not args or args[0].startswith("-") or {"-h", "--help"} & set(args):
        return "help"
    return args[0]


def main(argv: list[str] | None = None) -> None:
    # Whatever this process and its children create is the service user's alone:
    # before anything is imported that may write (importing datadir writes nothing).
    from sealbox import datadir

    datadir.private_umask()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "sealbox.settings")
    args = list(sys.argv[1:] if argv is None else argv)
    if args:
        args[0] = ALIASES.get(args[0], args[0])
    from django.core.exceptions import ImproperlyConfigured
    from django.core.management import execute_from_command_line

    from sealbox import processes

    processes.follow_serve()

    try:
        refusal = datadir.prepare(command_name(args))
        if refusal:
            sys.stderr.write(f"sealbox: {refusal}\n")
            sys.exit(75 if args[:1] == ["deliver"] else 2)
        execute_from_command_line(["sealbox", *args])
    except ImproperlyConfigured as e:
        # A configuration mistake is the operator's to fix: say it in one line.
        sys.stderr.write(f"sealbox: configuration error: {e}\n")
        # For the pipe transport a broken configuration is temporary (EX_TEMPFAIL):
        # the MTA keeps the mail until the operator fixes it, rather than bouncing it.
        sys.exit(75 if args[:1] == ["deliver"] else 2)
    except BaseException as e:
        if args[:1] == ["deliver"]:
            deliver_failed(e)
        raise


# What `sealbox deliver` answers itself (sysexits): delivered, or the message's own fault.
DELIVER_EXITS = (0, 65, 67, 73, 75)


def deliver_failed(error: BaseException) -> NoReturn:
    """End `sealbox deliver` the way the MTA understands: anything that failed and is not
    the message's fault (settings, database, permissions, a bug) is temporary, exit 75 with
    one line on stderr, never a traceback or exit 1, which bounce the mail."""
    if isinstance(error, SystemExit):
        if error.code is None or error.code in DELIVER_EXITS:
            raise error
        if isinstance(error.code, str):
            sys.stderr.write(f"sealbox deliver: 4.3.0 {error.code}\n")
        # Otherwise Django has written its one line already (CommandError).
        sys.exit(75)
    lines = str(error).strip().splitlines()
    detail = f"{error.__class__.__name__}: {lines[0]}" if lines else error.__class__.__name__
    sys.stderr.write(f"sealbox deliver: 4.3.0 temporary local problem ({detail[:200]})\n")
    sys.exit(75)


if __name__ == "__main__":
    main()

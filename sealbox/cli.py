"""The `sealbox` command: Django's management commands under the product's name."""

from __future__ import annotations

import os
import sys

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
    from sealbox.intake import exits

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
            sys.exit(exits.EX_TEMPFAIL if args[:1] == ["deliver"] else 2)
        execute_from_command_line(["sealbox", *args])
    except ImproperlyConfigured as e:
        # A configuration mistake is the operator's to fix: say it in one line.
        sys.stderr.write(f"sealbox: configuration error: {e}\n")
        # For the pipe transport a broken configuration is temporary (EX_TEMPFAIL):
        # the MTA keeps the mail until the operator fixes it, rather than bouncing it.
        sys.exit(exits.EX_TEMPFAIL if args[:1] == ["deliver"] else 2)
    except BaseException as e:
        if args[:1] == ["deliver"]:
            exits.failed(e)
        raise


if __name__ == "__main__":
    main()

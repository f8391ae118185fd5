"""The `sealbox` command: Django's management commands under the product's name."""

from __future__ import annotations

import os
import sys

# Commands whose documented name has a hyphen (Django's are module names).
ALIASES = {"generate-cert": "generate_cert"}


def main(argv: list[str] | None = None) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "sealbox.settings")
    args = list(sys.argv[1:] if argv is None else argv)
    if args:
        args[0] = ALIASES.get(args[0], args[0])
    from django.core.exceptions import ImproperlyConfigured
    from django.core.management import execute_from_command_line

    try:
        execute_from_command_line(["sealbox", *args])
    except ImproperlyConfigured as e:
        # A configuration mistake is the operator's to fix: say it in one line.
        sys.stderr.write(f"sealbox: configuration error: {e}\n")
        # For the pipe transport a broken configuration is temporary (EX_TEMPFAIL):
        # the MTA keeps the mail until the operator fixes it, rather than bouncing it.
        sys.exit(75 if args[:1] == ["deliver"] else 2)


if __name__ == "__main__":
    main()

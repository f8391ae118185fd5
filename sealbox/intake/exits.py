"""How `sealbox deliver` ends: a sysexits status Postfix's pipe(8) understands, one line why.

Imports nothing of Django's or the settings': sealbox/cli.py uses it for
failures that happen before the deliver command (or the settings) load.
"""

from __future__ import annotations

import sys
from typing import NoReturn

EX_OK = 0
EX_DATAERR = 65  # the message's own fault: bounced
EX_NOUSER = 67
EX_CANTCREAT = 73  # mailbox full
EX_TEMPFAIL = 75  # anything else: the MTA keeps the mail and tries again

# What `sealbox deliver` answers itself: delivered, or the message's own fault.
ANSWERS = (EX_OK, EX_DATAERR, EX_NOUSER, EX_CANTCREAT, EX_TEMPFAIL)


def say(reason: str) -> None:
    """The one line on stderr that the MTA takes as the reason."""
    sys.stderr.write(f"sealbox deliver: {reason}\n")


def cause(error: BaseException | None) -> str:
    """' (Kind: first line of the message)' for the error behind a failure, or ''."""
    if error is None:
        return ""
    lines = str(error).strip().splitlines()
    detail = f"{error.__class__.__name__}: {lines[0]}" if lines else error.__class__.__name__
    return f" ({detail[:200]})"


def temporary_problem(error: BaseException) -> str:
    return f"4.3.0 temporary local problem{cause(error)}"


def failed(error: BaseException) -> NoReturn:
    """End `sealbox deliver` the way the MTA understands: anything that failed and is not
    the message's fault (settings, database, permissions, a bug) is temporary, exit 75 with
    one line on stderr, never a traceback or exit 1, which bounce the mail."""
    if isinstance(error, SystemExit):
        if error.code is None or error.code in ANSWERS:
            raise error
        if isinstance(error.code, str):
            say(f"4.3.0 {error.code}")
        # Otherwise Django has written its one line already (CommandError).
        sys.exit(EX_TEMPFAIL)
    say(temporary_problem(error))
    sys.exit(EX_TEMPFAIL)

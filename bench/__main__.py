"""python -m bench [SECTION ...]: run the benchmark sections (all of them by default)."""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time
from types import FrameType

from bench import bigmail, cleanup, intake, portal
from bench.util import Context, Database, Section, machine_note

# In the order they run; add new sections here.
SECTIONS: list[Section] = [
    intake.SECTION,
    portal.SECTION,
    bigmail.SECTION,
    cleanup.SECTION,
]


def _terminated(signum: int, frame: FrameType | None) -> None:
    # Unwind as for Ctrl-C, so that the servers are stopped and the temp dirs removed.
    raise SystemExit(128 + signum)


def main(argv: list[str] | None = None) -> int:
    names = [s.name for s in SECTIONS]
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="Sealbox benchmarks. Tables go to stdout, progress to stderr.",
        epilog="sections: " + ", ".join(f"{s.name} ({s.title})" for s in SECTIONS),
    )
    parser.add_argument(
        "sections", nargs="*", metavar="SECTION", help=f"run only these: {', '.join(names)}"
    )
    parser.add_argument("--list", action="store_true", help="list the sections and exit")
    parser.add_argument(
        "--messages",
        type=int,
        metavar="N",
        help="cleanup: expired messages to make (default 100,000; or BENCH_CLEANUP_MESSAGES)",
    )
    args = parser.parse_args(argv)
    if args.list:
        for s in SECTIONS:
            print(f"{s.name:12} {s.title}")
        return 0
    unknown = [n for n in args.sections if n not in names]
    if unknown:
        parser.error(f"unknown section(s) {', '.join(unknown)}; choose from {', '.join(names)}")
    if args.messages is not None:
        if args.messages < 1:
            parser.error("--messages: give a whole number above 0")
        os.environ["BENCH_CLEANUP_MESSAGES"] = str(args.messages)
    chosen = [s for s in SECTIONS if not args.sections or s.name in args.sections]

    signal.signal(signal.SIGTERM, _terminated)
    database = Database.from_environment()
    print("Sealbox benchmarks")
    for line in machine_note(database):
        print("  " + line)
    print(flush=True)

    began = time.monotonic()
    for section in chosen:
        print(f"== {section.name}: {section.title}\n", flush=True)
        ctx = Context(database)
        try:
            section.run(ctx)
        finally:
            ctx.close()
    print(f"({len(chosen)} section(s) in {time.monotonic() - began:.0f}s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

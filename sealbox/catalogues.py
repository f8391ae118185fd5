"""Compiling the gettext catalogues: sealbox/locale/*/LC_MESSAGES/django.po to .mo.

Run by the install (the Makefile, and setup.py's build step for `pip install .`)
and whenever a catalogue is newer than its compiled file; nothing to do by hand.
Depends on babel and the standard library only, so the package build can use it
before Django is installed. Fuzzy entries are left out, as gettext's msgfmt does.

    python -m sealbox.catalogues [--force] [LOCALE_DIR]
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

LOCALE_DIR = Path(__file__).resolve().parent / "locale"


def compile_one(po: Path) -> Path:
    """Write po's .mo next to it, atomically (a running server never reads half a file)."""
    mo = po.with_suffix(".mo")
    with po.open("rb") as f:
        catalog = read_po(f, abort_invalid=True)
    fd, tmp = tempfile.mkstemp(dir=po.parent, prefix=".django.", suffix=".mo")
    try:
        with os.fdopen(fd, "wb") as out:
            write_mo(out, catalog)
        os.chmod(tmp, 0o644)
        os.replace(tmp, mo)
    except BaseException:
        os.unlink(tmp)
        raise
    return mo


def compile_all(locale_dir: Path = LOCALE_DIR, force: bool = False) -> list[Path]:
    """Compile every catalogue whose .mo is missing or older; the .mo files written."""
    written = []
    for po in sorted(locale_dir.glob("*/LC_MESSAGES/*.po")):
        mo = po.with_suffix(".mo")
        if force or not mo.exists() or mo.stat().st_mtime < po.stat().st_mtime:
            written.append(compile_one(po))
    return written


def main(argv: list[str]) -> int:
    force = "--force" in argv
    dirs = [Path(a) for a in argv if a != "--force"] or [LOCALE_DIR]
    for locale_dir in dirs:
        for mo in compile_all(locale_dir, force=force):
            print(f"compiled {mo}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""`sealbox brand preview --out DIR`: review the branding before going live."""

from __future__ import annotations

from argparse import SUPPRESS, ArgumentParser
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from sealbox.operator import preview


class Command(BaseCommand):
    # The preview needs no data directory of the installation's (it makes its own).
    requires_system_checks: list[str] = []
    help = (
        "Render every kind of email (.eml and .html) and the main pages with sample data, "
        "in every language, with this installation's branding."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        for name, text in (
            (
                "preview",
                "write the samples to a directory (the installation's data is not touched)",
            ),
            # Used by preview in a process of its own on a throw-away database; refused elsewhere.
            ("render", SUPPRESS),
        ):
            action = sub.add_parser(name, help=text)
            action.add_argument("--out", required=True, type=Path, help="directory to write to")

    def handle(self, *args: Any, **options: Any) -> None:
        out: Path = options["out"].expanduser().absolute()
        if options["action"] == "render":
            if not preview.is_throw_away():
                raise CommandError(
                    "brand render runs only inside `sealbox brand preview`, on its own throw-away "
                    "data; use `sealbox brand preview --out DIR`."
                )
            written = preview.render(out)
            self.stdout.write(f"{len(written)} file(s)")
            return
        try:
            preview.run(out)
        except preview.PreviewError as e:
            raise CommandError(f"brand preview: {e}") from None
        self.stdout.write(f"Wrote the preview to {out}; open {out / 'index.html'} in a browser.")

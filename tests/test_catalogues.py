"""Every catalogue complete (nothing untranslated or fuzzy, placeholders kept) and up to date
(every message in the sources is in it).

Up to date is checked by extracting the messages afresh with Django's makemessages
(GNU gettext's xgettext) into a temporary copy of the sources: the real catalogues
are never written by the tests.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po, write_po

SEALBOX = Path(__file__).resolve().parents[1] / "sealbox"
CATALOGUES = sorted(SEALBOX.glob("locale/*/LC_MESSAGES/django.po"))
# %(name)s, %s, %d, %%; and {name} in str.format strings.
PLACEHOLDER = re.compile(r"%(?:\([^)]*\))?[-#0 +]*\d*(?:\.\d+)?[sdifr%]|\{[\w.]*\}")


def read(path: Path) -> Catalog:
    with path.open("rb") as f:
        return read_po(f, abort_invalid=True)


def placeholders(text: str) -> set[str]:
    return {p for p in PLACEHOLDER.findall(text) if p != "%%"}


def problems(catalog: Catalog) -> list[str]:
    """What keeps a catalogue from being complete, one line each."""
    found = []
    for message in catalog:
        if not message.id:
            continue  # the header
        name = message.id if isinstance(message.id, str) else message.id[0]
        ids = [message.id] if isinstance(message.id, str) else list(message.id)
        strings = [message.string] if isinstance(message.string, str) else list(message.string)
        if message.fuzzy:
            found.append(f"fuzzy: {name!r}")
        if message.pluralizable and len(strings) != catalog.num_plurals:
            found.append(f"{len(strings)} plural forms, not {catalog.num_plurals}: {name!r}")
        if not all(s.strip() for s in strings):
            found.append(f"untranslated: {name!r}")
            continue
        expected = set().union(*(placeholders(i) for i in ids))
        for s in strings:
            # A plural form for exactly one may write the number out ("one message").
            if placeholders(s) != expected and not (
                message.pluralizable and placeholders(s) < expected and len(strings) > 1
            ):
                found.append(
                    f"placeholders {sorted(placeholders(s))} for {sorted(expected)}: {name!r}"
                )
    return found


@pytest.mark.parametrize("po", CATALOGUES, ids=lambda p: p.parts[-3])
def test_catalogue_is_complete(po: Path) -> None:
    assert problems(read(po)) == []


def extracted(tmp_path: Path) -> Catalog:
    """The messages in today's sources, extracted as makemessages does, in a copy of them."""
    if shutil.which("xgettext") is None:
        pytest.fail(
            "GNU gettext's xgettext is needed (Debian package gettext; .ci/run installs it)"
        )
    source = tmp_path / "sealbox"
    shutil.copytree(SEALBOX, source, ignore=shutil.ignore_patterns("locale", "__pycache__"))
    (source / "locale").mkdir()
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    subprocess.run(
        [sys.executable, "-m", "django", "makemessages", "--locale", "de", "--no-location"],
        cwd=source,
        env=env,
        check=True,
        capture_output=True,
    )
    return read(source / "locale" / "de" / "LC_MESSAGES" / "django.po")


@pytest.fixture(scope="module")
def fresh(tmp_path_factory: pytest.TempPathFactory) -> Catalog:
    return extracted(tmp_path_factory.mktemp("extract"))


def missing(catalog: Catalog, fresh: Catalog) -> list[str]:
    return sorted(str(m.id) for m in fresh if m.id and catalog.get(m.id, context=m.context) is None)


@pytest.mark.parametrize("po", CATALOGUES, ids=lambda p: p.parts[-3])
def test_catalogue_has_every_message_of_the_sources(po: Path, fresh: Catalog) -> None:
    assert missing(read(po), fresh) == []


# --- The checks themselves, on a catalogue completed here --------------------------


def completed(fresh: Catalog) -> Catalog:
    """A catalogue with every message of the sources, "translated" by copying it."""
    catalog = Catalog(locale="de")
    for m in fresh:
        if not m.id:
            continue
        string = m.id if isinstance(m.id, str) else tuple(m.id)
        catalog.add(m.id, string, context=m.context, flags=m.flags - {"fuzzy"})
    return catalog


def round_trip(catalog: Catalog, tmp_path: Path) -> Catalog:
    path = tmp_path / "django.po"
    with path.open("wb") as f:
        write_po(f, catalog)
    return read(path)


def test_a_completed_catalogue_passes_and_each_flaw_is_found(
    fresh: Catalog, tmp_path: Path
) -> None:
    catalog = round_trip(completed(fresh), tmp_path)
    assert problems(catalog) == []
    assert missing(catalog, fresh) == []
    assert len(fresh) > 100

    plural = next(m for m in catalog if m.pluralizable)
    named = next(m for m in catalog if not m.pluralizable and m.id and "%(" in str(m.id))
    plain = next(m for m in catalog if not m.pluralizable and m.id and "%" not in str(m.id))
    dropped = next(m for m in catalog if m.id and all(m is not f for f in (plain, named, plural)))
    plain.flags.add("fuzzy")
    named.string = re.sub(r"%\(\w+\)s", "%(oops)s", str(named.id))
    plural.string = (plural.string[0], "")
    catalog.delete(dropped.id, context=dropped.context)

    found = problems(round_trip(catalog, tmp_path))
    assert f"fuzzy: {plain.id!r}" in found
    assert any(f.startswith("placeholders ['%(oops)s']") for f in found)
    assert f"untranslated: {plural.id[0]!r}" in found
    assert missing(catalog, fresh) == [str(dropped.id)]

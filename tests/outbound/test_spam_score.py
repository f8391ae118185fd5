"""Every kind of email scores at most 1.0 with Debian's SpamAssassin and its shipped rules.

Local tests only (-L: no network, no DNS lists); the user preferences go to a
temporary file, never the home directory.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.outbound import samples

pytestmark = [pytest.mark.django_db, pytest.mark.slow]

SPAMASSASSIN = "/usr/bin/spamassassin"
LIMIT = 1.0


def score(raw: bytes, prefs: Path) -> tuple[float, str]:
    """SpamAssassin's score of a message, and the rules it hit."""
    assert shutil.which(SPAMASSASSIN), f"{SPAMASSASSIN} is missing: apt-get install spamassassin"
    result = subprocess.run(
        [SPAMASSASSIN, "-L", "-t", "-p", str(prefs)],
        input=raw,
        capture_output=True,
        timeout=120,
        check=True,
    )
    out = result.stdout.decode("utf-8", "replace")
    status = re.search(r"^X-Spam-Status: .*?(?=^\S)", out, re.M | re.S)
    assert status, out[:2000]
    found = re.search(r"score=(-?[0-9.]+)", status.group(0))
    assert found, status.group(0)
    return float(found.group(1)), " ".join(status.group(0).split())


@pytest.mark.parametrize("kind", sorted(samples.KINDS))
def test_every_kind_of_email_scores_low(kind: str, settings: Any, tmp_path: Path) -> None:
    samples.brand(settings, tmp_path)
    msg = samples.KINDS[kind]()

    points, status = score(msg.as_bytes(), tmp_path / "user_prefs")

    assert points <= LIMIT, f"{kind} scores {points}: {status}"

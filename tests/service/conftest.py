from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.service.fulldisk import tmpfs


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 32 MiB file system of its own (a real tmpfs), unmounted afterwards."""
    with tmpfs(tmp_path / "disk", 32) as path:
        yield path

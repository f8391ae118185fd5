"""Reading a byte range of a sealed file without opening all of it."""

from __future__ import annotations

import os
import random
import uuid
from pathlib import Path

import pytest
from django.conf import settings

from sealbox.mailstore import blobs
from sealbox.vault import keys, seal, stream
from tests.vault.conftest import Vault


def sealed_file(data: bytes, to: seal.Recipients | None = None) -> str:
    rel = blobs.relative_path(uuid.uuid4(), "set")
    path = Path(settings.DATA_DIR) / rel
    path.parent.mkdir(parents=True)
    path.write_bytes(seal.seal(data, to))
    return rel


@pytest.mark.parametrize("size", [0, 1, 15, 16, 17, 4095, 1_000_003])
def test_any_range_of_a_sealed_file_reads_as_its_plaintext(encryption: Vault, size: int) -> None:
    data = os.urandom(size)
    rng = random.Random(size)

    stored = blobs.reader(sealed_file(data))

    assert isinstance(stored, stream.SealedReader)
    assert stored.size == size
    assert b"".join(stored.chunks()) == data
    for _ in range(40):
        start = rng.randrange(size + 1)
        end = rng.randrange(start, size + 1)
        piece = rng.choice([16, 100, 65536, 1 << 20])
        assert b"".join(stored.chunks(start, end, piece)) == data[start:end]


def test_a_file_sealed_to_other_keys_does_not_open(encryption: Vault) -> None:
    other = keys.generate("other@corp.example", 30, 2048)
    rel = sealed_file(b"secret", seal.Recipients((other.certificate,), "other"))

    with pytest.raises(seal.Unreadable):
        blobs.reader(rel)


def test_a_sealed_file_cut_short_does_not_open(encryption: Vault) -> None:
    rel = sealed_file(os.urandom(100_000))
    path = Path(settings.DATA_DIR) / rel
    path.write_bytes(path.read_bytes()[:-5000])

    with pytest.raises(seal.Unreadable):
        b"".join(blobs.reader(rel).chunks())

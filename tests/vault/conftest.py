"""Keys for encryption-at-rest tests: a service key and an escrow key, made once per session."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from sealbox.mailstore import opened, sealed
from sealbox.vault import keys, seal

SERVICE_PASSWORD = "service key password 1"
ESCROW_PASSWORD = "escrow key password 22"
# Few KDF rounds keep unlocking quick in tests; generate-cert's own test uses the real count.
TEST_ROUNDS = 1000


@dataclass
class KeyFiles:
    cert: Path
    key: Path
    password: str


@dataclass
class Vault:
    service: KeyFiles
    escrow: KeyFiles
    # Both certificates: what SEALBOX_ENCRYPTION_CERTS names.
    certs: Path
    directory: Path


def make_pair(directory: Path, name: str, email: str, password: str) -> KeyFiles:
    pair = keys.generate(email, 365, 2048)
    cert, key = directory / f"{name}.pem", directory / f"{name}.key"
    cert.write_bytes(keys.certificate_pem(pair.certificate))
    key.write_bytes(keys.encrypted_key_pem(pair.key, password, rounds=TEST_ROUNDS))
    key.chmod(0o600)
    return KeyFiles(cert, key, password)


@pytest.fixture(scope="session")
def vault_files(tmp_path_factory: pytest.TempPathFactory) -> Vault:
    directory = tmp_path_factory.mktemp("keys")
    service = make_pair(directory, "service", "storage@corp.example", SERVICE_PASSWORD)
    escrow = make_pair(directory, "escrow", "escrow@corp.example", ESCROW_PASSWORD)
    certs = directory / "certs.pem"
    certs.write_bytes(service.cert.read_bytes() + escrow.cert.read_bytes())
    return Vault(service, escrow, certs, directory)


def forget_everything() -> None:
    seal.forget()
    sealed.clear_cache()
    opened.clear_memory()


@pytest.fixture
def encryption(settings: Any, vault_files: Vault) -> Iterator[Vault]:
    """Encryption at rest on, to the service and escrow certificates, password configured."""
    forget_everything()
    settings.STORAGE_ENCRYPTION = True
    settings.ENCRYPTION_CERTS = vault_files.certs
    settings.ENCRYPTION_KEY = vault_files.service.key
    settings.ENCRYPTION_KEY_PASSWORD = vault_files.service.password
    settings.ENCRYPTION_KEY_PASSWORD_FILE = None
    settings.ENCRYPTION_ASK_COMMAND = ""
    yield vault_files
    forget_everything()


def encryption_env(vault: Vault, **extra: str) -> dict[str, str]:
    """SEALBOX_* variables turning encryption at rest on for a subprocess (no password)."""
    return {
        "SEALBOX_STORAGE_ENCRYPTION": "on",
        "SEALBOX_ENCRYPTION_CERTS": str(vault.certs),
        "SEALBOX_ENCRYPTION_KEY": str(vault.service.key),
        **extra,
    }

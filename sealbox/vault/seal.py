"""Sealing and opening stored data: CMS EnvelopedData (S/MIME), AES-256, to every certificate.

Sealing needs only the certificates, so SMTP intake can store mail without the
private key. Opening needs the key, which a process holds in memory once it is
unlocked (sealbox/vault/unlock.py). Data that was stored before encryption was
turned on is not sealed and opens as it is.
"""

from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.ciphers import algorithms
from cryptography.hazmat.primitives.serialization import pkcs7
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from sealbox.vault import keys

log = logging.getLogger("sealbox.vault")

# DER of the envelopedData content type, 1.2.840.113549.1.7.3.
_ENVELOPED_DATA = bytes.fromhex("06092a864886f70d010703")


class Locked(Exception):
    """This process does not hold the private key (yet)."""


class Unreadable(Exception):
    """Sealed data that the key this process holds does not open."""


@dataclass(frozen=True)
class Recipients:
    certificates: tuple[x509.Certificate, ...]
    set_id: str


@dataclass(frozen=True)
class _Unlocked:
    certificate: x509.Certificate
    key: rsa.RSAPrivateKey


_recipients: dict[tuple[str, int, int], Recipients] = {}
_unlocked: _Unlocked | None = None
_lock = threading.Lock()
_lazy_failed = False


def is_sealed(data: bytes) -> bool:
    """Whether data is a DER CMS EnvelopedData structure (a raw message never is)."""
    if len(data) < 13 or data[0] != 0x30:
        return False
    length = data[1]
    start = 2 if length <= 0x80 else 2 + (length & 0x7F)
    return data[start : start + len(_ENVELOPED_DATA)] == _ENVELOPED_DATA


def recipients(path: Path | None = None) -> Recipients:
    """The certificates every new item is sealed to (SEALBOX_ENCRYPTION_CERTS by default)."""
    path = path or settings.ENCRYPTION_CERTS
    if path is None:
        raise ImproperlyConfigured("SEALBOX_ENCRYPTION_CERTS is not set")
    try:
        st = os.stat(path)
    except OSError as e:
        raise ImproperlyConfigured(
            f"SEALBOX_ENCRYPTION_CERTS: cannot read {path}: {e.strerror}"
        ) from e
    cache_key = (str(path), st.st_mtime_ns, st.st_size)
    found = _recipients.get(cache_key)
    if found is None:
        try:
            certs = keys.load_certificates(path)
        except keys.KeyFileError as e:
            raise ImproperlyConfigured(f"SEALBOX_ENCRYPTION_CERTS: {e}") from e
        found = Recipients(tuple(certs), keys.set_id(certs))
        _recipients[cache_key] = found
    return found


def sealing_to() -> Recipients | None:
    """The certificates new data is sealed to; None with encryption at rest off."""
    return recipients() if settings.STORAGE_ENCRYPTION else None


def seal(data: bytes, to: Recipients | None = None) -> bytes:
    """data as DER CMS EnvelopedData, AES-256-CBC, to every certificate of the set."""
    builder = pkcs7.PKCS7EnvelopeBuilder().set_data(data)
    for cert in (to or recipients()).certificates:
        builder = builder.add_recipient(cert)
    builder = builder.set_content_encryption_algorithm(algorithms.AES256)
    # Binary: the bytes exactly, with no MIME canonicalisation of line endings.
    return builder.encrypt(serialization.Encoding.DER, [pkcs7.PKCS7Options.Binary])


def open_sealed(data: bytes) -> bytes:
    """The plain bytes of data, opening it with this process's key if it is sealed."""
    if not is_sealed(data):
        return data
    held = _held()
    try:
        return pkcs7.pkcs7_decrypt_der(data, held.certificate, held.key, [])
    except ValueError as e:
        raise Unreadable(f"not sealed to {keys.describe(held.certificate)}: {e}") from e


# --- The private key of this process ---------------------------------------------


def configured_password() -> str | None:
    """The key password from SEALBOX_ENCRYPTION_KEY_PASSWORD(_FILE), or None (ask for it)."""
    if settings.ENCRYPTION_KEY_PASSWORD:
        return str(settings.ENCRYPTION_KEY_PASSWORD)
    path = settings.ENCRYPTION_KEY_PASSWORD_FILE
    if path is None:
        return None
    try:
        return keys.read_password_file(path)
    except OSError as e:
        raise ImproperlyConfigured(
            f"SEALBOX_ENCRYPTION_KEY_PASSWORD_FILE: cannot read {path}: {e.strerror}"
        ) from e


def unlock(password: str) -> x509.Certificate:
    """Open SEALBOX_ENCRYPTION_KEY with password and hold it in memory.

    Raises keys.WrongPassword, and ImproperlyConfigured for any other problem.
    """
    global _unlocked
    path = settings.ENCRYPTION_KEY
    if path is None:
        raise ImproperlyConfigured(
            "SEALBOX_ENCRYPTION_KEY is not set: this process cannot open stored mail"
        )
    try:
        key = keys.load_private_key(path, password)
    except keys.WrongPassword:
        raise
    except keys.KeyFileError as e:
        raise ImproperlyConfigured(f"SEALBOX_ENCRYPTION_KEY: {e}") from e
    cert = keys.matching_certificate(key, list(recipients().certificates))
    if cert is None:
        raise ImproperlyConfigured(
            f"SEALBOX_ENCRYPTION_KEY {path} belongs to none of the certificates in "
            f"SEALBOX_ENCRYPTION_CERTS {settings.ENCRYPTION_CERTS}: "
            "new mail would be sealed to keys this service cannot open"
        )
    with _lock:
        _unlocked = _Unlocked(cert, key)
    log.info("storage key unlocked: %s", keys.describe(cert))
    return cert


def require_key_file() -> None:
    """For a process that will need the key: say now if it cannot have it, before asking."""
    path = settings.ENCRYPTION_KEY
    if path is None:
        raise ImproperlyConfigured(
            "SEALBOX_ENCRYPTION_KEY is not set: the portal and the worker cannot open stored mail"
        )
    if not os.access(path, os.R_OK):
        raise ImproperlyConfigured(f"SEALBOX_ENCRYPTION_KEY: cannot read {path}")


def unlock_configured() -> str | None:
    """Unlock with the configured password and return it; None when none is configured.

    A configured password that is wrong is a configuration error.
    """
    password = configured_password()
    if password is None:
        return None
    try:
        unlock(password)
    except keys.WrongPassword:
        source = (
            "SEALBOX_ENCRYPTION_KEY_PASSWORD"
            if settings.ENCRYPTION_KEY_PASSWORD
            else "SEALBOX_ENCRYPTION_KEY_PASSWORD_FILE"
        )
        raise ImproperlyConfigured(
            f"the password from {source} does not open SEALBOX_ENCRYPTION_KEY "
            f"{settings.ENCRYPTION_KEY}"
        ) from None
    return password


def held() -> bool:
    return _unlocked is not None


def locked() -> bool:
    """Encryption at rest is on and this process cannot open sealed data (yet)."""
    return bool(settings.STORAGE_ENCRYPTION) and not unlocked()


def unlocked() -> bool:
    """Whether this process can open sealed data (unlocking now if a password is configured)."""
    global _lazy_failed
    if _unlocked is not None:
        return True
    if _lazy_failed:
        return False
    try:
        return unlock_configured() is not None
    except ImproperlyConfigured as e:
        _lazy_failed = True
        log.error("cannot unlock the storage key: %s", e)
        return False


def _held() -> _Unlocked:
    if _unlocked is None and not unlocked():
        raise Locked("the storage key is locked: waiting for the key password")
    assert _unlocked is not None
    return _unlocked


def holder() -> x509.Certificate:
    """The certificate of the key this process holds; raises Locked."""
    return _held().certificate


def forget() -> None:
    """Drop the key and cached certificates (tests, and a process going back to locked)."""
    global _unlocked, _lazy_failed
    with _lock:
        _unlocked = None
        _lazy_failed = False
        _recipients.clear()

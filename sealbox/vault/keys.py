"""Certificate and private-key files: reading them, and making a new pair.

Files are the ones OpenSSL reads: certificates in PEM (several in one file),
the private key as PEM PKCS#8, encrypted with a password.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, padding, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

# PBKDF2-HMAC-SHA256 rounds for a new key file. cryptography's own PKCS#8
# writer (and OpenSSL's default) uses 2,048, which a stolen key file's
# password cannot withstand for long; this costs about half a second per unlock.
KDF_ROUNDS = 600_000
KEY_SIZES = (2048, 3072, 4096)


class KeyFileError(Exception):
    """A certificate or key file that cannot be used; the text says why."""


class WrongPassword(KeyFileError):
    pass


def fingerprint(cert: x509.Certificate) -> str:
    """SHA-256 fingerprint as `openssl x509 -fingerprint -sha256` prints it."""
    return cert.fingerprint(hashes.SHA256()).hex(":").upper()


def set_id(certs: list[x509.Certificate]) -> str:
    """A short name for a set of certificates, the same whatever their order."""
    digest = hashlib.sha256()
    for value in sorted(cert.fingerprint(hashes.SHA256()) for cert in certs):
        digest.update(value)
    return digest.hexdigest()[:12]


def describe(cert: x509.Certificate) -> str:
    names = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    name = str(names[0].value) if names else cert.subject.rfc4514_string()
    return f"{name} (SHA-256 {fingerprint(cert)[:23]}…)"


def load_certificates(path: Path) -> list[x509.Certificate]:
    try:
        data = path.read_bytes()
    except OSError as e:
        raise KeyFileError(f"cannot read {path}: {e.strerror}") from e
    try:
        certs = x509.load_pem_x509_certificates(data)
    except ValueError as e:
        raise KeyFileError(f"{path} holds no PEM certificate: {e}") from e
    for cert in certs:
        if not isinstance(cert.public_key(), rsa.RSAPublicKey):
            raise KeyFileError(
                f"{path}: {describe(cert)} has no RSA key; S/MIME storage needs RSA certificates"
            )
    return certs


def read_password_file(path: Path) -> str:
    """The whole file is the password, less the line break an editor adds (raises OSError)."""
    text = Path(path).read_text(encoding="utf-8")
    return text.removesuffix("\n").removesuffix("\r")


def load_private_key(path: Path, password: str) -> rsa.RSAPrivateKey:
    try:
        data = path.read_bytes()
    except OSError as e:
        raise KeyFileError(f"cannot read {path}: {e.strerror}") from e
    try:
        key = serialization.load_pem_private_key(data, password.encode("utf-8") or None)
    except TypeError as e:
        # An unencrypted key file, or an encrypted one without a password.
        raise KeyFileError(f"{path}: {e}") from e
    except ValueError as e:
        if b"ENCRYPTED" in data:
            raise WrongPassword(f"the password does not open {path}") from e
        raise KeyFileError(f"{path} holds no PEM private key") from e
    if not isinstance(key, rsa.RSAPrivateKey):
        raise KeyFileError(f"{path} is not an RSA key")
    return key


def matching_certificate(
    key: rsa.RSAPrivateKey, certs: list[x509.Certificate]
) -> x509.Certificate | None:
    mine = key.public_key().public_numbers()
    for cert in certs:
        public = cert.public_key()
        if isinstance(public, rsa.RSAPublicKey) and public.public_numbers() == mine:
            return cert
    return None


def expiry_problem(cert: x509.Certificate, now: datetime.datetime | None = None) -> str | None:
    now = now or datetime.datetime.now(datetime.UTC)
    if cert.not_valid_after_utc < now:
        return f"{describe(cert)} expired on {cert.not_valid_after_utc:%Y-%m-%d}"
    if cert.not_valid_before_utc > now:
        return f"{describe(cert)} is not valid before {cert.not_valid_before_utc:%Y-%m-%d}"
    if cert.not_valid_after_utc < now + datetime.timedelta(days=30):
        return f"{describe(cert)} expires on {cert.not_valid_after_utc:%Y-%m-%d}"
    return None


# --- A new certificate and key ---------------------------------------------------


@dataclass
class NewPair:
    certificate: x509.Certificate
    key: rsa.RSAPrivateKey


def generate(email: str, days: int, key_size: int) -> NewPair:
    """A self-signed S/MIME encryption certificate for `email` and its key."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=key_size)
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, email),
            x509.NameAttribute(NameOID.EMAIL_ADDRESS, email),
        ]
    )
    now = datetime.datetime.now(datetime.UTC)
    usage = x509.KeyUsage(
        digital_signature=False,
        content_commitment=False,
        key_encipherment=True,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=False,
        crl_sign=False,
        encipher_only=False,
        decipher_only=False,
    )
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(usage, critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), False)
        .add_extension(x509.SubjectAlternativeName([x509.RFC822Name(email)]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
        .sign(key, hashes.SHA256())
    )
    return NewPair(cert, key)


def certificate_pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def _der(tag: int, body: bytes) -> bytes:
    size = len(body)
    if size < 0x80:
        return bytes([tag, size]) + body
    length = size.to_bytes((size.bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(length)]) + length + body


def _oid(dotted: str) -> bytes:
    first, second, *rest = (int(part) for part in dotted.split("."))
    body = bytearray([first * 40 + second])
    for arc in rest:
        chunk = [arc & 0x7F]
        arc >>= 7
        while arc:
            chunk.append(0x80 | (arc & 0x7F))
            arc >>= 7
        body.extend(reversed(chunk))
    return _der(0x06, bytes(body))


def _seq(*parts: bytes) -> bytes:
    return _der(0x30, b"".join(parts))


def encrypted_key_pem(key: rsa.RSAPrivateKey, password: str, rounds: int = KDF_ROUNDS) -> bytes:
    """The key as PEM PKCS#8 EncryptedPrivateKeyInfo: PBES2, PBKDF2-HMAC-SHA256, AES-256-CBC.

    The structure is RFC 8018's; it is written here only because cryptography's
    PKCS#8 writer does not let the KDF rounds be chosen.
    """
    plain = key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    salt, iv = os.urandom(16), os.urandom(16)
    secret = PBKDF2HMAC(hashes.SHA256(), 32, salt, rounds).derive(password.encode("utf-8"))
    padder = padding.PKCS7(128).padder()
    padded = padder.update(plain) + padder.finalize()
    encryptor = Cipher(algorithms.AES256(secret), modes.CBC(iv)).encryptor()
    encrypted = encryptor.update(padded) + encryptor.finalize()
    kdf = _seq(
        _oid("1.2.840.113549.1.5.12"),  # PBKDF2
        _seq(
            _der(0x04, salt),
            _der(0x02, rounds.to_bytes((rounds.bit_length() + 8) // 8, "big")),
            _seq(_oid("1.2.840.113549.2.9"), b"\x05\x00"),  # hmacWithSHA256
        ),
    )
    scheme = _seq(_oid("2.16.840.1.101.3.4.1.42"), _der(0x04, iv))  # aes256-CBC
    info = _seq(_seq(_oid("1.2.840.113549.1.5.13"), _seq(kdf, scheme)), _der(0x04, encrypted))
    body = base64.encodebytes(info).replace(b"\n", b"")
    lines = [body[i : i + 64] for i in range(0, len(body), 64)]
    return (
        b"\n".join(
            [
                b"-----BEGIN ENCRYPTED PRIVATE KEY-----",
                *lines,
                b"-----END ENCRYPTED PRIVATE KEY-----",
            ]
        )
        + b"\n"
    )

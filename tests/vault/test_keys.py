"""`sealbox generate-cert` and the system checks, cross-checked with OpenSSL."""

from __future__ import annotations

import datetime
import os
import re
import stat
import subprocess
from pathlib import Path
from typing import Any

import pytest
from django.core.checks import run_checks
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.core.management.base import CommandError

from sealbox.vault import keys, seal, unlock
from tests.conftest import SEALBOX
from tests.vault.conftest import Vault, make_pair


def openssl(*args: str, stdin: bytes | None = None) -> str:
    done = subprocess.run(["openssl", *args], input=stdin, capture_output=True, check=True)
    return done.stdout.decode()


def test_generate_cert_writes_a_pair_openssl_reads_and_says_to_back_it_up(tmp_path: Path) -> None:
    password_file = tmp_path / "password"
    password_file.write_text("a long storage password\n")
    base = tmp_path / "storage"
    done = subprocess.run(
        [*SEALBOX, "generate-cert", "--email", "vault@corp.example", "--out-basename", str(base),
         "--days", "400", "--key-size", "2048", "--password-file", str(password_file)],
        capture_output=True, text=True, check=True, env={**os.environ, "SEALBOX_DATA_DIR": str(tmp_path)},
    )  # fmt: skip
    cert, key = Path(f"{base}.pem"), Path(f"{base}.key")
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert stat.S_IMODE(cert.stat().st_mode) == 0o644

    printed = openssl("x509", "-in", str(cert), "-noout", "-fingerprint", "-sha256", "-subject",
                      "-ext", "keyUsage,extendedKeyUsage,subjectAltName", "-enddate")  # fmt: skip
    fingerprint = re.search(r"sha256 Fingerprint=([0-9A-F:]+)", printed)
    assert fingerprint and f"SHA-256 fingerprint: {fingerprint.group(1)}" in done.stdout
    assert "email:vault@corp.example" in printed
    assert "Key Encipherment" in printed and "E-mail Protection" in printed
    assert "Back up" in done.stdout and "offline" in done.stdout

    # The key is PKCS#8 with PBKDF2-HMAC-SHA256 at 600,000 rounds and AES-256-CBC.
    structure = openssl("asn1parse", "-in", str(key))
    assert ":PBES2" in structure and ":PBKDF2" in structure and ":hmacWithSHA256" in structure
    assert ":aes-256-cbc" in structure and ":0927C0" in structure  # 600000
    # OpenSSL opens it with the password (read from the file as OpenSSL reads it) and
    # finds the certificate's public key in it.
    public = openssl("pkey", "-in", str(key), "-passin", f"file:{password_file}", "-pubout")
    assert public == openssl("x509", "-in", str(cert), "-noout", "-pubkey")
    with pytest.raises(subprocess.CalledProcessError):
        openssl("pkey", "-in", str(key), "-passin", "pass:not the password", "-noout")
    # And so does Sealbox.
    private = keys.load_private_key(key, "a long storage password")
    assert keys.matching_certificate(private, keys.load_certificates(cert)) is not None


def test_generate_cert_refuses_to_overwrite_or_take_a_short_password(tmp_path: Path) -> None:
    (tmp_path / "short").write_text("too short\n")
    with pytest.raises(CommandError, match="at least 12 characters"):
        call_command("generate_cert", email="a@corp.example", out_basename=str(tmp_path / "k"),
                     password_file=tmp_path / "short")  # fmt: skip
    assert not list(tmp_path.glob("k.*"))
    (tmp_path / "k.pem").write_text("already here")
    (tmp_path / "long").write_text("long enough password\n")
    with pytest.raises(CommandError, match="exists"):
        call_command("generate_cert", email="a@corp.example", out_basename=str(tmp_path / "k"),
                     password_file=tmp_path / "long")  # fmt: skip
    assert (tmp_path / "k.pem").read_text() == "already here"


def test_a_wrong_password_is_told_apart_from_a_broken_file(vault_files: Vault) -> None:
    with pytest.raises(keys.WrongPassword):
        keys.load_private_key(vault_files.service.key, "wrong")
    with pytest.raises(keys.KeyFileError) as broken:
        keys.load_private_key(vault_files.service.cert, "whatever")
    assert not isinstance(broken.value, keys.WrongPassword)


def ids(settings: Any, deploy: bool = False) -> dict[str, str]:
    return {m.id: m.msg for m in run_checks(include_deployment_checks=deploy) if m.id}


def test_checks_explain_each_misconfiguration(
    encryption: Vault, settings: Any, tmp_path: Path
) -> None:
    settings.RELAY_URL = "smtp://relay.corp.example:25"
    assert not [i for i in ids(settings, deploy=True) if re.fullmatch(r"sealbox\.[EW]1\d\d", i)]

    settings.ENCRYPTION_CERTS = tmp_path / "missing.pem"
    assert "cannot read" in ids(settings)["sealbox.E102"]
    settings.ENCRYPTION_CERTS = None
    assert "sealbox.E101" in ids(settings)

    # A key whose certificate is not among the certificates.
    stranger = make_pair(tmp_path, "stranger", "x@corp.example", "stranger password")
    settings.ENCRYPTION_CERTS = encryption.certs
    settings.ENCRYPTION_KEY = stranger.key
    settings.ENCRYPTION_KEY_PASSWORD = stranger.password
    assert "belongs to none of the certificates" in ids(settings, deploy=True)["sealbox.E106"]
    settings.ENCRYPTION_KEY_PASSWORD = "wrong"
    assert "does not open" in ids(settings, deploy=True)["sealbox.E105"]

    settings.ENCRYPTION_KEY = None
    assert "cannot open it" in ids(settings)["sealbox.W103"]
    settings.ENCRYPTION_KEY = tmp_path / "gone.key"
    assert "SMTP intake can" in ids(settings)["sealbox.W106"]
    with pytest.raises(ImproperlyConfigured, match="cannot read"):
        unlock.wait_for_key()  # a portal or worker says so before asking anyone

    # A password file others can read.
    settings.ENCRYPTION_KEY = encryption.service.key
    settings.ENCRYPTION_KEY_PASSWORD = None
    password_file = tmp_path / "password"
    password_file.write_text(encryption.service.password + "\n")
    password_file.chmod(0o644)
    settings.ENCRYPTION_KEY_PASSWORD_FILE = password_file
    assert "can be read by other users" in ids(settings)["sealbox.W104"]
    password_file.chmod(0o600)
    assert "sealbox.W104" not in ids(settings)
    assert seal.configured_password() == encryption.service.password

    settings.RELAY_URL = None
    assert "written unencrypted" in ids(settings)["sealbox.W105"]


def test_a_key_file_that_holds_no_key_has_its_own_check_id(
    encryption: Vault, settings: Any, tmp_path: Path
) -> None:
    settings.ENCRYPTION_KEY = encryption.service.cert  # a certificate, not a key
    settings.ENCRYPTION_KEY_PASSWORD = "whatever"
    password_file = tmp_path / "missing-password"
    settings.ENCRYPTION_KEY_PASSWORD_FILE = password_file

    found = ids(settings, deploy=True)

    # E104 is the unreadable password file; the broken key is E108, not a second E104.
    assert "SEALBOX_ENCRYPTION_KEY: " in found["sealbox.E108"]
    assert "PASSWORD_FILE: cannot read" in found["sealbox.E104"]


def test_an_expired_certificate_is_a_warning(encryption: Vault, settings: Any) -> None:
    pair = keys.generate("old@corp.example", 1, 2048)
    later = datetime.datetime.now(datetime.UTC) + datetime.timedelta(days=3)
    assert "expired on" in (keys.expiry_problem(pair.certificate, later) or "")
    soon = keys.expiry_problem(pair.certificate)
    assert soon and "expires on" in soon


def test_certificates_set_while_encryption_is_off_are_a_warning(
    settings: Any, vault_files: Vault
) -> None:
    settings.STORAGE_ENCRYPTION = False
    settings.ENCRYPTION_CERTS = vault_files.certs
    assert "stored unencrypted" in ids(settings)["sealbox.W101"]


def test_the_check_command_prints_the_reasons(vault_files: Vault, tmp_path: Path) -> None:
    from tests.conftest import process_env

    env = process_env(
        tmp_path,
        SEALBOX_STORAGE_ENCRYPTION="on",
        SEALBOX_ENCRYPTION_CERTS=str(tmp_path / "nowhere.pem"),
    )
    done = subprocess.run([*SEALBOX, "check"], capture_output=True, text=True, env=env)
    assert done.returncode == 1
    assert "sealbox.E102" in done.stderr and "nowhere.pem" in done.stderr


def test_an_env_file_holding_the_password_must_be_private_too(
    encryption: Vault, settings: Any, tmp_path: Path
) -> None:
    env_file = tmp_path / "sealbox.env"
    env_file.write_text(f'SEALBOX_ENCRYPTION_KEY_PASSWORD="{encryption.service.password}"\n')
    env_file.chmod(0o644)
    settings.ENV_FILE = str(env_file)
    warning = ids(settings)["sealbox.W104"]
    assert f"SEALBOX_ENV_FILE {env_file} holds the key password" in warning
    env_file.chmod(0o600)
    assert "sealbox.W104" not in ids(settings)


def test_with_encryption_uploads_stay_in_memory(vault_files: Vault, tmp_path: Path) -> None:
    from tests.conftest import process_env

    def upload_handlers(**extra: str) -> str:
        # diffsettings needs no data directory set up (shell would refuse one).
        env = process_env(tmp_path, SEALBOX_MAX_UPLOAD_MB="25", **extra)
        done = subprocess.run([*SEALBOX, "diffsettings"], env=env, capture_output=True)
        [line] = [
            line
            for line in done.stdout.decode().splitlines()
            if line.startswith("FILE_UPLOAD_HANDLERS = ")
        ]
        return line.removeprefix("FILE_UPLOAD_HANDLERS = ")

    # A reply's attachments are content: no temporary file for them on the disk,
    # with encryption on or off (tests/portal/test_uploads.py sends some).
    memory_only = "['sealbox.portal.uploads.MemoryOnlyUploadHandler']"
    assert upload_handlers(SEALBOX_STORAGE_ENCRYPTION="on") == memory_only
    assert upload_handlers() == memory_only

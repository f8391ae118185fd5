from __future__ import annotations

import os
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.test import Client


def test_healthz_says_ok_when_database_and_data_directory_work(client: Client, db: Any) -> None:
    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.content == b"ok\n"
    assert response["Content-Type"].startswith("text/plain")
    assert "no-cache" in response["Cache-Control"]


def unwritable_directory(tmp_path: Path) -> Path:
    """A data directory this process cannot write to, even as root."""
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    if not os.access(locked, os.W_OK):
        return locked
    # root writes anywhere: a path below a regular file is unusable for anyone.
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    return blocker / "data"


def test_healthz_answers_503_when_the_data_directory_is_not_writable(
    client: Client, db: Any, settings: Any, tmp_path: Path
) -> None:
    settings.DATA_DIR = unwritable_directory(tmp_path)

    response = client.get("/healthz")

    assert response.status_code == 503
    assert response.content == b"data directory not writable\n"


def test_healthz_takes_only_get(client: Client, db: Any) -> None:
    assert client.post("/healthz").status_code == 405


def check_deploy() -> str:
    """What `sealbox check --deploy` prints, warnings included."""
    out = StringIO()
    call_command("check", deploy=True, stdout=out, stderr=out)
    return out.getvalue()


def test_check_deploy_refuses_a_certificate_without_its_key(settings: Any, tmp_path: Path) -> None:
    cert = tmp_path / "cert.pem"
    cert.write_text("-----BEGIN CERTIFICATE-----\n")
    settings.SMTP_TLS_CERT, settings.SMTP_TLS_KEY = cert, None

    with pytest.raises(SystemCheckError) as error:
        check_deploy()

    assert (
        "(sealbox.E002) Only one of SEALBOX_SMTP_TLS_CERT and SEALBOX_SMTP_TLS_KEY is set."
        in str(error.value)
    )


def test_check_deploy_refuses_a_certificate_that_does_not_load(
    settings: Any, tmp_path: Path
) -> None:
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert.write_text("not a certificate\n")
    key.write_text("not a key\n")
    settings.SMTP_TLS_CERT, settings.SMTP_TLS_KEY = cert, key

    with pytest.raises(SystemCheckError) as error:
        check_deploy()

    assert "(sealbox.E004) The SMTP TLS certificate and key do not load" in str(error.value)


def test_check_deploy_refuses_a_relay_url_it_cannot_use(settings: Any) -> None:
    settings.RELAY_URL = "http://relay.corp.example"

    with pytest.raises(SystemCheckError) as error:
        check_deploy()

    assert "(sealbox.E005) SEALBOX_RELAY_URL: expected smtp://" in str(error.value)


def test_check_deploy_warns_when_no_internal_domain_is_set(settings: Any) -> None:
    settings.INTERNAL_DOMAINS = []

    output = check_deploy()

    assert "(sealbox.W002) SEALBOX_INTERNAL_DOMAINS is empty" in output


def test_check_deploy_is_quiet_about_internal_domains_once_set(settings: Any) -> None:
    output = check_deploy()

    assert "sealbox.W002" not in output
    assert "sealbox.E0" not in output

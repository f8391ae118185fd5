"""Response headers: CSP everywhere, no framing, no referrer, no caching of mail, HSTS on https."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from typing import Any

import pytest
from django.test import Client

from sealbox.accounts.models import User
from tests.conftest import SEALBOX, process_env
from tests.mail import make_message
from tests.portal.pages import deliver_to

pytestmark = pytest.mark.django_db


def csp(response: Any) -> dict[str, str]:
    directives = [d.strip() for d in response["Content-Security-Policy"].split(";") if d.strip()]
    return {d.split()[0]: " ".join(d.split()[1:]) for d in directives}


@pytest.mark.parametrize(
    "path", ["/signin/", "/password/forgot/", "/link/new/", "/activate/nonsense/", "/nowhere/"]
)
def test_public_pages_carry_the_policy_headers(client: Client, path: str) -> None:
    r = client.get(path)
    policy = csp(r)
    assert policy["default-src"] == "'self'"
    assert policy["script-src"] == "'self'"
    assert policy["frame-ancestors"] == "'none'"
    assert r["X-Frame-Options"] == "DENY"
    assert r["Referrer-Policy"] == "no-referrer"
    assert r["X-Content-Type-Options"] == "nosniff"
    assert r["Cross-Origin-Opener-Policy"] == "same-origin"
    permissions = r["Permissions-Policy"]
    for feature in ("camera=()", "microphone=()", "geolocation=()", "payment=()", "usb=()"):
        assert feature in permissions
    assert "publickey-credentials-get=(self)" in permissions
    # http base URL (the tests' default): no HSTS.
    assert "Strict-Transport-Security" not in r


@pytest.mark.parametrize(
    "path", ["/inbox/", "/sent/", "/settings/", "/activity/", "/settings/two-factor/"]
)
def test_signed_in_pages_are_never_stored(reader: Client, path: str) -> None:
    r = reader.get(path)
    assert r.status_code == 200
    assert "no-store" in r["Cache-Control"]
    assert "private" in r["Cache-Control"]
    assert "Content-Security-Policy" in r


def test_the_message_and_its_frame(reader: Client, alice: User) -> None:
    raw = make_message(attachments=[("a.pdf", "application/pdf", b"%PDF-1.4")])
    raw = raw.replace(b"Content-Type: text/plain", b"Content-Type: text/html", 1)
    msg = deliver_to(alice, raw)
    page = reader.get(f"/m/{msg.id}/")
    assert page["X-Frame-Options"] == "DENY" and "no-store" in page["Cache-Control"]
    frame = reader.get(f"/m/{msg.id}/body/")
    assert frame.status_code == 200
    # Only the portal itself may frame the message, never another site.
    assert frame["X-Frame-Options"] == "SAMEORIGIN"
    assert csp(frame)["frame-ancestors"] == "'self'"
    assert "no-store" in frame["Cache-Control"]
    [download] = re.findall(r'href="(/m/[^"]+/attachment/\d+/)"', page.content.decode())
    for path in (f"/m/{msg.id}/eml/", download):
        r = reader.get(path)
        assert r.status_code == 200, path
        assert "no-store" in r["Cache-Control"]


def production_env(tmp_path: Any, **extra: str) -> dict[str, str]:
    return process_env(
        tmp_path,
        SEALBOX_BASE_URL="https://mail.example.org",
        SEALBOX_DATABASE_URL="postgres://sealbox@db.example.org/sealbox",
        SEALBOX_RELAY_URL="smtp://relay.example.org:25",
        SEALBOX_NOTIFY_FROM="Example Secure Mail <secure@example.org>",
        SEALBOX_INTERNAL_DOMAINS="example.org",
        SEALBOX_TRUSTED_PROXIES="127.0.0.1",
        SEALBOX_SECRET_KEY="q7Vn2kLx9RzT4wYb8HcJ3mPd6sFg1aEu0iOyWeQrTtZxCvBnMl",
        **extra,
    )


def test_check_deploy_is_clean_for_a_production_configuration(tmp_path: Any) -> None:
    out = subprocess.run(
        [*SEALBOX, "check", "--deploy", "--fail-level", "WARNING"],
        env=production_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
    )
    report = out.stdout + out.stderr
    found = set(re.findall(r"\(([a-z_]+\.[EW]\d+)\)", report))
    # This machine's Python may be one with known email-package flaws: that
    # warning is about the interpreter, not the configuration.
    old_python = sys.version_info[:3] < (3, 11, 10)
    assert found <= ({"sealbox.W005"} if old_python else set()), report
    if not found:
        assert out.returncode == 0, report


def test_check_deploy_names_what_is_missing(tmp_path: Any) -> None:
    out = subprocess.run(
        [*SEALBOX, "check", "--deploy"],
        env=process_env(tmp_path, SEALBOX_BASE_URL="http://10.0.0.5:8000"),
        capture_output=True,
        text=True,
        timeout=60,
    )
    report = out.stdout + out.stderr
    assert "sealbox.W001" in report  # not https
    assert "sealbox.W006" in report  # an IP address: no passkeys


def test_https_brings_hsts_and_redirects_plain_http(settings: Any, client: Client) -> None:
    # What settings.py derives from an https SEALBOX_BASE_URL.
    settings.SECURE_HSTS_SECONDS = 31_536_000
    settings.SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    settings.SECURE_SSL_REDIRECT = True
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    r = client.get("/signin/", headers={"X-Forwarded-Proto": "https"}, secure=True)
    assert r.status_code == 200
    assert r["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"
    r = client.get("/signin/")
    assert r.status_code == 301 and r["Location"].startswith("https://")
    # The health check answers over plain http (load balancers, monitoring).
    assert client.get("/healthz").status_code in (200, 503)


def test_settings_derive_hsts_from_an_https_base_url(tmp_path: Any) -> None:
    code = (
        "import json, django; from django.conf import settings; django.setup(); "
        "print(json.dumps([settings.SECURE_HSTS_SECONDS, settings.SECURE_SSL_REDIRECT, "
        "settings.SESSION_COOKIE_SECURE, settings.CSRF_COOKIE_SECURE]))"
    )
    for base, expected in (
        ("https://mail.example.org", [31_536_000, True, True, True]),
        ("http://localhost:8000", [0, False, False, False]),
    ):
        env = process_env(
            tmp_path, SEALBOX_BASE_URL=base, DJANGO_SETTINGS_MODULE="sealbox.settings"
        )
        out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
        assert out.returncode == 0, out.stderr
        assert json.loads(out.stdout) == expected

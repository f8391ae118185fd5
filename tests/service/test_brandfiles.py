"""/brand/logo and /brand.css: the organisation's logo as an image only, its colour as CSS."""

from __future__ import annotations

import hashlib
import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import time_machine
from django.test import Client
from django.utils import timezone

from sealbox.web import contrast
from tests.branded import HOSTILE_SVG, brand
from tests.browser.content import png

pytestmark = pytest.mark.django_db


def test_a_png_logo_is_served_as_an_image_for_a_year(
    settings: Any, tmp_path: Path, client: Client
) -> None:
    path = brand(settings, tmp_path)
    response = client.get("/brand/logo?v=whatever")
    assert response.status_code == 200
    assert response.content == path.read_bytes()
    assert response["Content-Type"] == "image/png"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Security-Policy"] == (
        "default-src 'none'; style-src 'unsafe-inline'; sandbox"
    )
    assert response["Cache-Control"] == "public, max-age=31536000, immutable"


def test_an_svg_logo_with_a_script_is_served_sandboxed(
    settings: Any, tmp_path: Path, client: Client
) -> None:
    brand(settings, tmp_path, HOSTILE_SVG, "logo.svg")
    response = client.get("/brand/logo")
    assert response.status_code == 200
    assert response["Content-Type"] == "image/svg+xml"
    assert "sandbox" in response["Content-Security-Policy"]
    assert "default-src 'none'" in response["Content-Security-Policy"]
    assert "script" not in response["Content-Security-Policy"]


def test_the_logo_stays_cacheable_for_a_signed_in_reader(
    settings: Any, tmp_path: Path, reader: Client
) -> None:
    brand(settings, tmp_path)
    response = reader.get("/brand/logo")
    assert response["Cache-Control"] == "public, max-age=31536000, immutable"
    # ...while the reader's pages are never kept.
    assert "no-store" in reader.get("/inbox/")["Cache-Control"]


def test_the_brand_files_never_carry_the_session_cookie(
    settings: Any, tmp_path: Path, reader: Client
) -> None:
    brand(settings, tmp_path)
    later = timezone.now() + timedelta(minutes=5)
    with time_machine.travel(later, tick=False):
        # A page renews the reader's session, and sends its cookie...
        assert settings.SESSION_COOKIE_NAME in reader.get("/inbox/").cookies
    with time_machine.travel(later + timedelta(minutes=5), tick=False):
        # ...a file any proxy may keep for a year never does.
        for path in ("/brand/logo", "/brand.css"):
            response = reader.get(path)
            assert response.status_code == 200
            assert not response.cookies, path
            assert "Cookie" not in response.get("Vary", ""), path


def test_pages_link_the_logo_under_a_version_that_changes_with_the_file(
    settings: Any, tmp_path: Path, client: Client
) -> None:
    path = brand(settings, tmp_path)

    def logo_src() -> str:
        found = re.search(r'<img class="logo" src="([^"]+)"', client.get("/signin/").text)
        assert found
        return found.group(1)

    first = logo_src()
    assert first == "/brand/logo?v=" + hashlib.sha256(path.read_bytes()).hexdigest()[:12]
    path.write_bytes(png(64, 64))
    second = logo_src()
    assert second != first and second.startswith("/brand/logo?v=")
    assert client.get(second).content == png(64, 64)


def test_there_is_no_logo_without_one_or_with_a_bad_one(
    settings: Any, tmp_path: Path, client: Client
) -> None:
    assert client.get("/brand/logo").status_code == 404
    brand(settings, tmp_path, b"GIF89a", "logo.gif")
    assert client.get("/brand/logo").status_code == 404
    assert 'class="logo"' not in client.get("/signin/").text
    settings.ORG_LOGO = tmp_path / "removed.png"
    assert client.get("/brand/logo").status_code == 404


def test_brand_css_sets_the_accent_and_its_button_text_in_each_mode(
    settings: Any, client: Client
) -> None:
    settings.BRAND_COLOR = "#7a1f5c,#f0a6d0"
    href = re.search(
        r'<link rel="stylesheet" href="(/brand\.css\?v=[0-9a-f]{12})">', client.get("/signin/").text
    )
    assert href
    response = client.get(href.group(1))
    assert response["Content-Type"] == "text/css; charset=utf-8"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Cache-Control"] == "public, max-age=31536000, immutable"
    light, dark = response.text.split("@media (prefers-color-scheme: dark)")
    assert "--brand-accent: #7a1f5c;" in light and "--brand-accent-fg: #ffffff;" in light
    assert "--brand-accent: #f0a6d0;" in dark
    assert f"--brand-accent-fg: {contrast.DARK_TEXT};" in dark

    settings.BRAND_COLOR = "#0b5cad,#6cb2ff"
    again = re.search(r'href="(/brand\.css\?v=[0-9a-f]{12})"', client.get("/signin/").text)
    assert again and again.group(1) != href.group(1)
    assert "--brand-accent: #0b5cad;" in client.get(again.group(1)).text


def test_without_a_colour_pages_keep_the_built_in_accent(client: Client) -> None:
    assert "/brand.css" not in client.get("/signin/").text
    assert client.get("/brand.css").text == ""

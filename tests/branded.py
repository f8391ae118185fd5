"""An organisation's branding for tests: Example Bank, its logo, colours, contacts and links."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.browser.content import png

ORG = "Example Bank"
COLOR = "#7a1f5c,#f0a6d0"
CONTACTS = ["help@bank.example", "+49 30 1234 5678", "https://bank.example/help"]
PRIVACY = "https://bank.example/privacy"
IMPRINT = "https://bank.example/imprint"
# An SVG logo that would run a script if it were ever inlined into a page.
HOSTILE_SVG = (
    b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 10 10">'
    b'<script>document.title="logo-script-ran"</script>'
    b'<rect width="10" height="10" fill="#7a1f5c"/></svg>\n'
)


def brand(settings: Any, tmp_path: Path, logo: bytes | None = None, name: str = "logo.png") -> Path:
    """Brand the portal as Example Bank; the logo file's path is returned."""
    path = tmp_path / name
    path.write_bytes(png(96, 32) if logo is None else logo)
    settings.ORG_NAME = ORG
    settings.ORG_LOGO = path
    settings.BRAND_COLOR = COLOR
    settings.SUPPORT_CONTACT = CONTACTS
    settings.PRIVACY_URL = PRIVACY
    settings.IMPRINT_URL = IMPRINT
    return path

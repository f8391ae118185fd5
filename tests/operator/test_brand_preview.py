"""`sealbox brand preview --out DIR`: every email and the main pages, in every language."""

from __future__ import annotations

import os
import subprocess
from email import message_from_bytes, policy
from pathlib import Path

import pytest
from django.conf import settings

from tests.conftest import SEALBOX

pytestmark = pytest.mark.slow

PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360f8cfc0000003010100c9fe92ef0000000049454e44ae426082"
)


def test_it_renders_every_email_and_page_in_every_language_without_touching_the_data(
    tmp_path: Path,
) -> None:
    logo = tmp_path / "logo.png"
    logo.write_bytes(PNG)
    data_dir = tmp_path / "not-set-up"
    out = tmp_path / "preview"
    env = {k: v for k, v in os.environ.items() if not k.startswith("SEALBOX_")}
    env.update(
        SEALBOX_DATA_DIR=str(data_dir),
        SEALBOX_ORG_NAME="Example Bank",
        SEALBOX_ORG_LOGO=str(logo),
        SEALBOX_BASE_URL="https://secure.bank.example",
        SEALBOX_NOTIFY_FROM="noreply@bank.example",
        SEALBOX_INTERNAL_DOMAINS="bank.example",
    )

    done = subprocess.run(
        [*SEALBOX, "brand", "preview", "--out", str(out)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )

    assert done.returncode == 0, done.stderr
    assert str(out / "index.html") in done.stdout
    assert not data_dir.exists()
    index = (out / "index.html").read_text()
    for code, _name in settings.LANGUAGES:
        emails = out / code / "emails"
        for kind in ("notification-first", "notification", "reset", "activation", "quota-full"):
            raw = (emails / f"{kind}.eml").read_bytes()
            msg = message_from_bytes(raw, policy=policy.default)
            assert msg["From"].addresses[0].display_name == "Example Bank", (code, kind)
            person = "new" if kind in ("notification-first", "activation") else "reader"
            assert msg["To"] == f"{person}.{code}@preview.example"
            assert (emails / f"{kind}.html").read_text().strip(), (code, kind)
            assert f'href="{code}/emails/{kind}.html"' in index
        signin = (out / code / "pages" / "signin.html").read_text()
        assert f'lang="{code}"' in signin
        assert "Example Bank" in signin
        assert "/static/" not in signin.replace("../../static/", "")
        message = (out / code / "pages" / "message.html").read_text()
        assert 'src="message-body.html"' in message
        assert (out / code / "pages" / "message-body.html").exists()
    assert (out / "static" / "portal" / "portal.css").exists()


def test_render_refuses_to_run_on_an_installations_own_data(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    env = {k: v for k, v in os.environ.items() if not k.startswith("SEALBOX_")}
    env.update(SEALBOX_DATA_DIR=str(data_dir), SEALBOX_PREVIEW_TOKEN="guessed")
    assert subprocess.run([*SEALBOX, "migrate", "-v0"], env=env, timeout=120).returncode == 0
    (data_dir / "brand-preview").write_text("another")

    done = subprocess.run(
        [*SEALBOX, "brand", "render", "--out", str(tmp_path / "out")],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert done.returncode != 0
    assert "brand render runs only inside `sealbox brand preview`" in done.stderr
    assert not (tmp_path / "out").exists()
    accounts = subprocess.run(
        [*SEALBOX, "user", "list"], env=env, capture_output=True, text=True, timeout=120
    )
    assert "preview.example" not in accounts.stdout

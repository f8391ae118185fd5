"""`sealbox brand preview --out DIR`: every email and the main pages, in every language."""

from __future__ import annotations

import os
import subprocess
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

import pytest
from django.conf import settings

from sealbox.operator import preview
from tests.conftest import SEALBOX

pytestmark = pytest.mark.slow

PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360f8cfc0000003010100c9fe92ef0000000049454e44ae426082"
)


# The kinds of email to the recipient's own account: branded, in the recipient's language.
TO_ACCOUNT = {
    "notification-first": "new",
    "notification-several": "reader",
    "notification": "reader",
    "reset": "reader",
    "activation": "new",
    "quota-full": "reader",
    "expiry-reminder": "reader",
}
# The kinds to the organisation's own sender: in the operator's language.
TO_SENDER = ("mailbox-full-report", "reply", "read-receipt")
PAGES = ("signin", "link-new", "reset", "activate", "phrase", "inbox", "message", "settings")


def read(path: Path) -> EmailMessage:
    msg = message_from_bytes(path.read_bytes(), policy=policy.default)
    assert isinstance(msg, EmailMessage)
    return msg


def test_it_renders_every_email_and_page_in_every_language_without_touching_the_data(
    tmp_path: Path,
) -> None:
    logo = tmp_path / "logo.png"
    logo.write_bytes(PNG)
    data_dir = tmp_path / "not-set-up"
    out = tmp_path / "preview"
    env = {k: v for k, v in os.environ.items() if not k.startswith("SEALBOX_")}
    # No domains of its own, receipts and reminders off: all previewed all the same.
    env.update(
        SEALBOX_DATA_DIR=str(data_dir),
        SEALBOX_ORG_NAME="Example Bank",
        SEALBOX_ORG_LOGO=str(logo),
        SEALBOX_BASE_URL="https://secure.bank.example",
        SEALBOX_NOTIFY_FROM="noreply@bank.example",
        SEALBOX_READ_RECEIPTS="off",
        SEALBOX_EXPIRY_REMINDER_DAYS="0",
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
        for kind, person in TO_ACCOUNT.items():
            msg = read(emails / f"{kind}.eml")
            assert msg["From"].addresses[0].display_name == "Example Bank", (code, kind)
            assert msg["To"] == f"{person}.{code}@preview.example", (code, kind)
            body = (emails / f"{kind}.html").read_text()
            assert f'<html lang="{code}"' in body, (code, kind)
            assert f'href="{code}/emails/{kind}.html"' in index
        for kind in TO_SENDER:
            msg = read(emails / f"{kind}.eml")
            assert msg["To"] == "carol.sender@example.org", (code, kind)
            assert (emails / f"{kind}.html").read_text().strip(), (code, kind)
            assert f'href="{code}/emails/{kind}.html"' in index
        reply = read(emails / "reply.eml")
        name = reply["From"].addresses[0].display_name
        assert name.startswith("Robin Reader ") and name.endswith(" Example Bank"), (code, name)
        for page in PAGES:
            content = (out / code / "pages" / f"{page}.html").read_text()
            assert f'lang="{code}"' in content, (code, page)
            assert "Example Bank" in content, (code, page)
            assert "/static/" not in content.replace("../../static/", ""), (code, page)
            assert f'href="{code}/pages/{page}.html"' in index
        message = (out / code / "pages" / "message.html").read_text()
        assert 'src="message-body.html"' in message
        assert (out / code / "pages" / "message-body.html").exists()
    assert (out / "static" / "portal" / "portal.css").exists()

    german = out / "de" / "emails"
    assert "Postfach" in (german / "notification-first.html").read_text()
    report = read(german / "mailbox-full-report.eml")
    assert report["Subject"].startswith("Unzustellbare Nachricht")
    assert "Dies ist das Mailsystem" in (german / "mailbox-full-report.html").read_text()
    assert "Erkennungssatz" in (out / "de" / "pages" / "phrase.html").read_text()
    english = read(out / "en" / "emails" / "mailbox-full-report.eml")
    assert "Undelivered Mail" in english["Subject"]
    for code, via in (("en", "via"), ("es", "vía")):
        reply = read(out / code / "emails" / "reply.eml")
        assert reply["From"].addresses[0].display_name == f"Robin Reader {via} Example Bank"


def test_render_refuses_to_run_on_an_installations_own_data(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    env = {k: v for k, v in os.environ.items() if not k.startswith("SEALBOX_")}
    env.update(SEALBOX_DATA_DIR=str(data_dir), **{preview.TOKEN_VARIABLE: "guessed"})
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

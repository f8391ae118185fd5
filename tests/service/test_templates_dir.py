"""SEALBOX_TEMPLATES_DIR: an operator's own copy of a page or an email wins; the rest stay built in.

Each test runs a real `sealbox` process with the variable set, so that it is
the settings' own wiring (TEMPLATES' DIRS) that finds the operator's copy.
"""

from __future__ import annotations

import json
import subprocess
from email import message_from_string, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from django.conf import settings as django_settings

from tests.conftest import SEALBOX, process_env
from tests.portal.pages import parse_html

SIGNIN = Path(django_settings.BASE_DIR) / "portal/templates/accounts/signin.html"

# In a `sealbox` process: the sign-in page, a page without its own copy, and a
# notification with the context outbound/notify.py gives it (to_account adds email and phrase).
SHOW = """
import json
from datetime import datetime, timezone
from django.test import Client
from sealbox.outbound import emails

client = Client(HTTP_HOST="portal.test")
listed = [{
    "name": "Carol", "address": "carol@corp.example",
    "sent": datetime(2026, 3, 2, 9, 30, tzinfo=timezone.utc), "subject": "",
}]
context = {
    "email": "alice@example.net", "phrase": "amber otter lantern",
    "count": 1, "sender": "Carol", "messages": listed, "more": 0,
    "link": "http://portal.test/message/1/", "activation": False, "activation_days": 14,
}
print(json.dumps({
    "signin": client.get("/signin/").content.decode(),
    "missing": client.get("/no/such/page/").content.decode(),
    "notification": emails.build("notification", context, "alice@example.net", "en").as_string(),
}))
"""


def show(data_dir: Path, **env: str) -> dict[str, Any]:
    done = subprocess.run(
        [*SEALBOX, "shell", "--no-imports", "-c", SHOW],
        env=process_env(data_dir, SEALBOX_ORG_NAME="Example Bank", **env),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def _email(text: str) -> tuple[EmailMessage, str, str]:
    msg = message_from_string(text, policy=policy.default)
    assert isinstance(msg, EmailMessage)
    plain, html = msg.get_body(("plain",)), msg.get_body(("html",))
    assert plain is not None and html is not None
    return msg, plain.get_content(), html.get_content()


def test_an_operators_copies_replace_the_built_in_page_and_email(tmp_path: Path, db: Any) -> None:
    own_templates = tmp_path / "templates"
    (own_templates / "accounts").mkdir(parents=True)
    (own_templates / "emails").mkdir()
    # The operator's copy of the sign-in page, with a line of their own.
    own = SIGNIN.read_text().replace(
        '<h1>{% translate "Sign in" %}</h1>',
        '<h1>{% translate "Sign in" %}</h1>\n<p class="welcome">Welcome, clients of {{ brand.org_name }}.</p>',
    )
    assert own != SIGNIN.read_text()
    (own_templates / "accounts/signin.html").write_text(own)
    # And of the notification's subject.
    (own_templates / "emails/notification-subject.txt").write_text(
        "{% autoescape off %}{{ brand.title }}: a message from {{ sender }} is waiting"
        "{% endautoescape %}\n"
    )

    built_in = show(django_settings.DATA_DIR)
    shown = show(django_settings.DATA_DIR, SEALBOX_TEMPLATES_DIR=str(own_templates))

    doc = parse_html(shown["signin"].encode())
    assert doc.one("p", cls="welcome").text == "Welcome, clients of Example Bank."
    assert doc.one("input", name="username")
    assert doc.one("footer").text == "This secure mailbox is run by Example Bank."
    assert "Welcome, clients" not in built_in["signin"]
    # Every other page is still the built-in one.
    assert "There is nothing here." in parse_html(shown["missing"].encode()).one("main").text

    msg, plain, html = _email(shown["notification"])
    original, built_in_plain, built_in_html = _email(built_in["notification"])
    assert msg["Subject"] == "Example Bank: a message from Carol is waiting"
    assert original["Subject"] != msg["Subject"]
    # The body's two parts still come from the built-in templates.
    assert (plain, html) == (built_in_plain, built_in_html)
    assert "http://portal.test/message/1/" in plain
    assert "amber otter lantern" in plain

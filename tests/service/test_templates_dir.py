"""SEALBOX_TEMPLATES_DIR: an operator's own copy of a page or an email wins; the rest stay built in."""

from __future__ import annotations

import copy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from django.conf import settings as django_settings
from django.test import Client

from sealbox.outbound import emails
from tests.portal.pages import parse_html

SIGNIN = Path(django_settings.BASE_DIR) / "accounts/templates/accounts/signin.html"
NOTIFICATION = {
    "count": 1,
    "senders": ["Carol <carol@corp.example>"],
    "link": "http://portal.test/",
}


def use_templates_dir(settings: Any, path: Path) -> None:
    """What settings.py does with SEALBOX_TEMPLATES_DIR: its directory first in DIRS.

    Changing TEMPLATES starts new template engines, with empty caches."""
    templates = copy.deepcopy(settings.TEMPLATES)
    templates[0]["DIRS"] = [path]
    settings.TEMPLATES = templates
    settings.TEMPLATES_DIR = path


def test_a_copied_page_template_replaces_the_built_in_one(
    settings: Any, tmp_path: Path, client: Client, db: Any
) -> None:
    settings.ORG_NAME = "Example Bank"
    own_templates = tmp_path / "templates"
    (own_templates / "accounts").mkdir(parents=True)
    # The operator's copy of the sign-in page, with a line of their own.
    own = SIGNIN.read_text().replace(
        '<h1>{% translate "Sign in" %}</h1>',
        '<h1>{% translate "Sign in" %}</h1>\n<p class="welcome">Welcome, clients of {{ brand.org_name }}.</p>',
    )
    assert own != SIGNIN.read_text()
    (own_templates / "accounts/signin.html").write_text(own)
    use_templates_dir(settings, own_templates)

    doc = parse_html(client.get("/signin/").content)
    assert doc.one("p", cls="welcome").text == "Welcome, clients of Example Bank."
    assert doc.one("input", name="username")
    assert doc.one("footer").text == "This secure mailbox is run by Example Bank."
    # Every other page is still the built-in one.
    missing = client.get("/no/such/page/")
    assert missing.status_code == 404
    assert "There is nothing here." in parse_html(missing.content).one("main").text
    assert client.get("/password/forgot/").status_code == 200


def _texts(msg: EmailMessage) -> tuple[str, str]:
    plain, html = msg.get_body(("plain",)), msg.get_body(("html",))
    assert plain is not None and html is not None
    return plain.get_content(), html.get_content()


def test_a_copied_email_template_replaces_the_built_in_one(settings: Any, tmp_path: Path) -> None:
    built_in = emails.build("notification", NOTIFICATION, "alice@example.net", "en")
    (tmp_path / "emails").mkdir()
    (tmp_path / "emails/notification-subject.txt").write_text(
        "{% autoescape off %}{{ brand.title }}: a message from {{ senders.0 }} is waiting"
        "{% endautoescape %}\n"
    )
    use_templates_dir(settings, tmp_path)

    own = emails.build("notification", NOTIFICATION, "alice@example.net", "en")
    assert own["Subject"] == "Sealbox: a message from Carol <carol@corp.example> is waiting"
    assert built_in["Subject"] != own["Subject"]
    # The body's two parts still come from the built-in templates.
    assert _texts(own) == _texts(built_in)
    assert "http://portal.test/" in _texts(own)[0]

"""Every page wears the organisation's face: its logo and name, who runs it, how to get help."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from django.test import Client, RequestFactory
from django.views.defaults import server_error

from sealbox.accounts.models import User
from sealbox.web.unavailable import unavailable
from tests.branded import HOSTILE_SVG, ORG, brand
from tests.mail import make_message
from tests.portal.pages import Node, deliver_to, message_url, parse_html

pytestmark = pytest.mark.django_db


@pytest.fixture
def branded(settings: Any, tmp_path: Path) -> Path:
    settings.SITE_NAME = "Secure Mail"
    return brand(settings, tmp_path)


def assert_branded(html: str | bytes, title_start: str = "") -> Node:
    """The header, footer and title a branded page must show."""
    doc = parse_html(html)
    header = doc.one("header")
    logo = header.one("img", cls="logo")
    # The name is written beside it in the same link: screen readers hear it once.
    assert logo.attrs["alt"] == ""
    assert logo.attrs["src"].startswith("/brand/logo?v=")
    assert header.one(cls="names").text == "Example Bank Secure Mail"
    footer = doc.one("footer", cls="site-footer")
    assert "This secure mailbox is run by Example Bank." in footer.text
    links = [(a.text, a.attrs["href"]) for a in footer.find_all("a")]
    assert links == [
        ("help@bank.example", "mailto:help@bank.example"),
        ("+49 30 1234 5678", "tel:+493012345678"),
        ("bank.example/help", "https://bank.example/help"),
        ("Privacy policy", "https://bank.example/privacy"),
        ("Legal notice", "https://bank.example/imprint"),
    ]
    title = doc.one("title").text
    assert title.endswith(" · Example Bank") or title == ORG, title
    assert title.startswith(title_start), title
    return doc


def test_the_sign_in_page_shows_the_brand(branded: Path, client: Client) -> None:
    response = client.get("/signin/")
    assert response.status_code == 200
    assert_branded(response.content, "Sign in")


def test_a_readers_pages_show_the_brand(branded: Path, alice: User, reader: Client) -> None:
    message = deliver_to(alice, make_message(subject="Your statement"))
    for url in ("/inbox/", "/sent/", message_url(message), "/settings/", "/activity/"):
        response = reader.get(url)
        assert response.status_code == 200, url
        assert_branded(response.content)


def test_without_branding_the_portal_names_itself_only(settings: Any, client: Client) -> None:
    settings.SITE_NAME = ""
    doc = parse_html(client.get("/signin/").content)
    assert doc.one("header").one(cls="names").text == "Secure mailbox"
    assert doc.find("img") is None
    assert doc.find("footer") is None
    assert doc.one("title").text == "Sign in · Secure mailbox"


def test_contacts_alone_make_a_footer(settings: Any, client: Client) -> None:
    settings.SUPPORT_CONTACT = ["help@bank.example"]
    footer = parse_html(client.get("/signin/").content).one("footer")
    assert footer.text == "Support: help@bank.example"


def test_an_svg_logo_is_never_inlined(
    settings: Any, tmp_path: Path, alice: User, reader: Client
) -> None:
    brand(settings, tmp_path, HOSTILE_SVG, "logo.svg")
    message = deliver_to(alice, make_message(subject="Hello"))
    pages = ["/inbox/", message_url(message), "/settings/", "/nowhere/"]
    for html in [reader.get(url).content for url in pages] + [Client().get("/signin/").content]:
        assert b"logo-script-ran" not in html
        assert b"<rect" not in html
        assert parse_html(html).one("img", cls="logo").attrs["src"].startswith("/brand/logo?v=")
    frame = reader.get(message_url(message, "message-body")).content
    assert b"logo-script-ran" not in frame


def test_error_pages_show_the_brand(branded: Path, client: Client) -> None:
    missing = client.get("/no/such/page/")
    assert missing.status_code == 404
    assert_branded(missing.content, "Not found")

    strict = Client(enforce_csrf_checks=True)
    refused = strict.post("/signin/", {"username": "a@example.net", "password": "x"})
    assert refused.status_code == 403
    assert_branded(refused.content, "Please try again")


@pytest.mark.parametrize(
    ("template", "title"),
    [("service/disk_full.html", "Storage full"), ("portal/busy.html", "Busy")],
)
def test_unavailable_pages_show_the_brand(
    branded: Path, db: Any, template: str, title: str
) -> None:
    response = unavailable(RequestFactory().get("/inbox/"), template, 10)
    assert response.status_code == 503
    assert_branded(response.content, title)


def test_the_locked_page_shows_the_brand_and_its_logo_still_loads(
    branded: Path, client: Client
) -> None:
    with mock.patch("sealbox.vault.seal.locked", return_value=True):
        response = client.get("/signin/")
        assert response.status_code == 503
        assert_branded(response.content, "Starting")
        assert client.get("/brand/logo").status_code == 200


def test_the_server_error_page_names_the_organisation_without_a_request_context(
    branded: Path,
) -> None:
    response = server_error(RequestFactory().get("/inbox/"))
    assert response.status_code == 500
    doc = parse_html(response.content)
    assert doc.one("title").text == "Something went wrong · Example Bank"
    footer = doc.one("footer")
    assert "run by Example Bank" in footer.text
    assert "help@bank.example" in footer.text


def test_the_sign_in_title_names_the_portal_not_the_host(settings: Any, client: Client) -> None:
    settings.ORG_NAME = ""
    settings.SITE_NAME = "Harbour Secure Mail"
    settings.ALLOWED_HOSTS = ["localhost"]
    for response in (
        client.get("/signin/", HTTP_HOST="localhost:8731"),
        client.post(
            "/signin/",
            {"username": "x@example.com", "password": "wrong"},
            HTTP_HOST="localhost:8731",
        ),
    ):
        assert parse_html(response.content).one("title").text == "Sign in · Harbour Secure Mail"


def test_every_page_title_names_the_portal_by_the_brand() -> None:
    """Titles say brand.title: `site_name` is what Django's auth views call the request's host."""
    root = Path(__file__).resolve().parents[2] / "sealbox"
    pages = [
        p
        for p in root.glob("*/templates/**/*.html")
        if "templates/emails/" not in p.as_posix() and "templates/admin/" not in p.as_posix()
    ]
    assert len(pages) > 20
    for path in pages:
        text = path.read_text()
        assert "{{ site_name" not in text or "with site_name=brand.title" in text, path
        if "{% block title %}" in text and path.name != "base.html":
            block = text.split("{% block title %}", 1)[1].split("{% endblock %}", 1)[0]
            assert block.endswith(" · {{ brand.title }}"), path

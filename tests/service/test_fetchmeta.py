"""The resource-isolation policy: what the portal refuses by a request's Fetch Metadata."""

from __future__ import annotations

import pytest
from django.test import Client

from sealbox.accounts.models import User
from sealbox.mailstore.models import Message
from sealbox.outbound.models import OutgoingEmail
from tests.browser.content import html_message, png
from tests.conftest import CAROL
from tests.mail import make_message
from tests.portal.pages import deliver_to, message_url
from tests.portal.writing import original_mail

pytestmark = pytest.mark.django_db


def fetch(site: str, mode: str, dest: str) -> dict[str, str]:
    return {"Sec-Fetch-Site": site, "Sec-Fetch-Mode": mode, "Sec-Fetch-Dest": dest}


NAVIGATION = fetch("cross-site", "navigate", "document")
IMAGE_ELSEWHERE = fetch("cross-site", "no-cors", "image")  # a redirected image of a message


@pytest.fixture
def asking(alice: User, settings: object) -> Message:
    """A message whose first opening sends a read receipt by itself."""
    settings.READ_RECEIPTS = "requested"  # type: ignore[attr-defined]
    raw = original_mail(subject="Figures", disposition_notification_to=f"Carol <{CAROL}>")
    return deliver_to(alice, raw)


def unread(message: Message) -> bool:
    message.refresh_from_db()
    return message.read_at is None and message.receipt_sent_at is None


def test_an_image_from_another_site_never_opens_a_message(reader: Client, asking: Message) -> None:
    response = reader.get(message_url(asking), headers=IMAGE_ELSEWHERE)

    assert response.status_code == 403
    assert response["Content-Type"] == "text/plain"
    assert response.content == b"Refused.\n"
    assert "Set-Cookie" not in response  # the session was never touched
    assert unread(asking)
    assert not OutgoingEmail.objects.filter(kind="receipt").exists()


@pytest.mark.parametrize("site", ["same-site", "same-origin"])
def test_no_page_of_the_portal_is_an_image_even_from_its_own_site(
    reader: Client, asking: Message, site: str
) -> None:
    # An image redirected through another host of the same site.
    response = reader.get(message_url(asking), headers=fetch(site, "no-cors", "image"))

    assert response.status_code == 403
    assert unread(asking)


def test_a_link_from_a_webmail_opens_the_message(reader: Client, asking: Message) -> None:
    response = reader.get(message_url(asking), headers=NAVIGATION)

    assert response.status_code == 200
    assert b"Figures" in response.content
    asking.refresh_from_db()
    assert asking.read_at is not None


def test_a_link_from_a_webmail_signed_out_leads_to_sign_in(client: Client, asking: Message) -> None:
    response = client.get(message_url(asking), headers=NAVIGATION)

    assert response.status_code == 302
    assert response["Location"].startswith("/signin/")


def test_a_form_posted_from_another_site_is_refused(reader: Client, alice: User) -> None:
    message = deliver_to(alice, make_message())

    response = reader.post(message_url(message, "message-delete"), headers=NAVIGATION)

    assert response.status_code == 403
    assert Message.objects.filter(id=message.id).exists()


def test_a_fetch_from_another_site_is_refused(client: Client) -> None:
    response = client.get("/signin/", headers=fetch("cross-site", "cors", "empty"))

    assert response.status_code == 403


@pytest.mark.parametrize(
    "headers",
    [
        fetch("same-origin", "cors", "empty"),  # the portal's own script (passkeys)
        fetch("same-origin", "navigate", "document"),
        fetch("none", "navigate", "document"),  # typed into the address bar, a bookmark
        {},  # an older browser, curl
    ],
    ids=["fetch", "navigation", "address bar", "no metadata"],
)
def test_the_portals_own_requests_go_through(
    reader: Client, alice: User, headers: dict[str, str]
) -> None:
    assert reader.get("/inbox/", headers=headers).status_code == 200


def test_the_message_frame_loads_in_the_portal_only(reader: Client, alice: User) -> None:
    message = deliver_to(alice, html_message(alice.email, "Hi", "<p>Hello</p>"))
    body = message_url(message, "message-body")

    assert reader.get(body, headers=fetch("same-origin", "navigate", "iframe")).status_code == 200
    assert reader.get(body, headers=fetch("same-site", "navigate", "iframe")).status_code == 403
    assert reader.get(body, headers=fetch("cross-site", "navigate", "iframe")).status_code == 403


def test_thumbnails_are_images_of_the_portal_only(reader: Client, alice: User) -> None:
    message = deliver_to(alice, make_message(attachments=[("p.png", "image/png", png(9, 9))]))
    url = message_url(message, "attachment-thumbnail", 2)

    assert reader.get(url, headers=fetch("same-origin", "no-cors", "image")).status_code == 200
    assert reader.get(url, headers=IMAGE_ELSEWHERE).status_code == 403


def test_the_admins_translations_are_its_script(client: Client) -> None:
    script = fetch("same-origin", "no-cors", "script")

    # Let through to the admin (which asks a stranger to sign in), not refused.
    assert client.get("/admin/jsi18n/", headers=script).status_code == 302
    assert client.get("/admin/", headers=script).status_code == 403


def test_the_brand_files_and_health_check_are_served_to_anyone(client: Client) -> None:
    assert (
        client.get("/brand.css", headers=fetch("cross-site", "no-cors", "style")).status_code == 200
    )
    assert client.get("/healthz").status_code == 200

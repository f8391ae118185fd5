"""The settings page's read-receipts section: the reader's own choice within the operator's policy."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from sealbox.accounts.models import User
from tests.portal.pages import Node, flash, page, parse_html

pytestmark = pytest.mark.django_db


def browser(user: User, csrf: bool = False) -> Client:
    client = Client(enforce_csrf_checks=csrf)
    client.force_login(user)
    return client


def section(client: Client) -> Node | None:
    r = client.get("/settings/")
    assert r.status_code == 200
    return parse_html(r.content).find("section", id="receipts")


def choices(found: Node) -> dict[str, bool]:
    """Each choice the section offers, by its label: whether it is the one chosen."""
    return {
        c.one("label").text: "checked" in c.one("input").attrs
        for c in found.find_all("div", cls="choice")
    }


def save(client: Client, value: str, **kwargs: Any) -> Any:
    return client.post("/settings/read-receipts/", {"read_receipts": value}, **kwargs)


def test_under_ask_the_reader_chooses_and_asking_is_the_default(alice: User) -> None:
    found = section(browser(alice))

    assert found is not None
    assert found.one("h2").text == "Read receipts"
    form = found.one("form")
    assert form.attrs["action"] == "/settings/read-receipts/"
    assert form.find("input", name="csrfmiddlewaretoken") is not None
    legend = form.one("legend").text
    assert legend == "When a sender asks to be told that you opened their message"
    assert choices(found) == {
        "Ask me each time": True,
        "Always send one": False,
        "Never send one": False,
    }


@pytest.mark.parametrize(
    ("value", "label", "said"),
    [
        (
            "always",
            "Always send one",
            "When a sender asks for a read receipt, it will be sent when you open the message.",
        ),
        ("never", "Never send one", "Read receipts will not be sent, and you will not be asked."),
    ],
)
def test_the_choice_is_saved_and_said(alice: User, value: str, label: str, said: str) -> None:
    client = browser(alice)

    r = save(client, value, follow=True)

    assert flash(page(r)) == [said]
    alice.refresh_from_db()
    assert alice.read_receipts == value
    found = section(client)
    assert found is not None
    assert [name for name, on in choices(found).items() if on] == [label]


def test_back_to_asking(alice: User) -> None:
    User.objects.filter(pk=alice.pk).update(read_receipts="never")

    r = save(browser(alice), "ask", follow=True)

    assert flash(page(r)) == ["When a sender asks for a read receipt, you will be asked."]
    alice.refresh_from_db()
    assert alice.read_receipts == "ask"


def test_the_same_choice_again_changes_nothing(alice: User) -> None:
    r = save(browser(alice), "ask", follow=True)

    assert flash(page(r)) == ["Nothing was changed."]


def test_a_value_not_offered_is_refused(alice: User) -> None:
    r = save(browser(alice), "sometimes")

    assert r.status_code == 400
    found = parse_html(r.content).one("section", id="receipts")
    assert "Select a valid choice." in found.one("p", cls="error").text
    alice.refresh_from_db()
    assert alice.read_receipts == "ask"


def test_the_choice_needs_the_csrf_token(alice: User) -> None:
    r = save(browser(alice, csrf=True), "always")

    assert r.status_code == 403
    alice.refresh_from_db()
    assert alice.read_receipts == "ask"


def test_under_off_there_is_no_section_and_nothing_is_saved(alice: User, settings: Any) -> None:
    settings.READ_RECEIPTS = "off"
    client = browser(alice)

    assert section(client) is None
    save(client, "always")
    alice.refresh_from_db()
    assert alice.read_receipts == "ask"


@pytest.mark.parametrize(
    ("policy", "says"),
    [
        ("requested", "a read receipt is sent to them the first time you open it."),
        ("always", "When you first open a message from a sender in the organisation"),
    ],
)
def test_where_the_operator_decided_the_section_says_so_and_offers_no_choice(
    alice: User, settings: Any, policy: str, says: str
) -> None:
    settings.READ_RECEIPTS = policy
    client = browser(alice)

    found = section(client)

    assert found is not None
    assert found.find("form") is None
    assert found.find("input") is None
    assert says in found.text
    assert "This is set for everyone on this service." in found.text
    save(client, "never")
    alice.refresh_from_db()
    assert alice.read_receipts == "ask"

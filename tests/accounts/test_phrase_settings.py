"""The "Personal phrase" section of the settings page: seeing it, new random words, one's own text."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.test import Client

from sealbox.accounts.models import Activity, User
from sealbox.accounts.phrasewords import WORDS
from tests.accounts.helpers import PASSWORD, page, signed_in

pytestmark = pytest.mark.django_db

OLD = "amber otter lantern"  # alice's, from tests/conftest.py


def phrase_of(user: User) -> str:
    user.refresh_from_db()
    return user.phrase


def section(html: str) -> str:
    [found] = re.findall(r'<section id="phrase".*?</section>', html, re.S)
    return str(found)


def test_the_section_shows_the_phrase_and_both_ways_to_change_it(alice: User) -> None:
    html = section(page(signed_in(alice).get("/settings/")))

    assert '<h2 id="phrase-title">Personal phrase</h2>' in html
    assert f'<dd class="phrase" dir="auto">{OLD}</dd>' in html
    assert "Every email we send you shows this phrase at its top." in html
    assert html.count('action="/settings/phrase/"') == 2
    assert html.count('name="csrfmiddlewaretoken"') == 2
    assert ">Choose another phrase</button>" in html
    assert '<label for="id_phrase">Your own phrase</label>' in html
    assert 'type="password"' not in html  # signed in just now: no password asked again


def test_choose_another_phrase_makes_new_random_words_and_logs_it(alice: User) -> None:
    client = signed_in(alice)

    r = client.post("/settings/phrase/", {"choice": "random"})

    assert r.status_code == 302 and r["Location"] == "/settings/#phrase"
    new = phrase_of(alice)
    assert new != OLD
    assert len(new.split(" ")) == 3 and all(w in WORDS["en"] for w in new.split(" "))
    html = page(client.get("/settings/"))
    assert "Your personal phrase was changed. Our emails show the new one now." in html
    assert f'<dd class="phrase" dir="auto">{new}</dd>' in html
    [entry] = Activity.objects.filter(user=alice, kind=Activity.Kind.PHRASE_CHANGED)
    assert entry.detail == "random words"
    activity = page(client.get("/activity/"))
    assert "Personal phrase changed" in activity and new not in activity


def test_a_recipient_can_write_their_own_phrase(alice: User) -> None:
    client = signed_in(alice)

    r = client.post("/settings/phrase/", {"choice": "own", "phrase": "  Oma's   blue teapot \n"})

    assert r.status_code == 302
    assert phrase_of(alice) == "Oma's blue teapot"
    [entry] = Activity.objects.filter(user=alice, kind=Activity.Kind.PHRASE_CHANGED)
    assert entry.detail == "your own text"


def test_a_phrase_in_arabic_keeps_its_own_direction(alice: User) -> None:
    client = signed_in(alice)

    client.post("/settings/phrase/", {"choice": "own", "phrase": "قمر فوق البحر"})

    assert '<dd class="phrase" dir="auto">قمر فوق البحر</dd>' in page(client.get("/settings/"))


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "Use at least 3 characters."),
        ("  ab  ", "Use at least 3 characters."),
        ("x" * 61, "Use at most 60 characters."),
        ("bell\x07ring", "The phrase cannot contain control or invisible characters."),
        ("left\u202eright", "The phrase cannot contain control or invisible characters."),
    ],
)
def test_an_unfit_own_phrase_is_refused_with_the_reason(
    alice: User, text: str, reason: str
) -> None:
    client = signed_in(alice)

    r = client.post("/settings/phrase/", {"choice": "own", "phrase": text})

    assert r.status_code == 400
    html = section(page(r))
    assert f'<p class="error" role="alert" id="id_phrase_error">{reason}</p>' in html
    assert "<details open>" in html
    assert 'aria-invalid="true"' in html
    assert phrase_of(alice) == OLD
    assert not Activity.objects.filter(kind=Activity.Kind.PHRASE_CHANGED).exists()


def test_sixty_characters_are_enough(alice: User) -> None:
    signed_in(alice).post("/settings/phrase/", {"choice": "own", "phrase": "y" * 60})

    assert phrase_of(alice) == "y" * 60


def test_a_session_not_proven_recently_needs_the_password_again(reader: Any, alice: User) -> None:
    html = section(page(reader.get("/settings/")))
    assert html.count('autocomplete="current-password"') == 2

    r = reader.post("/settings/phrase/", {"choice": "own", "phrase": "stolen session words"})

    assert r.status_code == 400
    assert '<p class="error" role="alert">The password is not right.</p>' in page(r)
    assert phrase_of(alice) == OLD

    r = reader.post(
        "/settings/phrase/",
        {"choice": "own", "phrase": "my own words", "password": PASSWORD},
    )
    assert r.status_code == 302
    assert phrase_of(alice) == "my own words"


def test_a_change_takes_a_post_with_the_csrf_token(alice: User) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)

    assert client.get("/settings/phrase/").status_code == 405
    assert client.post("/settings/phrase/", {"choice": "random"}).status_code == 403
    assert phrase_of(alice) == OLD


def test_signed_out_nobody_changes_a_phrase(alice: User) -> None:
    r = Client().post("/settings/phrase/", {"choice": "random"})

    assert r.status_code == 302 and r["Location"].startswith("/signin/")
    assert phrase_of(alice) == OLD

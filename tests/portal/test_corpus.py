"""Every message of the tricky corpus opens through the real views and shows what it says."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import quote

import pytest
from django.test import Client

from sealbox.accounts.models import User
from sealbox.portal.filetypes import describe
from tests.corpus import (
    BUILDERS,
    Sample,
    big_attachment,
    cid_images,
    deep_nesting,
    forwarded,
    html_only,
    missing_close_boundary,
    nested,
    rfc2047_names,
    rfc2231_names,
    utf8_headers,
)
from tests.portal.pages import (
    content,
    deliver_to,
    listed_attachments,
    main_text,
    message_url,
    page,
    parse_html,
)

DAMAGED = "Parts of this message are damaged or unusual."
WITH_HTML = [nested, cid_images, html_only]
# The 20 MB one has a test of its own, with a time limit.
WITH_ATTACHMENTS = [
    utf8_headers,
    rfc2231_names,
    rfc2047_names,
    nested,
    cid_images,
    forwarded,
    missing_close_boundary,
]


def test_the_lists_of_html_and_attachment_samples_are_complete() -> None:
    small = [build for build in BUILDERS if build is not big_attachment]
    samples = {build: build() for build in small}

    assert [b for b in small if samples[b].html] == WITH_HTML
    assert [b for b in small if samples[b].attachments] == WITH_ATTACHMENTS
    assert big_attachment().attachments


@pytest.mark.parametrize("build", BUILDERS, ids=lambda build: build.__name__)
def test_the_message_page_shows_what_the_message_says(
    reader: Client, alice: User, build: Callable[[], Sample]
) -> None:
    sample = build()
    message = deliver_to(alice, sample.raw)

    response = reader.get(message_url(message))

    doc = page(response)
    assert doc.one("h1", id="subject").text == sample.subject
    text = doc.one("main").raw_text
    for expected in sample.page:
        assert expected in text, f"{sample.name}: {expected!r} not on the page"
    assert (DAMAGED in text) == sample.damaged
    assert (doc.find("iframe") is not None) == sample.html


@pytest.mark.parametrize("build", WITH_HTML, ids=lambda build: build.__name__)
def test_the_message_frame_shows_the_html(
    reader: Client, alice: User, build: Callable[[], Sample]
) -> None:
    sample = build()
    message = deliver_to(alice, sample.raw)

    response = reader.get(message_url(message, "message-body"))

    assert response.status_code == 200
    body = response.content.decode()
    for expected in sample.frame:
        assert expected in body, f"{sample.name}: {expected!r} not in the frame"
    assert "cid:" not in body


@pytest.mark.parametrize("build", WITH_ATTACHMENTS, ids=lambda build: build.__name__)
def test_attachments_are_listed_by_their_decoded_names_and_download_whole(
    reader: Client, alice: User, build: Callable[[], Sample]
) -> None:
    sample = build()
    message = deliver_to(alice, sample.raw)

    listed = listed_attachments(page(reader.get(message_url(message))))

    assert [(a.name, a.type_name) for a in listed] == [
        (p.filename, describe(p.content_type, p.filename).name) for p in sample.attachments
    ]
    for item, expected in zip(listed, sample.attachments, strict=True):
        response = reader.get(item.url)
        assert response.status_code == 200
        assert content(response) == expected.data, f"{expected.filename}: other bytes"
        assert response["Content-Disposition"].startswith("attachment;")
        if expected.filename.isascii():
            assert f'filename="{expected.filename}"' in response["Content-Disposition"]
        else:
            assert f"filename*=utf-8''{quote(expected.filename)}" in response["Content-Disposition"]


def test_the_plain_text_of_a_nested_message_is_one_click_away(reader: Client, alice: User) -> None:
    sample = nested()
    message = deliver_to(alice, sample.raw)

    doc = page(reader.get(message_url(message)))
    switch = doc.one("a", href="?view=text")
    assert switch.text == "Show plain text"

    text = main_text(reader.get(message_url(message) + switch.attrs["href"]))
    assert sample.extra["plain"] in text
    assert "Q3 report.pdf" in text


def test_a_20_mb_attachment_opens_and_downloads_whole(reader: Client, alice: User) -> None:
    # How fast: `make bench` (bigmail); a timed assertion here only measured the machine's load.
    sample = big_attachment()
    [expected] = sample.attachments
    message = deliver_to(alice, sample.raw)

    doc = page(reader.get(message_url(message)))
    [item] = listed_attachments(doc)
    data = content(reader.get(item.url))

    assert item.size == "20.0 MB"
    assert data == expected.data


def test_a_message_that_is_nothing_but_bytes_still_opens(reader: Client, alice: User) -> None:
    noise = bytes((i * 167 + 13) % 256 for i in range(4000))
    message = deliver_to(alice, b"Subject: noise\r\n\r\n" + noise)

    for name in ("message", "message-eml"):
        assert reader.get(message_url(message, name)).status_code == 200
    assert parse_html(reader.get(message_url(message)).content).one("h1").text == "noise"


@pytest.mark.parametrize("levels", [900, 3000])
def test_a_message_nested_hundreds_of_levels_deep_opens(
    reader: Client, alice: User, levels: int
) -> None:
    message = deliver_to(alice, deep_nesting(levels).raw)

    doc = page(reader.get(message_url(message)))

    assert doc.one("h1", id="subject").text == "Deep nesting"
    text = doc.one("main").raw_text
    assert "At the very bottom." in text
    assert DAMAGED in text

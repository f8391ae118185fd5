"""One rule for what is an attachment: the inbox's count and the names search
finds (summarize(), at delivery, from a skeleton) are what the message page
lists (view().listed_attachments)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from sealbox.mailstore.mime import view
from sealbox.mailstore.summary import names_label, summarize
from tests.corpus import BUILDERS, Sample, png
from tests.mailstore.test_mime import binary, message, multipart, text


def assert_same_attachments(raw: bytes) -> None:
    summary = summarize(raw)
    listed = view(raw).listed_attachments

    assert summary.attachment_count == len(listed)
    assert summary.attachment_names == names_label([a.filename for a in listed])


@pytest.mark.parametrize("build", BUILDERS, ids=lambda build: build.__name__)
def test_the_inbox_counts_and_finds_what_the_page_lists(build: Callable[[], Sample]) -> None:
    sample = build()

    assert_same_attachments(sample.raw)
    assert summarize(sample.raw).attachment_count == len(sample.attachments)


def test_a_named_text_part_after_the_body_is_an_attachment_on_the_page_too() -> None:
    raw = message(
        multipart("mixed", text("The body."), text("notes", 'text/plain; name="notes.txt"'))
    )

    result = view(raw)

    assert result.text is not None and result.text.text == "The body."
    assert result.more_text == []
    assert [a.filename for a in result.listed_attachments] == ["notes.txt"]
    assert summarize(raw).attachment_names == "notes.txt"
    assert_same_attachments(raw)


def test_a_named_plain_text_part_where_the_body_belongs_is_the_body() -> None:
    # Some mailers name every part: the reader sees the text, and nothing is counted.
    raw = message(text("notes", "text/plain", 'Content-Disposition: inline; filename="a.txt"\n'))

    result = view(raw)

    assert result.text is not None and result.text.text.strip() == "notes"
    assert result.listed_attachments == []
    assert summarize(raw).attachment_count == 0
    assert_same_attachments(raw)


def test_an_inline_image_without_a_name_in_a_mixed_message_is_counted() -> None:
    raw = message(
        multipart(
            "mixed", text("The body."), binary(png(), "image/png", "Content-Disposition: inline\n")
        )
    )

    assert summarize(raw).attachment_count == len(view(raw).listed_attachments) == 1


def test_a_related_part_that_cannot_be_shown_in_the_html_is_counted() -> None:
    raw = message(
        multipart(
            "related",
            text('<p><img src="cid:a@x"></p>', "text/html"),
            binary(png(), "image/png", "Content-ID: <a@x>\n"),
            binary(b"%PDF-1.4", "application/pdf", "Content-ID: <b@x>\n"),
            boundary="r",
        )
    )

    assert summarize(raw).attachment_count == len(view(raw).listed_attachments) == 1


def test_known_difference_an_image_with_a_content_id_the_html_never_shows() -> None:
    """The summary does not decode the HTML (delivery reads a skeleton of the
    message, whose long base64 runs are cut), so it takes every image of a
    multipart/related with a Content-ID as shown in place; the page lists the
    ones the HTML never refers to, so that nothing is lost. This is the one
    deliberate difference between the two."""
    raw = message(
        multipart(
            "related",
            text('<p><img src="cid:shown@x"></p>', "text/html"),
            binary(png(2, 2), "image/png", "Content-ID: <shown@x>\n"),
            binary(
                png(3, 3),
                "image/png",
                "Content-ID: <unused@x>\nContent-Disposition: inline; filename=unused.png\n",
            ),
            boundary="r",
        )
    )

    assert summarize(raw).attachment_count == 0
    assert [a.filename for a in view(raw).listed_attachments] == ["unused.png"]

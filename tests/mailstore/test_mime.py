# ruff: noqa: RUF001 (the lookalike characters are the test data)
"""view(): what the message page shows of a stored message, whatever its shape."""

from __future__ import annotations

import random
import time
from datetime import UTC, datetime

import pytest

from sealbox.mailstore import mime
from sealbox.mailstore.mime import MessageView, unflow, view
from tests import corpus
from tests.corpus import b64, crlf, headers, pdf, png, word


def multipart(subtype: str, *parts: bytes, boundary: str = "b", head: bytes = b"") -> bytes:
    """A MIME entity (headers and body) holding the given entities."""
    body = b"".join(b"--" + boundary.encode() + b"\r\n" + p + b"\r\n" for p in parts)
    return (
        head
        + crlf(f'Content-Type: multipart/{subtype}; boundary="{boundary}"\n\n')
        + body
        + b"--"
        + boundary.encode()
        + b"--\r\n"
    )


def text(body: str, ctype: str = "text/plain", extra: str = "") -> bytes:
    return (
        crlf(f"Content-Type: {ctype}; charset=utf-8\nContent-Transfer-Encoding: 8bit\n{extra}\n")
        + body.encode()
    )


def binary(data: bytes, ctype: str, extra: str = "") -> bytes:
    return crlf(f"Content-Type: {ctype}\nContent-Transfer-Encoding: base64\n{extra}\n") + b64(data)


def message(*entity: bytes, subject: str = "Test") -> bytes:
    return headers(subject, "MIME-Version: 1.0\n") + b"".join(entity)


# --- Headers -----------------------------------------------------------------------


def test_it_decodes_the_header_block() -> None:
    raw = crlf(
        "From: =?iso-8859-1?q?Andr=E9_Dupont?= <andre@example.fr>\n"
        "To: Alice <alice@example.net>, =?utf-8?b?5p2O6Zu3?= <lilei@example.cn>\n"
        "Cc: =?koi8-r?b?6dLJzsEg8MXU0s/XwQ==?= <irina@example.ru>\n"
        "Reply-To: replies@example.fr\n"
        "Subject: =?iso-2022-jp?b?GyRCO01IPjR8JE5KczlwGyhC?=\n"
        "Date: Fri, 20 Nov 2026 10:30:00 +0100\n"
        "Message-ID: <abc@example.fr>\n\nhello\n"
    )

    result = view(raw)

    assert result.subject == "四半期の報告"
    assert [str(a) for a in result.sender] == ["André Dupont <andre@example.fr>"]
    assert [str(a) for a in result.to] == ["Alice <alice@example.net>", "李雷 <lilei@example.cn>"]
    assert [str(a) for a in result.cc] == ["Ирина Петрова <irina@example.ru>"]
    assert [str(a) for a in result.reply_to] == ["replies@example.fr"]
    assert result.date == datetime(2026, 11, 20, 9, 30, tzinfo=UTC)
    assert result.message_id == "<abc@example.fr>"


def test_a_date_it_cannot_read_is_left_out() -> None:
    assert view(b"Date: the day after tomorrow\r\n\r\nhi\r\n").date is None


def test_a_nul_in_a_charset_label_is_read_as_utf_8() -> None:
    raw = b"From: =?utf\x00-8?q?Andr=C3=A9?= <andre@example.fr>\r\nSubject: hi\r\n\r\nbody\r\n"

    result = view(raw)

    assert [str(a) for a in result.sender] == ["André <andre@example.fr>"]


def test_a_huge_header_is_cut_rather_than_decoded_for_ever() -> None:
    raw = b"Subject: " + b"=?utf-8?q?a?= " * 100_000 + b"\r\n\r\nbody\r\n"

    started = time.monotonic()
    result = view(raw)
    elapsed = time.monotonic() - started

    assert result.subject.startswith("a" * 1000)
    assert elapsed < 2, f"took {elapsed:.1f} s"


# --- Which body ----------------------------------------------------------------------


def test_it_shows_the_html_of_an_alternative_and_keeps_the_text_for_the_switch() -> None:
    result = view(
        message(multipart("alternative", text("plain words"), text("<p>rich</p>", "text/html")))
    )

    assert result.html == "<p>rich</p>"
    assert result.text is not None and result.text.text == "plain words"
    assert result.attachments == []


def test_it_finds_the_html_of_an_alternative_in_any_order() -> None:
    result = view(
        message(multipart("alternative", text("<p>rich</p>", "text/html"), text("plain")))
    )

    assert result.html == "<p>rich</p>"
    assert result.text is not None and result.text.text == "plain"


def test_an_alternative_of_text_and_related_html_uses_both() -> None:
    logo = png()
    related = multipart(
        "related",
        text('<img src="cid:logo@x">', "text/html"),
        binary(logo, "image/png", "Content-ID: <logo@x>\n"),
        boundary="r",
    )

    result = view(message(multipart("alternative", text("plain"), related)))

    assert result.html == '<img src="cid:logo@x">'
    assert result.text is not None and result.text.text == "plain"
    index = result.content_ids["logo@x"]
    part = result.part(index)
    assert part is not None and mime.payload_bytes(part) == logo
    assert result.listed_attachments == []


def test_an_image_of_a_related_part_that_the_html_never_shows_is_listed() -> None:
    shown, unused = png(2, 2), png(3, 3)
    related = multipart(
        "related",
        text('<p><img src="cid:shown@x"></p>', "text/html"),
        binary(shown, "image/png", "Content-ID: <shown@x>\n"),
        binary(
            unused,
            "image/png",
            'Content-ID: <unused@x>\nContent-Disposition: inline; filename="unused.png"\n',
        ),
        boundary="r",
    )

    result = view(message(related))

    assert [(a.filename, a.inline) for a in result.attachments] == [
        ("", True),
        ("unused.png", False),
    ]
    assert [a.filename for a in result.listed_attachments] == ["unused.png"]


def test_other_text_parts_are_shown_after_the_body() -> None:
    result = view(
        message(multipart("mixed", text("first"), text("a,b\n1,2\n", "text/csv"), text("third")))
    )

    assert result.text is not None and result.text.text == "first"
    assert [t.text for t in result.more_text] == ["a,b\n1,2\n", "third"]


def test_text_parts_with_a_name_or_marked_attachment_are_attachments() -> None:
    result = view(
        message(
            multipart(
                "mixed",
                text("body"),
                text(
                    "BEGIN:VCALENDAR\nEND:VCALENDAR\n",
                    "text/calendar",
                    'Content-Disposition: inline; filename="invite.ics"\n',
                ),
                text(
                    "notes", "text/plain", "Content-Disposition: attachment; filename=notes.txt\n"
                ),
                text(
                    "<p>page</p>",
                    "text/html",
                    "Content-Disposition: attachment; filename=page.html\n",
                ),
            )
        )
    )

    assert result.text is not None and result.text.text == "body"
    assert result.html is None
    assert [(a.filename, a.content_type) for a in result.attachments] == [
        ("invite.ics", "text/calendar"),
        ("notes.txt", "text/plain"),
        ("page.html", "text/html"),
    ]


def test_attachments_carry_their_walk_index_type_and_decoded_size() -> None:
    data = pdf()
    result = view(
        message(
            multipart(
                "mixed",
                text("body"),
                binary(
                    data, "application/pdf", "Content-Disposition: attachment; filename=a.pdf\n"
                ),
            )
        )
    )

    [item] = result.attachments
    assert (item.index, item.content_type, item.size) == (2, "application/pdf", len(data))
    part = result.part(item.index)
    assert part is not None and mime.payload_bytes(part) == data
    assert result.part(99) is None and result.part(-1) is None


def test_text_keeps_its_whitespace_with_plain_line_ends() -> None:
    result = view(message(text("col1    col2\r\n\tindented\r\n\r\n\r\nlast  \r\n")))

    assert result.text is not None and result.text.text == "col1    col2\n\tindented\n\n\nlast  \n"


def test_the_header_block_of_an_lf_message_ends_at_its_first_empty_line() -> None:
    # The body later holds a CRLF empty line: the headers still end at the first "\n\n",
    # so a lone CR in the body is body text, not a header's line break made a space.
    raw = b"From: a@example.com\nSubject: hi\n\nline one\rstill\n\r\nmore\n"

    result = view(raw)

    assert result.subject == "hi"
    assert result.text is not None and result.text.text.startswith("line one\rstill\n")


def test_a_text_too_long_to_show_is_cut_and_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(mime, "MAX_TEXT_CHARS", 10)

    result = view(message(text("0123456789abcdef")))

    assert result.text is not None
    assert (result.text.text, result.text.truncated) == ("0123456789", True)


# --- Forwarded messages --------------------------------------------------------------


def test_a_forwarded_message_is_offered_as_a_file_named_for_its_subject() -> None:
    sample = corpus.forwarded()

    result = view(sample.raw)

    [item] = result.attachments
    assert (item.filename, item.content_type) == ("Original offer – v2.eml", "message/rfc822")
    part = result.part(item.index)
    assert part is not None and mime.rfc822_bytes(part, result.linesep) == corpus.INNER_MESSAGE
    assert item.size == len(corpus.INNER_MESSAGE)


def test_a_forwarded_message_with_a_file_name_keeps_it() -> None:
    inner = crlf("Subject: inner\n\ntext")
    raw = message(
        multipart(
            "mixed",
            text("see"),
            crlf(
                'Content-Type: message/rfc822\nContent-Disposition: attachment; filename="original.eml"\n\n'
            )
            + inner,
        )
    )

    assert [a.filename for a in view(raw).attachments] == ["original.eml"]


def test_a_forwarded_message_without_a_subject_is_called_message() -> None:
    raw = message(
        multipart("mixed", text("see"), crlf("Content-Type: message/rfc822\n\nFrom: x@y\n\ntext"))
    )

    assert [a.filename for a in view(raw).attachments] == ["message.eml"]


# --- File names ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "name"),
    [
        (
            "Content-Disposition: attachment; filename*=UTF-8''%E2%82%AC%20Rechnung.pdf",
            "€ Rechnung.pdf",
        ),
        (
            "Content-Disposition: attachment;\n filename*0*=UTF-8''%E2%82%AC%20Rech;\n filename*1*=nung%20M%C3%A4rz;\n filename*2=.pdf",
            "€ Rechnung März.pdf",
        ),
        ("Content-Disposition: attachment; filename*=iso-8859-1'de'Gr%FC%DFe.txt", "Grüße.txt"),
        ("Content-Disposition: attachment; filename*=x-klingon''%C3%A9t%C3%A9.txt", "été.txt"),
        (
            'Content-Disposition: attachment; filename="=?UTF-8?B?w6l0w6kgMjAyNi5wZGY=?="',
            "été 2026.pdf",
        ),
        (
            'Content-Disposition: attachment; filename="=?iso-8859-1?Q?r=E9sum=E9?=.pdf"',
            "résumé.pdf",
        ),
        (
            f"Content-Disposition: attachment; filename={word('Поддержка.txt', 'koi8-r')}",
            "Поддержка.txt",
        ),
        ('Content-Disposition: attachment; filename="../../etc/passwd"', "passwd"),
        ('Content-Disposition: attachment; filename="C:\\\\Users\\\\carol\\\\run.exe"', "run.exe"),
        ('Content-Disposition: attachment; filename="  .hidden. "', "hidden"),
        ('Content-Disposition: attachment; filename="a\x07b\x7f.txt"', "ab.txt"),
    ],
)
def test_it_decodes_file_names(header: str, name: str) -> None:
    raw = message(
        multipart("mixed", text("body"), binary(b"data", "application/octet-stream", header + "\n"))
    )

    [item] = view(raw).attachments
    assert item.filename == name


def test_it_takes_the_name_from_the_content_type_when_the_disposition_has_none() -> None:
    raw = message(
        multipart(
            "mixed",
            text("body"),
            binary(b"data", 'application/pdf; name="=?utf-8?q?Bericht_=C3=BC?=.pdf"'),
        )
    )

    assert [a.filename for a in view(raw).attachments] == ["Bericht ü.pdf"]


def test_it_reads_a_raw_utf8_file_name() -> None:
    raw = message(
        multipart(
            "mixed",
            text("body"),
            binary(
                b"data", "application/pdf", 'Content-Disposition: attachment; filename="x"\n'
            ).replace(b'"x"', '"Übersicht 日本.pdf"'.encode()),
        )
    )

    assert [a.filename for a in view(raw).attachments] == ["Übersicht 日本.pdf"]


# --- format=flowed ----------------------------------------------------------------------


def test_unflow_joins_soft_line_breaks() -> None:
    assert unflow("This is \nflowed \ntext.\nNext line.\n") == "This is flowed text.\nNext line.\n"


def test_unflow_with_delsp_removes_the_space_of_the_break() -> None:
    assert (
        unflow("Some-very-long- \nword and  \nmore.\n", delsp=True)
        == "Some-very-long-word and more.\n"
    )


def test_unflow_keeps_quote_depths_apart() -> None:
    flowed = "> quoted \n> more\n>> deeper \n>> still\nmine \n> back\n"

    assert unflow(flowed) == "> quoted more\n>> deeper still\nmine \n> back\n"


def test_unflow_does_not_join_the_signature_separator() -> None:
    assert unflow("Regards \nCarol\n-- \nCarol Sender\n") == "Regards Carol\n-- \nCarol Sender\n"


def test_unflow_removes_space_stuffing() -> None:
    assert unflow(" From here\n >not a quote\n") == "From here\n>not a quote\n"


def test_a_flowed_part_is_shown_unflowed() -> None:
    sample = corpus.format_flowed()

    result = view(sample.raw)

    assert result.text is not None
    assert result.text.text == (
        "This paragraph was wrapped by the sender's mail client at a fixed width, and must be "
        "read as one line again. A long word is split: success.\n\n"
        "> A quoted line that was wrapped as well.\n\n-- \nCarol\n"
    )


def test_a_text_that_is_not_flowed_keeps_its_trailing_spaces() -> None:
    result = view(message(text("line one \nline two\n")))

    assert result.text is not None and result.text.text == "line one \nline two\n"


# --- Damage --------------------------------------------------------------------------------


def test_a_missing_close_boundary_is_flagged_and_the_parts_still_show() -> None:
    result = view(corpus.missing_close_boundary().raw)

    assert "defects" in result.problems
    assert result.text is not None and result.text.text == "The last boundary never comes."
    assert [a.filename for a in result.attachments] == ["cut.pdf"]


def test_a_multipart_without_its_boundary_is_shown_as_text() -> None:
    result = view(corpus.wrong_boundary().raw)

    assert "broken" in result.problems
    assert result.text is not None and "Text behind the wrong boundary." in result.text.text
    assert result.attachments == []


def test_deep_nesting_is_flagged_and_shown_raw() -> None:
    result = view(corpus.deep_nesting().raw)

    assert {"too-deep", "raw"} <= set(result.problems)
    assert result.text is not None and "At the very bottom." in result.text.text


def test_an_unknown_charset_falls_back_to_utf8() -> None:
    result = view(corpus.unknown_charset().raw)

    assert result.subject == "tlhIngan Hol"
    assert result.text is not None and result.text.text == "Qapla’ — the mission succeeded.\n"
    assert result.problems == []


def test_bytes_that_are_not_in_their_charset_become_replacement_characters() -> None:
    raw = message(crlf("Content-Type: text/plain; charset=utf-8\n\n") + b"caf\xe9 \xff\xfe ok")

    result = view(raw)

    assert result.text is not None and result.text.text == "caf\ufffd \ufffd\ufffd ok"


def test_a_lying_charset_label_is_read_as_what_the_bytes_are() -> None:
    raw = message(crlf("Content-Type: text/plain; charset=us-ascii\n\n") + "Grüße".encode())

    result = view(raw)

    assert result.text is not None and result.text.text == "Grüße"


def test_a_message_with_no_body_has_an_empty_text() -> None:
    result = view(corpus.empty_body().raw)

    assert result.text is not None and result.text.text == ""
    assert result.problems == []


def test_too_many_parts_are_flagged_and_the_first_ones_listed() -> None:
    parts = [text("body")] + [
        binary(
            b"x",
            "application/octet-stream",
            f"Content-Disposition: attachment; filename=f{i}.bin\n",
        )
        for i in range(mime.MAX_PARTS + 10)
    ]

    result = view(message(multipart("mixed", *parts)))

    assert "too-many-parts" in result.problems
    assert result.text is not None and result.text.text == "body"
    assert result.attachments[0].filename == "f0.bin"
    assert len(result.attachments) == mime.MAX_PARTS - 2


def test_a_message_without_headers_is_shown_as_text() -> None:
    result = view(b"just some words\n")

    assert result.text is not None and "just some words" in result.text.text


GARBAGE_SEEDS = range(60)


def _mangle(raw: bytes, rng: random.Random) -> bytes:
    data = bytearray(raw[:200_000])
    for _ in range(rng.randint(1, 40)):
        choice = rng.random()
        pos = rng.randrange(len(data) or 1)
        if choice < 0.4 and data:
            data[pos] = rng.randrange(256)
        elif choice < 0.7:
            data[pos:pos] = rng.choice(
                [b"\r\n--b\r\n", b"\r\n\r\n", b"=?", b"?=", b'"', b";", b"\x00", b"*0*=", b"--"]
            )
        else:
            del data[pos : pos + rng.randint(1, 50)]
    return bytes(data)


@pytest.mark.parametrize("seed", GARBAGE_SEEDS)
def test_it_never_raises_on_garbage(seed: int) -> None:
    rng = random.Random(seed)
    samples = [
        rng.randbytes(rng.randint(0, 3000)),
        b"Content-Type: multipart/mixed; boundary=x\r\n\r\n" + rng.randbytes(500),
    ]
    for build in [b for b in corpus.BUILDERS if b is not corpus.big_attachment]:
        samples.append(_mangle(build().raw, rng))
    for raw in samples:
        result = view(raw)
        assert isinstance(result, MessageView)
        assert result.html is not None or result.text is not None or result.attachments
        for item in result.attachments:
            part = result.part(item.index)
            assert part is not None
            mime.payload_bytes(part)

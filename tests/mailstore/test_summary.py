from __future__ import annotations

from datetime import UTC, datetime

import pytest

from sealbox.mailstore.summary import decode_header_value, summarize
from tests.mail import make_message


@pytest.mark.parametrize(
    ("raw", "text"),
    [
        ("=?iso-2022-jp?b?GyRCO01IPjR8JE5KczlwGyhC?=", "四半期の報告"),
        ("=?koi8-r?b?79Teo9Qg2sEgy9fB0tTBzA==?=", "Отчёт за квартал"),
        ("=?gb18030?b?vL62yLGouOY=?=", "季度报告"),
        ("=?UTF-8?Q?=C3=9Cberweisung_f=C3=BCr_J=C3=BCrgen?=", "Überweisung für Jürgen"),
        ("=?utf-8?B?w5xiZXJ3ZWlzdW5nIGbDvHIgSsO8cmdlbg==?=", "Überweisung für Jürgen"),
    ],
)
def test_it_decodes_encoded_words(raw: str, text: str) -> None:
    assert decode_header_value(raw) == text


def test_it_joins_adjacent_encoded_words_without_the_space_between() -> None:
    assert decode_header_value("=?utf-8?q?Gr=C3=BC?=\r\n =?utf-8?q?=C3=9Fe?=") == "Grüße"


def test_it_keeps_the_spaces_around_plain_words() -> None:
    assert decode_header_value("Re: =?utf-8?q?caf=C3=A9?= tomorrow") == "Re: café tomorrow"


def test_it_never_raises_on_an_unknown_charset() -> None:
    assert decode_header_value("=?x-unknown?Q?caf=E9?= au lait") == "caf\ufffd au lait"


def test_it_reads_windows_1252_labelled_latin_1() -> None:
    assert decode_header_value("=?iso-8859-1?q?=80_5_f=FCr_Kaffee?=") == "€ 5 für Kaffee"


def test_it_reads_utf8_labelled_us_ascii() -> None:
    assert decode_header_value("=?us-ascii?q?Gr=C3=BC=C3=9Fe?=") == "Grüße"


def test_it_reads_windows_1252_labelled_us_ascii() -> None:
    assert decode_header_value("=?us-ascii?q?=80_5_f=FCr_Kaffee?=") == "€ 5 für Kaffee"


def test_it_reads_raw_utf8_headers() -> None:
    summary = summarize(
        "From: Jürgen Müller <jm@example.de>\r\nSubject: Grüße aus Köln 日本\r\n\r\nhi\r\n".encode()
    )

    assert summary.subject == "Grüße aus Köln 日本"
    assert summary.from_name == "Jürgen Müller"
    assert summary.from_address == "jm@example.de"


def test_it_reads_a_raw_utf8_header_holding_an_encoded_word() -> None:
    summary = summarize("Subject: Grüße =?utf-8?q?aus_K=C3=B6ln?=\r\n\r\nhi\r\n".encode())

    assert summary.subject == "Grüße aus Köln"


def test_it_keeps_a_sender_name_with_a_comma_in_an_encoded_word() -> None:
    summary = summarize(
        b"From: =?utf-8?q?Garc=C3=ADa=2C_Jos=C3=A9?= <jose@example.es>\r\n\r\nhola\r\n"
    )

    assert (summary.from_name, summary.from_address) == ("García, José", "jose@example.es")


def test_it_reads_the_indexed_fields_of_an_ordinary_message() -> None:
    summary = summarize(make_message(subject="Quarterly figures"))

    assert summary.subject == "Quarterly figures"
    assert (summary.from_name, summary.from_address) == ("Carol Sender", "carol@corp.example")
    assert summary.sent_date == datetime(2026, 11, 20, 9, 30, tzinfo=UTC)
    assert summary.message_id.endswith("@corp.example>")
    assert summary.attachment_count == 0


def test_a_missing_or_broken_date_leaves_the_date_empty() -> None:
    assert summarize(b"Subject: no date\r\n\r\nhi\r\n").sent_date is None
    assert summarize(b"Date: the day after tomorrow\r\n\r\nhi\r\n").sent_date is None


def test_a_date_without_a_zone_is_taken_as_utc() -> None:
    summary = summarize(b"Date: Fri, 20 Nov 2026 09:30:00 -0000\r\n\r\nhi\r\n")

    assert summary.sent_date == datetime(2026, 11, 20, 9, 30, tzinfo=UTC)


def test_it_summarizes_a_message_without_headers() -> None:
    summary = summarize(b"no headers here\r\njust text\r\n")

    assert (summary.subject, summary.from_address, summary.sent_date) == ("", "", None)


def test_it_counts_attachments() -> None:
    data = make_message(
        attachments=[
            ("figures.xlsx", "application/vnd.ms-excel", b"PK\x03\x04 not really"),
            ("notes.txt", "text/plain", b"plain text notes"),
        ]
    )

    assert summarize(data).attachment_count == 2


ATTACHMENT_2231 = b"""\
From: carol@corp.example\r
Subject: rates\r
MIME-Version: 1.0\r
Content-Type: multipart/mixed; boundary="b1"\r
\r
--b1\r
Content-Type: text/plain; charset=utf-8\r
\r
See the file.\r
--b1\r
Content-Type: text/plain; charset=utf-8\r
Content-Disposition: inline;\r
 filename*=utf-8''%E2%82%AC%20rates%20f%C3%BCr%202027.txt\r
\r
EUR 1.00\r
--b1\r
Content-Type: application/octet-stream; name*0="long"; name*1="-name.bin"\r
\r
binary\r
--b1--\r
"""


def test_it_counts_attachments_named_the_rfc_2231_way() -> None:
    assert summarize(ATTACHMENT_2231).attachment_count == 2


FORWARDED = b"""\
From: carol@corp.example\r
Subject: Fwd: the contract\r
MIME-Version: 1.0\r
Content-Type: multipart/mixed; boundary="b1"\r
\r
--b1\r
Content-Type: text/plain\r
\r
Forwarding the mail below.\r
--b1\r
Content-Type: message/rfc822\r
Content-Disposition: attachment\r
\r
From: dave@example.com\r
Subject: the contract\r
\r
Signed.\r
--b1--\r
"""


def test_it_counts_a_forwarded_message_as_one_attachment() -> None:
    assert summarize(FORWARDED).attachment_count == 1


def test_inline_text_is_not_an_attachment() -> None:
    data = (
        b"Content-Type: multipart/alternative; boundary=b\r\n\r\n"
        b"--b\r\nContent-Type: text/plain\r\n\r\nhi\r\n"
        b"--b\r\nContent-Type: text/html\r\nContent-Disposition: inline\r\n\r\n<p>hi</p>\r\n--b--\r\n"
    )

    assert summarize(data).attachment_count == 0


def test_it_summarizes_broken_mime_without_failing() -> None:
    data = (
        b'Subject: =?utf-8?q?broken?=\r\nContent-Type: multipart/mixed; boundary="abc"\r\n\r\n'
        b"--xyz\r\nContent-Type: text/plain\r\n\r\nnever closed\r\n"
    )

    summary = summarize(data)

    assert (summary.subject, summary.attachment_count) == ("broken", 0)


def test_it_keeps_the_attachment_names_one_a_line() -> None:
    data = make_message(
        attachments=[
            ("figures.xlsx", "application/vnd.ms-excel", b"PK\x03\x04 not really"),
            ("../../notes.txt", "text/plain", b"plain text notes"),
        ]
    )

    assert summarize(data).attachment_names == "figures.xlsx\nnotes.txt"


def test_it_keeps_attachment_names_given_the_rfc_2231_way_decoded() -> None:
    assert summarize(ATTACHMENT_2231).attachment_names == "€ rates für 2027.txt\nlong-name.bin"


def test_a_forwarded_message_is_named_for_its_subject() -> None:
    assert summarize(FORWARDED).attachment_names == "the contract.eml"


def test_the_attachment_names_kept_are_bounded() -> None:
    names = [(f"{i:03d}-{'x' * 200}.pdf", "application/pdf", b"%PDF") for i in range(40)]

    kept = summarize(make_message(attachments=names)).attachment_names.split("\n")

    assert kept == [name for name, _, _ in names[: len(kept)]]
    assert 5 <= len(kept) < 40 and len("\n".join(kept)) <= 2000

# ruff: noqa: RUF001 (the lookalike characters are the point of these messages)
"""A corpus of tricky messages, built byte by byte.

Each builder returns a Sample: the raw message exactly as a mail gateway could
hand it over, and what a reader must see of it (subject, texts on the message
page, texts in the HTML frame, attachments with their decoded names and bytes).
The messages are written out by hand rather than with the email package, which
would tidy away the very damage and oddities they are here to carry.
"""

from __future__ import annotations

import base64
import quopri
import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field

FROM = "Carol Sender <carol@corp.example>"
TO = "alice@example.net"
DATE = "Fri, 20 Nov 2026 09:30:00 +0000"


@dataclass(frozen=True)
class Part:
    """An attachment the reader must find listed and be able to download."""

    filename: str
    content_type: str
    data: bytes


@dataclass
class Sample:
    name: str
    raw: bytes
    subject: str  # as the message page shows it
    page: tuple[str, ...] = ()  # texts on the message page (headers, plain text body)
    frame: tuple[str, ...] = ()  # texts in the HTML frame document
    attachments: tuple[Part, ...] = ()
    html: bool = False  # the page shows an HTML body in the frame
    damaged: bool = False  # the page says the message is damaged
    extra: dict[str, str] = field(default_factory=dict)


def crlf(text: str) -> bytes:
    """Header and MIME lines as ASCII text with CRLF line ends."""
    return text.replace("\r\n", "\n").replace("\n", "\r\n").encode("ascii")


def b64(data: bytes) -> bytes:
    """Base64 body lines of 76 characters, CRLF ended."""
    return base64.encodebytes(data).replace(b"\n", b"\r\n")


def qp(data: bytes) -> bytes:
    return quopri.encodestring(data).replace(b"\n", b"\r\n")


def word(text: str, charset: str, encoding: str = "B") -> str:
    """One RFC 2047 encoded word."""
    data = text.encode(charset)
    if encoding == "B":
        body = base64.b64encode(data).decode("ascii")
    else:
        body = "".join(
            chr(b) if b < 0x80 and chr(b).isalnum() else ("_" if b == 0x20 else f"={b:02X}")
            for b in data
        )
    return f"=?{charset}?{encoding}?{body}?="


def headers(subject: str, extra: str = "", sender: str = FROM) -> bytes:
    return crlf(
        f"From: {sender}\nTo: {TO}\nSubject: {subject}\nDate: {DATE}\n"
        f"Message-ID: <corpus-{zlib.crc32(subject.encode()):08x}@corp.example>\n{extra}"
    )


def png(width: int = 4, height: int = 2) -> bytes:
    """A small real PNG."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        return struct.pack(">I", len(data)) + kind + data + crc

    rows = b"".join(b"\x00" + b"\x0b\x5c\xad" * width for _ in range(height))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def pdf(tag: bytes = b"") -> bytes:
    """Binary bytes that look like a PDF; every byte value occurs."""
    return b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n" + tag + bytes(range(256)) + b"\n%%EOF\n"


# --- Charsets -----------------------------------------------------------------


def iso_2022_jp() -> Sample:
    subject, name = "四半期の報告", "山田太郎"
    body = "お世話になっております。\n第3四半期の報告書をお送りします。\n"
    raw = headers(
        word(subject, "iso-2022-jp"),
        "MIME-Version: 1.0\nContent-Type: text/plain; charset=ISO-2022-JP\n"
        "Content-Transfer-Encoding: 7bit\n",
        sender=f"{word(name, 'iso-2022-jp')} <yamada@corp.example>",
    )
    raw += b"\r\n" + body.replace("\n", "\r\n").encode("iso-2022-jp")
    return Sample(
        "iso-2022-jp",
        raw,
        subject,
        page=(name, "yamada@corp.example", "お世話になっております。", "第3四半期の報告書"),
    )


def gb18030() -> Sample:
    # 㐀 and 𠀀 take four bytes in GB18030: a GBK decoder cannot read them.
    subject = "季度报告 㐀"
    body = "您好，\n附件是第三季度的报告。罕见字：𠀀 㐀\n"
    raw = headers(
        word(subject, "gb18030"),
        "MIME-Version: 1.0\nContent-Type: text/plain; charset=GB18030\n"
        "Content-Transfer-Encoding: base64\n",
    )
    raw += b"\r\n" + b64(body.encode("gb18030"))
    return Sample("gb18030", raw, subject, page=("附件是第三季度的报告。", "罕见字：𠀀 㐀"))


def koi8_r() -> Sample:
    subject = "Отчёт за квартал"
    body = "Добрый день!\nОтчёт за третий квартал во вложении.\n"
    raw = headers(
        word(subject, "koi8-r", "Q"),
        'MIME-Version: 1.0\nContent-Type: text/plain; charset="koi8-r"\n'
        "Content-Transfer-Encoding: quoted-printable\n",
        sender=f"{word('Ирина Петрова', 'koi8-r')} <irina@corp.example>",
    )
    raw += b"\r\n" + qp(body.replace("\n", "\r\n").encode("koi8-r"))
    return Sample(
        "koi8-r",
        raw,
        subject,
        page=("Ирина Петрова", "Добрый день!", "Отчёт за третий квартал во вложении."),
    )


def windows_1252_labelled_latin_1() -> Sample:
    """Curly quotes, a dash and the euro sign are Windows-1252 bytes that Latin-1 lacks."""
    subject = "“Offer” – € 42"
    body = "We call it “the offer” – it costs € 42… that’s all.\n"
    raw = headers(
        "=?iso-8859-1?Q?=93Offer=94_=96_=80_42?=",
        "MIME-Version: 1.0\nContent-Type: text/plain; charset=iso-8859-1\n"
        "Content-Transfer-Encoding: quoted-printable\n",
    )
    raw += b"\r\n" + qp(body.replace("\n", "\r\n").encode("cp1252"))
    return Sample(
        "windows-1252 labelled iso-8859-1",
        raw,
        subject,
        page=("We call it “the offer” – it costs € 42… that’s all.",),
    )


def utf8_headers() -> Sample:
    """Raw 8-bit UTF-8 in the headers and in a file name (RFC 6532 style)."""
    data = pdf(b"utf8 headers")
    raw = (
        (
            "From: Jürgen Müller <jm@example.de>\r\n"
            "To: Alice Ålander <alice@example.net>\r\n"
            "Cc: Zoë Ærøskøbing <zoe@example.dk>, 李雷 <lilei@example.cn>\r\n"
            "Subject: Grüße aus Köln – 日本語\r\n"
            f"Date: {DATE}\r\n"
            "MIME-Version: 1.0\r\n"
            'Content-Type: multipart/mixed; boundary="utf8-b"\r\n'
            "\r\n"
            "--utf8-b\r\n"
            "Content-Type: text/plain; charset=utf-8\r\n"
            "Content-Transfer-Encoding: 8bit\r\n"
            "\r\n"
            "Schöne Grüße, 你好.\r\n"
            "--utf8-b\r\n"
            'Content-Type: application/pdf; name="Übersicht 2026.pdf"\r\n'
            'Content-Disposition: attachment; filename="Übersicht 2026.pdf"\r\n'
            "Content-Transfer-Encoding: base64\r\n"
            "\r\n"
        ).encode()
        + b64(data)
        + b"--utf8-b--\r\n"
    )
    return Sample(
        "utf-8 8-bit headers",
        raw,
        "Grüße aus Köln – 日本語",
        page=(
            "Jürgen Müller",
            "Alice Ålander",
            "Zoë Ærøskøbing",
            "李雷",
            "Schöne Grüße, 你好.",
        ),
        attachments=(Part("Übersicht 2026.pdf", "application/pdf", data),),
    )


def unknown_charset() -> Sample:
    """A charset no one knows: the UTF-8 bytes inside are read as UTF-8."""
    subject = "tlhIngan Hol"
    body = "Qapla’ — the mission succeeded.\n"
    raw = headers(
        "=?x-klingon?Q?tlhIngan_Hol?=",
        'MIME-Version: 1.0\nContent-Type: text/plain; charset="x-klingon"\n'
        "Content-Transfer-Encoding: 8bit\n",
    )
    raw += b"\r\n" + body.replace("\n", "\r\n").encode("utf-8")
    return Sample(
        "unknown charset x-klingon", raw, subject, page=("Qapla’ — the mission succeeded.",)
    )


# --- Attachment names -----------------------------------------------------------


def rfc2231_names() -> Sample:
    invoice, greeting = pdf(b"invoice"), "Grüße aus Wien\n".encode("latin-1")
    raw = (
        headers(
            "RFC 2231 names",
            'MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary="2231"\n',
        )
        + crlf(
            "\n--2231\n"
            "Content-Type: text/plain; charset=us-ascii\n\n"
            "Two attachments with long and non-ASCII names.\n"
            "--2231\n"
            "Content-Type: application/pdf\n"
            "Content-Disposition: attachment;\n"
            " filename*0*=UTF-8''%E2%82%AC%20Rechnung%20;\n"
            " filename*1*=M%C3%A4rz%202026%20%E2%80%93%20;\n"
            ' filename*2="Nr. 17.pdf"\n'
            "Content-Transfer-Encoding: base64\n\n"
        )
        + b64(invoice)
        + crlf(
            "--2231\n"
            "Content-Type: text/plain; charset=iso-8859-1;\n"
            " name*=iso-8859-1'de'Gr%FC%DFe%20aus%20Wien.txt\n"
            "Content-Disposition: attachment\n"
            "Content-Transfer-Encoding: base64\n\n"
        )
        + b64(greeting)
        + crlf("--2231--\n")
    )
    return Sample(
        "RFC 2231 file names",
        raw,
        "RFC 2231 names",
        page=("Two attachments with long and non-ASCII names.",),
        attachments=(
            Part("€ Rechnung März 2026 – Nr. 17.pdf", "application/pdf", invoice),
            Part("Grüße aus Wien.txt", "text/plain", greeting),
        ),
    )


def rfc2047_names() -> Sample:
    doc, report = pdf(b"docx"), pdf(b"report")
    doc_name, report_name = "Préférences été.docx", "報告書.pdf"
    docx = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
    raw = (
        headers(
            "RFC 2047 names",
            'MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary="2047"\n',
        )
        + crlf(
            "\n--2047\n"
            "Content-Type: text/plain\n\n"
            "Names as encoded words, as Outlook and old clients write them.\n"
            "--2047\n"
            f"Content-Type: {docx}\n"
            f'Content-Disposition: attachment; filename="{word(doc_name, "utf-8")}"\n'
            "Content-Transfer-Encoding: base64\n\n"
        )
        + b64(doc)
        + crlf(
            "--2047\n"
            f'Content-Type: application/pdf; name="{word(report_name, "iso-2022-jp")}"\n'
            "Content-Transfer-Encoding: base64\n\n"
        )
        + b64(report)
        + crlf("--2047--\n")
    )
    return Sample(
        "RFC 2047 file names",
        raw,
        "RFC 2047 names",
        page=("Names as encoded words",),
        attachments=(Part(doc_name, docx, doc), Part(report_name, "application/pdf", report)),
    )


# --- Structure ------------------------------------------------------------------

NESTED_HTML = """<html><head><style>
td.figure { font-weight: bold; color: #0b5cad; }
</style></head><body>
<h1>Quarterly results</h1>
<p><img src="cid:logo@corp.example" alt="Logo"></p>
<table><tr><th>Quarter</th><th>Revenue</th></tr>
<tr><td>Q3</td><td class="figure">€ 4.2 m</td></tr></table>
<p><a href="https://corp.example/results">Read online</a></p>
</body></html>
"""


def nested() -> Sample:
    """mixed > (alternative > (text, related > (html, cid image)), pdf)."""
    logo, report = png(), pdf(b"nested")
    raw = (
        headers(
            "Nested parts",
            'MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary="outer"\n',
        )
        + crlf(
            "\nThis is a multi-part message in MIME format.\n"
            "--outer\n"
            'Content-Type: multipart/alternative; boundary="alt"\n\n'
            "--alt\n"
            "Content-Type: text/plain; charset=utf-8\n"
            "Content-Transfer-Encoding: quoted-printable\n\n"
        )
        + qp("Quarterly results\r\n\r\nQ3 revenue: € 4.2 m (plain version)\r\n".encode())
        + crlf(
            "\n--alt\n"
            'Content-Type: multipart/related; boundary="rel"; type="text/html"\n\n'
            "--rel\n"
            "Content-Type: text/html; charset=utf-8\n"
            "Content-Transfer-Encoding: quoted-printable\n\n"
        )
        + qp(NESTED_HTML.replace("\n", "\r\n").encode())
        + crlf(
            "\n--rel\n"
            "Content-Type: image/png\n"
            "Content-ID: <logo@corp.example>\n"
            "Content-Disposition: inline; filename=logo.png\n"
            "Content-Transfer-Encoding: base64\n\n"
        )
        + b64(logo)
        + crlf(
            "--rel--\n"
            "--alt--\n"
            "--outer\n"
            'Content-Type: application/pdf; name="Q3 report.pdf"\n'
            'Content-Disposition: attachment; filename="Q3 report.pdf"\n'
            "Content-Transfer-Encoding: base64\n\n"
        )
        + b64(report)
        + crlf("--outer--\n")
    )
    return Sample(
        "nested mixed > alternative > related",
        raw,
        "Nested parts",
        frame=(
            "Quarterly results",
            "€ 4.2 m",
            "data:image/png;base64," + base64.b64encode(logo).decode(),
            'href="https://corp.example/results"',
        ),
        attachments=(Part("Q3 report.pdf", "application/pdf", report),),
        html=True,
        extra={"plain": "Q3 revenue: € 4.2 m (plain version)"},
    )


def cid_images() -> Sample:
    """HTML with two cid: images (one referenced as <cid>), and a PNG attachment."""
    logo, chart, photo = png(4, 2), png(8, 8), png(2, 2)
    raw = (
        headers(
            "Images in the text",
            'MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary="m"\n',
        )
        + crlf(
            "\n--m\n"
            'Content-Type: multipart/related; boundary="r"\n\n'
            "--r\n"
            "Content-Type: text/html; charset=us-ascii\n\n"
            '<p>Our logo <img src="cid:logo.1@corp.example" alt="logo"></p>\n'
            '<p>The chart <img src="CID:chart.2@corp.example" alt="chart"></p>\n'
            '<p>A missing one <img src="cid:nowhere@corp.example" alt="missing"></p>\n'
            "--r\n"
            "Content-Type: image/png\n"
            "Content-ID: <logo.1@corp.example>\n"
            "Content-Transfer-Encoding: base64\n\n"
        )
        + b64(logo)
        + crlf(
            "--r\n"
            'Content-Type: image/png; name="chart.png"\n'
            "Content-ID: <chart.2@corp.example>\n"
            "Content-Transfer-Encoding: base64\n\n"
        )
        + b64(chart)
        + crlf(
            "--r--\n"
            "--m\n"
            'Content-Type: image/png; name="holiday.png"\n'
            'Content-Disposition: attachment; filename="holiday.png"\n'
            "Content-Transfer-Encoding: base64\n\n"
        )
        + b64(photo)
        + crlf("--m--\n")
    )
    return Sample(
        "cid: images",
        raw,
        "Images in the text",
        frame=(
            "Our logo",
            "data:image/png;base64," + base64.b64encode(logo).decode(),
            "data:image/png;base64," + base64.b64encode(chart).decode(),
            "A missing one",
        ),
        attachments=(Part("holiday.png", "image/png", photo),),
        html=True,
    )


INNER_MESSAGE = (
    b"From: Dan Partner <dan@partner.example>\r\n"
    b"To: carol@corp.example\r\n"
    b"Subject: =?utf-8?q?Original_offer_=E2=80=93_v2?=\r\n"
    b"Date: Thu, 19 Nov 2026 17:00:00 +0100\r\n"
    b"Content-Type: text/plain; charset=utf-8\r\n"
    b"\r\n"
    b"The original offer text."
)  # the line end before the next boundary belongs to the boundary


def forwarded() -> Sample:
    raw = (
        headers(
            "Fwd: Original offer",
            'MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary="fwd"\n',
        )
        + crlf(
            "\n--fwd\n"
            "Content-Type: text/plain\n\n"
            "See the forwarded message.\n"
            "--fwd\n"
            "Content-Type: message/rfc822\n"
            "Content-Disposition: attachment\n\n"
        )
        + INNER_MESSAGE
        + crlf("\n--fwd--\n")
    )
    return Sample(
        "message/rfc822 attachment",
        raw,
        "Fwd: Original offer",
        page=("See the forwarded message.",),
        attachments=(Part("Original offer – v2.eml", "message/rfc822", INNER_MESSAGE),),
    )


def missing_close_boundary() -> Sample:
    data = pdf(b"unclosed")
    raw = (
        headers(
            "Unclosed",
            'MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary="open"\n',
        )
        + crlf(
            "\n--open\n"
            "Content-Type: text/plain\n\n"
            "The last boundary never comes.\n"
            "--open\n"
            'Content-Type: application/pdf; name="cut.pdf"\n'
            "Content-Transfer-Encoding: base64\n\n"
        )
        + b64(data)
    )
    return Sample(
        "missing close boundary",
        raw,
        "Unclosed",
        page=("The last boundary never comes.",),
        attachments=(Part("cut.pdf", "application/pdf", data),),
        damaged=True,
    )


def wrong_boundary() -> Sample:
    """The header names one boundary, the body uses another: no part can be found."""
    raw = headers(
        "Wrong boundary",
        'MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary="declared"\n',
    ) + crlf(
        "\n--actual\nContent-Type: text/plain\n\nText behind the wrong boundary.\n--actual--\n"
    )
    return Sample(
        "wrong boundary",
        raw,
        "Wrong boundary",
        page=("Text behind the wrong boundary.",),
        damaged=True,
    )


def format_flowed() -> Sample:
    """RFC 3676 with DelSp=yes: soft breaks go, and so does the space before them."""
    # With DelSp=yes the one space before a soft break is the break's own, so a
    # break between words carries two spaces and one inside a word carries one.
    body = (
        "This paragraph was wrapped by the sender's mail client at a fixed  \r\n"
        "width, and must be read as one line again. A long word is split: suc \r\n"
        "cess.\r\n"
        "\r\n"
        "> A quoted line that was  \r\n"
        "> wrapped as well.\r\n"
        "\r\n"
        "-- \r\n"
        "Carol\r\n"
    )
    raw = (
        headers(
            "Flowed text",
            "MIME-Version: 1.0\n"
            "Content-Type: text/plain; charset=utf-8; format=flowed; delsp=yes\n"
            "Content-Transfer-Encoding: 7bit\n",
        )
        + b"\r\n"
        + body.encode()
    )
    return Sample(
        "format=flowed DelSp=yes",
        raw,
        "Flowed text",
        page=(
            "This paragraph was wrapped by the sender's mail client at a fixed width, "
            "and must be read as one line again. A long word is split: success.\n",
            "> A quoted line that was wrapped as well.\n",
            "-- \nCarol",
        ),
    )


BIG_SIZE = 20 * 1024 * 1024


def big_attachment() -> Sample:
    data = (bytes(range(256)) * (BIG_SIZE // 256 + 1))[:BIG_SIZE]
    raw = (
        headers(
            "A big file",
            'MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary="big"\n',
        )
        + crlf(
            "\n--big\n"
            "Content-Type: text/plain\n\n"
            "Twenty megabytes attached.\n"
            "--big\n"
            'Content-Type: application/octet-stream; name="disk image.bin"\n'
            'Content-Disposition: attachment; filename="disk image.bin"\n'
            "Content-Transfer-Encoding: base64\n\n"
        )
        + b64(data)
        + crlf("--big--\n")
    )
    return Sample(
        "20 MB attachment",
        raw,
        "A big file",
        page=("Twenty megabytes attached.", "20.0\xa0MB"),
        attachments=(Part("disk image.bin", "application/octet-stream", data),),
    )


DEEP_LEVELS = 60


def deep_nesting(levels: int = DEEP_LEVELS) -> Sample:
    """Multiparts inside each other, sixty deep, with the text at the bottom."""
    lines = ["MIME-Version: 1.0", 'Content-Type: multipart/mixed; boundary="d0"', ""]
    for level in range(1, levels):
        lines += [f"--d{level - 1}", f'Content-Type: multipart/mixed; boundary="d{level}"', ""]
    lines += [f"--d{levels - 1}", "Content-Type: text/plain", "", "At the very bottom.", ""]
    lines += [f"--d{level}--" for level in reversed(range(levels))]
    raw = headers("Deep nesting") + crlf("\n".join(lines) + "\n")
    return Sample(
        "60 levels of nesting", raw, "Deep nesting", page=("At the very bottom.",), damaged=True
    )


def no_content_type() -> Sample:
    raw = (
        headers("No type")
        + b"\r\n"
        + "Plain words with no MIME headers at all. Grüße.\r\n".encode()
    )
    return Sample(
        "no Content-Type", raw, "No type", page=("Plain words with no MIME headers at all. Grüße.",)
    )


def html_only() -> Sample:
    raw = (
        headers(
            "Only HTML",
            "MIME-Version: 1.0\nContent-Type: text/html; charset=windows-1251\n"
            "Content-Transfer-Encoding: 8bit\n",
        )
        + b"\r\n"
        + (
            '<html><body><p style="color: #12355b">Только <b>HTML</b>, no plain text.</p>'
            '<p><a href="https://corp.example/">corp</a></p></body></html>\r\n'
        ).encode("cp1251")
    )
    return Sample(
        "HTML only",
        raw,
        "Only HTML",
        frame=("Только <b>HTML</b>, no plain text.", "color:#12355b"),
        html=True,
    )


def empty_body() -> Sample:
    raw = headers("Nothing inside", "MIME-Version: 1.0\nContent-Type: text/plain\n") + b"\r\n"
    return Sample("empty body", raw, "Nothing inside")


BUILDERS: list[Callable[[], Sample]] = [
    iso_2022_jp,
    gb18030,
    koi8_r,
    windows_1252_labelled_latin_1,
    utf8_headers,
    unknown_charset,
    rfc2231_names,
    rfc2047_names,
    nested,
    cid_images,
    forwarded,
    missing_close_boundary,
    wrong_boundary,
    format_flowed,
    big_attachment,
    deep_nesting,
    no_content_type,
    html_only,
    empty_body,
]

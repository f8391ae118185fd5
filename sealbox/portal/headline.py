"""A message's headers folded to one line, as mobile mail apps show them:
"From Carol to me · 20 Nov", or in Sent "To Carol, Dave · 20 Nov".

The full From/To/Cc/Date stay on the page, in a disclosure under this line.
"""

from __future__ import annotations

from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from sealbox.mailstore.mime import Address, MessageView

# Names shown on the line; the rest are counted ("and 3 more").
MAX_NAMES = 2


def name_of(address: Address) -> str:
    """What a person is called on the line: the display name, else the address."""
    return address.name.strip() or address.address


def sender(view: MessageView, fallback: str) -> SafeString:
    """The sender's name (or address), isolated for right-to-left text."""
    names = [name_of(a) for a in view.sender if name_of(a)] or [fallback]
    return _names(names)


def recipients(view: MessageView, reader_address: str) -> SafeString:
    """Who the message went to: "me" for the reader's own address, then the others' names."""
    mine = reader_address.strip().lower()
    me = False
    names: list[str] = []
    for a in [*view.to, *view.cc]:
        if a.address.strip().lower() == mine and mine:
            me = True
        elif name_of(a) and name_of(a) not in names:
            names.append(name_of(a))
    if me:
        names.insert(0, _("me"))
    if not names:
        return format_html("{}", _("(no recipient)"))
    return _names(names)


def _names(names: list[str]) -> SafeString:
    shown = format_html_join(", ", '<bdi dir="auto">{}</bdi>', ((n,) for n in names[:MAX_NAMES]))
    more = len(names) - MAX_NAMES
    if more <= 0:
        return shown
    return format_html(
        ngettext("{names} and {count} more", "{names} and {count} more", more),
        names=shown,
        count=more,
    )

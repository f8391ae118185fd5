"""The rows of the inbox and Sent lists, written as HTML in Python.

A list page has up to fifty rows. Through Django's template engine each row
cost about a millisecond (a dozen tags, filters and translations resolved per
row, an included template for its date), several times the rest of the page.
Here the words every row shares are translated once per language and each row
is one format string; views._folder puts rows() in portal/inbox.html's context.
A row's HTML depends on nothing but what it shows of its message, the language,
the time zone and the day, so a process keeps the rows it wrote last
(ROWS_CACHED of them): going back to the inbox formats no date again.

What a row shows: a box to select it, the sender (Sent: the recipients), the
subject, an attachment icon with the count, the short date (the `brief` filter,
with the full date on hover and for screen readers), the size, and the date the
clean-up removes it when that is near (views.deletion_date). Everything taken
from the message, and every translation, is escaped here.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Iterable
from datetime import date, datetime
from typing import Any, NamedTuple

from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.template.defaultfilters import filesizeformat
from django.urls import reverse
from django.utils import formats, timezone
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import get_language, ngettext
from django.utils.translation import gettext as _

from sealbox.mailstore.models import Message
from sealbox.portal.templatetags.portal_extras import brief_on, cldr_locale, day

# One row; the same markup (and white space) the template's loop wrote.
_ROW = (
    '\n  <li class="{unread}">\n'
    '    <input type="checkbox" name="ids" value="{id}" id="sel-{id}" aria-label="{select}">\n'
    '    <a href="{href}">\n'
    "      {dot}\n"
    "      {who}\n"
    '      <span class="subject" dir="auto">{subject}</span>\n'
    '      <span class="meta">\n'
    "        {attach}\n"
    "        {time}\n"
    '        <bdi class="size">{size}</bdi>\n'
    "      </span>\n"
    "      {expires}\n"
    "    </a>\n"
    "  </li>\n"
)
_FROM = (
    '<span class="from" dir="auto" title="{address}">{sender}'
    '<span class="addr"> <bdi>{address}</bdi></span></span>'
)
_TO = '<span class="from"><span class="visually-hidden">{to} </span><bdi>{recipients}</bdi></span>'
_ATTACH = (
    '<span class="attach" title="{n}"><svg class="icon" aria-hidden="true" viewBox="0 0 24 24" '
    'width="16" height="16"><path fill="none" stroke="currentColor" stroke-width="2" '
    'stroke-linecap="round" d="M21 11.5 12.5 20a5.5 5.5 0 0 1-7.8-7.8l8.5-8.5a3.7 3.7 0 0 1 '
    '5.2 5.2l-8.5 8.5a1.8 1.8 0 0 1-2.6-2.6L15 7"/></svg>'
    '<span class="visually-hidden">{n}</span></span>'
)
_TIME = (
    '<time dir="auto" datetime="{iso}" data-local="brief" data-yesterday="{yesterday}" '
    'title="{full}"><span aria-hidden="true">{brief}</span>'
    '<span class="visually-hidden">{full}</span></time>\n'
)
_EXPIRES = (
    '<span class="expires" title="{why}">{deleted_on} <time dir="auto" datetime="{iso}" '
    'data-local="day">{day}</time></span>'
)
_SAMPLE_ID = uuid.UUID(int=0)
ROWS_CACHED = 5_000


class _Words:
    """What every row says the same way in one language (built with that language active)."""

    def __init__(self) -> None:
        self.no_subject = _("(no subject)")
        self.unknown_sender = _("(unknown sender)")
        self.no_recipients = _("(no recipients)")
        self.select = escape(_("Select “%(s)s”"))
        unread = escape(_("Unread:"))  # apart: xgettext does not read inside f-strings
        self.dot = f'<span class="dot" aria-hidden="true"></span><span class="visually-hidden">{unread}</span>'
        self.to = escape(_("To:"))
        self.yesterday = escape(_("Yesterday"))
        self.why = escape(_("Removed when its retention period runs out"))
        self.deleted_on = escape(_("deleted on"))
        self.locale = cldr_locale()


@functools.cache
def _words(language: str) -> _Words:
    # Called with `language` active: the key is what the translations depend on.
    return _Words()


class _Page(NamedTuple):
    """What a row's HTML depends on besides its message."""

    language: str
    zone: str
    today: date
    href: tuple[str, ...]  # a message's link: its id between these two
    sent: bool


class _Shown(NamedTuple):
    """What a row shows of its message, and when the clean-up removes it."""

    id: uuid.UUID
    subject: str
    sender: str  # Message.sender_label
    from_address: str
    envelope_from: str
    to_display: str
    attachment_count: int
    size: int
    received_at: datetime
    unread: bool
    deleted_on: datetime | None


def rows(listed: Iterable[tuple[Message, datetime | None]], folder: str) -> SafeString:
    """The list's <li> rows: (message, the date it is deleted on, or None) each."""
    page = _Page(
        get_language() or settings.LANGUAGE_CODE,
        timezone.get_current_timezone_name(),
        timezone.localdate(),
        tuple(escape(reverse("message", args=[_SAMPLE_ID])).split(str(_SAMPLE_ID))),
        folder == Message.Folder.SENT,
    )
    html = "".join(
        _row(
            _Shown(
                m.id,
                m.subject,
                m.sender_label,
                m.from_address,
                m.envelope_from,
                m.to_display,
                m.attachment_count,
                m.size,
                m.received_at,
                not m.read_at,
                deleted_on,
            ),
            page,
        )
        for m, deleted_on in listed
    )
    return mark_safe(html)  # noqa: S308 (_row escapes all it takes from the message)


# A row's HTML depends on nothing but its two arguments (about 1 KiB each).
@functools.lru_cache(maxsize=ROWS_CACHED)
def _row(m: _Shown, page: _Page) -> str:
    words = _words(page.language)
    message_id = str(m.id)
    subject = escape(m.subject or words.no_subject)
    if page.sent:
        who = _TO.format(to=words.to, recipients=escape(m.to_display or words.no_recipients))
    else:
        who = _FROM.format(
            address=escape(m.from_address or m.envelope_from),
            sender=escape(m.sender or words.unknown_sender),
        )
    attach = ""
    if m.attachment_count:
        n = m.attachment_count
        attach = _ATTACH.format(
            n=escape(
                ngettext("%(n)s attachment", "%(n)s attachments", n) % {"n": formats.localize(n)}
            )
        )
    expires = ""
    if m.deleted_on:
        expires = _EXPIRES.format(
            why=words.why,
            deleted_on=words.deleted_on,
            iso=timezone.localtime(m.deleted_on).isoformat(),
            day=escape(day(m.deleted_on)),
        )
    local = timezone.localtime(m.received_at)
    return _ROW.format(
        unread="unread" if m.unread else "",
        id=message_id,
        select=words.select % {"s": subject},
        href=message_id.join(page.href),
        dot=words.dot if m.unread else "",
        who=who,
        subject=subject,
        attach=attach,
        # The date: `brief` on screen, the full date and time on hover and for screen readers.
        time=_TIME.format(
            iso=local.isoformat(),
            yesterday=words.yesterday,
            full=escape(formats.date_format(local, "DATETIME_FORMAT")),
            brief=escape(brief_on(local, page.today, words.locale)),
        ),
        size=escape(filesizeformat(m.size)),
        expires=expires,
    )


@receiver(setting_changed)
def _forget(**kwargs: Any) -> None:
    # Formats and translations follow settings (tests change them); so do the rows.
    _words.cache_clear()
    _row.cache_clear()

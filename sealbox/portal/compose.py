"""Writing from the portal: reply, reply all, and new messages where allowed."""

from __future__ import annotations

import html as html_lib
import re
import uuid
from email.utils import format_datetime
from html.parser import HTMLParser

import nh3
from django.conf import settings
from django.contrib import messages as flash
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache

from sealbox import addresses
from sealbox.accounts.models import User
from sealbox.mailstore import mime, opened, timelimit
from sealbox.mailstore.models import Message
from sealbox.mailstore.sanitize import html_as_text
from sealbox.outbound.sending import SendError, Upload, send
from sealbox.portal.forms import MessageForm
from sealbox.portal.lookup import owned_message

MAX_QUOTED = 200_000


def _user(request: HttpRequest) -> User:
    user = request.user
    assert isinstance(user, User)
    return user


class _HTMLText(HTMLParser):
    """The text of an HTML body as a reader sees it: entities decoded, a line
    per paragraph, line break and list item, nothing from <head>, styles or scripts."""

    BLOCKS = frozenset(
        "address article blockquote div dl footer h1 h2 h3 h4 h5 h6 header hr ol p pre "
        "section table ul".split()
    )
    LINES = frozenset(("br", "dd", "dt", "li", "tr"))  # a new line, no gap
    HIDDEN = frozenset(("head", "script", "style", "template", "title"))

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.chunks: list[str] = []
        self.hidden = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "body":
            self.hidden = 0  # an unclosed <head> ends here
        elif tag in self.HIDDEN:
            self.hidden += 1
        elif tag in self.BLOCKS or tag in self.LINES:
            self.chunks.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in self.HIDDEN:
            self.hidden = max(self.hidden - 1, 0)
        elif tag in self.BLOCKS:
            self.chunks.append("\n")

    def handle_data(self, data: str) -> None:
        if not self.hidden:
            self.chunks.append(re.sub(r"\s+", " ", data.replace("\xa0", " ")))

    @classmethod
    def text(cls, html: str) -> str:
        # The sanitiser first makes the markup well formed (html.parser can take
        # quadratic time on runs of unclosed tags) and drops hidden content.
        tidy = nh3.clean(
            html[: MAX_QUOTED * 10],
            tags=set(cls.BLOCKS | cls.LINES),
            attributes={},
            clean_content_tags={"head", "script", "style", "template", "title"},
            link_rel=None,
        )
        parser = cls()
        try:
            parser.feed(tidy)
            parser.close()
        except Exception:  # html.parser gives up on some junk: keep the bare text
            return html_lib.unescape(nh3.clean(tidy, tags=set()))
        lines = [line.strip() for line in "".join(parser.chunks).split("\n")]
        return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip("\n")


def _html_text(html: str) -> str:
    """An HTML body as text to quote: read with care within the time limit (nh3
    takes quadratic time on some markup), roughly past it."""
    text = timelimit.run(lambda: _HTMLText.text(html), settings.HTML_TIME_LIMIT)
    return html_as_text(html[: MAX_QUOTED * 10]) if text is None else text


def _quote(view: mime.MessageView, received: Message) -> str:
    text = view.text.text if view.text else _html_text(view.html or "")
    sender = str(view.sender[0]) if view.sender else received.envelope_from
    # The date as mail clients write it, with its zone: the reader and the
    # people the reply goes to may be in different time zones.
    when = format_datetime(view.date or received.received_at)
    quoted = "\n".join("> " + line if line else ">" for line in text[:MAX_QUOTED].splitlines())
    intro = _("On %(date)s, %(sender)s wrote:") % {"date": when, "sender": sender}
    return f"\n\n{intro}\n{quoted}\n"


def _reply_initial(
    user: User, original: Message, view: mime.MessageView, everyone: bool
) -> dict[str, str]:
    me = user.email
    to_addrs = _normalized(view.reply_to or view.sender)
    if not to_addrs and original.envelope_from:
        to_addrs = _normalized([mime.Address("", original.envelope_from)])
    cc_addrs: list[str] = []
    if everyone:
        for addr in _normalized([*view.to, *view.cc]):
            if addr != me and addr not in to_addrs and addr not in cc_addrs:
                cc_addrs.append(addr)
    subject = view.subject
    if not subject.lower().startswith(("re:", "aw:", "sv:")):
        subject = f"Re: {subject}" if subject else "Re:"
    return {
        "to": ", ".join(to_addrs),
        "cc": ", ".join(cc_addrs),
        "subject": subject,
        "body": _quote(view, original),
    }


def _normalized(found: list[mime.Address]) -> list[str]:
    """The addresses in the form one mailbox is known by, once each."""
    result: list[str] = []
    for a in found:
        try:
            addr = addresses.normalize(a.address)
        except addresses.InvalidAddress:
            continue
        if addr not in result:
            result.append(addr)
    return result


def _uploads(form: MessageForm) -> list[Upload]:
    return [
        Upload(f.name or "attachment", f.content_type or "application/octet-stream", f.read())
        for f in form.cleaned_data["attachments"]
    ]


def _submit(
    request: HttpRequest, form: MessageForm, original: Message | None
) -> HttpResponse | None:
    if not form.is_valid():
        return None
    try:
        sent = send(
            _user(request),
            to=form.cleaned_data["to"],
            cc=form.cleaned_data["cc"],
            subject=form.cleaned_data["subject"],
            body=form.cleaned_data["body"],
            uploads=_uploads(form),
            original=original,
        )
    except SendError as e:
        form.add_error(None, str(e))
        return None
    flash.success(request, _("Your message was sent."))
    return redirect("message", sent.id)


@login_required
@never_cache
def reply(request: HttpRequest, message_id: uuid.UUID) -> HttpResponse:
    original = owned_message(request, message_id)
    if original.folder != Message.Folder.INBOX:
        raise Http404("Only received messages can be answered")
    everyone = request.GET.get("all") == "1"
    if request.method == "POST":
        form = MessageForm(request.POST, request.FILES)
        done = _submit(request, form, original)
        if done is not None:
            return done
    else:
        view = opened.view(original)
        form = MessageForm(initial=_reply_initial(_user(request), original, view, everyone))
    return render(
        request,
        "portal/compose.html",
        {"form": form, "original": original, "everyone": everyone, **_limits()},
    )


@login_required
@never_cache
def compose(request: HttpRequest) -> HttpResponse:
    if not _user(request).may_compose:
        raise Http404("Writing new messages is not enabled")
    posted = request.method == "POST"
    form = MessageForm(request.POST if posted else None, request.FILES if posted else None)
    if posted:
        done = _submit(request, form, None)
        if done is not None:
            return done
    return render(request, "portal/compose.html", {"form": form, "original": None, **_limits()})


def _limits() -> dict[str, object]:
    return {
        "internal_domains": settings.INTERNAL_DOMAINS,
        "max_upload_mb": settings.MAX_UPLOAD_MB,
    }

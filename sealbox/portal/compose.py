"""Writing from the portal: reply, reply all, and new messages where allowed."""

from __future__ import annotations

import uuid
from email.utils import format_datetime

from django.conf import settings
from django.contrib import messages as flash
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache

from sealbox import addresses
from sealbox.accounts.models import User
from sealbox.mailstore import mime, opened
from sealbox.mailstore.models import Message
from sealbox.portal.forms import MessageForm
from sealbox.portal.lookup import owned_message
from sealbox.portal.sending import SendError, Upload, send

MAX_QUOTED = 200_000


def _user(request: HttpRequest) -> User:
    user = request.user
    assert isinstance(user, User)
    return user


def _quote(view: mime.MessageView, received: Message) -> str:
    text = view.body_text(max_html=MAX_QUOTED * 10)
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
        view = opened.read(original)
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

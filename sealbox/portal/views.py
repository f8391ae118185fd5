from __future__ import annotations

import uuid
from email.message import Message as EmailMessage

from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import SetPasswordForm
from django.core.paginator import Paginator
from django.db import transaction
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters

from sealbox.accounts.models import LinkToken
from sealbox.mailstore import blobs
from sealbox.mailstore.models import Message
from sealbox.mailstore.summary import decode_bytes, decode_header_value, parse
from sealbox.portal.lookup import owned_message

SESSION_TOKEN = "sealbox_link_token"  # noqa: S105 (a session key name)


def plain_text(parsed: EmailMessage) -> str:
    """The first text/plain part, decoded best effort."""
    for part in parsed.walk():
        if part.get_content_type() == "text/plain" and not part.get_filename():
            payload = part.get_payload(decode=True)
            if isinstance(payload, bytes):
                return decode_bytes(payload, part.get_content_charset())
    return ""


def index(request: HttpRequest) -> HttpResponse:
    return redirect("inbox" if request.user.is_authenticated else "signin")


@never_cache
def activate(request: HttpRequest, token: str) -> HttpResponse:
    """Check the link, then move its token out of the address bar into the session."""
    if LinkToken.find_valid(token, LinkToken.Purpose.ACTIVATE) is None:
        return render(request, "portal/link_invalid.html", status=410)
    request.session[SESSION_TOKEN] = token
    return HttpResponseRedirect(reverse("activate-set-password"))


@never_cache
@sensitive_post_parameters("new_password1", "new_password2")
def activate_set_password(request: HttpRequest) -> HttpResponse:
    raw = request.session.get(SESSION_TOKEN, "")
    link = LinkToken.find_valid(raw, LinkToken.Purpose.ACTIVATE) if raw else None
    if link is None:
        return render(request, "portal/link_invalid.html", status=410)
    user = link.user
    form = SetPasswordForm(user, request.POST or None)
    if request.method == "POST" and form.is_valid():
        with transaction.atomic():
            form.save()
            user.activated_at = user.activated_at or timezone.now()
            user.save(update_fields=["activated_at"])
            LinkToken.objects.filter(user=user, purpose=LinkToken.Purpose.ACTIVATE).delete()
        request.session.pop(SESSION_TOKEN, None)
        login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        return redirect("inbox")
    return render(request, "portal/activate.html", {"form": form, "mailbox": user.email})


@login_required
@never_cache
def inbox(request: HttpRequest) -> HttpResponse:
    messages = Message.objects.filter(
        owner_id=request.user.pk, folder=Message.Folder.INBOX
    ).order_by("-received_at")
    page = Paginator(messages, 50).get_page(request.GET.get("page"))
    return render(request, "portal/inbox.html", {"page": page})


@login_required
@never_cache
def message(request: HttpRequest, message_id: uuid.UUID) -> HttpResponse:
    msg = owned_message(request, message_id)
    parsed = parse(blobs.read(msg.blob))
    body = plain_text(parsed)
    headers = [
        (label, decode_header_value(parsed.get(name)))
        for name, label in (("From", "From"), ("To", "To"), ("Cc", "Cc"), ("Subject", "Subject"))
        if parsed.get(name)
    ]
    if msg.read_at is None:
        Message.objects.filter(id=msg.id).update(read_at=timezone.now())
    return render(
        request, "portal/message.html", {"message": msg, "headers": headers, "body": body}
    )

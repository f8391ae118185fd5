"""The reader's answer to a message's read-receipt request (portal/message_receipt.html)."""

from __future__ import annotations

import uuid

from django.contrib import messages as flash
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from sealbox.outbound import receipts
from sealbox.portal.lookup import owned_message


@login_required
@require_POST
def answer(request: HttpRequest, message_id: uuid.UUID) -> HttpResponse:
    """ "Send receipt" or "Don't send"; anything else, twice, or unasked: nothing changes.

    No unless_full here: the reader is told the answer was recorded only when it
    was (on a full disk the page says so, web/fulldisk.py).
    """
    msg = owned_message(request, message_id)
    choice = request.POST.get("receipt")
    plan = receipts.decision(msg)
    who = receipts.question(msg, plan)
    if who is not None and choice in ("send", "decline"):
        send = choice == "send"
        if receipts.reader_answered(msg, send=send, plan=plan):
            if send:
                said = _("A read receipt is on its way to %(name)s.")
            else:
                said = _("No read receipt will be sent to %(name)s.")
            flash.success(request, said % {"name": who})
    return redirect("message", message_id=msg.id)

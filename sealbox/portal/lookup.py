"""Every stored object a recipient asks for is fetched through its owner."""

from __future__ import annotations

import uuid

from django.http import Http404, HttpRequest

from sealbox.mailstore.models import Message


def owned_message(request: HttpRequest, message_id: uuid.UUID) -> Message:
    """The signed-in user's message with this id; 404 for anything else."""
    try:
        return Message.objects.get(id=message_id, owner_id=request.user.pk)
    except Message.DoesNotExist:
        raise Http404("No such message") from None

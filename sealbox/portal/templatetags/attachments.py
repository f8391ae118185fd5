"""What the message page shows of an attachment: its type in words, icon, preview, thumbnail."""

from __future__ import annotations

from django import template

from sealbox.mailstore.mime import Attachment
from sealbox.portal import filetypes, thumbnails

register = template.Library()


@register.simple_tag
def thumbnailed(items: list[Attachment]) -> frozenset[int]:
    """The indexes of the attachments shown with a thumbnail (the others, with their icon)."""
    return thumbnails.chosen(items)


@register.simple_tag
def attachment_info(item: Attachment, thumbnailed: frozenset[int]) -> dict[str, object]:
    kind = filetypes.describe(item.content_type, item.filename)
    return {
        "type_name": kind.name,
        "icon": kind.icon,
        "preview": filetypes.previewable(item.content_type, item.filename),
        "thumbnail": item.index in thumbnailed,
    }

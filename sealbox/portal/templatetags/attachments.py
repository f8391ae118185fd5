"""What the message page shows of an attachment: its type in words, icon, preview, thumbnail."""

from __future__ import annotations

from django import template

from sealbox.mailstore.mime import Attachment
from sealbox.portal import filetypes, thumbnails

register = template.Library()


@register.simple_tag
def attachment_info(item: Attachment) -> dict[str, object]:
    kind = filetypes.describe(item.content_type, item.filename)
    return {
        "type_name": kind.name,
        "icon": kind.icon,
        "preview": filetypes.previewable(item.content_type, item.filename),
        "thumbnail": filetypes.has_thumbnail(item.content_type)
        and 0 < item.size <= thumbnails.MAX_SOURCE_BYTES,
    }

"""Small pictures of a message's image attachments, made from the attachment itself.

An image attachment is hostile input for a native decoder: it is decoded by
Pillow in a forked child with a time and memory limit (mailstore/timelimit.py),
only up to MAX_PIXELS pixels (larger images are refused before their pixels are
decoded), and what comes back is the bytes of a small WebP (or PNG) of at most
SIZE pixels a side, without any of the original's metadata; the parent reads
them as bytes and serves them only if they start as a WebP or PNG does. Anything
that goes wrong gives None, and the page shows the image icon instead.

A thumbnail costs a parse of the message, a read of the attachment and a child
process: only the first MAX_PER_MESSAGE images of a message get one (the others
show the icon, and their thumbnail address answers 404), and each is made once
per process and kept in a cache of its own (settings.CACHES "thumbnails"), so
that thumbnails never push readers' sanitised messages out of the "frames" cache.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Iterable

from django.core.cache import caches

from sealbox.mailstore import opened, timelimit
from sealbox.mailstore.mime import Attachment
from sealbox.mailstore.models import Message
from sealbox.portal import filetypes

log = logging.getLogger(__name__)

SIZE = 144  # pixels, the longer side: sharp at 3x in the list's 3rem (48 px) box
MAX_SOURCE_BYTES = 20 * 1024 * 1024  # larger attachments are not decoded at all
MAX_PIXELS = 25_000_000  # a 24-megapixel camera's 6000 x 4000 photo; past it, no thumbnail
SECONDS = 5.0
MAX_PER_MESSAGE = 12  # the first 12 images listed; the rest show the icon
# Pillow's decoders for the types that get a thumbnail (image/jpeg -> JPEG, ...),
# and no other: the EPS decoder, say, would run Ghostscript on a sender's bytes.
FORMATS = tuple(sorted(t.split("/")[1].upper() for t in filetypes.THUMBNAIL_TYPES))
made = caches["thumbnails"]


def chosen(items: Iterable[Attachment]) -> frozenset[int]:
    """The indexes of the listed attachments that get a thumbnail."""
    found: list[int] = []
    for item in items:
        if len(found) == MAX_PER_MESSAGE:
            break
        if filetypes.has_thumbnail(item.content_type) and 0 < item.size <= MAX_SOURCE_BYTES:
            found.append(item.index)
    return frozenset(found)


def of(message: Message, item: Attachment) -> tuple[bytes, str] | None:
    """The thumbnail of one of message's attachments (one chosen() names), or None."""
    key = f"{message.id}:{item.index}"
    found: tuple[bytes, str] | None = made.get(key)
    if found is None:
        found = make(opened.attachment_bytes(message, item)) or (b"", "")
        made.set(key, found)
    return found if found[0] else None


def make(data: bytes) -> tuple[bytes, str] | None:
    """A thumbnail of an image file's bytes and its content type, or None."""
    if not data or len(data) > MAX_SOURCE_BYTES:
        return None
    small = timelimit.run(lambda: _thumbnail(data), SECONDS)
    if small is None:
        return None
    if small[:4] == b"RIFF" and small[8:12] == b"WEBP":
        return small, "image/webp"
    if small.startswith(b"\x89PNG\r\n\x1a\n"):
        return small, "image/png"
    log.warning("a thumbnail came back as neither WebP nor PNG")
    return None


def _thumbnail(data: bytes) -> bytes:
    from PIL import Image, ImageOps, features

    Image.MAX_IMAGE_PIXELS = MAX_PIXELS  # larger: DecompressionBombError (or a warning) at open
    # Only the decoders of the formats offered (never, say, EPS, which runs Ghostscript).
    with Image.open(io.BytesIO(data), formats=FORMATS) as image:
        width, height = image.size
        if width * height > MAX_PIXELS or not width or not height:
            raise ValueError(f"image of {width} x {height} pixels")
        image.draft("RGB", (SIZE, SIZE))  # JPEG: decode at a reduced scale, far less work
        small = ImageOps.exif_transpose(image)  # a phone's photo the right way up
        small.thumbnail((SIZE, SIZE))
        if small.mode not in ("RGB", "RGBA"):
            small = small.convert("RGBA" if small.has_transparency_data else "RGB")
        out = io.BytesIO()
        if features.check("webp"):
            small.save(out, "WEBP", quality=80, method=4)
        else:
            small.save(out, "PNG", optimize=True)
        return out.getvalue()

"""Small pictures of a message's image attachments, made from the attachment itself.

An image attachment is hostile input for a native decoder: it is decoded by
Pillow in a forked child with a time and memory limit (mailstore/timelimit.py),
only up to MAX_PIXELS pixels (larger images are refused before their pixels are
decoded), and what comes back is a small WebP (or PNG) of at most SIZE pixels a
side, without any of the original's metadata. Anything that goes wrong gives
None, and the page shows the image icon instead.
"""

from __future__ import annotations

import io
import logging

from sealbox.mailstore import timelimit

log = logging.getLogger(__name__)

SIZE = 160  # pixels, the longer side: sharp at 2x in the list's 4.5rem box
MAX_SOURCE_BYTES = 20 * 1024 * 1024  # larger attachments are not decoded at all
MAX_PIXELS = 40_000_000  # a 8000 x 5000 photo; past it, no thumbnail
SECONDS = 5.0
FORMATS = ("JPEG", "PNG", "GIF", "WEBP")  # filetypes.THUMBNAIL_TYPES


def make(data: bytes) -> tuple[bytes, str] | None:
    """A thumbnail of an image file's bytes and its content type, or None."""
    if not data or len(data) > MAX_SOURCE_BYTES:
        return None
    return timelimit.run(lambda: _thumbnail(data), SECONDS)


def _thumbnail(data: bytes) -> tuple[bytes, str]:
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
            return out.getvalue(), "image/webp"
        small.save(out, "PNG", optimize=True)
        return out.getvalue(), "image/png"

"""What an attachment is, in words people know: "PDF document", "Excel spreadsheet", and its icon.

Mail clients often send a file as application/octet-stream, so the file name's
extension counts as much as the declared content type: a known content type
wins, then a known extension, then "ABC file" for a short extension, then "File".
Which parts are attachments at all is mime.MessageView.listed_attachments; this
module only names them, and says which ones may be previewed or thumbnailed.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from sealbox.mailstore.sanitize import SAFE_IMAGE_TYPES

PDF = "application/pdf"
PDF_MAGIC = b"%PDF-"
# Decoded by the thumbnailer (thumbnails.py): the common photo and screenshot formats.
THUMBNAIL_TYPES = {"image/jpeg", "image/png", "image/gif", "image/webp"}
GENERIC_TYPES = {"application/octet-stream", "application/x-download", "application/force-download"}


@dataclass(frozen=True)
class FileType:
    name: str  # "PDF document", translated
    icon: str  # one of ICONS: which drawing the list shows


ICONS = (
    "pdf",
    "document",
    "spreadsheet",
    "presentation",
    "image",
    "text",
    "archive",
    "calendar",
    "contact",
    "email",
    "audio",
    "video",
    "file",
)

# (icon, name): the name is translated when it is shown.
_KINDS: dict[str, tuple[str, Promise]] = {
    "pdf": ("pdf", gettext_lazy("PDF document")),
    "word": ("document", gettext_lazy("Word document")),
    "excel": ("spreadsheet", gettext_lazy("Excel spreadsheet")),
    "powerpoint": ("presentation", gettext_lazy("PowerPoint presentation")),
    "odt": ("document", gettext_lazy("OpenDocument text")),
    "ods": ("spreadsheet", gettext_lazy("OpenDocument spreadsheet")),
    "odp": ("presentation", gettext_lazy("OpenDocument presentation")),
    "rtf": ("document", gettext_lazy("Rich text document")),
    "jpeg": ("image", gettext_lazy("JPEG image")),
    "png": ("image", gettext_lazy("PNG image")),
    "gif": ("image", gettext_lazy("GIF image")),
    "webp": ("image", gettext_lazy("WebP image")),
    "heic": ("image", gettext_lazy("HEIC image")),
    "tiff": ("image", gettext_lazy("TIFF image")),
    "bmp": ("image", gettext_lazy("BMP image")),
    "svg": ("image", gettext_lazy("SVG image")),
    "image": ("image", gettext_lazy("Image")),
    "text": ("text", gettext_lazy("Text file")),
    "csv": ("spreadsheet", gettext_lazy("CSV file")),
    "html": ("text", gettext_lazy("HTML file")),
    "zip": ("archive", gettext_lazy("ZIP archive")),
    "archive": ("archive", gettext_lazy("Compressed archive")),
    "calendar": ("calendar", gettext_lazy("Calendar invitation")),
    "contact": ("contact", gettext_lazy("Contact card")),
    "email": ("email", gettext_lazy("Email message")),
    "audio": ("audio", gettext_lazy("Audio")),
    "video": ("video", gettext_lazy("Video")),
}

_BY_TYPE = {
    PDF: "pdf",
    "application/x-pdf": "pdf",
    "application/msword": "word",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": "word",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.template": "word",
    "application/vnd.ms-word.document.macroenabled.12": "word",
    "application/vnd.ms-excel": "excel",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": "excel",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.template": "excel",
    "application/vnd.ms-excel.sheet.macroenabled.12": "excel",
    "application/vnd.ms-powerpoint": "powerpoint",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation": "powerpoint",
    "application/vnd.openxmlformats-officedocument.presentationml.slideshow": "powerpoint",
    "application/vnd.ms-powerpoint.presentation.macroenabled.12": "powerpoint",
    "application/vnd.oasis.opendocument.text": "odt",
    "application/vnd.oasis.opendocument.spreadsheet": "ods",
    "application/vnd.oasis.opendocument.presentation": "odp",
    "application/rtf": "rtf",
    "text/rtf": "rtf",
    "image/jpeg": "jpeg",
    "image/pjpeg": "jpeg",
    "image/png": "png",
    "image/gif": "gif",
    "image/webp": "webp",
    "image/heic": "heic",
    "image/heif": "heic",
    "image/tiff": "tiff",
    "image/bmp": "bmp",
    "image/svg+xml": "svg",
    "text/plain": "text",
    "text/csv": "csv",
    "text/html": "html",
    "application/zip": "zip",
    "application/x-zip-compressed": "zip",
    "application/gzip": "archive",
    "application/x-gzip": "archive",
    "application/x-7z-compressed": "archive",
    "application/x-rar-compressed": "archive",
    "application/vnd.rar": "archive",
    "application/x-tar": "archive",
    "text/calendar": "calendar",
    "application/ics": "calendar",
    "text/vcard": "contact",
    "text/x-vcard": "contact",
    "text/directory": "contact",
    "message/rfc822": "email",
}

_BY_EXTENSION = {
    "pdf": "pdf",
    "doc": "word",
    "docx": "word",
    "docm": "word",
    "dotx": "word",
    "xls": "excel",
    "xlsx": "excel",
    "xlsm": "excel",
    "xltx": "excel",
    "ppt": "powerpoint",
    "pptx": "powerpoint",
    "pptm": "powerpoint",
    "ppsx": "powerpoint",
    "odt": "odt",
    "ods": "ods",
    "odp": "odp",
    "rtf": "rtf",
    "jpg": "jpeg",
    "jpeg": "jpeg",
    "jfif": "jpeg",
    "png": "png",
    "gif": "gif",
    "webp": "webp",
    "heic": "heic",
    "heif": "heic",
    "tif": "tiff",
    "tiff": "tiff",
    "bmp": "bmp",
    "svg": "svg",
    "txt": "text",
    "log": "text",
    "csv": "csv",
    "htm": "html",
    "html": "html",
    "zip": "zip",
    "gz": "archive",
    "tgz": "archive",
    "7z": "archive",
    "rar": "archive",
    "tar": "archive",
    "ics": "calendar",
    "vcs": "calendar",
    "vcf": "contact",
    "eml": "email",
    "mp3": "audio",
    "m4a": "audio",
    "wav": "audio",
    "ogg": "audio",
    "opus": "audio",
    "flac": "audio",
    "mp4": "video",
    "m4v": "video",
    "mov": "video",
    "webm": "video",
    "avi": "video",
    "mkv": "video",
}


def extension(filename: str) -> str:
    """The file name's extension, lower case, without the dot ("" if none)."""
    stem, dot, ext = filename.rpartition(".")
    return ext.strip().lower() if dot and stem.strip() else ""


def _kind(content_type: str, filename: str) -> str | None:
    ctype = content_type.strip().lower()
    found = _BY_TYPE.get(ctype)
    if found is not None:
        return found
    ext = extension(filename)
    found = _BY_EXTENSION.get(ext)
    if found is not None:
        return found
    major = ctype.partition("/")[0]
    if major in ("image", "audio", "video"):
        return major
    return "text" if major == "text" and not ext else None


def describe(content_type: str, filename: str) -> FileType:
    """The name and icon of an attachment with this declared type and file name."""
    kind = _kind(content_type, filename)
    if kind is not None:
        icon, name = _KINDS[kind]
        return FileType(str(name), icon)
    ext = extension(filename)
    if ext and len(ext) <= 5 and ext.isascii() and ext.isalnum():
        # Translators: a file type named by its extension, e.g. "ABC file".
        return FileType(_("%(extension)s file") % {"extension": ext.upper()}, "file")
    return FileType(_("File"), "file")


def looks_like_pdf(content_type: str, filename: str) -> bool:
    """Declared a PDF, or sent as generic bytes under a .pdf name (check its magic bytes)."""
    ctype = content_type.strip().lower()
    if ctype in (PDF, "application/x-pdf"):
        return True
    return ctype in GENERIC_TYPES and extension(filename) == "pdf"


def previewable(content_type: str, filename: str) -> bool:
    """Whether the list offers a preview: images a browser shows safely, and PDFs."""
    return content_type in SAFE_IMAGE_TYPES or looks_like_pdf(content_type, filename)


def has_thumbnail(content_type: str) -> bool:
    return content_type in THUMBNAIL_TYPES

"""System checks for the branding settings: a wrong logo, colour, contact or link is told at start."""

from __future__ import annotations

import os
import unicodedata
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.checks import Error, Tags, register

from sealbox import branding
from sealbox.web import brandfiles, contrast

DOCS = "See docs/branding.md."


@register(Tags.compatibility)
def check_logo(app_configs: Any, **kwargs: Any) -> list[Any]:
    path = settings.ORG_LOGO
    if path is None:
        return []
    try:
        size = path.stat().st_size
        if size > brandfiles.LOGO_MAX_BYTES:
            return [
                Error(
                    f"SEALBOX_ORG_LOGO: {path} is {size // 1024} KiB, more than 512 KiB.",
                    hint="Use a smaller PNG or an SVG; the logo is shown about 40 pixels high.",
                    id="sealbox.E203",
                )
            ]
        data = path.read_bytes()
    except OSError as e:
        return [
            Error(
                f"SEALBOX_ORG_LOGO: cannot read {path}: {e.strerror or e}.",
                hint="Give the path of a PNG or SVG file the service's user can read.",
                id="sealbox.E201",
            )
        ]
    if brandfiles.logo_type(data) is None:
        return [
            Error(
                f"SEALBOX_ORG_LOGO: {path} is neither a PNG nor an SVG image.",
                hint="The file's content counts, not its name: an SVG must be XML whose root "
                "element is <svg>.",
                id="sealbox.E202",
            )
        ]
    return []


@register(Tags.compatibility)
def check_color(app_configs: Any, **kwargs: Any) -> list[Any]:
    colors = branding.parse_color(settings.BRAND_COLOR)
    if colors is None:
        return [
            Error(
                f"SEALBOX_BRAND_COLOR: {settings.BRAND_COLOR!r} is not a colour.",
                hint='Give "#rrggbb", or a light and a dark mode colour: "#0b5cad,#6cb2ff".',
                id="sealbox.E204",
            )
        ]
    if not colors[0]:
        return []
    errors = []
    suggested = [
        color if contrast.shortfall(color, mode) is None else contrast.nearest_passing(color, mode)
        for mode, color in zip(("light", "dark"), colors, strict=True)
    ]
    example = f' The nearest that read: "{suggested[0]},{suggested[1]}".' if all(suggested) else ""
    for mode, color in zip(("light", "dark"), colors, strict=True):
        short = contrast.shortfall(color, mode)
        if short is None:
            continue
        errors.append(
            Error(
                f"SEALBOX_BRAND_COLOR: in {mode} mode, {color} has a contrast of "
                f"{contrast.shown(short.ratio)} against {short.against}, needs 4.5:1 "
                "(WCAG AA).",
                hint='Give a colour for each mode, "#light,#dark": a darker one for the '
                "light pages, a lighter one for the dark pages." + example + " " + DOCS,
                id="sealbox.E205",
            )
        )
    return errors


@register(Tags.compatibility)
def check_contacts_and_links(app_configs: Any, **kwargs: Any) -> list[Any]:
    errors = [
        Error(
            f"SEALBOX_SUPPORT_CONTACT: {item!r} is not an email address, phone number or "
            "web address.",
            hint="Separate items with commas: support@example.org, +49 30 1234567, "
            "https://example.org/help",
            id="sealbox.E206",
        )
        for item in settings.SUPPORT_CONTACT
        if branding.parse_contact(item) is None
    ]
    for name in ("PRIVACY_URL", "IMPRINT_URL"):
        value = getattr(settings, name).strip()
        if not value:
            continue
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            errors.append(
                Error(
                    f"SEALBOX_{name}: {value!r} is not an http or https address.",
                    hint="Give the whole address, e.g. https://example.org/privacy",
                    id="sealbox.E207",
                )
            )
    return errors


@register(Tags.compatibility)
def check_names(app_configs: Any, **kwargs: Any) -> list[Any]:
    """The names go into every email's From and Subject: one line of printable text each."""
    return [
        Error(
            f"SEALBOX_{name}: {value!r} holds a control character (a line break, a tab, ...).",
            hint="Give the name on one line, as it should read in an email's From. " + DOCS,
            id="sealbox.E209",
        )
        for name, value in (("ORG_NAME", settings.ORG_NAME), ("SITE_NAME", settings.SITE_NAME))
        if any(unicodedata.category(c) in ("Cc", "Cf") for c in value)
    ]


@register(Tags.templates)
def check_templates_dir(app_configs: Any, **kwargs: Any) -> list[Any]:
    path = settings.TEMPLATES_DIR
    if path is None or (path.is_dir() and os.access(path, os.R_OK | os.X_OK)):
        return []
    return [
        Error(
            f"SEALBOX_TEMPLATES_DIR: {path} is not a directory this user can read.",
            hint="Give the directory that holds your own copies of templates, or unset it. " + DOCS,
            id="sealbox.E208",
        )
    ]

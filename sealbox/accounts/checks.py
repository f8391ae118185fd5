"""The language settings as system checks: a wrong code, or a language without its compiled
catalogue, is named before any page is served."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.checks import Error, Tags, Warning, register
from django.utils.translation import to_locale

from sealbox.accounts import languages
from sealbox.config import ConfigError


def _codes() -> str:
    return ", ".join(code for code, _name in settings.LANGUAGES)


@register(Tags.compatibility)
def check_default_language(app_configs: Any, **kwargs: Any) -> list[Any]:
    code = settings.LANGUAGE_CODE
    if languages.supported(code):
        return []
    return [
        Error(
            f"SEALBOX_LANGUAGE is {code!r}, which is not a language of the portal.",
            hint=f"Use one of: {_codes()}.",
            id="sealbox.E030",
        )
    ]


@register(Tags.compatibility)
def check_domain_map(app_configs: Any, **kwargs: Any) -> list[Any]:
    try:
        languages.domain_map()
    except ConfigError as e:
        return [
            Error(
                str(e),
                hint=f"Write it as domain:language pairs, e.g. de:de,at:de,nl:nl; languages: {_codes()}.",
                id="sealbox.E031",
            )
        ]
    return []


# The language the product is written in: it has no catalogue of its own.
SOURCE_LANGUAGE = "en"


@register(Tags.compatibility)
def check_compiled_catalogues(app_configs: Any, **kwargs: Any) -> list[Any]:
    """Without its .mo file a language's pages and emails silently come out in English."""
    missing = [
        f"{name} ({code})"
        for code, name in settings.LANGUAGES
        if code != SOURCE_LANGUAGE
        and not any(
            # Readable by this process: a catalogue it cannot open is as good as none,
            # and looking at it must not stop the check (as Path.is_file() would).
            os.access(Path(path) / to_locale(code) / "LC_MESSAGES" / "django.mo", os.R_OK)
            for path in settings.LOCALE_PATHS
        )
    ]
    if not missing:
        return []
    which = "these languages" if len(missing) > 1 else "this language"
    return [
        Warning(
            f"No compiled catalogue (django.mo) for {', '.join(missing)}: "
            f"pages and emails in {which} would be shown in English.",
            hint="Run `make install`, or `python -m sealbox.catalogues`, which compiles "
            "sealbox/locale/*/LC_MESSAGES/django.po; the service's user must be able to read "
            "them.",
            id="sealbox.W030",
        )
    ]

"""The language settings as system checks: a wrong code is named before any page is served."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import Error, Tags, register

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

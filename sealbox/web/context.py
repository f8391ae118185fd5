from typing import Any

from django.http import HttpRequest

from sealbox import branding
from sealbox.web import brandfiles


def site(request: HttpRequest) -> dict[str, Any]:
    """The brand on every page: titles say `brand.title` (the organisation's name, else
    SEALBOX_SITE_NAME). Not `site_name`: Django's own auth views put the request's host
    under that name in their context, which would hide ours ("Sign in · localhost:8731")."""
    return {"brand": branding.current(), "brand_files": brandfiles.urls()}

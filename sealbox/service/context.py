from typing import Any

from django.http import HttpRequest

from sealbox import branding
from sealbox.service import brandfiles


def site(request: HttpRequest) -> dict[str, Any]:
    brand = branding.current()
    return {"brand": brand, "site_name": brand.title, "brand_files": brandfiles.urls()}

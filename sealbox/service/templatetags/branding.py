"""{% current_brand as brand %}: the brand for templates rendered without a request (the 500 page)."""

from __future__ import annotations

from django import template

from sealbox import branding as brand_settings

register = template.Library()


@register.simple_tag
def current_brand() -> brand_settings.Brand:
    return brand_settings.current()

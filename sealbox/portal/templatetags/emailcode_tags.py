"""The sign-in page's "Email me a sign-in code" link, shown only while the option is on."""

from __future__ import annotations

from typing import Any

from django import template

from sealbox.accounts import emailcode

register = template.Library()


@register.inclusion_tag("accounts/email_code_link.html")
def email_code_link(next_url: str = "") -> dict[str, Any]:
    return {"enabled": emailcode.enabled(), "next": next_url}

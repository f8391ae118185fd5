from typing import Any

from django import template

register = template.Library()


@register.filter
def join_if_list(value: Any) -> str:
    """A To/Cc field's value: the cleaned list of addresses, or the text as typed."""
    if isinstance(value, list | tuple):
        return ", ".join(str(v) for v in value)
    return "" if value is None else str(value)

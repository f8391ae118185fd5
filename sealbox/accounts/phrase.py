"""The personal phrase: what lets a recipient tell Sealbox's emails from a phishing copy."""

from __future__ import annotations

from sealbox.accounts.models import User


def for_email(user: User) -> str:
    """The phrase an email to `user` shows at its top; empty before they activated and saw it."""
    if not user.is_activated:
        return ""
    return user.phrase

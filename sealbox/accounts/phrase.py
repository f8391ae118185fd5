"""The personal phrase: what lets a recipient tell Sealbox's emails from a phishing copy.

The one place for its rules: how a phrase is made (generate), when an account
gets one (at activation, links.password_changed; an account activated before
phrases existed at its next sign-in, signin.complete), that the recipient
sees it once on the page right after (show_next, landing, views.phrase_new)
before any email carries it (for_email), and what text of their own may
replace it (clean). The phrase itself never goes into a log or a URL.
"""

from __future__ import annotations

import secrets
import unicodedata

from django.core.exceptions import ValidationError
from django.http import HttpRequest
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from sealbox.accounts import languages
from sealbox.accounts.models import User
from sealbox.accounts.phrasewords import WORDS

WORD_COUNT = 3
MIN_LENGTH = 3
MAX_LENGTH = 60

# Session key: the phrase page is due, and where to go after it.
SHOW = "sealbox_phrase_show"


def words_for(language: str | None) -> tuple[str, ...]:
    """The word list of a language (English for one without its own list)."""
    return WORDS.get(languages.supported(language) or "", WORDS["en"])


def language_of(user: User) -> str:
    """The language a new phrase is made in: the account's, else the one now active."""
    return (
        languages.supported(user.language)
        or languages.supported(translation.get_language())
        or languages.default()
    )


def generate(language: str | None = None) -> str:
    """A new phrase: three words drawn independently with `secrets` from the language's list.

    Every list has at least 256 words, so a phrase holds at least
    3 * log2(256) = 24 bits (English, with about 390 words: about 25.8).
    A phrase only has to be unguessable for someone who writes a phishing
    email without having seen one of ours; it is no password.
    """
    words = words_for(language or translation.get_language())
    return " ".join(secrets.choice(words) for _n in range(WORD_COUNT))


def assign(user: User) -> str:
    """Give the account a new random phrase in its language and save it."""
    user.phrase = generate(language_of(user))
    user.save(update_fields=["phrase"])
    return user.phrase


def clean(text: str) -> str:
    """A recipient's own phrase, trimmed, or ValidationError with the reason (translated)."""
    value = str(text).strip()
    if any(unicodedata.category(c) in ("Cc", "Cf", "Cs", "Co", "Cn") for c in value):
        raise ValidationError(
            _("The phrase cannot contain control or invisible characters."), code="control"
        )
    value = " ".join(value.split())
    if len(value) < MIN_LENGTH:
        raise ValidationError(
            ngettext("Use at least %(n)d character.", "Use at least %(n)d characters.", MIN_LENGTH)
            % {"n": MIN_LENGTH},
            code="short",
        )
    if len(value) > MAX_LENGTH:
        raise ValidationError(
            ngettext("Use at most %(n)d character.", "Use at most %(n)d characters.", MAX_LENGTH)
            % {"n": MAX_LENGTH},
            code="long",
        )
    return value


def upgrade(user: User) -> bool:
    """An account activated before phrases existed gets one; True if it just did."""
    if not user.is_activated or user.phrase:
        return False
    assign(user)
    return True


def show_next(request: HttpRequest) -> None:
    """The phrase was just made: the next page after signing in shows it (landing)."""
    request.session[SHOW] = reverse("inbox")


def landing(request: HttpRequest, url: str) -> str:
    """Where to go after signing in: the phrase page when it is due (then on to `url`)."""
    if SHOW not in request.session:
        return url
    request.session[SHOW] = url or reverse("inbox")
    return reverse("phrase-new")


def take_due(request: HttpRequest) -> str | None:
    """Where to go after the phrase page if it is due now (then no longer), else None."""
    due = request.session.pop(SHOW, None)
    return str(due) if due is not None else None


def for_email(user: User) -> str:
    """The phrase an email to `user` shows at its top; empty before they activated and saw it."""
    if not user.is_activated:
        return ""
    return user.phrase

"""Forms for getting in (sign-in, a new link by email address) and for the settings page."""

from __future__ import annotations

import unicodedata
from typing import Any

from django import forms
from django.conf import settings
from django.contrib.auth.forms import AuthenticationForm, UsernameField
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from sealbox import addresses
from sealbox.accounts import phrase, twofactor
from sealbox.accounts.models import ReadReceipts, User

NOT_RIGHT = _("The email address or password is not right.")
# An account without a password confirms it is the owner with a passkey instead.
CONFIRM_FIRST = _("First confirm it is you with your passkey.")
# An account with neither a password nor a passkey (signed in with an emailed code).
NO_WAY_IN = _("Your mailbox has no password or passkey yet. We can email you a link to choose one.")


class AddressField(UsernameField):
    """Django's username field without its NFKC folding.

    NFKC turns fullwidth letters (U+FF46 ...) into ASCII ones: the mailbox that intake
    keeps under the address as written could never be signed in to. The
    account is looked up by addresses.normalize() (User.objects.get_by_natural_key).
    """

    def to_python(self, value: Any) -> str:
        return str(forms.CharField.to_python(self, value))


class SignInForm(AuthenticationForm):
    """Django's sign-in form, with one answer for every reason it fails.

    A wrong password, an unknown address, a mailbox not activated yet and a
    disabled account must look alike, or the form tells who has a mailbox.
    """

    username = AddressField(widget=forms.TextInput(attrs={"autofocus": True}))
    error_messages = {"invalid_login": NOT_RIGHT, "inactive": NOT_RIGHT}

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.fields["username"].label = _("Email address")
        self.fields["password"].label = _("Password")

    def confirm_login_allowed(self, user: User) -> None:
        if not user.is_active:
            raise self.get_invalid_login_error()


class AddressForm(forms.Form):
    """An email address, normalised as mailboxes are kept."""

    email = forms.CharField(label=_("Email address"), max_length=addresses.MAX_ADDRESS_LENGTH)

    def clean_email(self) -> str:
        try:
            return addresses.normalize(self.cleaned_data["email"])
        except addresses.InvalidAddress:
            raise ValidationError(
                _("Enter an email address, such as name@example.com."), code="invalid"
            ) from None


class CodeForm(forms.Form):
    """A code at sign-in: six digits from the app, or a recovery code."""

    code = forms.CharField(label=_("Code"), max_length=40, strip=True)


class ConfirmForm(forms.Form):
    """The account's password again, and optionally a code, before a change to sign-in.

    An account without a password has none to give: for it, `recent` (this
    session confirmed it is the owner with a passkey lately) stands in.
    """

    # Not "required": a field left empty gets the same one answer as a wrong one.
    password = forms.CharField(
        label=_("Current password"), strip=False, required=False, widget=forms.PasswordInput
    )

    def __init__(
        self, user: User, *args: Any, with_code: bool = False, recent: bool = False, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.user = user
        self.recent = recent
        if with_code:
            self.fields["code"] = forms.CharField(
                label=_("Code"), max_length=40, strip=True, required=False
            )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if not self.user.has_usable_password():
            if not self.recent:
                raise ValidationError(CONFIRM_FIRST, code="invalid")
            password_ok = True
        else:
            password_ok = self.user.check_password(data.get("password", ""))
        code = data.get("code")
        code_ok = "code" not in self.fields or (
            password_ok and bool(code) and twofactor.verify_code(self.user, str(code)) is not None
        )
        if not (password_ok and code_ok):
            # One message: which of the two was wrong is not said.
            raise ValidationError(
                _("The password or code is not right.")
                if "code" in self.fields
                else _("The password is not right."),
                code="invalid",
            )
        return data


class PasskeyForm(forms.Form):
    name = forms.CharField(label=_("Name for this passkey"), max_length=60, strip=True)
    credential = forms.CharField(widget=forms.HiddenInput, max_length=20_000)

    def clean_name(self) -> str:
        name = str(self.cleaned_data["name"])
        if any(unicodedata.category(c).startswith("C") for c in name):
            raise ValidationError(_("Use letters, digits and punctuation only."), code="invalid")
        return name


class PhraseForm(forms.Form):
    """A new personal phrase: random words, or the recipient's own text (phrase.clean)."""

    choice = forms.ChoiceField(
        choices=[("random", "random"), ("own", "own")], widget=forms.HiddenInput
    )
    phrase = forms.CharField(label=_("Your own phrase"), required=False, strip=False)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("choice") == "own":
            try:
                data["phrase"] = phrase.clean(str(data.get("phrase") or ""))
            except ValidationError as error:
                self.add_error("phrase", error)
        else:
            data["phrase"] = ""
        return data


def period_label(days: int) -> str:
    """A retention period as the settings page names it: "30 days", "for ever"."""
    if not days:
        return str(_("for ever"))
    return ngettext("%(n)d day", "%(n)d days", days) % {"n": days}


class RetentionForm(forms.Form):
    """How long the account's messages are kept, and whether it is reminded before unread ones go.

    Only the operator's periods (SEALBOX_RETENTION_CHOICES), the default, and
    the account's current period are accepted; anything else is an error and
    nothing is saved. The default's own period is offered once, as "The default
    (90 days)", never a second time as "90 days".
    """

    DEFAULT = "default"

    retention = forms.ChoiceField(label=_("Keep messages for"), widget=forms.RadioSelect)
    expiry_reminders = forms.BooleanField(
        label=_("Email me before unread messages are removed"), required=False
    )

    def __init__(self, user: User, *args: Any, **kwargs: Any) -> None:
        # The default is offered once, as the default: a period equal to it is that choice.
        follows = user.retention_days in (None, settings.RETENTION_DAYS)
        current = self.DEFAULT if follows else str(user.retention_days)
        kwargs.setdefault(
            "initial", {"retention": current, "expiry_reminders": user.expiry_reminders}
        )
        super().__init__(*args, **kwargs)
        periods = set(settings.RETENTION_CHOICES)
        if user.retention_days is not None:
            # Set by the operator, or a choice since withdrawn: it stays choosable.
            periods.add(user.retention_days)
        periods.discard(settings.RETENTION_DAYS)
        default = _("The default (%(period)s)") % {"period": period_label(settings.RETENTION_DAYS)}
        field = self.fields["retention"]
        assert isinstance(field, forms.ChoiceField)
        field.choices = [(self.DEFAULT, default)] + [
            (str(days), period_label(days).capitalize()) for days in sorted(periods, key=_longest)
        ]
        if not settings.EXPIRY_REMINDER_DAYS:
            del self.fields["expiry_reminders"]

    def clean_retention(self) -> int | None:
        value = self.cleaned_data["retention"]
        return None if value == self.DEFAULT else int(value)

    @staticmethod
    def days(value: str) -> int:
        """The period an option's value stands for (0: for ever)."""
        return settings.RETENTION_DAYS if value == RetentionForm.DEFAULT else int(value)


def _longest(days: int) -> float:
    """Sort key: shortest first, "for ever" (0) last."""
    return days or float("inf")


class ReadReceiptsForm(forms.Form):
    """What happens when a message asks for a read receipt, where the operator lets
    the reader decide (SEALBOX_READ_RECEIPTS=ask; outbound/receipts.decision)."""

    read_receipts = forms.ChoiceField(
        label=_("When a sender asks to be told that you opened their message"),
        choices=ReadReceipts.choices,
        widget=forms.RadioSelect,
    )

    def __init__(self, user: User, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("initial", {"read_receipts": user.read_receipts})
        super().__init__(*args, **kwargs)

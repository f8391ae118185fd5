"""Forms for getting in: sign-in, and asking for a new link by email address."""

from __future__ import annotations

from django import forms
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from sealbox import addresses
from sealbox.accounts.models import User

NOT_RIGHT = _("The email address or password is not right.")


class SignInForm(AuthenticationForm):
    """Django's sign-in form, with one answer for every reason it fails.

    A wrong password, an unknown address, a mailbox not activated yet and a
    disabled account must look alike, or the form tells who has a mailbox.
    """

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

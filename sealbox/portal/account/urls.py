from django.urls import path

from sealbox.accounts.models import LinkToken
from sealbox.portal.account import (
    emailcode_views,
    factor_views,
    language_views,
    passkey_views,
    settings_views,
    views,
)

ACTIVATE = {"purpose": LinkToken.Purpose.ACTIVATE}
RESET = {"purpose": LinkToken.Purpose.RESET}

urlpatterns = [
    path("activate/set-password/", views.activate_set_password, name="activate-set-password"),
    # Before activate/<token>/, which would take "passkey" for a token.
    path(
        "activate/passkey/options/",
        passkey_views.link_passkey_options,
        ACTIVATE,
        name="activate-passkey-options",
    ),
    path("activate/passkey/", passkey_views.link_passkey, ACTIVATE, name="activate-passkey"),
    path("activate/<str:token>/", views.activate, name="activate"),
    path("reset/set-password/", views.reset_set_password, name="reset-set-password"),
    path(
        "reset/passkey/options/",
        passkey_views.link_passkey_options,
        RESET,
        name="reset-passkey-options",
    ),
    path("reset/passkey/", passkey_views.link_passkey, RESET, name="reset-passkey"),
    path("reset/<str:token>/", views.reset, name="reset"),
    path("link/new/", views.link_new, name="link-new"),
    path("link/sent/", views.link_sent, name="link-sent"),
    path("password/forgot/", views.password_forgot, name="password-forgot"),
    path("language/", language_views.choose, name="language"),
    path("signin/", views.signin_view, name="signin"),
    path("signin/email-code/", emailcode_views.ask, name="signin-code"),
    path("signin/email-code/enter/", emailcode_views.enter, name="signin-code-enter"),
    path("signin/verify/", views.signin_verify, name="signin-verify"),
    path("signin/passkey/options/", views.signin_passkey_options, name="signin-passkey-options"),
    path("signin/passkey/", views.signin_passkey, name="signin-passkey"),
    # Signing in with a passkey alone (the one above is the second step after the password).
    path(
        "signin/with-passkey/options/",
        passkey_views.signin_options,
        name="signin-with-passkey-options",
    ),
    path("signin/with-passkey/", passkey_views.signin_with_passkey, name="signin-with-passkey"),
    path("signout/", views.signout, name="signout"),
    path("phrase/", views.phrase_new, name="phrase-new"),
    path("settings/", settings_views.settings_page, name="settings"),
    path("settings/storage/", settings_views.storage, name="settings-storage"),
    path("settings/read-receipts/", settings_views.read_receipts, name="settings-receipts"),
    path("settings/phrase/", settings_views.change_phrase, name="settings-phrase"),
    path("settings/password/", settings_views.change_password, name="settings-password"),
    path(
        "settings/confirm/options/",
        passkey_views.confirm_options,
        name="settings-confirm-options",
    ),
    path("settings/confirm/", passkey_views.confirm, name="settings-confirm"),
    path("settings/two-factor/", factor_views.totp_enrol, name="settings-totp"),
    path("settings/two-factor/off/", factor_views.totp_off, name="settings-totp-off"),
    path("settings/recovery-codes/", factor_views.recovery_codes, name="settings-recovery"),
    path(
        "settings/passkeys/options/",
        factor_views.passkey_options,
        name="settings-passkey-options",
    ),
    path("settings/passkeys/", factor_views.passkey_add, name="settings-passkey-add"),
    path(
        "settings/passkeys/<int:passkey_id>/remove/",
        factor_views.passkey_remove,
        name="settings-passkey-remove",
    ),
    path(
        "settings/signout-everywhere/", settings_views.signout_everywhere, name="signout-everywhere"
    ),
    path("activity/", settings_views.activity_page, name="activity"),
]

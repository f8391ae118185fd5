from django.urls import path

from sealbox.accounts import security_views, views

urlpatterns = [
    path("activate/set-password/", views.activate_set_password, name="activate-set-password"),
    path("activate/<str:token>/", views.activate, name="activate"),
    path("reset/set-password/", views.reset_set_password, name="reset-set-password"),
    path("reset/<str:token>/", views.reset, name="reset"),
    path("link/new/", views.link_new, name="link-new"),
    path("link/sent/", views.link_sent, name="link-sent"),
    path("password/forgot/", views.password_forgot, name="password-forgot"),
    path("signin/", views.signin_view, name="signin"),
    path("signin/verify/", views.signin_verify, name="signin-verify"),
    path("signin/passkey/options/", views.signin_passkey_options, name="signin-passkey-options"),
    path("signin/passkey/", views.signin_passkey, name="signin-passkey"),
    path("signout/", views.signout, name="signout"),
    path("settings/", views.settings_page, name="settings"),
    path("settings/password/", views.change_password, name="settings-password"),
    path("settings/two-factor/", security_views.totp_enrol, name="settings-totp"),
    path("settings/two-factor/off/", security_views.totp_off, name="settings-totp-off"),
    path("settings/recovery-codes/", security_views.recovery_codes, name="settings-recovery"),
    path(
        "settings/passkeys/options/",
        security_views.passkey_options,
        name="settings-passkey-options",
    ),
    path("settings/passkeys/", security_views.passkey_add, name="settings-passkey-add"),
    path(
        "settings/passkeys/<int:passkey_id>/remove/",
        security_views.passkey_remove,
        name="settings-passkey-remove",
    ),
    path(
        "settings/signout-everywhere/", security_views.signout_everywhere, name="signout-everywhere"
    ),
    path("activity/", security_views.activity_page, name="activity"),
]

from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "sealbox.accounts"
    label = "accounts"
    verbose_name = "Accounts"

    def ready(self) -> None:
        from django.contrib.auth.signals import user_logged_in

        from sealbox.accounts import checks, middleware  # noqa: F401  (checks: registers them)

        # Every sign-in, the portal's and the admin's alike (they are one), is stamped.
        user_logged_in.connect(middleware.stamp_sign_in, dispatch_uid="sealbox.signed_in_at")

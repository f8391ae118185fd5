from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "sealbox.accounts"
    label = "accounts"
    verbose_name = "Accounts"

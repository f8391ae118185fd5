from django.apps import AppConfig


class VaultConfig(AppConfig):
    name = "sealbox.vault"
    verbose_name = "Encryption at rest"

    def ready(self) -> None:
        from sealbox.vault import checks  # noqa: F401  (registers the system checks)

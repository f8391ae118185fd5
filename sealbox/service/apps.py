from django.apps import AppConfig


class ServiceConfig(AppConfig):
    name = "sealbox.service"
    label = "service"
    verbose_name = "Service"

    def ready(self) -> None:
        from sealbox.service import checks  # noqa: F401  (registers the system checks)
        from sealbox.service import diskspace

        diskspace.install()

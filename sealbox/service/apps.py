from django.apps import AppConfig


class ServiceConfig(AppConfig):
    name = "sealbox.service"
    label = "service"
    verbose_name = "Service"

    def ready(self) -> None:
        from sealbox.diskspace import install
        from sealbox.service import brandchecks, checks  # noqa: F401  (register the system checks)

        install()  # the last sign-in time: a write that can wait on a full disk

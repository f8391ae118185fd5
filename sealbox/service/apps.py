from django.apps import AppConfig


class ServiceConfig(AppConfig):
    name = "sealbox.service"
    label = "service"
    verbose_name = "Service"

    def ready(self) -> None:
        from sealbox.service import brandchecks, checks  # noqa: F401  (register the system checks)
        from sealbox.service.diskspace import install

        install()  # the last sign-in time: a write that can wait on a full disk

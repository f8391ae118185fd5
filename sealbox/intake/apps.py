from django.apps import AppConfig


class IntakeConfig(AppConfig):
    name = "sealbox.intake"
    label = "intake"
    verbose_name = "Intake"

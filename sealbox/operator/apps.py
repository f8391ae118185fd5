from django.apps import AppConfig


class OperatorConfig(AppConfig):
    name = "sealbox.operator"
    label = "operator"
    verbose_name = "Operators"

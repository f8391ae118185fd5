from django.apps import AppConfig


class OperatorConfig(AppConfig):
    name = "sealbox.operator"
    label = "operator"
    verbose_name = "Operators"

    def ready(self) -> None:
        from sealbox.housekeeping import retention
        from sealbox.operator import audit

        retention.pruning.connect(audit.prune, dispatch_uid="sealbox.operator.audit")

from django.apps import AppConfig


class HousekeepingConfig(AppConfig):
    name = "sealbox.housekeeping"
    label = "housekeeping"
    verbose_name = "Retention and quotas"

from django.apps import AppConfig


class PortalConfig(AppConfig):
    name = "sealbox.portal"
    label = "portal"
    verbose_name = "Portal"

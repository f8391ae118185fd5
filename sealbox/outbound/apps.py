from django.apps import AppConfig


class OutboundConfig(AppConfig):
    name = "sealbox.outbound"
    label = "outbound"
    verbose_name = "Outgoing mail"

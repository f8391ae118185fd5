from django.apps import AppConfig


class OutboundConfig(AppConfig):
    name = "sealbox.outbound"
    label = "outbound"
    verbose_name = "Outgoing mail"

    def ready(self) -> None:
        from sealbox.mailstore import events
        from sealbox.outbound import notify

        # A stored message makes its recipient due for a notification, in the
        # storing transaction (mailstore/events.py).
        events.delivered.connect(notify.on_delivered, dispatch_uid="sealbox.outbound.notify")

from django.apps import AppConfig


class MailstoreConfig(AppConfig):
    name = "sealbox.mailstore"
    label = "mailstore"
    verbose_name = "Mail store"

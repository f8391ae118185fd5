"""Django's admin app with Sealbox's own site (site.py): named in INSTALLED_APPS instead of it."""

from django.contrib.admin.apps import AdminConfig


class OperatorAdminConfig(AdminConfig):
    default_site = "sealbox.operator.site.OperatorSite"

from django.urls import include, path

from sealbox.service.views import healthz

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("", include("sealbox.accounts.urls")),
    path("", include("sealbox.portal.urls")),
]

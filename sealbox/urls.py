from django.contrib import admin
from django.urls import include, path

from sealbox.service.views import healthz

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("admin/", admin.site.urls),
    path("", include("sealbox.accounts.urls")),
    path("", include("sealbox.portal.urls")),
]

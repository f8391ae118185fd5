from django.contrib import admin
from django.urls import include, path

from sealbox.service.views import healthz
from sealbox.web import brandfiles

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("brand/logo", brandfiles.logo_view, name="brand-logo"),
    path("brand.css", brandfiles.stylesheet_view, name="brand-css"),
    path("admin/", admin.site.urls),
    path("", include("sealbox.portal.account.urls")),
    path("", include("sealbox.portal.urls")),
]

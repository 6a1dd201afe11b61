from django.contrib import admin
from django.urls import include, path
from django.utils.translation import gettext_lazy as _

from ops.views import healthz

admin.site.site_header = _("Sutong back-office")
admin.site.site_title = _("Sutong")
admin.site.index_title = _("Back-office")

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("admin/", admin.site.urls),
    path("console/", include("intake.console_urls")),
    path("api/v1/", include(("api.urls", "api"), namespace="api")),
    path("open311/v2/", include("intake.open311.urls")),
    path("statistics/", include("reporting.public_urls")),
    path("reports/", include("reporting.urls")),
    path("", include("intake.urls")),
]

from django.contrib import admin
from django.urls import include, path
from django.utils.translation import gettext_lazy as _

from ops.views import healthz

admin.site.site_header = _("Sutong back-office")
admin.site.site_title = _("Sutong")
admin.site.index_title = _("Back-office")

# An unreachable database answers 503 with Retry-After (API, Open311 or HTML), any other
# uncaught error Django's 500 (ops.unavailable).
handler500 = "ops.unavailable.server_error"

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

# Too many form fields or files, a malformed body: a 400 in the visitor's language
# (JSON under /api/) instead of Django's bare "Bad Request".
handler400 = "config.limits.bad_request"

"""The reports pages under /reports/. Pages are added to the end of ``urlpatterns``."""

from django.urls import path

from reporting import views

app_name = "reporting"

urlpatterns = [
    path("", views.overview, name="overview"),
]

# Exports, scheduled reports and sampling audits: reporting.console.
from reporting.console import audits, exports, scheduled  # noqa: E402

urlpatterns += [
    path("exports/", exports.export_list, name="exports"),
    path("exports/<int:pk>/", exports.export_status, name="export_status"),
    path("exports/<int:pk>/download/", exports.export_download, name="export_download"),
    path("scheduled/", scheduled.report_list, name="scheduled"),
    path("scheduled/<int:pk>/", scheduled.report, name="report"),
    path("scheduled/<int:pk>/report.pdf", scheduled.report_pdf, name="report_pdf"),
    path("audits/", audits.sample_list, name="audits"),
    path("audits/<int:pk>/", audits.sample, name="audit"),
]

# Hotspots and early warning: reporting.hotspot_views.
from reporting.hotspot_views import hotspots_page  # noqa: E402

urlpatterns += [
    path("hotspots/", hotspots_page, name="hotspots"),
]

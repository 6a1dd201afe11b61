from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ReportingConfig(AppConfig):
    name = "reporting"
    verbose_name = _("Reporting")

    def ready(self) -> None:
        from complaints.signals import complaint_changed
        from reporting.rollups import on_complaint_changed

        # Every committed change makes its complaint's cohort day stale.
        complaint_changed.connect(on_complaint_changed, dispatch_uid="reporting.mark_dirty")

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SlaConfig(AppConfig):
    name = "sla"
    verbose_name = _("Time limits")

    def ready(self) -> None:
        from django.db.models.signals import post_delete, post_migrate, post_save

        from complaints.console.page import DETAIL_LABELS, EXTENDABLE_STAGES
        from complaints.signals import event_recorded
        from sla import calendars, deadlines, defaults
        from sla.models import CalendarDay, EnteredYear, Stage
        from sla.services import EXTENDABLE

        event_recorded.connect(deadlines.on_event, dispatch_uid="sla.deadlines")
        # The complaint page names stages in their words, and offers "more time" only
        # where an extension can be asked for.
        EXTENDABLE_STAGES.update(EXTENDABLE)
        DETAIL_LABELS["stage"] = lambda code: (
            str(Stage(code).label) if code in Stage.values else str(code)
        )
        # Like the role groups: every database has a calendar and the default policies
        # (also after a test flushes it).
        post_migrate.connect(defaults.install_after_migrate, sender=self)
        for model in (CalendarDay, EnteredYear):
            post_save.connect(calendars.touch_calendar, sender=model, dispatch_uid=f"sla.{model}")
            post_delete.connect(
                calendars.touch_calendar, sender=model, dispatch_uid=f"sla.{model}.delete"
            )

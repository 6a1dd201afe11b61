"""Keeping business calendars honest: unknown years are reported, never ignored.

The holiday package covers the years it was released for. When a limit runs into a later
year, the deadline is counted with weekends only and flagged provisional (see
``sla.policies.counted``); ``calendar_problems`` makes ``/healthz`` fail well before the
year starts, and ``recount_provisional`` counts those deadlines again once the package is
updated or the administrators have entered the year.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from complaints.models import Complaint
from sla.deadlines import RUNNING, recount
from sla.models import BusinessCalendar, Deadline
from sla.policies import engine_of

logger = logging.getLogger(__name__)


def touch_calendar(sender: Any, instance: Any, **kwargs: Any) -> None:
    """A day or year changed: every process rebuilds the calendar's engine."""
    BusinessCalendar.objects.filter(pk=instance.calendar_id).update(updated_at=timezone.now())


@dataclass
class Problems:
    failing: list[str] = field(default_factory=list)  # deadlines counted provisionally now
    coming: list[str] = field(default_factory=list)  # a year within the horizon is unknown

    def __bool__(self) -> bool:
        return bool(self.failing or self.coming)


def calendar_problems(horizon_days: int | None = None) -> Problems:
    """What the calendars cannot count, as sentences for administrators."""
    horizon = horizon_days if horizon_days is not None else settings.SLA_CALENDAR_HORIZON_DAYS
    today = timezone.localdate()
    years = sorted({today.year, (today + timedelta(days=horizon)).year})
    problems = Problems()
    for calendar in BusinessCalendar.objects.all():
        engine = engine_of(calendar)
        for year in years:
            if not engine.known(year):
                listed = problems.failing if year == today.year else problems.coming
                listed.append(
                    _(
                        "The business calendar “%(calendar)s” does not know the public "
                        "holidays of %(year)s. Update the chinesecalendar package, or enter "
                        "%(year)s's holidays in the back-office and mark the year as entered."
                    )
                    % {"calendar": calendar.name, "year": year}
                )
    provisional = Deadline.objects.filter(provisional=True, state__in=["open", "paused"]).count()
    if provisional:
        problems.failing.append(
            _("%(count)s running deadlines were counted provisionally (weekends only).")
            % {"count": provisional}
        )
    return problems


def recount_provisional() -> dict[str, int]:
    """Count provisional deadlines again (``deadlines.recount``) where the year is known now."""
    running = Deadline.objects.filter(provisional=True, state__in=RUNNING)
    before = running.count()
    for complaint_id, stage in running.values_list("complaint_id", "stage").distinct():
        with transaction.atomic():
            complaint = Complaint.objects.select_for_update().get(pk=complaint_id)
            recount(complaint, stage)
    still = running.count()
    if still:
        logger.error("%s deadlines are still counted provisionally", still)
    return {"recounted": before - still, "provisional": still}

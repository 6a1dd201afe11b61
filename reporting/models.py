"""Rollups: what the reports read instead of the complaints.

``CohortRollup`` holds, for each day complaints were received (in TIME_ZONE) and each
combination of department, category, channel, kind and petitioner type, the counts and
sums every KPI needs. The page's common scopes (everything, one department) read smaller
tables summed from it: ``DepartmentRollup`` (every figure per day and department: a few
thousand rows a year instead of hundreds of thousands), ``ChannelRollup`` and
``CategoryRollup`` (the volume per day, department and channel or category, for the
breakdowns). All are rebuilt together from the complaints by ``reporting.rollups``; see
its docstring for the definitions.

Durations are kept as histograms of ``BUCKETS`` log-spaced buckets (``fr_00`` …,
``res_00`` …) so a median or 90th percentile of any scope is a sum of columns and a walk
over 40 numbers.
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

BUCKETS = 40
# The SLA stages counted on time / late, as stored in sla.Deadline.stage. Written out
# (not read from sla.models.Stage) so a new stage there does not change this table's
# shape without a migration here.
STAGES = (
    "classify",
    "assign",
    "accept",
    "plan",
    "reply",
    "cycle",
    "follow_up",
    "contact",
    "co_handling",
)


def histogram_fields(prefix: str) -> list[str]:
    return [f"{prefix}_{i:02d}" for i in range(BUCKETS)]


FIRST_RESPONSE_BUCKETS = histogram_fields("fr")
RESOLUTION_BUCKETS = histogram_fields("res")
RATING_FIELDS = [f"rating_{r}" for r in range(1, 6)]
ON_TIME_FIELDS = {stage: (f"on_time_{stage}", f"late_{stage}") for stage in STAGES}


class Metrics(models.Model):
    """The counts and sums of one rollup row (fields added below, in loops)."""

    received = models.PositiveIntegerField(_("complaints received"), default=0)
    first_response_count = models.PositiveIntegerField(default=0)
    first_response_seconds = models.BigIntegerField(default=0)
    resolution_count = models.PositiveIntegerField(default=0)
    resolution_seconds = models.BigIntegerField(default=0)
    replied = models.PositiveIntegerField(default=0)
    reopened = models.PositiveIntegerField(default=0)
    repeat_petitions = models.PositiveIntegerField(default=0)
    closed = models.PositiveIntegerField(default=0)
    first_contact_resolved = models.PositiveIntegerField(default=0)
    overdue = models.PositiveIntegerField(default=0)
    surveys_answered = models.PositiveIntegerField(default=0)
    surveys_satisfied = models.PositiveIntegerField(default=0)
    rating_count = models.PositiveIntegerField(default=0)
    rating_sum = models.PositiveIntegerField(default=0)

    class Meta:
        abstract = True


# Eighty histogram columns, five rating columns and two per SLA stage: written by loop
# rather than by hand; the migration lists them all.
for _name in [
    *FIRST_RESPONSE_BUCKETS,
    *RESOLUTION_BUCKETS,
    *RATING_FIELDS,
    *(name for pair in ON_TIME_FIELDS.values() for name in pair),
]:
    Metrics.add_to_class(_name, models.PositiveIntegerField(default=0))

METRIC_FIELDS = [f.name for f in Metrics._meta.local_fields]


class CohortRollup(Metrics):
    """The complaints received on one day with one combination of dimensions."""

    day = models.DateField(_("day received"))
    department = models.ForeignKey(
        "routing.Department",
        verbose_name=_("department"),
        on_delete=models.CASCADE,
        null=True,
        related_name="+",
    )
    category = models.ForeignKey(
        "routing.Category",
        verbose_name=_("category"),
        on_delete=models.CASCADE,
        null=True,
        related_name="+",
    )
    channel = models.CharField(_("channel"), max_length=20)
    kind = models.CharField(_("kind"), max_length=20)
    petitioner_type = models.CharField(_("petitioner type"), max_length=20, blank=True)

    class Meta:
        verbose_name = _("daily cohort rollup")
        verbose_name_plural = _("daily cohort rollups")
        indexes = [models.Index(fields=["day"], name="rollup_cohort_day")]

    def __str__(self) -> str:
        return f"{self.day} {self.department_id}/{self.category_id}/{self.channel}/{self.kind}"


class _DayAndDepartment(models.Model):
    """The key shared by the per-department rollups: the received day and the department."""

    day = models.DateField(_("day received"))
    department = models.ForeignKey(
        "routing.Department",
        verbose_name=_("department"),
        on_delete=models.CASCADE,
        null=True,
        related_name="+",
    )

    class Meta:
        abstract = True


class DepartmentRollup(Metrics, _DayAndDepartment):
    """``CohortRollup`` summed per day and department."""

    class Meta:
        verbose_name = _("daily department rollup")
        verbose_name_plural = _("daily department rollups")
        indexes = [models.Index(fields=["day", "department"], name="rollup_department_day")]

    def __str__(self) -> str:
        return f"{self.day} {self.department_id}"


class _DailyBreakdown(_DayAndDepartment):
    """Complaints received per day and department, broken down by one more field."""

    received = models.PositiveIntegerField(_("complaints received"), default=0)

    class Meta:
        abstract = True


class ChannelRollup(_DailyBreakdown):
    """Complaints received per day, department and channel: the breakdown by channel."""

    channel = models.CharField(_("channel"), max_length=20)

    class Meta:
        verbose_name = _("daily channel rollup")
        verbose_name_plural = _("daily channel rollups")
        indexes = [models.Index(fields=["day", "department"], name="rollup_channel_day")]

    def __str__(self) -> str:
        return f"{self.day} {self.department_id}/{self.channel}"


class CategoryRollup(_DailyBreakdown):
    """Complaints received per day, department and category: the breakdown by category."""

    category = models.ForeignKey(
        "routing.Category",
        verbose_name=_("category"),
        on_delete=models.CASCADE,
        null=True,
        related_name="+",
    )

    class Meta:
        verbose_name = _("daily category rollup")
        verbose_name_plural = _("daily category rollups")
        indexes = [models.Index(fields=["day", "department"], name="rollup_category_day")]

    def __str__(self) -> str:
        return f"{self.day} {self.department_id}/{self.category_id}"


class DirtyDay(models.Model):
    """A received day whose rollups are stale; ``marked_at`` moves on every new mark."""

    day = models.DateField(_("day received"), unique=True)
    marked_at = models.DateTimeField(_("marked"))

    class Meta:
        verbose_name = _("day to recompute")
        verbose_name_plural = _("days to recompute")

    def __str__(self) -> str:
        return self.day.isoformat()


class RollupCursor(models.Model):
    """How far a scan has read (the last event id looked at), by name."""

    name = models.CharField(max_length=50, primary_key=True)
    position = models.BigIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.name}@{self.position}"


# Exports, scheduled reports and sampling audits (reporting.exports, .scheduled, .audits).
from reporting.products import *  # noqa: E402, F403

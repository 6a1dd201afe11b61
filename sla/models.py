"""Calendars, policies and the deadlines they produce.

A *policy* says how long each stage of a complaint may take; it is versioned, and a
complaint keeps the version that was in force when it arrived. A *deadline* is one pending
limit of one complaint; the sweep (``sla.sweep``) finds the ones whose warning or
escalation is due. Each warning and each escalation level is written once to ``SlaAction``
under a unique constraint: that table is the proof that it happened exactly once.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo, available_timezones

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from complaints.models import Complaint
from routing.models import BilingualName
from sla import calendar as workcal


class Stage(models.TextChoices):
    """The limits of DESIGN.md's table, in lifecycle order."""

    CLASSIFY = "classify", _("Classify and grade")
    ASSIGN = "assign", _("Assign")
    ACCEPT = "accept", _("Start handling")
    PLAN = "plan", _("Handling plan")
    REPLY = "reply", _("Reply")
    CYCLE = "cycle", _("Whole cycle")
    FOLLOW_UP = "follow_up", _("Satisfaction follow-up")
    REVIEW = "review", _("Supervisor's review of a second dissatisfaction")
    CONTACT = "contact", _("Contact petitioner about missing details")
    CO_HANDLING = "co_handling", _("Co-handling task")


class Basis(models.TextChoices):
    BUSINESS = "business", _("working time")
    CALENDAR = "calendar", _("calendar time")


class Unit(models.TextChoices):
    MINUTES = "minutes", _("minutes")
    HOURS = "hours", _("hours")
    DAYS = "days", _("days")


class Recipients(models.TextChoices):
    """Who an escalation level (or a warning) goes to."""

    ASSIGNEE = "assignee", _("the handler")
    HEAD = "head", _("heads of the complaint's department")
    DISPATCHER = "dispatcher", _("dispatchers")
    SUPERVISOR = "supervisor", _("supervisors")
    ON_CALL = "on_call", _("on-call leaders")


# --- Calendars --------------------------------------------------------------------------


def _validate_timezone(value: str) -> None:
    if value not in available_timezones():
        raise ValidationError(_("“%(value)s” is not a known time zone."), params={"value": value})


def _validate_periods(value: str) -> None:
    try:
        workcal.parse_periods(value)
    except ValueError as exc:
        raise ValidationError(str(exc)) from exc


class BusinessCalendar(BilingualName):
    """Working days and hours that working-time limits count in."""

    code = models.SlugField(_("code"), max_length=50, unique=True)
    timezone = models.CharField(
        _("time zone"), max_length=64, default="Asia/Shanghai", validators=[_validate_timezone]
    )
    working_hours = models.CharField(
        _("working hours"),
        max_length=200,
        default="09:00-12:00, 13:00-18:00",
        validators=[_validate_periods],
        help_text=_("Periods of a working day, e.g. “09:00-12:00, 13:00-18:00”."),
    )
    china_holidays = models.BooleanField(
        _("mainland China public holidays"),
        default=True,
        help_text=_(
            "Count the public holidays and adjusted working days (调休) of mainland China, "
            "from the chinesecalendar package."
        ),
    )
    departments = models.ManyToManyField(
        "routing.Department",
        verbose_name=_("departments"),
        blank=True,
        related_name="business_calendars",
        help_text=_("Departments (and their sub-departments) that work by this calendar."),
    )
    is_default = models.BooleanField(
        _("default"),
        default=False,
        help_text=_("Used where neither the policy nor the department names a calendar."),
    )
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("business calendar")
        verbose_name_plural = _("business calendars")
        ordering = ["code"]
        constraints = [
            models.UniqueConstraint(
                fields=["is_default"], condition=Q(is_default=True), name="one_default_calendar"
            )
        ]

    def working_calendar(self) -> workcal.WorkingCalendar:
        """The arithmetic engine for this calendar, with the administrators' days."""
        days = list(self.days.all())
        return workcal.WorkingCalendar(
            name=self.name,
            tz=ZoneInfo(self.timezone),
            periods=workcal.parse_periods(self.working_hours),
            china_holidays=self.china_holidays,
            holidays=frozenset(d.date for d in days if d.kind == CalendarDay.Kind.HOLIDAY),
            workdays=frozenset(d.date for d in days if d.kind == CalendarDay.Kind.WORKDAY),
            entered_years=frozenset(self.entered_years.values_list("year", flat=True)),
        )


class CalendarDay(models.Model):
    """A day an administrator declared off, or declared a working day."""

    class Kind(models.TextChoices):
        HOLIDAY = "holiday", _("day off")
        WORKDAY = "workday", _("working day")

    calendar = models.ForeignKey(
        BusinessCalendar, verbose_name=_("calendar"), on_delete=models.CASCADE, related_name="days"
    )
    date = models.DateField(_("date"))
    kind = models.CharField(_("kind"), max_length=10, choices=Kind)
    note = models.CharField(_("note"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("calendar day")
        verbose_name_plural = _("calendar days")
        ordering = ["date"]
        constraints = [
            models.UniqueConstraint(fields=["calendar", "date"], name="one_entry_per_calendar_day")
        ]

    def __str__(self) -> str:
        return f"{self.date} {self.get_kind_display()}"


class EnteredYear(models.Model):
    """A year whose holidays the administrators entered themselves (the package lacks it)."""

    calendar = models.ForeignKey(
        BusinessCalendar,
        verbose_name=_("calendar"),
        on_delete=models.CASCADE,
        related_name="entered_years",
    )
    year = models.PositiveIntegerField(
        _("year"), validators=[MinValueValidator(2000), MaxValueValidator(2100)]
    )
    note = models.CharField(_("note"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("entered year")
        verbose_name_plural = _("entered years")
        ordering = ["year"]
        constraints = [
            models.UniqueConstraint(fields=["calendar", "year"], name="one_entry_per_calendar_year")
        ]

    def __str__(self) -> str:
        return str(self.year)


# --- Policies ---------------------------------------------------------------------------


class Policy(BilingualName):
    """Which complaints a set of time limits applies to; the limits live in its versions.

    A policy matches on category, priority and kind; an empty field matches anything.
    The most specific active match wins (category, then priority, then kind).
    """

    code = models.SlugField(_("code"), max_length=50, unique=True)
    category = models.ForeignKey(
        "routing.Category",
        verbose_name=_("category"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text=_("Empty: any category."),
    )
    priority = models.CharField(
        _("priority"),
        max_length=10,
        blank=True,
        choices=[("", _("any priority")), *Complaint.Priority.choices],
    )
    kind = models.CharField(
        _("kind of matter"),
        max_length=20,
        blank=True,
        choices=[("", _("any kind")), *Complaint.Kind.choices],
    )
    calendar = models.ForeignKey(
        BusinessCalendar,
        verbose_name=_("calendar"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text=_("Empty: the department's calendar, else the default one."),
    )
    is_active = models.BooleanField(_("in use"), default=True)

    class Meta:
        verbose_name = _("SLA policy")
        verbose_name_plural = _("SLA policies")
        ordering = ["code"]
        constraints = [
            # Two constraints, as NULLs are distinct in a unique index on SQLite.
            models.UniqueConstraint(
                fields=["category", "priority", "kind"],
                condition=Q(is_active=True, category__isnull=False),
                name="one_active_policy_per_scope",
            ),
            models.UniqueConstraint(
                fields=["priority", "kind"],
                condition=Q(is_active=True, category__isnull=True),
                name="one_active_policy_per_scope_any_category",
            ),
        ]

    @property
    def specificity(self) -> int:
        return 4 * (self.category_id is not None) + 2 * bool(self.priority) + bool(self.kind)


class PolicyVersion(models.Model):
    """The limits of a policy from ``effective_from`` on. Never edited once in force."""

    policy = models.ForeignKey(
        Policy, verbose_name=_("policy"), on_delete=models.PROTECT, related_name="versions"
    )
    label = models.CharField(_("version"), max_length=20, help_text=_("e.g. V1.0, V1.1"))
    effective_from = models.DateTimeField(_("in force from"))
    warn_ratio = models.DecimalField(
        _("warn at"),
        max_digits=3,
        decimal_places=2,
        default=Decimal("0.75"),
        validators=[MinValueValidator(Decimal("0.05")), MaxValueValidator(Decimal("0.99"))],
        help_text=_("Share of the time limit after which a warning goes out (0.75 = 75%)."),
    )
    note = models.TextField(_("what changed"), blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("created by"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("policy version")
        verbose_name_plural = _("policy versions")
        ordering = ["policy", "-effective_from"]
        constraints = [
            models.UniqueConstraint(fields=["policy", "label"], name="policy_version_label"),
            models.UniqueConstraint(
                fields=["policy", "effective_from"], name="policy_version_effective_from"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.policy} {self.label}"

    @property
    def in_force(self) -> bool:
        return self.effective_from <= timezone.now()


class Duration(models.Model):
    """An amount of minutes, hours or days, counted in working or calendar time."""

    amount = models.PositiveIntegerField(_("amount"))
    unit = models.CharField(_("unit"), max_length=10, choices=Unit, default=Unit.HOURS)
    basis = models.CharField(_("counted in"), max_length=10, choices=Basis, default=Basis.BUSINESS)

    class Meta:
        abstract = True

    def describe(self) -> str:
        return f"{self.amount} {self.get_unit_display()} ({self.get_basis_display()})"


class StageTarget(Duration):
    """How long one stage may take under a policy version.

    Working days count whole working days after the starting day (the starting day is
    not counted) and end when the last one's working hours end.
    """

    version = models.ForeignKey(
        PolicyVersion, verbose_name=_("version"), on_delete=models.CASCADE, related_name="targets"
    )
    stage = models.CharField(_("stage"), max_length=20, choices=Stage)

    class Meta:
        verbose_name = _("time limit")
        verbose_name_plural = _("time limits")
        ordering = ["version", "stage"]
        constraints = [
            models.UniqueConstraint(fields=["version", "stage"], name="one_target_per_stage")
        ]

    def __str__(self) -> str:
        return f"{self.get_stage_display()}: {self.describe()}"


class EscalationStep(Duration):
    """Level N of the escalation chain: who is told, how long after the limit passed.

    ``amount`` is the extra delay after the due time (0: at once). A step with a stage
    applies to that stage only and replaces the general chain there.
    """

    version = models.ForeignKey(
        PolicyVersion,
        verbose_name=_("version"),
        on_delete=models.CASCADE,
        related_name="escalation_steps",
    )
    level = models.PositiveSmallIntegerField(_("level"), validators=[MinValueValidator(1)])
    recipients = models.CharField(_("notify"), max_length=20, choices=Recipients)
    stage = models.CharField(
        _("only for stage"),
        max_length=20,
        choices=Stage,
        blank=True,
        help_text=_("Empty: every stage without a chain of its own."),
    )

    class Meta:
        verbose_name = _("escalation level")
        verbose_name_plural = _("escalation chain")
        ordering = ["version", "stage", "level"]
        constraints = [
            models.UniqueConstraint(fields=["version", "stage", "level"], name="one_step_per_level")
        ]

    def __str__(self) -> str:
        return f"{self.level}: {self.get_recipients_display()} (+{self.describe()})"


# --- Deadlines --------------------------------------------------------------------------


class Deadline(models.Model):
    """One pending limit of one complaint, from the stage's start to its due time.

    ``next_check_at`` is when the sweep must next look at it (the warning, or the next
    escalation level); it is empty when nothing is pending, and only open deadlines have
    one, so the sweep's indexed query reads just the rows that are due.
    """

    class State(models.TextChoices):
        OPEN = "open", _("running")
        PAUSED = "paused", _("paused (waiting for the petitioner)")
        MET = "met", _("met")
        MISSED = "missed", _("done late")
        CANCELLED = "cancelled", _("no longer needed")

    complaint = models.ForeignKey(
        "complaints.Complaint",
        verbose_name=_("complaint"),
        on_delete=models.CASCADE,
        related_name="deadlines",
    )
    stage = models.CharField(_("stage"), max_length=20, choices=Stage)
    co_handling_task = models.ForeignKey(
        "complaints.CoHandlingTask",
        verbose_name=_("co-handling task"),
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="deadlines",
    )
    policy_version = models.ForeignKey(
        PolicyVersion,
        verbose_name=_("policy version"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="deadlines",
    )
    calendar = models.ForeignKey(
        BusinessCalendar,
        verbose_name=_("calendar"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    basis = models.CharField(_("counted in"), max_length=10, choices=Basis)
    started_at = models.DateTimeField(_("started"))
    warn_at = models.DateTimeField(_("warn at"), null=True, blank=True)
    due_at = models.DateTimeField(_("due"))
    state = models.CharField(_("state"), max_length=10, choices=State, default=State.OPEN)
    # While paused: the time left (in the deadline's basis) to the warning and to the due time.
    paused_at = models.DateTimeField(_("paused"), null=True, blank=True)
    warn_left = models.FloatField(null=True, blank=True, editable=False)
    due_left = models.FloatField(null=True, blank=True, editable=False)
    paused_seconds = models.FloatField(_("time paused (s)"), default=0, editable=False)
    warned_at = models.DateTimeField(_("warned"), null=True, blank=True)
    breached_at = models.DateTimeField(_("limit passed"), null=True, blank=True)
    escalation_level = models.PositiveSmallIntegerField(_("escalation level"), default=0)
    # Extensions granted; each one starts a new round of warning and escalation.
    round = models.PositiveSmallIntegerField(_("extensions"), default=0)
    next_check_at = models.DateTimeField(null=True, blank=True, editable=False)
    closed_at = models.DateTimeField(_("completed at"), null=True, blank=True)
    # The calendar did not know a year the limit runs into: the due time was counted with
    # weekends only, and is counted again once the year is known.
    provisional = models.BooleanField(_("provisional"), default=False)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("deadline")
        verbose_name_plural = _("deadlines")
        ordering = ["due_at", "id"]
        indexes = [
            models.Index(
                fields=["next_check_at"],
                condition=Q(state="open", next_check_at__isnull=False),
                name="deadline_sweep",
            ),
            models.Index(fields=["complaint", "stage"], name="deadline_complaint_stage"),
            models.Index(fields=["due_at"], condition=Q(state="open"), name="deadline_open_due"),
            # A complaint's earliest running limit, which orders the console's queues:
            # one short index-only look-up per complaint.
            models.Index(
                fields=["complaint", "due_at"],
                condition=Q(state="open"),
                name="deadline_open_by_complaint",
            ),
            models.Index(
                fields=["state"], condition=Q(provisional=True), name="deadline_provisional"
            ),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["complaint", "stage"],
                condition=Q(state__in=["open", "paused"], co_handling_task__isnull=True),
                name="one_running_deadline_per_stage",
            ),
            models.UniqueConstraint(
                fields=["co_handling_task"],
                condition=Q(state__in=["open", "paused"], co_handling_task__isnull=False),
                name="one_running_deadline_per_task",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_stage_display()} ≤ {timezone.localtime(self.due_at):%Y-%m-%d %H:%M}"

    @property
    def is_running(self) -> bool:
        return self.state in (self.State.OPEN, self.State.PAUSED)

    @property
    def is_overdue(self) -> bool:
        return self.state == self.State.OPEN and self.due_at <= timezone.now()


class SlaAction(models.Model):
    """A warning or an escalation level that happened: written once, never again.

    The unique constraint is the guarantee: two sweeps, or a sweep retried after a crash,
    cannot record the same warning or level of the same deadline twice.
    """

    class Kind(models.TextChoices):
        WARNING = "warning", _("warning")
        ESCALATION = "escalation", _("escalation")

    deadline = models.ForeignKey(
        Deadline, verbose_name=_("deadline"), on_delete=models.CASCADE, related_name="actions"
    )
    kind = models.CharField(_("kind"), max_length=12, choices=Kind)
    level = models.PositiveSmallIntegerField(_("level"), default=0)
    round = models.PositiveSmallIntegerField(_("round"), default=0)
    recipients = models.JSONField(_("notified"), default=list, blank=True)
    created_at = models.DateTimeField(_("time"), default=timezone.now)

    class Meta:
        verbose_name = _("warning or escalation")
        verbose_name_plural = _("warnings and escalations")
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["deadline", "kind", "level", "round"], name="sla_action_once"
            )
        ]

    def __str__(self) -> str:
        if self.kind == self.Kind.WARNING:
            return f"{self.get_kind_display()}: {self.deadline}"
        return f"{self.get_kind_display()} {self.level}: {self.deadline}"


class ExtensionRequest(models.Model):
    """A handler asks for more time (延期申请); the department head decides."""

    class State(models.TextChoices):
        PENDING = "pending", _("waiting for a decision")
        APPROVED = "approved", pgettext_lazy("extension request", "approved")
        REFUSED = "refused", pgettext_lazy("extension request", "refused")

    deadline = models.ForeignKey(
        Deadline, verbose_name=_("deadline"), on_delete=models.CASCADE, related_name="extensions"
    )
    reason = models.TextField(_("reason"))
    requested_due_at = models.DateTimeField(_("new due time asked for"))
    previous_due_at = models.DateTimeField(_("due time before"))
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("asked by"),
        on_delete=models.PROTECT,
        related_name="+",
    )
    requested_at = models.DateTimeField(_("asked"), auto_now_add=True)
    state = models.CharField(_("state"), max_length=10, choices=State, default=State.PENDING)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("decided by"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    decided_at = models.DateTimeField(_("decided"), null=True, blank=True)
    decision_note = models.TextField(_("decision note"), blank=True)

    class Meta:
        verbose_name = _("extension request")
        verbose_name_plural = _("extension requests")
        ordering = ["-requested_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["deadline"],
                condition=Q(state="pending"),
                name="one_pending_extension_per_deadline",
            )
        ]

    def __str__(self) -> str:
        return f"{self.deadline}: {self.get_state_display()}"


def to_seconds(amount: int, unit: str) -> float:
    """Minutes and hours as seconds (days are counted by the calendar, not here)."""
    if unit == Unit.MINUTES:
        return amount * 60.0
    if unit == Unit.HOURS:
        return amount * 3600.0
    return timedelta(days=amount).total_seconds()


class EmergencyAlert(models.Model):
    """An on-call leader alerted about a critical complaint: once per leader and complaint."""

    complaint = models.ForeignKey(
        "complaints.Complaint",
        verbose_name=_("complaint"),
        on_delete=models.CASCADE,
        related_name="emergency_alerts",
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("alerted"),
        on_delete=models.PROTECT,
        related_name="+",
    )
    created_at = models.DateTimeField(_("time"), default=timezone.now)

    class Meta:
        verbose_name = _("emergency alert")
        verbose_name_plural = _("emergency alerts")
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["complaint", "user"], name="emergency_alert_once")
        ]

    def __str__(self) -> str:
        return f"{self.complaint_id} → {self.user_id}"

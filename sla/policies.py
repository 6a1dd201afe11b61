"""Which limits apply to a complaint, and how a limit becomes a due time.

A complaint is held to the policy version that was in force when it arrived
(``received_at``), even if the policy changes while it is open. Among the active policies
matching its category (or a parent category), priority and kind, the most specific one
applies; a critical complaint runs on the shortest limit any matching policy sets for each
stage, whatever its priority field.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from django.db.models import Q
from django.utils.translation import gettext as _

from complaints.models import Complaint
from sla import calendar as workcal
from sla.models import (
    Basis,
    BusinessCalendar,
    EscalationStep,
    Policy,
    PolicyVersion,
    StageTarget,
    Unit,
    to_seconds,
)

logger = logging.getLogger(__name__)


class NoPolicy(LookupError):
    """No policy at all applies: the administrators removed every one."""


@dataclass(frozen=True)
class Limit:
    """One stage's limit for one complaint: where it came from and when it falls due."""

    version: PolicyVersion
    target: StageTarget
    calendar: BusinessCalendar
    engine: workcal.WorkingCalendar
    due_at: datetime
    # The calendar did not know a year the limit runs into; counted with weekends only.
    provisional: bool = False


def _category_chain(complaint: Complaint) -> list[int]:
    chain: list[int] = []
    category = complaint.category
    while category is not None and category.pk not in chain:
        chain.append(category.pk)
        category = category.parent
    return chain


def _matching_policies(complaint: Complaint, *, any_priority: bool) -> list[Policy]:
    chain = _category_chain(complaint)
    policies = Policy.objects.filter(is_active=True).filter(
        Q(category__isnull=True) | Q(category_id__in=chain)
    )
    policies = policies.filter(Q(kind="") | Q(kind=complaint.kind))
    if not any_priority:
        policies = policies.filter(Q(priority="") | Q(priority=complaint.priority))

    def rank(policy: Policy) -> tuple[int, int, int]:
        depth = chain.index(policy.category_id) if policy.category_id in chain else len(chain)
        return (-depth if policy.category_id else -99, bool(policy.priority), bool(policy.kind))

    return sorted(policies.select_related("calendar"), key=rank, reverse=True)


def _version_in_force(policy: Policy, at: datetime) -> PolicyVersion | None:
    return (
        policy.versions.filter(effective_from__lte=at)
        .prefetch_related("targets", "escalation_steps")
        .order_by("-effective_from")
        .first()
    )


def versions_for(complaint: Complaint) -> list[PolicyVersion]:
    """The versions that may set this complaint's limits, the applicable one first.

    Normally one; for a critical complaint every matching policy's version, since each
    stage takes the shortest of them.
    """
    critical = complaint.priority == Complaint.Priority.CRITICAL
    policies = _matching_policies(complaint, any_priority=critical)
    at = complaint.received_at
    versions = [v for p in policies if (v := _version_in_force(p, at)) is not None]
    if not versions:
        # Nothing was in force yet when it arrived (a policy created later): the earliest
        # version of the most specific policy is the best there is.
        versions = [
            v
            for p in policies[:1]
            if (
                v := p.versions.prefetch_related("targets", "escalation_steps")
                .order_by("effective_from")
                .first()
            )
            is not None
        ]
    if not versions:
        raise NoPolicy(_("No SLA policy applies to this complaint."))
    return versions if critical else versions[:1]


def calendar_for(complaint: Complaint, version: PolicyVersion) -> BusinessCalendar:
    """The policy's calendar, else the department's (or a parent's), else the default."""
    if version.policy.calendar is not None:
        return version.policy.calendar
    department = complaint.department
    seen: set[int] = set()
    while department is not None and department.pk not in seen:
        seen.add(department.pk)
        found = BusinessCalendar.objects.filter(departments=department).first()
        if found is not None:
            return found
        department = department.parent
    default = BusinessCalendar.objects.filter(is_default=True).first()
    if default is None:
        default = BusinessCalendar.objects.order_by("pk").first()
    if default is None:
        raise NoPolicy(_("There is no business calendar. Add one in the back-office."))
    return default


def due_time(
    engine: workcal.WorkingCalendar, target: StageTarget | EscalationStep, start: datetime
) -> datetime:
    """When ``target`` counted from ``start`` ends, by ``engine``'s working time."""
    if target.basis == Basis.BUSINESS and target.unit == Unit.DAYS:
        return engine.add_working_days(start, target.amount)
    return workcal.add_time(
        engine, workcal.Basis(target.basis), start, to_seconds(target.amount, target.unit)
    )


def weekends_only(engine: workcal.WorkingCalendar) -> workcal.WorkingCalendar:
    """The same working hours without the holiday package: a provisional stand-in."""
    return workcal.WorkingCalendar(
        name=engine.name,
        tz=engine.tz,
        periods=engine.periods,
        china_holidays=False,
        holidays=engine.holidays,
        workdays=engine.workdays,
        entered_years=engine.entered_years,
        weekend=engine.weekend,
    )


def counted(
    engine: workcal.WorkingCalendar, target: StageTarget | EscalationStep, start: datetime
) -> tuple[datetime, bool]:
    """``due_time``, falling back to weekends only when a year is unknown (provisional).

    The fall-back is loud: an error in the log, the deadline flagged provisional, and the
    health check failing until the year is known; ``sla.tasks.check_calendars`` counts
    provisional deadlines again once it is.
    """
    try:
        return due_time(engine, target, start), False
    except workcal.UnknownYear as exc:
        logger.error("%s Counting with weekends only for now.", exc)
        return due_time(weekends_only(engine), target, start), True


def limit_for(complaint: Complaint, stage: str, start: datetime) -> Limit | None:
    """The limit of ``stage`` starting at ``start``, or None when no policy sets one."""
    best: Limit | None = None
    for version in versions_for(complaint):
        target = next((t for t in version.targets.all() if t.stage == stage), None)
        if target is None:
            continue
        calendar = calendar_for(complaint, version)
        engine = engine_of(calendar)
        due_at, provisional = counted(engine, target, start)
        if best is None or due_at < best.due_at:
            best = Limit(version, target, calendar, engine, due_at, provisional)
    return best


def chain_of(version: PolicyVersion, stage: str) -> list[EscalationStep]:
    """The escalation levels for ``stage``: its own chain if it has one, else the general."""
    steps = list(version.escalation_steps.all())
    own = sorted((s for s in steps if s.stage == stage), key=lambda s: s.level)
    return own or sorted((s for s in steps if not s.stage), key=lambda s: s.level)


_engines: dict[tuple[int, str], workcal.WorkingCalendar] = {}


def engine_of(calendar: BusinessCalendar) -> workcal.WorkingCalendar:
    """The calendar's engine, cached per process until the calendar or its days change."""
    stamp = calendar.updated_at.isoformat() if calendar.updated_at else ""
    key = (calendar.pk, stamp)
    engine = _engines.get(key)
    if engine is None:
        engine = calendar.working_calendar()
        if len(_engines) > 64:
            _engines.clear()
        _engines[key] = engine
    return engine

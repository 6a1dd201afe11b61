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
from typing import Any

from django.db.models import Prefetch
from django.utils.translation import gettext as _

from complaints.models import Complaint
from ops.snapshot import Snapshot
from sla import calendar as workcal
from sla.models import (
    Basis,
    BusinessCalendar,
    CalendarDay,
    EnteredYear,
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


@dataclass(frozen=True)
class PolicyBook:
    """Every active policy with its versions, and what choosing a calendar needs.

    A few hundred rows at most, read for every complaint that arrives or moves on: held
    in each process (``book()``), rebuilt when any of them changes.
    """

    policies: list[Policy]
    versions: dict[int, list[PolicyVersion]]  # by policy, the newest first
    category_parent: dict[int, int | None]
    department_parent: dict[int, int | None]
    department_calendar: dict[int, BusinessCalendar]
    default_calendar: BusinessCalendar | None


def _read_book() -> PolicyBook:
    from routing.models import Category, Department

    policies = list(
        Policy.objects.filter(is_active=True)
        .select_related("calendar")
        .prefetch_related(
            Prefetch(
                "versions",
                queryset=PolicyVersion.objects.order_by("-effective_from").prefetch_related(
                    "targets", "escalation_steps"
                ),
            )
        )
    )
    department_calendar: dict[int, BusinessCalendar] = {}
    calendars = list(BusinessCalendar.objects.prefetch_related("departments"))  # by code
    for calendar in calendars:
        for department in calendar.departments.all():
            department_calendar.setdefault(department.pk, calendar)
    default = next((c for c in calendars if c.is_default), None)
    if default is None and calendars:
        default = min(calendars, key=lambda c: c.pk)
    return PolicyBook(
        policies=policies,
        versions={p.pk: list(p.versions.all()) for p in policies},
        category_parent=dict(Category.objects.values_list("pk", "parent_id")),
        department_parent=dict(Department.objects.values_list("pk", "parent_id")),
        department_calendar=department_calendar,
        default_calendar=default,
    )


def _watched() -> list[type[Any]]:
    from routing.models import Category, Department

    return [Policy, PolicyVersion, StageTarget, EscalationStep, BusinessCalendar, Category,
            Department, CalendarDay, EnteredYear]  # fmt: skip


_book: Snapshot[PolicyBook] | None = None


def book() -> PolicyBook:
    """The policy book of this process (see ``ops.snapshot``)."""
    global _book
    if _book is None:
        _book = Snapshot(
            "sla.policies",
            _read_book,
            models=_watched(),
            through=[BusinessCalendar.departments.through],
        )
    return _book.get()


def _chain(parents: dict[int, int | None], first: int | None) -> list[int]:
    chain: list[int] = []
    while first is not None and first not in chain:
        chain.append(first)
        first = parents.get(first)
    return chain


def _matching_policies(
    complaint: Complaint, policy_book: PolicyBook, *, any_priority: bool
) -> list[Policy]:
    chain = _chain(policy_book.category_parent, complaint.category_id)

    def matches(policy: Policy) -> bool:
        return (
            (policy.category_id is None or policy.category_id in chain)
            and policy.kind in ("", complaint.kind)
            and (any_priority or policy.priority in ("", complaint.priority))
        )

    def rank(policy: Policy) -> tuple[int, int, int]:
        depth = chain.index(policy.category_id) if policy.category_id in chain else len(chain)
        return (-depth if policy.category_id else -99, bool(policy.priority), bool(policy.kind))

    return sorted(filter(matches, policy_book.policies), key=rank, reverse=True)


def versions_for(
    complaint: Complaint, policy_book: PolicyBook | None = None
) -> list[PolicyVersion]:
    """The versions that may set this complaint's limits, the applicable one first.

    Normally one; for a critical complaint every matching policy's version, since each
    stage takes the shortest of them.
    """
    policy_book = policy_book or book()
    critical = complaint.priority == Complaint.Priority.CRITICAL
    policies = _matching_policies(complaint, policy_book, any_priority=critical)
    at = complaint.received_at
    versions = [
        version
        for policy in policies
        if (
            version := next(
                (v for v in policy_book.versions[policy.pk] if v.effective_from <= at), None
            )
        )
        is not None
    ]
    if not versions:
        # Nothing was in force yet when it arrived (a policy created later): the earliest
        # version of the most specific policy is the best there is.
        versions = [
            policy_book.versions[p.pk][-1] for p in policies[:1] if policy_book.versions[p.pk]
        ]
    if not versions:
        raise NoPolicy(_("No SLA policy applies to this complaint."))
    return versions if critical else versions[:1]


def calendar_for(
    complaint: Complaint, version: PolicyVersion, policy_book: PolicyBook | None = None
) -> BusinessCalendar:
    """The policy's calendar, else the department's (or a parent's), else the default."""
    if version.policy.calendar is not None:
        return version.policy.calendar
    policy_book = policy_book or book()
    for department in _chain(policy_book.department_parent, complaint.department_id):
        if (found := policy_book.department_calendar.get(department)) is not None:
            return found
    if policy_book.default_calendar is None:
        raise NoPolicy(_("There is no business calendar. Add one in the back-office."))
    return policy_book.default_calendar


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


def limit_for(
    complaint: Complaint, stage: str, start: datetime, policy_book: PolicyBook | None = None
) -> Limit | None:
    """The limit of ``stage`` starting at ``start``, or None when no policy sets one."""
    policy_book = policy_book or book()
    best: Limit | None = None
    for version in versions_for(complaint, policy_book):
        target = next((t for t in version.targets.all() if t.stage == stage), None)
        if target is None:
            continue
        calendar = calendar_for(complaint, version, policy_book)
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

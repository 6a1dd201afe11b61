"""Opening, closing, pausing and resuming deadlines as a complaint moves.

``on_event`` listens to ``complaints.signals.event_recorded``: it runs inside the service's
transaction, with the complaint row locked, so deadlines change with the complaint or not
at all. Which stages start and end at each event:

==========================  =========================================  =====================
event                        ends                                       starts
==========================  =========================================  =====================
received                     —                                          classify, cycle
info_requested               — (pauses every running limit)             contact
petitioner_contacted         contact                                    —
info_supplied                contact (resumes the paused limits)        —
classified                   classify                                   assign (cycle counted
                                                                        again for the grade)
assigned                     assign                                     accept, plan
transferred                  accept, plan (cancelled)                   accept, plan
returned                     accept, plan (cancelled)                   assign
accepted                     accept                                     —
plan_recorded                plan                                       reply
replied                      accept, plan, reply, cycle                 follow_up
survey.answered              follow_up                                  —
review_requested             —                                          review (supervisors)
closed                       follow_up, review                          —
reopened                     follow_up, review                          accept, cycle
rejected/merged/withdrawn    everything (cancelled)                     —
routing.critical_suggested   — (on-call leaders alerted at once, and     —
                             classify counted on critical limits)
cohandling.requested         —                                          co_handling (task's)
cohandling.completed         co_handling (that task's)                  —
==========================  =========================================  =====================
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.utils import timezone

from complaints.models import CoHandlingTask, Complaint, Event
from routing.models import Category
from sla import calendar as workcal
from sla import emergency
from sla.models import Basis, Deadline, PolicyVersion, Stage, to_seconds
from sla.policies import (
    NoPolicy,
    PolicyBook,
    book,
    calendar_for,
    chain_of,
    counted,
    engine_of,
    limit_for,
    versions_for,
    weekends_only,
)

RUNNING = (Deadline.State.OPEN, Deadline.State.PAUSED)
HANDLING = (Stage.ACCEPT, Stage.PLAN)
DEFAULT_WARN_RATIO = Decimal("0.75")


def on_event(sender: Any, complaint: Complaint, event: Event, **kwargs: Any) -> None:
    at = event.created_at
    kind = event.kind.removeprefix("complaint.")
    payload = event.payload or {}
    if kind == "received":
        start = min(complaint.received_at, at)
        # A new complaint has no deadline yet: no need to look for running ones.
        policy_book = book()
        Deadline.objects.bulk_create(
            d
            for stage in (Stage.CLASSIFY, Stage.CYCLE)
            if (d := _new_deadline(complaint, stage, start, policy_book)) is not None
        )
    elif kind == "info_requested":
        pause(complaint, at)
        open_stage(complaint, Stage.CONTACT, at)
    elif kind == "petitioner_contacted":
        close(complaint, [Stage.CONTACT], at)
    elif kind == "info_supplied":
        close(complaint, [Stage.CONTACT], at)
        resume(complaint, at)
    elif kind == "classified":
        close(complaint, [Stage.CLASSIFY], at)
        open_stage(complaint, Stage.ASSIGN, at)
        recount(complaint, Stage.CYCLE)
        emergency.alert_if_critical(complaint)
    elif kind == "assigned":
        close(complaint, [Stage.ASSIGN], at)
        open_stages(complaint, HANDLING, at)
        emergency.alert_if_critical(complaint)
    elif kind == "transferred":
        close(complaint, HANDLING, at, cancel=True)
        open_stages(complaint, HANDLING, at)
        emergency.alert_if_critical(complaint)
    elif kind == "returned":
        close(complaint, HANDLING, at, cancel=True)
        open_stage(complaint, Stage.ASSIGN, at)
    elif kind == "accepted":
        close(complaint, [Stage.ACCEPT], at)
    elif kind == "plan_recorded":
        close(complaint, [Stage.PLAN], at)
        open_stage(complaint, Stage.REPLY, at)
    elif kind == "replied":
        close(complaint, [Stage.ACCEPT, Stage.PLAN, Stage.REPLY, Stage.CYCLE], at)
        open_stage(complaint, Stage.FOLLOW_UP, at)
    elif kind == "survey.answered":
        close(complaint, [Stage.FOLLOW_UP], at)
    elif kind == "review_requested":
        open_stage(complaint, Stage.REVIEW, at)
    elif kind == "closed":
        close(complaint, [Stage.FOLLOW_UP, Stage.REVIEW], at)
    elif kind == "reopened":
        close(complaint, [Stage.FOLLOW_UP, Stage.REVIEW], at)
        open_stages(complaint, [Stage.ACCEPT, Stage.CYCLE], at)
    elif kind in ("rejected", "merged", "withdrawn", "archived"):
        close(complaint, list(Stage), at, cancel=True)
    elif event.kind == "routing.critical_suggested":
        category = Category.objects.filter(code=payload.get("category") or "").first()
        emergency.alert(complaint, category.default_department_id if category else None)
        # Classify it on the critical (shortest) limits, counted from its receipt.
        recount(complaint, Stage.CLASSIFY, priority=Complaint.Priority.CRITICAL)
    elif event.kind == "cohandling.requested":
        task = CoHandlingTask.objects.get(pk=payload["task_id"])
        open_co_handling(complaint, task, at)
    elif event.kind == "cohandling.completed":
        close(complaint, [Stage.CO_HANDLING], at, task_id=payload["task_id"])


# --- Opening ----------------------------------------------------------------------------


def open_stages(complaint: Complaint, stages: Iterable[str], start: datetime) -> None:
    for stage in stages:
        open_stage(complaint, stage, start)


def open_stage(complaint: Complaint, stage: str, start: datetime) -> Deadline | None:
    """Start ``stage``'s limit, unless one is running already or no policy sets one."""
    running = _running(complaint, [stage]).first()
    if running is not None:
        return running
    deadline = _new_deadline(complaint, stage, start)
    if deadline is not None:
        deadline.save()
    return deadline


def _new_deadline(
    complaint: Complaint, stage: str, start: datetime, policy_book: PolicyBook | None = None
) -> Deadline | None:
    """``stage``'s limit for ``complaint`` from ``start``, not yet saved (None: no policy)."""
    try:
        limit = limit_for(complaint, stage, start, policy_book)
    except NoPolicy:
        return None
    if limit is None:
        return None
    deadline = Deadline(
        complaint=complaint,
        stage=stage,
        policy_version=limit.version,
        calendar=limit.calendar,
        basis=limit.target.basis,
        started_at=start,
        due_at=limit.due_at,
        provisional=limit.provisional,
    )
    set_warning(deadline, limit.engine, limit.version.warn_ratio, start)
    schedule(deadline)
    return deadline


def open_co_handling(complaint: Complaint, task: CoHandlingTask, start: datetime) -> Deadline:
    """The co-handling task's own deadline, with the complaint's escalation chain."""
    try:
        version: PolicyVersion | None = versions_for(complaint)[0]
    except NoPolicy:
        version = None
    deadline = Deadline(
        complaint=complaint,
        stage=Stage.CO_HANDLING,
        co_handling_task=task,
        policy_version=version,
        calendar=calendar_for(complaint, version) if version else None,
        basis=Basis.CALENDAR,
        started_at=start,
        due_at=task.due_at,
    )
    ratio = version.warn_ratio if version else DEFAULT_WARN_RATIO
    set_warning(deadline, engine_for(deadline), ratio, start)
    schedule(deadline)
    deadline.save()
    return deadline


def engine_for(deadline: Deadline) -> workcal.WorkingCalendar | None:
    return engine_of(deadline.calendar) if deadline.calendar is not None else None


def elapsed_in(
    deadline: Deadline, engine: workcal.WorkingCalendar | None, a: datetime, b: datetime
) -> float:
    if deadline.basis == Basis.CALENDAR or engine is None:
        return max(0.0, (b - a).total_seconds())
    try:
        return engine.working_seconds(a, b)
    except workcal.UnknownYear:
        return weekends_only(engine).working_seconds(a, b)


def add_in(
    deadline: Deadline, engine: workcal.WorkingCalendar | None, start: datetime, seconds: float
) -> datetime:
    if deadline.basis == Basis.CALENDAR or engine is None:
        return start + timedelta(seconds=seconds)
    try:
        return engine.add(start, seconds)
    except workcal.UnknownYear:
        deadline.provisional = True
        return weekends_only(engine).add(start, seconds)


def set_warning(
    deadline: Deadline, engine: workcal.WorkingCalendar | None, ratio: Decimal, start: datetime
) -> None:
    """Warn when ``ratio`` of the time from ``start`` to the due time has passed."""
    span = elapsed_in(deadline, engine, start, deadline.due_at)
    deadline.warn_at = add_in(deadline, engine, start, span * float(ratio)) if span > 0 else None
    if deadline.warn_at is not None and deadline.warn_at >= deadline.due_at:
        deadline.warn_at = None


def schedule(deadline: Deadline) -> None:
    """Set ``next_check_at``: the pending warning, else the next escalation level."""
    if deadline.state != Deadline.State.OPEN:
        deadline.next_check_at = None
        return
    if deadline.warned_at is None and deadline.warn_at is not None and deadline.breached_at is None:
        deadline.next_check_at = deadline.warn_at
        return
    deadline.next_check_at = escalation_at(deadline, deadline.escalation_level + 1)


def escalation_at(deadline: Deadline, level: int) -> datetime | None:
    """When escalation ``level`` (1, 2, …) of ``deadline`` falls due; None past the chain.

    Without a policy (a co-handling task's own date) there is one level, at the due time.
    """
    if deadline.policy_version is None:
        return deadline.due_at if level == 1 else None
    chain = chain_of(deadline.policy_version, deadline.stage)
    if not 1 <= level <= len(chain):
        return None
    step = chain[level - 1]
    if step.amount == 0:
        return deadline.due_at
    engine = engine_for(deadline)
    if engine is None:
        return deadline.due_at + timedelta(seconds=to_seconds(step.amount, step.unit))
    return counted(engine, step, deadline.due_at)[0]


# --- Closing, pausing, resuming ---------------------------------------------------------


def _running(complaint: Complaint, stages: Iterable[str], task_id: int | None = None) -> Any:
    qs = Deadline.objects.filter(complaint=complaint, stage__in=list(stages), state__in=RUNNING)
    if task_id is not None:
        qs = qs.filter(co_handling_task_id=task_id)
    return qs


def close(
    complaint: Complaint,
    stages: Iterable[str],
    at: datetime,
    *,
    cancel: bool = False,
    task_id: int | None = None,
) -> None:
    """End the running limits of ``stages``: met, done late, or no longer needed."""
    for deadline in _running(complaint, stages, task_id):
        if cancel:
            deadline.state = Deadline.State.CANCELLED
        elif deadline.state == Deadline.State.PAUSED or at <= deadline.due_at:
            deadline.state = Deadline.State.MET
        else:
            deadline.state = Deadline.State.MISSED
            deadline.breached_at = deadline.breached_at or deadline.due_at
        deadline.closed_at = at
        deadline.next_check_at = None
        deadline.save()
    refresh_overdue(complaint, at)


def pause(complaint: Complaint, at: datetime) -> None:
    """Stop the clocks while the petitioner is asked for details (not the contact limit)."""
    for deadline in Deadline.objects.filter(complaint=complaint, state=Deadline.State.OPEN):
        if deadline.stage == Stage.CONTACT:
            continue
        engine = engine_for(deadline)
        deadline.due_left = elapsed_in(deadline, engine, at, deadline.due_at)
        pending_warning = deadline.warned_at is None and deadline.warn_at is not None
        deadline.warn_left = (
            elapsed_in(deadline, engine, at, deadline.warn_at)
            if pending_warning and deadline.warn_at is not None
            else None
        )
        deadline.state = Deadline.State.PAUSED
        deadline.paused_at = at
        deadline.next_check_at = None
        deadline.save()
    refresh_overdue(complaint, at)


def resume(complaint: Complaint, at: datetime) -> None:
    """Restart the paused clocks with the time that was left."""
    for deadline in Deadline.objects.filter(complaint=complaint, state=Deadline.State.PAUSED):
        engine = engine_for(deadline)
        assert deadline.paused_at is not None
        deadline.paused_seconds += elapsed_in(deadline, engine, deadline.paused_at, at)
        deadline.due_at = add_in(deadline, engine, at, deadline.due_left or 0.0)
        if deadline.warn_left is not None:
            deadline.warn_at = add_in(deadline, engine, at, deadline.warn_left)
        deadline.state = Deadline.State.OPEN
        deadline.paused_at = None
        deadline.due_left = deadline.warn_left = None
        schedule(deadline)
        deadline.save()


def recount(complaint: Complaint, stage: str, *, priority: str | None = None) -> None:
    """Count ``stage``'s running limit again: the grade or category changed its policy, or
    it was provisional (a year the calendar did not know).

    ``priority`` counts it as if the complaint had that priority (routing suspects it is
    critical before a dispatcher has graded it).
    """
    graded = complaint
    if priority is not None:
        graded = copy.copy(complaint)
        graded.priority = priority
    for deadline in _running(complaint, [stage]):
        try:
            limit = limit_for(graded, stage, deadline.started_at)
        except NoPolicy:
            continue
        if limit is None:
            continue
        same = (
            limit.version.pk == deadline.policy_version_id
            and limit.target.basis == deadline.basis
            and limit.calendar.pk == deadline.calendar_id
        )
        if same and deadline.paused_seconds == 0 and not deadline.provisional:
            continue
        deadline.policy_version = limit.version
        deadline.calendar = limit.calendar
        deadline.basis = limit.target.basis
        deadline.provisional = limit.provisional
        due_at = add_in(deadline, limit.engine, limit.due_at, deadline.paused_seconds)
        if deadline.state == Deadline.State.PAUSED:
            # Still waiting: keep the time left in step with the new limit.
            assert deadline.paused_at is not None
            deadline.due_left = elapsed_in(deadline, limit.engine, deadline.paused_at, due_at)
        deadline.due_at = due_at
        if deadline.warned_at is None:
            set_warning(deadline, limit.engine, limit.version.warn_ratio, deadline.started_at)
        schedule(deadline)
        deadline.save()


def refresh_overdue(complaint: Complaint, at: datetime | None = None) -> None:
    """Clear the overdue mark once no running limit has passed; supervision stays."""
    if complaint.overdue_since is None:
        return
    at = at or timezone.now()
    still = Deadline.objects.filter(
        complaint=complaint, state=Deadline.State.OPEN, due_at__lte=at
    ).exists()
    if not still:
        Complaint.objects.filter(pk=complaint.pk).update(overdue_since=None)
        complaint.overdue_since = None

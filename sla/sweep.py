"""The periodic sweep: warn before limits pass, escalate when they have — exactly once.

One indexed query finds the open deadlines whose ``next_check_at`` has come
(``deadline_sweep``, a partial index over open deadlines with something pending), in
batches. For each batch, in one transaction:

1. the rows are claimed — ``SELECT … FOR UPDATE SKIP LOCKED`` on PostgreSQL, so two
   sweeps never take the same rows, and on every database a guarded ``UPDATE`` that only
   succeeds if the deadline is still at the level this sweep read (SQLite has no row
   locks; there the guard alone decides, and a loser simply skips the row);
2. each warning and escalation level is written to ``SlaAction``, whose unique constraint
   would refuse a second one even if the guard were bypassed;
3. the timeline events, the complaints' overdue and supervision marks, and the outbox
   notifications are written in the same transaction.

A sweep killed half-way leaves nothing half-done: its open transaction rolls back and the
next sweep does the batch again.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Case, F, Q, Value, When
from django.utils import timezone

from complaints.models import CoHandlingTask, Complaint, Event, Supervision
from notifications.services import Notice, notify_many
from sla import messages
from sla.deadlines import escalation_at, schedule
from sla.models import Deadline, PolicyVersion, Recipients, SlaAction
from sla.policies import chain_of
from sla.recipients import Directory

logger = logging.getLogger(__name__)


@dataclass
class SweepResult:
    deadlines: int = 0
    warnings: int = 0
    escalations: int = 0
    skipped: int = 0
    seconds: float = 0.0
    levels: Counter[int] = field(default_factory=Counter)

    def as_dict(self) -> dict[str, Any]:
        return {
            "deadlines": self.deadlines,
            "warnings": self.warnings,
            "escalations": self.escalations,
            "skipped": self.skipped,
            "seconds": round(self.seconds, 3),
        }


def sweep(now: datetime | None = None, *, batch_size: int = 1000, limit: int = 0) -> SweepResult:
    """Handle every deadline due at ``now``; ``limit`` caps the deadlines (0: no cap)."""
    started = time.perf_counter()
    now = now or timezone.now()
    result = SweepResult()
    directory: Directory | None = None
    while True:
        before = result.deadlines
        with transaction.atomic():
            rows = _claim(now, batch_size)
            if not rows:
                break
            directory = directory or Directory()
            _handle(rows, now, directory, result)
        if len(rows) < batch_size or (limit and result.deadlines >= limit):
            break
        if result.deadlines == before:
            break  # a whole batch was busy or taken by others: the next sweep retries
    result.seconds = time.perf_counter() - started
    if result.warnings or result.escalations:
        logger.info("SLA sweep: %s", result.as_dict())
    return result


def _claim(now: datetime, batch_size: int) -> list[Deadline]:
    due = (
        Deadline.objects.filter(state=Deadline.State.OPEN, next_check_at__lte=now)
        .order_by("next_check_at")
        .select_related("calendar")
    )
    if connection.features.has_select_for_update_skip_locked:
        due = due.select_for_update(skip_locked=True, of=("self",))
    return list(due[:batch_size])


@dataclass
class _Step:
    deadline: Deadline
    kind: str
    level: int
    recipients: list[Any]


def _handle(rows: list[Deadline], now: datetime, directory: Directory, result: SweepResult) -> None:
    # Lock the complaints too, skipping the ones a service is changing right now: a
    # service locks the complaint first and its deadlines second, the sweep the other way
    # round, so waiting here could deadlock. A busy complaint's deadlines wait for the
    # next sweep.
    complaints_query = Complaint.objects.filter(pk__in={d.complaint_id for d in rows}).only(
        "pk",
        "tracking_code",
        "title",
        "department_id",
        "assignee_id",
        "supervision",
        "overdue_since",
    )
    if connection.features.has_select_for_update_skip_locked:
        complaints_query = complaints_query.select_for_update(skip_locked=True, of=("self",))
    complaints = {c.pk: c for c in complaints_query}
    busy = [d for d in rows if d.complaint_id not in complaints]
    result.skipped += len(busy)
    rows = [d for d in rows if d.complaint_id in complaints]
    # One instance per policy version, with its chain prefetched: thousands of deadlines
    # share a handful of versions.
    versions = PolicyVersion.objects.filter(
        pk__in={d.policy_version_id for d in rows if d.policy_version_id}
    ).prefetch_related("escalation_steps")
    shared = {v.pk: v for v in versions}
    for deadline in rows:
        if deadline.policy_version_id:
            deadline.policy_version = shared[deadline.policy_version_id]
    task_ids = {d.co_handling_task_id for d in rows if d.co_handling_task_id}
    task_departments = dict(
        CoHandlingTask.objects.filter(pk__in=task_ids).values_list("pk", "department_id")
    )
    moves: list[tuple[Deadline, dict[str, Any], list[_Step]]] = []
    for deadline in rows:
        complaint = complaints[deadline.complaint_id]
        department_id = task_departments.get(deadline.co_handling_task_id or 0) or (
            complaint.department_id
        )
        assignee_id = None if deadline.co_handling_task_id else complaint.assignee_id
        found = _due_steps(deadline, now, directory, department_id, assignee_id)
        moves.append((deadline, _move(deadline, now, found), found))
    stored = _store([(deadline, guard) for deadline, guard, _ in moves])
    steps: list[_Step] = []
    breached: list[int] = []
    for deadline, _guard, found in moves:
        if deadline.pk not in stored:
            result.skipped += 1
            continue
        result.deadlines += 1
        steps.extend(found)
        if deadline.due_at <= now:
            breached.append(deadline.complaint_id)
    if not steps and not breached:
        return
    SlaAction.objects.bulk_create(
        [
            SlaAction(
                deadline=s.deadline,
                kind=s.kind,
                level=s.level,
                round=s.deadline.round,
                recipients=[u.pk for u in s.recipients],
                created_at=now,
            )
            for s in steps
        ]
    )
    Event.objects.bulk_create([_event(s, now) for s in steps])
    _mark_complaints(steps, breached, now)
    notify_many(_notice(s, complaints[s.deadline.complaint_id]) for s in steps)
    for s in steps:
        if s.kind == SlaAction.Kind.WARNING:
            result.warnings += 1
        else:
            result.escalations += 1
            result.levels[s.level] += 1


def _due_steps(
    deadline: Deadline,
    now: datetime,
    directory: Directory,
    department_id: int | None,
    assignee_id: int | None,
) -> list[_Step]:
    """The warning and escalation levels of ``deadline`` that have come, in order."""
    found: list[_Step] = []
    if (
        deadline.warned_at is None
        and deadline.warn_at is not None
        and deadline.warn_at <= now < deadline.due_at
    ):
        people = directory.warned(
            deadline.stage, department_id=department_id, assignee_id=assignee_id
        )
        found.append(_Step(deadline, SlaAction.Kind.WARNING, 0, people))
    if deadline.due_at > now:
        return found
    chain = chain_of(deadline.policy_version, deadline.stage) if deadline.policy_version else []
    level = deadline.escalation_level
    while (at := escalation_at(deadline, level + 1)) is not None and at <= now:
        level += 1
        recipients = chain[level - 1].recipients if chain else Recipients.HEAD
        people = directory.resolve(recipients, department_id=department_id, assignee_id=assignee_id)
        found.append(_Step(deadline, SlaAction.Kind.ESCALATION, level, people))
    return found


def _advance(deadline: Deadline, now: datetime, steps: list[_Step]) -> bool:
    """Move one deadline past ``steps`` — only if nobody else moved it first."""
    return _store([(deadline, _move(deadline, now, steps))]) == {deadline.pk}


def _move(deadline: Deadline, now: datetime, steps: list[_Step]) -> dict[str, Any]:
    """Advance ``deadline`` in memory past ``steps``; the state it was read in (the guard)."""
    guard = {
        "escalation_level": deadline.escalation_level,
        "round": deadline.round,
        "unwarned": deadline.warned_at is None,
    }
    levels = [s.level for s in steps if s.kind == SlaAction.Kind.ESCALATION]
    if any(s.kind == SlaAction.Kind.WARNING for s in steps):
        deadline.warned_at = now
    if levels:
        deadline.escalation_level = max(levels)
    if deadline.due_at <= now and deadline.breached_at is None:
        deadline.breached_at = deadline.due_at
    schedule(deadline)
    return guard


_STORED = ("warned_at", "escalation_level", "breached_at", "next_check_at")


def _store(moves: list[tuple[Deadline, dict[str, Any]]]) -> set[int]:
    """Write the advanced deadlines whose row is still as read; the ids written.

    One guarded UPDATE joined to a VALUES list on PostgreSQL (the rows are locked by the
    claim anyway); one guarded UPDATE per row elsewhere.
    """
    if not moves:
        return set()
    if connection.vendor != "postgresql":
        written = set()
        for deadline, guard in moves:
            changed = Deadline.objects.filter(
                pk=deadline.pk,
                state=Deadline.State.OPEN,
                escalation_level=guard["escalation_level"],
                round=guard["round"],
                warned_at__isnull=guard["unwarned"],
            ).update(**{name: getattr(deadline, name) for name in _STORED})
            if changed:
                written.add(deadline.pk)
        return written
    row = (
        "(%s::bigint, %s::timestamptz, %s::int, %s::timestamptz, %s::timestamptz, "
        "%s::int, %s::int, %s::bool)"
    )
    params: list[Any] = []
    for deadline, guard in moves:
        params += [
            deadline.pk,
            deadline.warned_at,
            deadline.escalation_level,
            deadline.breached_at,
            deadline.next_check_at,
            guard["escalation_level"],
            guard["round"],
            guard["unwarned"],
        ]
    table = Deadline._meta.db_table
    sql = (
        f"UPDATE {table} AS d SET warned_at = v.warned_at, escalation_level = v.level, "  # noqa: S608
        "breached_at = v.breached_at, next_check_at = v.next_check_at "
        f"FROM (VALUES {', '.join([row] * len(moves))}) "
        "AS v(id, warned_at, level, breached_at, next_check_at, old_level, old_round, unwarned) "
        "WHERE d.id = v.id AND d.state = 'open' AND d.escalation_level = v.old_level "
        "AND d.round = v.old_round AND (d.warned_at IS NULL) = v.unwarned RETURNING d.id"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return {pk for (pk,) in cursor.fetchall()}


def _event(step: _Step, now: datetime) -> Event:
    deadline = step.deadline
    payload: dict[str, Any] = {
        "stage": deadline.stage,
        "due_at": deadline.due_at.isoformat(),
        "notified": [u.get_username() for u in step.recipients],
    }
    if step.kind == SlaAction.Kind.ESCALATION:
        payload["level"] = step.level
    return Event(
        complaint_id=deadline.complaint_id,
        kind="sla.warned" if step.kind == SlaAction.Kind.WARNING else "sla.escalated",
        actor_label="system",
        payload=payload,
        created_at=now,
    )


def _mark_complaints(steps: list[_Step], breached: list[int], now: datetime) -> None:
    """Overdue since the first limit passed; supervised yellow, then red from level 2.

    One UPDATE for both: each updated complaint row is written anew with every index entry
    it has (the search indexes recompute its text's), so a row is written once, not twice.
    """
    late = set(breached)
    escalated: dict[int, int] = {}
    for s in steps:
        if s.level:
            escalated[s.deadline.complaint_id] = max(
                escalated.get(s.deadline.complaint_id, 0), s.level
            )
    red = {pk for pk, level in escalated.items() if level >= 2}
    yellow = set(escalated) - red
    becomes_late = Q(pk__in=late, overdue_since__isnull=True)
    becomes_red = Q(pk__in=red) & ~Q(supervision=Supervision.RED)
    becomes_yellow = Q(pk__in=yellow, supervision=Supervision.NONE)
    changes: dict[str, Any] = {}
    if late:
        changes["overdue_since"] = Case(
            When(becomes_late, then=Value(now)), default=F("overdue_since")
        )
    if red or yellow:
        changes["supervision"] = Case(
            When(becomes_red, then=Value(Supervision.RED)),
            When(becomes_yellow, then=Value(Supervision.YELLOW)),
            default=F("supervision"),
        )
    if changes:
        Complaint.objects.filter(becomes_late | becomes_red | becomes_yellow).update(**changes)


def _notice(step: _Step, complaint: Complaint) -> Notice:
    deadline = step.deadline
    if step.kind == SlaAction.Kind.WARNING:
        channels = settings.SLA_WARNING_CHANNELS

        def compose(_recipient: Any) -> tuple[str, str]:
            return messages.warning(
                complaint.tracking_code, complaint.title, deadline.stage, deadline.due_at
            )
    else:
        channels = settings.SLA_ESCALATION_CHANNELS

        def compose(_recipient: Any) -> tuple[str, str]:
            return messages.escalation(
                complaint.tracking_code,
                complaint.title,
                deadline.stage,
                deadline.due_at,
                step.level,
            )

    return Notice(
        recipients=step.recipients,
        kind=f"sla.{step.kind}",
        compose=compose,
        key=f"sla.{step.kind}:{deadline.pk}:{deadline.round}:{step.level}",
        channels=channels,
        complaint_id=complaint.pk,
        url=messages.staff_url(complaint.pk),
    )


def nothing_due(now: datetime | None = None) -> bool:
    """Whether a sweep at ``now`` would find nothing (one indexed query)."""
    now = now or timezone.now()
    return not Deadline.objects.filter(
        Q(state=Deadline.State.OPEN) & Q(next_check_at__lte=now)
    ).exists()

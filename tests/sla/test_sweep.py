"""The sweep warns, escalates level by level, marks complaints, and never does it twice."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import User
from complaints import services
from complaints.models import Complaint, Event, Supervision
from notifications.models import Notification
from routing.models import Category, Department
from sla.models import Deadline, SlaAction, Stage
from sla.sweep import sweep

SH = ZoneInfo("Asia/Shanghai")
pytestmark = pytest.mark.django_db


def at(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=SH)


@pytest.fixture
def assigned(
    dispatcher: User,
    facilities: Category,
    urban: Department,
    handler: User,
    head: User,
    supervisor: User,
) -> Complaint:
    """Assigned to ``handler`` on Monday 2026-03-09 10:00: to be accepted, and a handling
    plan written, within 24 h (two deadlines due at the same moment)."""
    head.email = "head@example.com"
    head.save()
    with time_machine.travel(at(2026, 3, 9, 9, 50), tick=False):
        complaint = services.submit_complaint(
            title="井盖缺失", content="人民路井盖丢了", channel="web"
        ).complaint
        services.classify(
            complaint_id=complaint.pk, category=facilities, priority="normal", actor=dispatcher
        )
    with time_machine.travel(at(2026, 3, 9, 10, 0), tick=False):
        services.assign(
            complaint_id=complaint.pk, department=urban, assignee=handler, actor=dispatcher
        )
    return complaint


def accept_deadline(complaint: Complaint) -> Deadline:
    return Deadline.objects.get(complaint=complaint, stage=Stage.ACCEPT)


def test_a_warning_goes_to_the_handler_at_three_quarters_of_the_limit(
    assigned: Complaint, handler: User
) -> None:
    deadline = accept_deadline(assigned)
    assert deadline.warn_at == at(2026, 3, 10, 4, 0)  # 18 of 24 calendar hours

    early = sweep(now=at(2026, 3, 10, 3, 59))
    result = sweep(now=at(2026, 3, 10, 4, 1))

    assert early.warnings == 0
    assert result.warnings == 2  # accept and plan
    action = SlaAction.objects.get(deadline=deadline)
    assert (action.kind, action.level, action.recipients) == ("warning", 0, [handler.pk])
    notes = Notification.objects.filter(kind="sla.warning", user=handler, channel="in_app")
    assert len(notes) == 2
    assert all(assigned.tracking_code in note.subject for note in notes)
    assert Event.objects.filter(complaint=assigned, kind="sla.warned").count() == 2
    assigned.refresh_from_db()
    assert assigned.overdue_since is None
    assert assigned.supervision == Supervision.NONE


def test_a_breach_escalates_to_the_head_then_to_the_supervisor_each_once(
    assigned: Complaint, head: User, supervisor: User
) -> None:
    deadline = accept_deadline(assigned)
    breach = at(2026, 3, 10, 10, 5)

    first = sweep(now=breach)
    again = sweep(now=breach + timedelta(minutes=1))

    assert (first.escalations, again.escalations, again.deadlines) == (2, 0, 0)
    level1 = SlaAction.objects.get(deadline=deadline, kind="escalation")
    assert (level1.level, level1.recipients) == (1, [head.pk])
    assigned.refresh_from_db()
    assert assigned.supervision == Supervision.YELLOW
    assert assigned.overdue_since == breach
    # In-app and e-mail to the head (the head has an address; the warning was skipped,
    # since the limit had passed before any sweep saw it).
    channels = set(
        Notification.objects.filter(kind="sla.escalation", user=head).values_list(
            "channel", flat=True
        )
    )
    assert channels == {"in_app", "email"}
    assert not SlaAction.objects.filter(kind="warning").exists()

    # Level 2 comes one working day after the due time: at the end of Wednesday.
    assert sweep(now=at(2026, 3, 11, 17, 59)).escalations == 0
    assert sweep(now=at(2026, 3, 11, 18, 0)).escalations == 2
    level2 = SlaAction.objects.get(deadline=deadline, level=2)
    assert level2.recipients == [supervisor.pk]
    assigned.refresh_from_db()
    assert assigned.supervision == Supervision.RED
    deadline.refresh_from_db()
    assert deadline.next_check_at is None  # the end of the chain
    assert sweep(now=at(2026, 3, 13)).escalations == 0  # before the whole cycle's limit
    levels = list(
        Event.objects.filter(complaint=assigned, kind="sla.escalated")
        .filter(payload__stage=Stage.ACCEPT)
        .values_list("payload__level", flat=True)
    )
    assert levels == [1, 2]


def test_a_sweep_that_comes_late_does_every_level_due_in_order(
    assigned: Complaint,
) -> None:
    result = sweep(now=at(2026, 3, 12, 12, 0))

    assert result.escalations == 4  # accept and plan, levels 1 and 2
    assert list(
        SlaAction.objects.filter(kind="escalation", deadline__stage=Stage.ACCEPT)
        .order_by("level")
        .values_list("level", flat=True)
    ) == [1, 2]


def test_catching_up_after_the_breach_clears_overdue_but_keeps_supervision(
    assigned: Complaint, handler: User
) -> None:
    sweep(now=at(2026, 3, 10, 10, 5))
    with time_machine.travel(at(2026, 3, 10, 10, 30), tick=False):
        services.accept(complaint_id=assigned.pk, actor=handler)
        assigned.refresh_from_db()
        assert assigned.overdue_since is not None  # the plan is still late
        services.record_plan(complaint_id=assigned.pk, plan="今天补上井盖", actor=handler)

    deadline = accept_deadline(assigned)
    assert deadline.state == Deadline.State.MISSED
    assigned.refresh_from_db()
    assert assigned.overdue_since is None
    assert assigned.supervision == Supervision.YELLOW


def test_a_paused_deadline_is_not_escalated(assigned: Complaint, handler: User) -> None:
    with time_machine.travel(at(2026, 3, 9, 11, 0), tick=False):
        services.request_info(complaint_id=assigned.pk, question="哪个路口？", actor=handler)

    result = sweep(now=at(2026, 3, 10, 12, 0))

    # Only the contact limit runs while waiting (2 working hours: Monday 14:00).
    stages = set(
        SlaAction.objects.filter(kind="escalation").values_list("deadline__stage", flat=True)
    )
    assert stages == {Stage.CONTACT}
    assert result.escalations == 1


def test_missing_details_not_chased_escalate_to_the_supervisor(
    assigned: Complaint, handler: User, supervisor: User
) -> None:
    with time_machine.travel(at(2026, 3, 9, 11, 0), tick=False):
        services.request_info(complaint_id=assigned.pk, question="哪个路口？", actor=handler)

    assert sweep(now=at(2026, 3, 9, 13, 59)).escalations == 0  # lunch does not count
    sweep(now=at(2026, 3, 9, 14, 0))

    action = SlaAction.objects.get(kind="escalation")
    assert action.deadline.stage == Stage.CONTACT
    assert action.recipients == [supervisor.pk]


def test_an_empty_sweep_is_one_query(db: None) -> None:
    with CaptureQueriesContext(connection) as queries:
        result = sweep(now=timezone.now())

    assert result.deadlines == 0
    assert len(queries) <= 3  # the claim (plus savepoint bookkeeping)


def test_the_sweep_query_uses_the_partial_index(assigned: Complaint) -> None:
    if connection.vendor != "sqlite":
        pytest.skip("EXPLAIN QUERY PLAN is SQLite's; PostgreSQL is covered by the benchmark")
    with connection.cursor() as cursor:
        cursor.execute(
            "EXPLAIN QUERY PLAN SELECT id FROM sla_deadline WHERE state = 'open' AND "
            "next_check_at IS NOT NULL AND next_check_at <= %s ORDER BY next_check_at LIMIT 10",
            [timezone.now()],
        )
        plan = " ".join(str(row) for row in cursor.fetchall())
    assert "deadline_sweep" in plan

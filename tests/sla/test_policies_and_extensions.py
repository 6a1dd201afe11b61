"""Policy versions, critical complaints' emergency alerts, and extensions (延期申请)."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine

from accounts.models import User
from accounts.roles import Role
from complaints import services
from complaints.errors import GuardFailed, PermissionDenied
from complaints.models import Complaint, Event
from notifications.models import Notification
from routing.models import Category, Department
from sla import services as sla_services
from sla.models import (
    Deadline,
    EmergencyAlert,
    ExtensionRequest,
    Policy,
    PolicyVersion,
    SlaAction,
    Stage,
    StageTarget,
)
from sla.sweep import sweep
from tests.conftest import make_user

SH = ZoneInfo("Asia/Shanghai")
pytestmark = pytest.mark.django_db


def at(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=SH)


def submit_at(moment: datetime) -> Complaint:
    with time_machine.travel(moment, tick=False):
        return services.submit_complaint(
            title="燃气泄漏", content="楼道里很大的煤气味", channel="hotline"
        ).complaint


def cycle_of(complaint: Complaint) -> Deadline:
    return Deadline.objects.get(complaint=complaint, stage=Stage.CYCLE)


# --- Versions ---------------------------------------------------------------------------


def test_a_new_version_applies_to_complaints_arriving_after_it_only() -> None:
    standard = PolicyVersion.objects.get(policy__code="standard")
    v11 = PolicyVersion.objects.create(
        policy=standard.policy, label="V1.1", effective_from=at(2026, 4, 1)
    )
    for target in standard.targets.all():
        StageTarget.objects.create(
            version=v11,
            stage=target.stage,
            amount=10 if target.stage == Stage.CYCLE else target.amount,
            unit=target.unit,
            basis=target.basis,
        )

    before = submit_at(at(2026, 3, 31, 10, 0))
    after = submit_at(at(2026, 4, 1, 10, 0))

    assert cycle_of(before).policy_version == standard
    assert cycle_of(after).policy_version == v11
    # 10 working days after Wednesday 04-01, across 清明 (04-04…04-06).
    assert cycle_of(after).due_at == at(2026, 4, 16, 18, 0)


def test_the_most_specific_policy_applies(facilities: Category, dispatcher: User) -> None:
    policy = Policy.objects.create(
        code="facilities", name_zh="设施", name_en="Facilities", category=facilities
    )
    version = PolicyVersion.objects.create(
        policy=policy, label="V1.0", effective_from=at(2000, 1, 1)
    )
    StageTarget.objects.create(version=version, stage=Stage.ASSIGN, amount=2, unit="hours")
    complaint = submit_at(at(2026, 3, 9, 9, 0))

    with time_machine.travel(at(2026, 3, 9, 9, 30), tick=False):
        services.classify(
            complaint_id=complaint.pk, category=facilities, priority="normal", actor=dispatcher
        )

    assign = Deadline.objects.get(complaint=complaint, stage=Stage.ASSIGN)
    assert assign.policy_version == version
    assert assign.due_at == at(2026, 3, 9, 11, 30)
    # The category policy sets no cycle: the cycle keeps the general policy's limit.
    assert cycle_of(complaint).policy_version.policy.code == "standard"  # type: ignore[union-attr]


# --- Emergency --------------------------------------------------------------------------


@pytest.fixture
def on_call(urban: Department) -> User:
    leader = make_user("leader", Role.SUPERVISOR)
    leader.email = "leader@example.com"
    leader.phone = "13900000001"
    leader.save()
    urban.on_call.add(leader)
    return leader


def test_a_critical_complaint_alerts_the_on_call_leaders_on_every_channel_once(
    facilities: Category, dispatcher: User, urban: Department, on_call: User
) -> None:
    complaint = submit_at(at(2026, 3, 7, 23, 0))  # Saturday night

    with time_machine.travel(at(2026, 3, 7, 23, 5), tick=False):
        services.classify(
            complaint_id=complaint.pk, category=facilities, priority="critical", actor=dispatcher
        )
        services.assign(complaint_id=complaint.pk, department=urban, actor=dispatcher)

    assert list(EmergencyAlert.objects.values_list("user", flat=True)) == [on_call.pk]
    channels = sorted(
        Notification.objects.filter(kind="sla.emergency", user=on_call).values_list(
            "channel", flat=True
        )
    )
    assert channels == ["email", "in_app", "sms"]
    assert Event.objects.filter(complaint=complaint, kind="sla.emergency_alerted").count() == 1
    # The shortest limits, round the clock: accept within 2 calendar hours, at night.
    accept = Deadline.objects.get(complaint=complaint, stage=Stage.ACCEPT)
    assert accept.due_at == at(2026, 3, 8, 1, 5)
    assert cycle_of(complaint).policy_version.policy.code == "urgent"  # type: ignore[union-attr]


def test_without_on_call_leaders_the_supervisors_are_alerted(
    facilities: Category, dispatcher: User, supervisor: User
) -> None:
    complaint = submit_at(at(2026, 3, 9, 9, 0))

    services.classify(
        complaint_id=complaint.pk, category=facilities, priority="critical", actor=dispatcher
    )

    assert list(EmergencyAlert.objects.values_list("user", flat=True)) == [supervisor.pk]


# --- Extensions -------------------------------------------------------------------------


@pytest.fixture
def handled(
    facilities: Category, dispatcher: User, urban: Department, handler: User, head: User
) -> Complaint:
    complaint = submit_at(at(2026, 3, 9, 9, 0))
    with time_machine.travel(at(2026, 3, 9, 9, 30), tick=False):
        services.classify(
            complaint_id=complaint.pk, category=facilities, priority="normal", actor=dispatcher
        )
        services.assign(
            complaint_id=complaint.pk, department=urban, assignee=handler, actor=dispatcher
        )
        services.accept(complaint_id=complaint.pk, actor=handler)
    return complaint


def test_an_approved_extension_moves_the_limit_and_starts_a_new_round(
    handled: Complaint, handler: User, head: User
) -> None:
    cycle = cycle_of(handled)
    assert cycle.due_at == at(2026, 3, 16, 18, 0)
    sweep(now=at(2026, 3, 16, 18, 30))  # breached: level 1 to the head
    assert SlaAction.objects.filter(deadline=cycle, kind="escalation").count() == 1
    until = at(2026, 3, 20, 18, 0)

    with time_machine.travel(at(2026, 3, 16, 19, 0), tick=False):
        request = sla_services.request_extension(
            deadline_id=cycle.pk, until=until, reason="需要等待检测报告", actor=handler
        )
        assert Notification.objects.filter(kind="sla.extension_requested", user=head).exists()
        with pytest.raises(PermissionDenied):
            sla_services.decide_extension(request_id=request.pk, approve=True, actor=handler)
        sla_services.decide_extension(request_id=request.pk, approve=True, actor=head)

    cycle.refresh_from_db()
    assert cycle.due_at == until
    assert (cycle.round, cycle.escalation_level, cycle.breached_at) == (1, 0, None)
    assert cycle.next_check_at is not None
    assert cycle.next_check_at < until  # a new warning
    request.refresh_from_db()
    assert request.state == ExtensionRequest.State.APPROVED
    assert Notification.objects.filter(kind="sla.extension_decided", user=handler).exists()
    kinds = set(Event.objects.filter(complaint=handled).values_list("kind", flat=True))
    assert {"sla.extension_requested", "sla.extension_approved"} <= kinds
    # The new round warns and escalates again, once each.
    sweep(now=until + timedelta(minutes=1))
    assert SlaAction.objects.filter(deadline=cycle, kind="escalation", round=1).count() == 1


def test_a_refusal_needs_a_reason_and_leaves_the_limit(
    handled: Complaint, handler: User, head: User
) -> None:
    cycle = cycle_of(handled)
    with time_machine.travel(at(2026, 3, 10, 9, 0), tick=False):
        request = sla_services.request_extension(
            deadline_id=cycle.pk, until=at(2026, 3, 30, 18, 0), reason="人手不够", actor=handler
        )
        with pytest.raises(GuardFailed):
            sla_services.decide_extension(request_id=request.pk, approve=False, actor=head)
        sla_services.decide_extension(
            request_id=request.pk, approve=False, note="先按期办理", actor=head
        )
        with pytest.raises(GuardFailed):
            sla_services.decide_extension(request_id=request.pk, approve=True, actor=head)

    cycle.refresh_from_db()
    assert cycle.due_at == at(2026, 3, 16, 18, 0)
    assert Event.objects.filter(complaint=handled, kind="sla.extension_refused").exists()


def test_extension_requests_are_checked(
    handled: Complaint, handler: User, market_handler: User
) -> None:
    cycle = cycle_of(handled)
    with time_machine.travel(at(2026, 3, 10, 9, 0), tick=False):
        with pytest.raises(GuardFailed):
            sla_services.request_extension(
                deadline_id=cycle.pk, until=at(2026, 3, 20), reason="  ", actor=handler
            )
        with pytest.raises(GuardFailed):
            sla_services.request_extension(
                deadline_id=cycle.pk, until=at(2026, 3, 12), reason="早一点", actor=handler
            )
        with pytest.raises(PermissionDenied):
            sla_services.request_extension(
                deadline_id=cycle.pk, until=at(2026, 3, 20), reason="别人的", actor=market_handler
            )
        sla_services.request_extension(
            deadline_id=cycle.pk, until=at(2026, 3, 20), reason="等报告", actor=handler
        )
        with pytest.raises(GuardFailed):
            sla_services.request_extension(
                deadline_id=cycle.pk, until=at(2026, 3, 21), reason="再来一次", actor=handler
            )


def test_a_complaint_routing_suspects_critical_alerts_before_any_dispatcher_looks(
    monkeypatch: pytest.MonkeyPatch, facilities: Category, urban: Department, on_call: User
) -> None:
    from routing import services as routing_services
    from routing.decide import Decision

    held = Decision(category="facilities", priority="critical", confidence=0.4, sensitive=False)
    monkeypatch.setattr(routing_services, "decide", lambda text: held)
    complaint = submit_at(at(2026, 3, 7, 23, 0))  # Saturday night
    classify = Deadline.objects.get(complaint=complaint, stage=Stage.CLASSIFY)
    assert classify.due_at == at(2026, 3, 9, 10, 0)  # ordinary: first working hour Monday

    with time_machine.travel(at(2026, 3, 7, 23, 1), tick=False):
        routing_services.route_complaint(complaint.pk)

    complaint.refresh_from_db()
    assert complaint.status == Complaint.Status.RECEIVED  # still for the dispatcher
    assert list(EmergencyAlert.objects.values_list("user", flat=True)) == [on_call.pk]
    assert Notification.objects.filter(kind="sla.emergency", user=on_call, channel="sms").exists()
    classify.refresh_from_db()
    assert classify.due_at == at(2026, 3, 8, 0, 0)  # one calendar hour after receipt

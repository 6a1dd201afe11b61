"""Deadlines follow the complaint: opened, closed, paused, resumed and recounted by services."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine

from accounts.models import User
from complaints import services
from complaints.models import Complaint, Survey
from routing.models import Category, Department
from sla.models import Deadline, EnteredYear, Stage
from tests.factories import complaint_in

SH = ZoneInfo("Asia/Shanghai")
pytestmark = pytest.mark.django_db


def at(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=SH)


@pytest.fixture
def clock() -> Iterator[time_machine.Traveller]:
    with time_machine.travel(at(2026, 3, 6, 17, 30), tick=False) as traveller:
        yield traveller


def submit() -> Complaint:
    return services.submit_complaint(
        title="路灯不亮", content="幸福路的路灯坏了两周。", channel="web"
    ).complaint


def running(complaint: Complaint) -> dict[str, Deadline]:
    return {
        d.stage: d
        for d in Deadline.objects.filter(complaint=complaint, state__in=["open", "paused"])
    }


def local(moment: datetime | None) -> datetime | None:
    return moment.astimezone(SH) if moment else None


def test_receipt_opens_classification_and_the_whole_cycle_in_working_time(
    clock: time_machine.Traveller,
) -> None:
    complaint = submit()

    deadlines = running(complaint)
    assert set(deadlines) == {Stage.CLASSIFY, Stage.CYCLE}
    classify = deadlines[Stage.CLASSIFY]
    # Friday 17:30: half an hour left that day, the other half on Monday morning.
    assert local(classify.due_at) == at(2026, 3, 9, 9, 30)
    assert local(classify.warn_at) == at(2026, 3, 9, 9, 15)  # 75% of the hour
    assert classify.policy_version is not None
    assert classify.policy_version.label == "V1.0"
    # Five working days after Friday (the day itself does not count): the next Friday.
    assert local(deadlines[Stage.CYCLE].due_at) == at(2026, 3, 13, 18, 0)


def test_the_cycle_skips_national_day_and_counts_the_adjusted_saturday() -> None:
    with time_machine.travel(at(2026, 9, 30, 10, 0), tick=False):
        complaint = submit()

    # 10-01…10-07 are holidays; 10-08, 10-09, 10-10 (调休 Saturday), 10-12, 10-13 count.
    assert local(running(complaint)[Stage.CYCLE].due_at) == at(2026, 10, 13, 18, 0)


def test_classification_as_urgent_shortens_the_cycle_and_opens_assignment_in_calendar_time(
    clock: time_machine.Traveller, dispatcher: User, facilities: Category
) -> None:
    complaint = submit()
    clock.move_to(at(2026, 3, 9, 9, 10))

    services.classify(
        complaint_id=complaint.pk, category=facilities, priority="urgent", actor=dispatcher
    )

    classify = Deadline.objects.get(complaint=complaint, stage=Stage.CLASSIFY)
    assert classify.state == Deadline.State.MET
    assert local(classify.closed_at) == at(2026, 3, 9, 9, 10)
    deadlines = running(complaint)
    assert set(deadlines) == {Stage.ASSIGN, Stage.CYCLE}
    assert local(deadlines[Stage.ASSIGN].due_at) == at(2026, 3, 9, 9, 40)
    assert deadlines[Stage.ASSIGN].policy_version.policy.code == "urgent"  # type: ignore[union-attr]
    # Three working days from Friday 17:30, the start of the matter.
    assert local(deadlines[Stage.CYCLE].due_at) == at(2026, 3, 11, 18, 0)


def test_a_late_step_is_recorded_as_missed(
    clock: time_machine.Traveller, dispatcher: User, facilities: Category
) -> None:
    complaint = submit()
    clock.move_to(at(2026, 3, 9, 11, 0))

    services.classify(
        complaint_id=complaint.pk, category=facilities, priority="normal", actor=dispatcher
    )

    classify = Deadline.objects.get(complaint=complaint, stage=Stage.CLASSIFY)
    assert classify.state == Deadline.State.MISSED
    assert local(classify.breached_at) == at(2026, 3, 9, 9, 30)


def test_the_whole_flow_opens_and_closes_every_stage(
    clock: time_machine.Traveller,
    dispatcher: User,
    facilities: Category,
    urban: Department,
    handler: User,
) -> None:
    complaint = submit()
    services.classify(
        complaint_id=complaint.pk, category=facilities, priority="normal", actor=dispatcher
    )
    services.assign(complaint_id=complaint.pk, department=urban, actor=dispatcher)
    assert set(running(complaint)) == {Stage.ACCEPT, Stage.PLAN, Stage.CYCLE}
    services.accept(complaint_id=complaint.pk, actor=handler)
    services.record_plan(complaint_id=complaint.pk, plan="派人今天更换灯泡。", actor=handler)
    assert set(running(complaint)) == {Stage.REPLY, Stage.CYCLE}
    services.draft_reply(complaint_id=complaint.pk, body="路灯已修好。", actor=handler)
    services.send_reply(complaint_id=complaint.pk, actor=handler)
    assert set(running(complaint)) == {Stage.FOLLOW_UP}
    services.close(complaint_id=complaint.pk, actor=dispatcher)

    assert running(complaint) == {}
    states = dict(Deadline.objects.filter(complaint=complaint).values_list("stage", "state"))
    assert set(states.values()) == {Deadline.State.MET}
    assert set(states) == {
        Stage.CLASSIFY,
        Stage.ASSIGN,
        Stage.ACCEPT,
        Stage.PLAN,
        Stage.REPLY,
        Stage.CYCLE,
        Stage.FOLLOW_UP,
    }


def test_return_and_transfer_restart_the_handling_limits(
    clock: time_machine.Traveller,
    dispatcher: User,
    facilities: Category,
    urban: Department,
    market: Department,
    head: User,
    market_head: User,
) -> None:
    complaint = submit()
    services.classify(
        complaint_id=complaint.pk, category=facilities, priority="normal", actor=dispatcher
    )
    services.assign(complaint_id=complaint.pk, department=urban, actor=dispatcher)
    first_accept = running(complaint)[Stage.ACCEPT]

    clock.move_to(at(2026, 3, 9, 10, 0))
    services.transfer(
        complaint_id=complaint.pk, department=market, reason="市场监管的事", actor=head
    )

    first_accept.refresh_from_db()
    assert first_accept.state == Deadline.State.CANCELLED
    accept = running(complaint)[Stage.ACCEPT]
    assert local(accept.started_at) == at(2026, 3, 9, 10, 0)
    assert local(accept.due_at) == at(2026, 3, 10, 10, 0)  # 24 calendar hours

    services.send_back(complaint_id=complaint.pk, reason="不归我们管", actor=market_head)
    assert set(running(complaint)) == {Stage.ASSIGN, Stage.CYCLE}


def test_waiting_for_the_petitioner_pauses_the_clock_and_resumes_with_the_time_left(
    clock: time_machine.Traveller, dispatcher: User
) -> None:
    complaint = submit()  # Friday 17:30; classification due Monday 09:30
    clock.move_to(at(2026, 3, 9, 9, 0))  # Monday: 30 working minutes left

    services.request_info(complaint_id=complaint.pk, question="具体哪一段路？", actor=dispatcher)

    deadlines = running(complaint)
    assert deadlines[Stage.CLASSIFY].state == Deadline.State.PAUSED
    assert deadlines[Stage.CLASSIFY].due_left == pytest.approx(30 * 60)
    assert deadlines[Stage.CYCLE].state == Deadline.State.PAUSED
    contact = deadlines[Stage.CONTACT]  # staff must reach the petitioner within 2 h
    assert local(contact.due_at) == at(2026, 3, 9, 11, 0)

    clock.move_to(at(2026, 3, 10, 14, 0))  # details arrive on Tuesday afternoon
    services.supply_info(complaint_id=complaint.pk, details="幸福路 12 号门口。", actor=None)

    deadlines = running(complaint)
    assert local(deadlines[Stage.CLASSIFY].due_at) == at(2026, 3, 10, 14, 30)
    assert deadlines[Stage.CLASSIFY].state == Deadline.State.OPEN
    assert deadlines[Stage.CLASSIFY].next_check_at is not None
    # The cycle moves by the 12 working hours spent waiting (Monday 09:00 → Tuesday
    # 14:00): from Friday 18:00 to the Tuesday after, 14:00.
    assert local(deadlines[Stage.CYCLE].due_at) == at(2026, 3, 17, 14, 0)
    contact.refresh_from_db()
    assert contact.state == Deadline.State.MISSED  # nobody called within the two hours


def test_recording_the_call_meets_the_contact_limit(
    clock: time_machine.Traveller, dispatcher: User, clerk: User
) -> None:
    complaint = submit()
    services.request_info(complaint_id=complaint.pk, question="请补充地址", actor=dispatcher)

    services.record_contact(complaint_id=complaint.pk, note="已电话联系，明天补充。", actor=clerk)

    contact = Deadline.objects.get(complaint=complaint, stage=Stage.CONTACT)
    assert contact.state == Deadline.State.MET
    assert running(complaint)[Stage.CLASSIFY].state == Deadline.State.PAUSED


def test_ending_a_complaint_cancels_its_limits(
    clock: time_machine.Traveller, dispatcher: User
) -> None:
    complaint = submit()

    services.reject(complaint_id=complaint.pk, reason="广告", actor=dispatcher)

    assert running(complaint) == {}
    assert set(Deadline.objects.filter(complaint=complaint).values_list("state", flat=True)) == {
        Deadline.State.CANCELLED
    }


def test_co_handling_gets_its_own_deadline(
    clock: time_machine.Traveller,
    dispatcher: User,
    facilities: Category,
    urban: Department,
    market: Department,
    handler: User,
    market_handler: User,
) -> None:
    complaint = submit()
    services.classify(
        complaint_id=complaint.pk, category=facilities, priority="normal", actor=dispatcher
    )
    services.assign(complaint_id=complaint.pk, department=urban, actor=dispatcher)
    due = at(2026, 3, 10, 12, 0)
    task = services.request_co_handling(
        complaint_id=complaint.pk, department=market, task="查商户", due_at=due, actor=handler
    )

    deadline = Deadline.objects.get(co_handling_task=task)
    assert deadline.stage == Stage.CO_HANDLING
    assert local(deadline.due_at) == due

    services.complete_co_handling(task_id=task.pk, result="已查处", actor=market_handler)
    deadline.refresh_from_db()
    assert deadline.state == Deadline.State.MET


def test_a_limit_running_into_an_unknown_year_is_provisional_until_the_year_is_entered(
    dispatcher: User,
) -> None:
    with time_machine.travel(at(2026, 12, 29, 10, 0), tick=False):
        complaint = submit()

    cycle = running(complaint)[Stage.CYCLE]
    assert cycle.provisional  # the package does not know 2027's holidays
    # Counted with weekends only meanwhile: 12-30, 12-31, 1-1, 1-4, 1-5.
    assert local(cycle.due_at) == at(2027, 1, 5, 18, 0)

    from sla.calendars import recount_provisional
    from sla.models import BusinessCalendar, CalendarDay

    calendar = BusinessCalendar.objects.get(is_default=True)
    CalendarDay.objects.create(calendar=calendar, date=at(2027, 1, 1).date(), kind="holiday")
    EnteredYear.objects.create(calendar=calendar, year=2027)
    with time_machine.travel(at(2026, 12, 30, 2, 10), tick=False):
        assert recount_provisional() == {"recounted": 1, "provisional": 0}

    cycle.refresh_from_db()
    assert not cycle.provisional
    assert local(cycle.due_at) == at(2027, 1, 6, 18, 0)


def test_two_running_deadlines_of_one_stage_are_refused_by_the_database(
    clock: time_machine.Traveller,
) -> None:
    from django.db import IntegrityError, transaction

    complaint = submit()
    existing = running(complaint)[Stage.CLASSIFY]
    with pytest.raises(IntegrityError), transaction.atomic():
        Deadline.objects.create(
            complaint=complaint,
            stage=Stage.CLASSIFY,
            basis="business",
            started_at=existing.started_at,
            due_at=existing.due_at + timedelta(hours=1),
        )


def test_a_second_dissatisfaction_gives_the_supervisors_a_day_to_review(
    handler: User, urban: Department, supervisor: User
) -> None:
    complaint = complaint_in(Complaint.Status.IN_PROGRESS, department=urban, assignee=handler)
    Complaint.objects.filter(pk=complaint.pk).update(reopen_count=1)  # the second round
    services.draft_reply(complaint_id=complaint.pk, body="再次答复。", actor=handler)
    services.send_reply(complaint_id=complaint.pk, actor=handler)
    survey = Survey.objects.get(complaint=complaint)
    services.answer_survey(survey_id=survey.pk, resolved=False, rating=1, actor_label="petitioner")

    review = Deadline.objects.get(complaint=complaint, stage=Stage.REVIEW)
    assert review.state == Deadline.State.OPEN
    assert Deadline.objects.get(complaint=complaint, stage=Stage.FOLLOW_UP).state == "met"
    services.close(complaint_id=complaint.pk, actor=supervisor)
    review.refresh_from_db()
    assert review.state == Deadline.State.MET

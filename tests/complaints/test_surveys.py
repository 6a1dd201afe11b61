"""The satisfaction survey (回访): opened with each reply, answered, or closed without answer."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone, translation

from accounts.models import User
from complaints import services, surveys, tasks
from complaints.errors import GuardFailed, PermissionDenied
from complaints.models import CloseReason, Complaint, Event, Survey
from routing.models import Department
from sla.models import Deadline, Stage
from tests.complaints.loop import handling, open_survey, replied, reply_to, told
from tests.complaints.test_concurrency import race
from tests.factories import complaint_in

pytestmark = pytest.mark.django_db
S = Complaint.Status


@pytest.fixture(autouse=True)
def _english() -> Iterator[None]:
    """Messages are asserted in English; the default language is Chinese."""
    with translation.override("en"):
        yield


def answer(survey: Survey, *, resolved: bool | None, rating: int | None, **kwargs: Any) -> Survey:
    if kwargs.get("actor") is None:
        kwargs.setdefault("actor_label", "petitioner")
    return services.answer_survey(survey_id=survey.pk, resolved=resolved, rating=rating, **kwargs)


def fresh(complaint: Complaint) -> Complaint:
    return Complaint.objects.get(pk=complaint.pk)


def stage_states(complaint: Complaint) -> dict[str, list[str]]:
    states: dict[str, list[str]] = {}
    for deadline in Deadline.objects.filter(complaint=complaint).order_by("pk"):
        states.setdefault(deadline.stage, []).append(deadline.state)
    return states


def kinds(complaint: Complaint) -> list[str]:
    return list(complaint.events.values_list("kind", flat=True))


# --- Opening and finding ----------------------------------------------------------------


class TestOpening:
    def test_a_survey_opens_with_the_reply_for_the_window(
        self, urban: Department, handler: User, settings: Any, time_machine: Any
    ) -> None:
        settings.SURVEY_WINDOW_DAYS = 7
        time_machine.move_to(timezone.now(), tick=False)
        complaint = handling(urban, handler)
        reply = reply_to(complaint, handler)

        survey = open_survey(fresh(complaint))

        assert (survey.round, survey.reply, survey.outcome) == (1, reply, "")
        assert survey.sent_at == timezone.now()
        assert survey.closes_at == timezone.now() + timedelta(days=7)
        assert survey.is_open
        assert survey.token_hash != surveys.token_for(survey.pk)  # only a digest is stored

    def test_its_link_finds_it_and_nothing_else_does(
        self, urban: Department, handler: User
    ) -> None:
        survey = open_survey(replied(urban, handler))
        token = surveys.token_for(survey.pk)

        assert surveys.find(token) == survey
        assert surveys.find(token.upper()) is None
        assert surveys.find(surveys.token_for(survey.pk + 1)) is None
        assert surveys.find("") is None
        assert surveys.find("a" * 65) is None

    def test_only_a_replied_complaint_has_a_current_survey(
        self, urban: Department, handler: User
    ) -> None:
        complaint = replied(urban, handler)
        assert surveys.current(complaint) is not None

        services.close(complaint_id=complaint.pk, actor=handler)

        assert surveys.current(fresh(complaint)) is None


# --- Answers ----------------------------------------------------------------------------


class TestSatisfied:
    def test_the_complaint_closes_and_the_follow_up_limit_is_met(
        self, urban: Department, handler: User
    ) -> None:
        complaint = replied(urban, handler)
        assert stage_states(complaint)[Stage.FOLLOW_UP] == ["open"]

        survey = answer(open_survey(complaint), resolved=True, rating=4, comment="很及时")

        assert (survey.outcome, survey.via, survey.entered_by) == ("satisfied", "link", None)
        assert (survey.resolved, survey.rating, survey.comment) == (True, 4, "很及时")
        assert survey.answered_at is not None
        complaint = fresh(complaint)
        assert (complaint.status, complaint.close_reason) == (S.CLOSED, CloseReason.SURVEY)
        assert complaint.closed_at is not None
        assert stage_states(complaint)[Stage.FOLLOW_UP] == ["met"]
        answered = complaint.events.get(kind="survey.answered")
        assert answered.actor_label == "petitioner"
        assert answered.payload == {
            "round": 1,
            "via": "link",
            "resolved": True,
            "rating": 4,
            "comment": "很及时",
            "outcome": "satisfied",
        }
        closed = complaint.events.get(kind="complaint.closed")
        assert (closed.actor, closed.actor_label, closed.payload) == (
            None,
            "survey",
            {"reason": "survey"},
        )

    def test_resolved_with_a_middling_rating_counts_as_satisfied(
        self, urban: Department, handler: User
    ) -> None:
        complaint = replied(urban, handler)

        answer(open_survey(complaint), resolved=True, rating=3)

        assert fresh(complaint).status == S.CLOSED


class TestDissatisfied:
    @pytest.mark.parametrize(
        ("resolved", "rating"), [(True, 2), (True, 1), (False, 5)], ids=["2", "1", "unresolved"]
    )
    def test_the_first_time_it_is_reopened_for_second_handling(
        self, urban: Department, handler: User, head: User, resolved: bool, rating: int
    ) -> None:
        complaint = replied(urban, handler)

        survey = answer(open_survey(complaint), resolved=resolved, rating=rating, comment="没修好")

        assert survey.outcome == "dissatisfied"
        complaint = fresh(complaint)
        assert (complaint.status, complaint.reopen_count) == (S.REOPENED, 1)
        assert complaint.replied_at is None
        assert complaint.assignee == handler  # the same handler handles it again
        states = stage_states(complaint)
        assert states[Stage.FOLLOW_UP] == ["met"]
        assert states[Stage.ACCEPT][-1] == "open"
        assert states[Stage.CYCLE][-1] == "open"
        reopened = complaint.events.get(kind="complaint.reopened")
        assert (reopened.actor, reopened.actor_label) == (None, "survey")
        assert "没修好" in reopened.payload["reason"]
        for person in (head, handler):
            [notice] = told(person, "complaint.reopened")
            assert complaint.tracking_code in notice.subject
            assert "没修好" in notice.body

    def test_handled_again_a_second_survey_opens_and_a_second_no_asks_a_supervisor(
        self, urban: Department, handler: User, head: User, supervisor: User
    ) -> None:
        complaint = replied(urban, handler)
        answer(open_survey(complaint), resolved=False, rating=2)
        services.accept(complaint_id=complaint.pk, actor=handler)
        second_reply = reply_to(complaint, handler, body="已更换灯杆。")

        second = open_survey(fresh(complaint))
        assert (second.round, second.reply) == (2, second_reply)
        assert list(fresh(complaint).surveys.values_list("round", "outcome")) == [
            (1, "dissatisfied"),
            (2, ""),
        ]

        answer(second, resolved=False, rating=1, comment="还是不亮")

        complaint = fresh(complaint)
        assert complaint.status == S.REPLIED  # waits for a supervisor, not reopened again
        assert complaint.reopen_count == 1
        assert complaint.review_requested_at is not None
        review = complaint.events.get(kind="complaint.review_requested")
        assert review.actor_label == "survey"
        assert "还是不亮" in review.payload["reason"]
        [notice] = told(supervisor, "complaint.review_requested")
        assert complaint.tracking_code in notice.subject
        assert not told(head, "complaint.review_requested")
        assert surveys.current(complaint) is None  # answered: nothing more to ask
        assert stage_states(complaint)[Stage.FOLLOW_UP] == ["met", "met"]

        services.close(complaint_id=complaint.pk, actor=supervisor)

        complaint = fresh(complaint)
        assert (complaint.status, complaint.close_reason) == (S.CLOSED, CloseReason.REVIEWED)
        assert complaint.review_requested_at is None
        closed = complaint.events.get(kind="complaint.closed")
        assert (closed.actor, closed.payload) == (supervisor, {"reason": "reviewed"})

    def test_only_a_supervisor_closes_a_complaint_waiting_for_review(
        self, urban: Department, handler: User, head: User, dispatcher: User
    ) -> None:
        complaint = replied(urban, handler)
        answer(open_survey(complaint), resolved=False, rating=2)
        services.accept(complaint_id=complaint.pk, actor=handler)
        reply_to(complaint, handler, body="第二次答复。")
        answer(open_survey(fresh(complaint)), resolved=False, rating=2)

        for person in (handler, head, dispatcher):
            with pytest.raises(PermissionDenied, match="supervisor's review"):
                services.close(complaint_id=complaint.pk, actor=person)
        complaint = fresh(complaint)
        assert (complaint.status, complaint.close_reason) == (S.REPLIED, "")

    def test_after_review_a_supervisor_may_reopen_it_once_more(
        self, urban: Department, handler: User, supervisor: User
    ) -> None:
        complaint = replied(urban, handler)
        answer(open_survey(complaint), resolved=False, rating=2)
        services.accept(complaint_id=complaint.pk, actor=handler)
        reply_to(complaint, handler, body="第二次答复。")
        answer(open_survey(fresh(complaint)), resolved=False, rating=2)

        services.reopen(complaint_id=complaint.pk, reason="督办：再次核查", actor=supervisor)
        services.accept(complaint_id=complaint.pk, actor=handler)
        reply_to(complaint, handler, body="第三次答复。")

        complaint = fresh(complaint)
        assert (complaint.reopen_count, complaint.review_requested_at) == (2, None)
        assert open_survey(complaint).round == 3


class TestPhoneSurvey:
    def test_a_handler_enters_an_answer_taken_by_phone(
        self, urban: Department, handler: User
    ) -> None:
        complaint = replied(urban, handler)

        survey = answer(open_survey(complaint), resolved=True, rating=5, actor=handler)

        assert (survey.via, survey.entered_by) == ("phone", handler)
        answered = fresh(complaint).events.get(kind="survey.answered")
        assert (answered.actor, answered.actor_label, answered.payload["via"]) == (
            handler,
            "",
            "phone",
        )
        assert fresh(complaint).close_reason == CloseReason.SURVEY

    def test_a_handler_of_another_department_may_not(
        self, urban: Department, handler: User, market_handler: User
    ) -> None:
        complaint = replied(urban, handler)

        with pytest.raises(PermissionDenied):
            answer(open_survey(complaint), resolved=True, rating=5, actor=market_handler)
        assert open_survey(fresh(complaint)).is_open

    def test_an_auditor_may_not(self, urban: Department, handler: User, auditor: User) -> None:
        complaint = replied(urban, handler)

        with pytest.raises(PermissionDenied):
            answer(open_survey(complaint), resolved=True, rating=5, actor=auditor)


class TestRefusals:
    def test_a_survey_is_answered_once(self, urban: Department, handler: User) -> None:
        complaint = replied(urban, handler)
        survey = open_survey(complaint)
        answer(survey, resolved=True, rating=5)

        with pytest.raises(GuardFailed, match="survey is closed"):
            answer(survey, resolved=False, rating=1)
        survey.refresh_from_db()
        assert (survey.outcome, survey.rating) == ("satisfied", 5)
        assert kinds(complaint).count("survey.answered") == 1

    @pytest.mark.parametrize(
        ("resolved", "rating", "message"),
        [
            (True, 0, "from 1 to 5"),
            (True, 6, "from 1 to 5"),
            (True, None, "from 1 to 5"),
            (None, 4, "resolved"),
        ],
    )
    def test_an_incomplete_answer_is_refused(
        self,
        urban: Department,
        handler: User,
        resolved: bool | None,
        rating: int | None,
        message: str,
    ) -> None:
        complaint = replied(urban, handler)

        with pytest.raises(GuardFailed, match=message):
            answer(open_survey(complaint), resolved=resolved, rating=rating)
        assert open_survey(fresh(complaint)).answered_at is None
        assert fresh(complaint).status == S.REPLIED

    def test_staff_closing_settles_the_open_survey(self, urban: Department, handler: User) -> None:
        complaint = replied(urban, handler)
        survey = open_survey(complaint)

        services.close(complaint_id=complaint.pk, actor=handler)

        survey.refresh_from_db()
        assert survey.outcome == "no_response"
        assert fresh(complaint).close_reason == CloseReason.STAFF
        with pytest.raises(GuardFailed, match="survey is closed"):
            answer(survey, resolved=True, rating=5)


# --- The periodic work ------------------------------------------------------------------


class TestUnansweredSurveys:
    def test_only_surveys_past_their_window_close_the_complaint(
        self, urban: Department, handler: User, supervisor: User
    ) -> None:
        waiting = replied(urban, handler)
        survey = open_survey(waiting)
        answered = replied(urban, handler)
        answer(open_survey(answered), resolved=False, rating=1)  # reopened: not waiting
        # A second dissatisfaction waits for review with an answered survey: left alone.
        reviewing = replied(urban, handler)
        answer(open_survey(reviewing), resolved=False, rating=1)
        services.accept(complaint_id=reviewing.pk, actor=handler)
        reply_to(reviewing, handler, body="第二次答复。")
        answer(open_survey(fresh(reviewing)), resolved=False, rating=1)

        assert services.close_unanswered_surveys(now=survey.closes_at - timedelta(seconds=1)) == 0
        assert fresh(waiting).status == S.REPLIED

        later = survey.closes_at + timedelta(days=30)
        assert services.close_unanswered_surveys(now=later) == 1

        closed = fresh(waiting)
        assert (closed.status, closed.close_reason) == (S.CLOSED, CloseReason.NO_RESPONSE)
        survey.refresh_from_db()
        assert (survey.outcome, survey.answered_at) == ("no_response", None)
        assert kinds(closed)[-2:] == ["survey.expired", "complaint.closed"]
        expired = closed.events.get(kind="survey.expired")
        assert (expired.actor_label, expired.payload) == ("system", {"round": 1})
        assert stage_states(closed)[Stage.FOLLOW_UP] == ["met"]
        assert fresh(answered).status == S.REOPENED
        assert fresh(reviewing).status == S.REPLIED
        assert fresh(reviewing).review_requested_at is not None
        # A second run finds nothing left to do.
        assert services.close_unanswered_surveys(now=later) == 0
        assert kinds(closed).count("complaint.closed") == 1

    def test_the_window_is_exact(self, urban: Department, handler: User) -> None:
        survey = open_survey(replied(urban, handler))

        assert services.close_unanswered_surveys(now=survey.closes_at) == 1


class TestArchiving:
    def test_finished_complaints_are_archived_after_the_period(
        self, settings: Any, urban: Department, handler: User
    ) -> None:
        settings.ARCHIVE_AFTER_DAYS = 30
        now = timezone.now()
        old_closed = complaint_in(S.CLOSED, closed_at=now - timedelta(days=31))
        old_rejected = complaint_in(S.REJECTED, closed_at=now - timedelta(days=30))
        young = complaint_in(S.CLOSED, closed_at=now - timedelta(days=29))
        still_open = handling(urban, handler, received_at=now - timedelta(days=90))
        waiting = replied(urban, handler)
        Complaint.objects.filter(pk=waiting.pk).update(received_at=now - timedelta(days=90))

        assert services.archive_due(now=now) == 2

        for complaint in (old_closed, old_rejected):
            complaint = fresh(complaint)
            assert complaint.status == S.ARCHIVED
            assert complaint.archived_at is not None
            event = complaint.events.get(kind="complaint.archived")
            assert (event.actor, event.actor_label) == (None, "system")
        assert fresh(young).status == S.CLOSED
        assert fresh(young).archived_at is None
        assert fresh(still_open).status == S.IN_PROGRESS
        assert fresh(waiting).status == S.REPLIED
        assert services.archive_due(now=now) == 0
        assert Event.objects.filter(kind="complaint.archived").count() == 2


class TestTheTask:
    def test_close_the_loop_closes_archives_and_reports(
        self, settings: Any, urban: Department, handler: User
    ) -> None:
        settings.ARCHIVE_AFTER_DAYS = 30
        waiting = replied(urban, handler)
        Survey.objects.filter(complaint=waiting).update(
            closes_at=timezone.now() - timedelta(minutes=1)
        )
        old = complaint_in(S.WITHDRAWN, closed_at=timezone.now() - timedelta(days=31))

        report = tasks.close_the_loop.delay().get()

        assert report["closed"] == 1
        assert report["archived"] == 1
        assert fresh(waiting).close_reason == CloseReason.NO_RESPONSE
        assert fresh(old).status == S.ARCHIVED
        again = tasks.close_the_loop()
        assert (again["closed"], again["archived"]) == (0, 0)


# --- At the same moment (PostgreSQL: real row locks) ------------------------------------


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
class TestRaces:
    def test_an_answer_and_the_window_closing_at_once_settle_the_survey_once(
        self, urban: Department, handler: User
    ) -> None:
        complaint = replied(urban, handler)
        survey = open_survey(complaint)

        results = race(
            lambda: answer(survey, resolved=True, rating=5),
            lambda: services.close_unanswered_surveys(now=survey.closes_at),
        )

        survey.refresh_from_db()
        complaint = fresh(complaint)
        assert complaint.status == S.CLOSED
        assert kinds(complaint).count("complaint.closed") == 1
        if isinstance(results[0], Survey):  # the answer came first
            assert (survey.outcome, complaint.close_reason) == ("satisfied", "survey")
            assert results[1] == 0
        else:  # the window closed first; the petitioner is told the survey is closed
            assert isinstance(results[0], GuardFailed), results
            assert (survey.outcome, complaint.close_reason) == ("no_response", "no_response")
            assert results[1] == 1

    def test_two_answers_at_once_one_is_taken(self, urban: Department, handler: User) -> None:
        complaint = replied(urban, handler)
        survey = open_survey(complaint)

        results = race(
            lambda: answer(survey, resolved=True, rating=5),
            lambda: answer(survey, resolved=False, rating=1),
        )

        assert sum(isinstance(r, Survey) for r in results) == 1, results
        assert sum(isinstance(r, GuardFailed) for r in results) == 1, results
        assert kinds(fresh(complaint)).count("survey.answered") == 1

    def test_two_sweeps_at_once_close_once(self, urban: Department, handler: User) -> None:
        complaint = replied(urban, handler)
        survey = open_survey(complaint)

        results = race(
            lambda: services.close_unanswered_surveys(now=survey.closes_at),
            lambda: services.close_unanswered_surveys(now=survey.closes_at),
        )

        assert sorted(results) == [0, 1]
        assert kinds(fresh(complaint)).count("survey.expired") == 1

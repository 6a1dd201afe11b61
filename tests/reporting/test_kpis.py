"""Each KPI definition on a small hand-built history, read back through the rollups."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.utils import translation

from complaints.models import Complaint, Survey
from reporting import rollups
from reporting.kpis import (
    Period,
    Scope,
    by_category,
    by_channel,
    comparison,
    kpis,
    league,
    on_time_by_week,
    satisfaction_distribution,
    volume_by_day,
    volume_by_week,
)
from reporting.models import CategoryRollup, ChannelRollup, CohortRollup, DepartmentRollup
from routing.models import Category, Department
from sla.models import Deadline
from tests.reporting.data import (
    accepted,
    at,
    complaint,
    deadline,
    person,
    replied,
    survey,
)

pytestmark = pytest.mark.django_db

MARCH = Period(date(2026, 3, 1), date(2026, 4, 1))
EVERYTHING = Scope()


def rebuild() -> None:
    rollups.rebuild(date(2025, 1, 1))


def within_bucket_error(estimate: timedelta | None, exact: timedelta) -> bool:
    assert estimate is not None
    return abs(estimate / exact - 1) <= rollups.BUCKET_ERROR + 1e-9


# --- Volume and days --------------------------------------------------------------------


def test_volume_counts_complaints_on_the_day_received_in_local_time() -> None:
    # 23:30 in Shanghai is still 1 March; 00:10 is 2 March though UTC says 1 March.
    complaint(at("2026-03-01", "23:30"))
    complaint(at("2026-03-02", "00:10"))
    complaint(at("2026-03-02", "12:00"))
    complaint(at("2026-04-01", "00:00"))  # the day after the period
    rebuild()

    days = dict(volume_by_day(EVERYTHING, MARCH))

    assert kpis(EVERYTHING, MARCH).volume == 3
    assert days[date(2026, 3, 1)] == 1
    assert days[date(2026, 3, 2)] == 2
    assert days[date(2026, 3, 3)] == 0
    assert len(days) == 31


def test_volume_by_week_starts_on_monday_and_keeps_partial_weeks() -> None:
    complaint(at("2026-03-01"))  # a Sunday: the week of Monday 23 February
    complaint(at("2026-03-02"))  # Monday
    complaint(at("2026-03-08"))  # Sunday of the same week
    rebuild()

    weeks = volume_by_week(EVERYTHING, MARCH)

    assert weeks[0] == (date(2026, 2, 23), 1)
    assert weeks[1] == (date(2026, 3, 2), 2)
    assert weeks[-1][0] == date(2026, 3, 30)
    assert sum(count for _, count in weeks) == 3


# --- Times ------------------------------------------------------------------------------


def test_first_response_median_and_p90_are_within_the_bucket_error() -> None:
    for hours in range(1, 11):
        accepted(complaint(at("2026-03-05")), timedelta(hours=hours))
    complaint(at("2026-03-05"))  # never accepted: not in the times
    rebuild()

    result = kpis(EVERYTHING, MARCH)

    # Nearest rank of ten values: the 5th for the median, the 9th for p90.
    assert result.first_response_count == 10
    assert within_bucket_error(result.first_response_median, timedelta(hours=5))
    assert within_bucket_error(result.first_response_p90, timedelta(hours=9))


def test_resolution_runs_from_receipt_to_the_first_reply_sent() -> None:
    first = complaint(at("2026-03-05"))
    replied(first, timedelta(days=2))
    replied(first, timedelta(days=9))  # after reopening: not the resolution
    for days in (1, 3):
        replied(complaint(at("2026-03-06")), timedelta(days=days))
    rebuild()

    result = kpis(EVERYTHING, MARCH)

    assert result.resolution_count == 3
    assert result.replied == 3
    assert within_bucket_error(result.resolution_median, timedelta(days=2))
    assert within_bucket_error(result.resolution_p90, timedelta(days=3))


def test_percentiles_of_many_spread_times_stay_within_the_bound() -> None:
    exact = sorted(timedelta(minutes=7 * n * n + 3) for n in range(1, 120))
    for spent in exact:
        accepted(complaint(at("2026-03-10")), spent)
    rebuild()

    result = kpis(EVERYTHING, MARCH)

    assert within_bucket_error(result.first_response_median, exact[59])  # rank 60 of 119
    assert within_bucket_error(result.first_response_p90, exact[107])  # rank 108


# --- On time and overdue ----------------------------------------------------------------


def test_on_time_is_met_without_breach_over_met_and_breached_per_stage() -> None:
    on_time = complaint(at("2026-03-03"))
    deadline(on_time, "cycle", Deadline.State.MET)
    deadline(on_time, "accept", Deadline.State.MET)
    late = complaint(at("2026-03-03"))
    deadline(late, "cycle", Deadline.State.MISSED)
    deadline(late, "accept", Deadline.State.MET)
    running_late = complaint(at("2026-03-03"))
    deadline(running_late, "cycle", Deadline.State.OPEN, breached=True)
    running = complaint(at("2026-03-03"))
    deadline(running, "cycle", Deadline.State.OPEN)  # not yet due: not counted
    deadline(complaint(at("2026-03-03")), "cycle", Deadline.State.CANCELLED)
    rebuild()

    result = kpis(EVERYTHING, MARCH)

    assert result.on_time_rate == pytest.approx(1 / 3)
    assert result.on_time_by_stage["cycle"] == pytest.approx(1 / 3)
    assert result.on_time_by_stage["accept"] == 1.0
    assert result.on_time_by_stage["reply"] is None
    # Overdue: complaints with a breached deadline, done late or still running.
    assert result.overdue == 2
    assert result.overdue_rate == pytest.approx(2 / 5)


def test_on_time_by_week_gives_the_cycle_rate_of_each_week() -> None:
    deadline(complaint(at("2026-03-03")), "cycle", Deadline.State.MET)
    deadline(complaint(at("2026-03-04")), "cycle", Deadline.State.MISSED)
    deadline(complaint(at("2026-03-10")), "cycle", Deadline.State.MET)
    rebuild()

    weeks = dict(on_time_by_week(EVERYTHING, MARCH))

    assert weeks[date(2026, 3, 2)] == 0.5
    assert weeks[date(2026, 3, 9)] == 1.0
    assert weeks[date(2026, 3, 16)] is None


# --- Surveys ----------------------------------------------------------------------------


def test_satisfaction_is_average_rating_and_share_satisfied_of_answered_surveys() -> None:
    survey(complaint(at("2026-03-03")), rating=5)
    survey(complaint(at("2026-03-03")), rating=4)
    survey(complaint(at("2026-03-03")), rating=2, outcome=Survey.Outcome.DISSATISFIED)
    survey(complaint(at("2026-03-03")), rating=None)  # satisfied, without a rating
    survey(complaint(at("2026-03-03")), outcome=Survey.Outcome.NO_RESPONSE)
    rebuild()

    result = kpis(EVERYTHING, MARCH)

    assert result.surveys_answered == 4
    assert result.satisfaction_average == pytest.approx(11 / 3)
    assert result.satisfaction_rate == pytest.approx(3 / 4)
    assert satisfaction_distribution(EVERYTHING, MARCH) == [(1, 0), (2, 1), (3, 0), (4, 1), (5, 1)]


# --- Reopen, repeat, first contact ------------------------------------------------------


def test_reopen_rate_is_reopened_over_replied() -> None:
    for reopen_count in (0, 0, 0, 2):
        replied(complaint(at("2026-03-03"), reopen_count=reopen_count), timedelta(days=1))
    complaint(at("2026-03-03"))  # not replied
    rebuild()

    result = kpis(EVERYTHING, MARCH)

    assert (result.reopened, result.replied) == (1, 4)
    assert result.reopen_rate == 0.25


def test_repeat_petitions_follow_the_same_petitioner_rule() -> None:
    wang = person(phone="13900000001", email="wang@example.com")
    complaint(at("2026-02-20"), petitioner=wang)  # before the period: makes later ones repeat
    complaint(at("2026-03-02"), petitioner=wang)  # the same record again
    # Another record sharing the phone number: the same person.
    complaint(at("2026-03-03"), petitioner=person(phone="13900000001"))
    # Sharing the e-mail address only.
    complaint(at("2026-03-04"), petitioner=person(email="wang@example.com"))
    complaint(at("2026-03-05"), petitioner=person())  # somebody new
    complaint(at("2026-03-05"), petitioner=None)  # anonymous: never a repeat
    rebuild()

    result = kpis(EVERYTHING, MARCH)

    assert result.volume == 5
    assert result.repeat_petitions == 3
    assert result.repeat_rate == pytest.approx(3 / 5)


def test_first_contact_resolution_is_closed_never_reopened_first_survey_satisfied() -> None:
    resolved = complaint(at("2026-03-03"), close_reason="survey")
    survey(resolved, rating=5)
    reopened = complaint(at("2026-03-03"), close_reason="survey", reopen_count=1)
    survey(reopened, rating=2, outcome=Survey.Outcome.DISSATISFIED)
    survey(reopened, round=2, rating=5)
    unhappy = complaint(at("2026-03-03"), close_reason="reviewed")
    survey(unhappy, rating=1, outcome=Survey.Outcome.DISSATISFIED)
    silent = complaint(at("2026-03-03"), close_reason="no_response")
    survey(silent, outcome=Survey.Outcome.NO_RESPONSE)
    survey(complaint(at("2026-03-03")), rating=5)  # satisfied but not closed yet
    rebuild()

    result = kpis(EVERYTHING, MARCH)

    assert (result.first_contact_resolved, result.closed) == (1, 4)
    assert result.first_contact_resolution_rate == 0.25


# --- Empty periods and comparison -------------------------------------------------------


def test_an_empty_period_gives_none_for_every_rate_and_time() -> None:
    complaint(at("2026-02-10"))
    rebuild()

    result = kpis(EVERYTHING, MARCH)

    assert result.volume == 0
    for name in (
        "first_response_median",
        "first_response_p90",
        "resolution_median",
        "resolution_p90",
        "on_time_rate",
        "overdue_rate",
        "satisfaction_average",
        "satisfaction_rate",
        "reopen_rate",
        "repeat_rate",
        "first_contact_resolution_rate",
    ):
        assert getattr(result, name) is None, name
    assert league(EVERYTHING, MARCH) == []
    assert by_channel(EVERYTHING, MARCH) == []


def test_comparison_gives_this_period_and_the_previous_one_of_equal_length() -> None:
    week = Period(date(2026, 3, 9), date(2026, 3, 16))
    complaint(at("2026-03-02"))  # the previous week
    accepted(complaint(at("2026-03-08")), timedelta(hours=2))  # the previous week's Sunday
    for _ in range(3):
        complaint(at("2026-03-12"))
    complaint(at("2026-03-16"))  # after
    complaint(at("2026-03-01"))  # before the previous week
    rebuild()

    now, before = comparison(EVERYTHING, week)

    assert week.previous() == Period(date(2026, 3, 2), date(2026, 3, 9))
    assert now.volume == 3
    assert before.volume == 2
    assert now.first_response_median is None
    assert within_bucket_error(before.first_response_median, timedelta(hours=2))
    assert now == kpis(EVERYTHING, week)
    assert before == kpis(EVERYTHING, week.previous())


@pytest.mark.parametrize(
    ("name", "today", "expected"),
    [
        ("this_week", date(2026, 3, 12), (date(2026, 3, 9), date(2026, 3, 13))),
        ("last_week", date(2026, 3, 12), (date(2026, 3, 2), date(2026, 3, 9))),
        ("this_month", date(2026, 3, 12), (date(2026, 3, 1), date(2026, 3, 13))),
        ("last_month", date(2026, 3, 12), (date(2026, 2, 1), date(2026, 3, 1))),
        ("this_quarter", date(2026, 5, 12), (date(2026, 4, 1), date(2026, 5, 13))),
        ("last_quarter", date(2026, 2, 12), (date(2025, 10, 1), date(2026, 1, 1))),
        ("this_year", date(2026, 3, 12), (date(2026, 1, 1), date(2026, 3, 13))),
        ("last_year", date(2026, 3, 12), (date(2025, 1, 1), date(2026, 1, 1))),
    ],
)
def test_period_presets(name: str, today: date, expected: tuple[date, date]) -> None:
    period = Period.preset(name, today=today)

    assert (period.start, period.end) == expected
    assert period.previous().days == period.days


def test_a_period_must_end_after_it_starts() -> None:
    with pytest.raises(ValueError, match="ends after"):
        Period(date(2026, 3, 2), date(2026, 3, 2))


# --- Scopes -----------------------------------------------------------------------------


@pytest.fixture
def tree(facilities: Category) -> dict[str, Category]:
    lights = Category.objects.create(
        code="street_lights", name_zh="路灯", name_en="Street lights", parent=facilities
    )
    bulbs = Category.objects.create(code="bulbs", name_zh="灯泡", name_en="Bulbs", parent=lights)
    other = Category.objects.create(code="other", name_zh="其他", name_en="Other")
    return {"facilities": facilities, "lights": lights, "bulbs": bulbs, "other": other}


def test_a_category_scope_covers_its_sub_categories(tree: dict[str, Category]) -> None:
    complaint(at("2026-03-03"), category=tree["facilities"])
    complaint(at("2026-03-03"), category=tree["lights"])
    complaint(at("2026-03-03"), category=tree["bulbs"])
    complaint(at("2026-03-03"), category=tree["other"])
    complaint(at("2026-03-03"))
    rebuild()

    def volume(code: str) -> int:
        return kpis(Scope(category_id=tree[code].pk), MARCH).volume

    assert volume("facilities") == 3
    assert volume("lights") == 2
    assert volume("bulbs") == 1
    assert volume("other") == 1


def test_scopes_by_department_channel_kind_and_petitioner_type(
    urban: Department, market: Department
) -> None:
    complaint(at("2026-03-03"), department=urban, channel=Complaint.Channel.HOTLINE)
    complaint(at("2026-03-03"), department=urban, kind=Complaint.Kind.SUGGESTION)
    complaint(at("2026-03-03"), department=market, petitioner=person(type="organisation"))
    complaint(at("2026-03-04"))
    rebuild()

    def volume(**parts: object) -> int:
        return kpis(Scope(**parts), MARCH).volume  # type: ignore[arg-type]

    assert volume() == 4
    assert volume(department_id=urban.pk) == 2
    assert volume(department_id=urban.pk, channel="hotline") == 1
    assert volume(kind="suggestion") == 1
    assert volume(petitioner_type="organisation") == 1
    assert volume(department_id=market.pk, petitioner_type="individual") == 0


def test_department_rows_sum_the_cohort_rows(urban: Department, facilities: Category) -> None:
    for channel in ("web", "hotline", "wechat"):
        accepted(
            complaint(at("2026-03-03"), department=urban, category=facilities, channel=channel),
            timedelta(hours=1),
        )
    rebuild()

    assert CohortRollup.objects.filter(department=urban).count() == 3
    assert DepartmentRollup.objects.filter(department=urban).count() == 1
    assert ChannelRollup.objects.filter(department=urban).count() == 3
    assert list(CategoryRollup.objects.values_list("category", "received")) == [(facilities.pk, 3)]
    # The narrow scope reads the cohort table, the department scope the summed one.
    assert kpis(Scope(department_id=urban.pk, channel="web"), MARCH).volume == 1
    by_department = kpis(Scope(department_id=urban.pk), MARCH)
    by_cohort = kpis(Scope(department_id=urban.pk, category_id=facilities.pk), MARCH)
    assert by_department == by_cohort


# --- Breakdowns -------------------------------------------------------------------------


def test_breakdowns_by_channel_and_category_largest_first(facilities: Category) -> None:
    for _ in range(3):
        complaint(at("2026-03-03"), channel="hotline", category=facilities)
    complaint(at("2026-03-03"), channel="web")
    rebuild()

    with translation.override("en"):
        channels = by_channel(EVERYTHING, MARCH)
        categories = by_category(EVERYTHING, MARCH)

    assert [(s.key, s.count) for s in channels] == [("hotline", 3), ("web", 1)]
    assert channels[0].label == "Phone hotline"
    assert [(s.key, s.count) for s in categories] == [(str(facilities.pk), 3), ("", 1)]
    assert categories[0].label == "Facilities"
    assert categories[1].label == "Not classified"
    # The same from the rows with every dimension (a scope beyond the department).
    with translation.override("en"):
        assert by_channel(Scope(kind="complaint"), MARCH) == channels
        assert by_category(Scope(kind="complaint"), MARCH) == categories


def test_league_gives_each_department_its_figures(urban: Department, market: Department) -> None:
    for hours in (1, 2, 3):
        c = complaint(at("2026-03-03"), department=urban)
        replied(c, timedelta(days=hours))
        deadline(c, "cycle", Deadline.State.MET)
    late = complaint(at("2026-03-03"), department=market)
    deadline(late, "cycle", Deadline.State.MISSED)
    survey(late, rating=1, outcome=Survey.Outcome.DISSATISFIED)
    complaint(at("2026-03-03"))  # no department yet
    rebuild()

    with translation.override("en"):
        rows = {row.department_id: row for row in league(EVERYTHING, MARCH)}
        market_only = league(Scope(department_id=market.pk), MARCH)

    # By volume, then by name: "Market …" before "No department yet".
    assert list(rows) == [urban.pk, market.pk, None]
    assert rows[urban.pk].volume == 3
    assert rows[urban.pk].on_time_rate == 1.0
    assert within_bucket_error(rows[urban.pk].resolution_median, timedelta(days=2))
    assert rows[urban.pk].satisfaction_rate is None
    assert rows[market.pk].on_time_rate == 0.0
    assert rows[market.pk].overdue == 1
    assert rows[market.pk].satisfaction_rate == 0.0
    assert rows[market.pk].satisfaction_average == 1.0
    assert rows[None].volume == 1
    assert [row.department for row in market_only] == ["Market Regulation Bureau"]

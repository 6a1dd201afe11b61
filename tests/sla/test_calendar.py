"""The business calendar counts working time across weekends, holidays and 调休.

Expected dates are checked by hand against chinesecalendar 1.11.0's tables:

- 2025 days off: 01-01; 01-28…02-04 (春节); 04-04…04-06; 05-01…05-05; 05-31…06-02;
  10-01…10-08 (国庆 and 中秋). Working weekend days: 01-26 Sun, 02-08 Sat, 04-27 Sun,
  09-28 Sun, 10-11 Sat.
- 2026 days off: 01-01…01-03; 02-15…02-23 (春节); 04-04…04-06; 05-01…05-05; 06-19…06-21;
  09-25…09-27 (中秋); 10-01…10-07 (国庆; 10-08 Thu is a working day). Working weekend days:
  01-04 Sun, 02-14 Sat, 02-28 Sat, 05-09 Sat, 09-20 Sun, 10-10 Sat.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import chinese_calendar
import pytest
from django.utils import translation

from sla.calendar import (
    Basis,
    UnknownYear,
    WorkingCalendar,
    add_time,
    china_mainland,
    elapsed,
    format_periods,
    parse_periods,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")
HOUR = 3600
CHINA = china_mainland()


@pytest.fixture(autouse=True)
def _english() -> Iterator[None]:
    # Messages are matched in English, whatever the project's default language.
    with translation.override("en"):
        yield


def at(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=SHANGHAI)


def weekends_only(**overrides: object) -> WorkingCalendar:
    fields: dict[str, object] = {
        "name": "Weekends only",
        "tz": SHANGHAI,
        "periods": CHINA.periods,
        "china_holidays": False,
    }
    return WorkingCalendar(**(fields | overrides))  # type: ignore[arg-type]


# -- the package's tables, as this file's expectations assume them ---------------------------


def test_package_tables_are_the_ones_these_tests_were_checked_against() -> None:
    def days_off(year: int) -> set[date]:
        return {day for day in chinese_calendar.holidays if day.year == year}

    def working_weekend_days(year: int) -> set[date]:
        return {day for day in chinese_calendar.workdays if day.year == year}

    def span(first: date, last: date) -> set[date]:
        return {first + timedelta(days=n) for n in range((last - first).days + 1)}

    assert days_off(2025) == (
        {date(2025, 1, 1)}
        | span(date(2025, 1, 28), date(2025, 2, 4))
        | span(date(2025, 4, 4), date(2025, 4, 6))
        | span(date(2025, 5, 1), date(2025, 5, 5))
        | span(date(2025, 5, 31), date(2025, 6, 2))
        | span(date(2025, 10, 1), date(2025, 10, 8))
    )
    assert working_weekend_days(2025) == {
        date(2025, 1, 26),
        date(2025, 2, 8),
        date(2025, 4, 27),
        date(2025, 9, 28),
        date(2025, 10, 11),
    }
    assert days_off(2026) == (
        span(date(2026, 1, 1), date(2026, 1, 3))
        | span(date(2026, 2, 15), date(2026, 2, 23))
        | span(date(2026, 4, 4), date(2026, 4, 6))
        | span(date(2026, 5, 1), date(2026, 5, 5))
        | span(date(2026, 6, 19), date(2026, 6, 21))
        | span(date(2026, 9, 25), date(2026, 9, 27))
        | span(date(2026, 10, 1), date(2026, 10, 7))
    )
    assert working_weekend_days(2026) == {
        date(2026, 1, 4),
        date(2026, 2, 14),
        date(2026, 2, 28),
        date(2026, 5, 9),
        date(2026, 9, 20),
        date(2026, 10, 10),
    }


# -- which days work -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("day", "working"),
    [
        (date(2025, 3, 5), True),  # an ordinary Wednesday
        (date(2025, 3, 8), False),  # an ordinary Saturday
        (date(2025, 3, 9), False),  # an ordinary Sunday
        (date(2025, 1, 26), True),  # 调休 Sunday before 春节 2025
        (date(2025, 2, 4), False),  # last day of 春节 2025, a Tuesday
        (date(2025, 10, 8), False),  # 国庆 2025 lasts eight days
        (date(2025, 10, 11), True),  # 调休 Saturday after 国庆 2025
        (date(2026, 1, 2), False),  # 元旦 2026, a Friday
        (date(2026, 1, 4), True),  # 调休 Sunday after 元旦 2026
        (date(2026, 2, 14), True),  # 调休 Saturday before 春节 2026
        (date(2026, 2, 23), False),  # last day of 春节 2026, a Monday
        (date(2026, 2, 28), True),  # 调休 Saturday after 春节 2026
        (date(2026, 9, 20), True),  # 调休 Sunday before 国庆 2026
        (date(2026, 9, 25), False),  # 中秋 2026, a Friday
        (date(2026, 10, 7), False),  # last day of 国庆 2026
        (date(2026, 10, 8), True),  # the Thursday after: working in 2026, unlike 2025
        (date(2026, 10, 10), True),  # 调休 Saturday after 国庆 2026
    ],
)
def test_china_mainland_working_days(day: date, working: bool) -> None:
    assert CHINA.is_working_day(day) is working


def test_default_calendar_works_eight_hours_in_two_periods() -> None:
    assert CHINA.name == "China mainland"
    assert CHINA.tz == SHANGHAI
    assert CHINA.periods == ((time(9), time(12)), (time(13), time(18)))
    assert CHINA.seconds_per_day == 8 * HOUR


def test_known_years_are_those_of_the_package() -> None:
    assert CHINA.known(2025)
    assert CHINA.known(2026)
    assert not CHINA.known(2027)
    assert not CHINA.known(2003)


def test_calendar_without_china_holidays_knows_every_year() -> None:
    calendar = weekends_only()
    assert calendar.known(2027)
    assert calendar.known(2099)
    assert calendar.is_working_day(date(2026, 10, 1))  # a Thursday: no public holiday here
    assert not calendar.is_working_day(date(2026, 2, 14))  # a Saturday: no 调休 either
    assert calendar.is_working_day(date(2099, 1, 1))
    assert calendar.add_working_days(at(2026, 12, 28, 10), 5) == at(2027, 1, 4, 18)


def test_administrators_holiday_wins_over_package_working_day() -> None:
    calendar = WorkingCalendar(
        "Closed on 2026-02-14", SHANGHAI, CHINA.periods, holidays=frozenset({date(2026, 2, 14)})
    )
    assert not calendar.is_working_day(date(2026, 2, 14))
    # Friday 13 Feb before 春节: the next working day is now Tuesday 24 Feb.
    assert calendar.add(at(2026, 2, 13, 17), 2 * HOUR) == at(2026, 2, 24, 10)


def test_administrators_working_day_on_a_sunday() -> None:
    calendar = WorkingCalendar(
        "Open on 2025-03-09", SHANGHAI, CHINA.periods, workdays=frozenset({date(2025, 3, 9)})
    )
    assert calendar.is_working_day(date(2025, 3, 9))
    assert not calendar.is_working_day(date(2025, 3, 8))
    assert calendar.add(at(2025, 3, 7, 17), 2 * HOUR) == at(2025, 3, 9, 10)


def test_administrators_working_day_can_reopen_a_public_holiday() -> None:
    calendar = WorkingCalendar(
        "Open on National Day", SHANGHAI, CHINA.periods, workdays=frozenset({date(2026, 10, 1)})
    )
    assert calendar.is_working_day(date(2026, 10, 1))


def test_administrators_holiday_wins_over_their_own_working_day() -> None:
    day = date(2025, 3, 5)
    calendar = weekends_only(holidays=frozenset({day}), workdays=frozenset({day}))
    assert not calendar.is_working_day(day)


def test_entered_year_ignores_the_package() -> None:
    calendar = WorkingCalendar(
        "Own 2026 table",
        SHANGHAI,
        CHINA.periods,
        entered_years=frozenset({2026}),
        holidays=frozenset({date(2026, 2, 17)}),
    )
    assert calendar.is_working_day(date(2026, 1, 1))  # package holiday, not entered
    assert not calendar.is_working_day(date(2026, 1, 4))  # package 调休 Sunday, not entered
    assert not calendar.is_working_day(date(2026, 2, 17))  # entered by the administrators
    assert not calendar.is_working_day(date(2025, 10, 8))  # 2025 still comes from the package


def test_custom_weekend() -> None:
    calendar = weekends_only(weekend=frozenset({4, 5}))  # Friday and Saturday off
    assert not calendar.is_working_day(date(2025, 3, 7))
    assert calendar.is_working_day(date(2025, 3, 9))


# -- unknown years ---------------------------------------------------------------------------


def test_unknown_year_names_the_year_and_the_calendar() -> None:
    with pytest.raises(UnknownYear) as caught:
        CHINA.is_working_day(date(2027, 1, 4))
    assert caught.value.year == 2027
    assert caught.value.calendar_name == "China mainland"
    assert "2027" in str(caught.value)
    assert "China mainland" in str(caught.value)


def test_working_days_crossing_into_an_unknown_year_raise() -> None:
    # 29, 30 and 31 December are working days; the fourth needs 2027's table.
    with pytest.raises(UnknownYear) as caught:
        CHINA.add_working_days(at(2026, 12, 28, 10), 5)
    assert caught.value.year == 2027
    assert CHINA.add_working_days(at(2026, 12, 28, 10), 3) == at(2026, 12, 31, 18)


def test_working_time_crossing_into_an_unknown_year_raises() -> None:
    assert CHINA.add(at(2026, 12, 31, 10), HOUR) == at(2026, 12, 31, 11)
    with pytest.raises(UnknownYear):
        CHINA.add(at(2026, 12, 31, 17), 2 * HOUR)
    with pytest.raises(UnknownYear):
        CHINA.next_working_moment(at(2026, 12, 31, 18))
    with pytest.raises(UnknownYear):
        CHINA.working_seconds(at(2026, 12, 31, 9), at(2027, 1, 1, 12))


def test_a_range_ending_at_midnight_of_an_unknown_year_is_answered() -> None:
    assert CHINA.working_seconds(at(2026, 12, 31, 9), at(2027, 1, 1)) == 8 * HOUR


def test_entered_year_answers_with_weekends_and_entered_holidays() -> None:
    calendar = WorkingCalendar(
        "With 2027",
        SHANGHAI,
        CHINA.periods,
        entered_years=frozenset({2027}),
        holidays=frozenset({date(2027, 1, 1)}),
    )
    assert calendar.known(2027)
    # 29, 30, 31 Dec; 1 Jan (Friday) entered as a holiday; Mon 4 and Tue 5 Jan.
    assert calendar.add_working_days(at(2026, 12, 28, 10), 5) == at(2027, 1, 5, 18)
    assert calendar.add(at(2026, 12, 31, 17), 2 * HOUR) == at(2027, 1, 4, 10)


def test_an_explicit_day_is_answered_even_in_an_unknown_year() -> None:
    calendar = WorkingCalendar(
        "Partial 2027",
        SHANGHAI,
        CHINA.periods,
        holidays=frozenset({date(2027, 1, 1)}),
        workdays=frozenset({date(2027, 1, 2)}),
    )
    assert not calendar.is_working_day(date(2027, 1, 1))
    assert calendar.is_working_day(date(2027, 1, 2))
    with pytest.raises(UnknownYear):
        calendar.is_working_day(date(2027, 1, 4))


# -- adding working time ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "seconds", "due"),
    [
        # Within an ordinary Wednesday, 5 March 2025, and at each edge of its periods.
        (at(2025, 3, 5, 9), HOUR, at(2025, 3, 5, 10)),
        (at(2025, 3, 5, 9), 3 * HOUR, at(2025, 3, 5, 12)),  # stays at 12:00
        (at(2025, 3, 5, 9), 3 * HOUR + 1, at(2025, 3, 5, 13, 0, 1)),
        (at(2025, 3, 5, 9), 8 * HOUR, at(2025, 3, 5, 18)),  # stays at 18:00
        (at(2025, 3, 5, 11), HOUR, at(2025, 3, 5, 12)),
        (at(2025, 3, 5, 12), HOUR, at(2025, 3, 5, 14)),
        (at(2025, 3, 5, 12, 30), HOUR, at(2025, 3, 5, 14)),  # lunch break
        (at(2025, 3, 5, 13), HOUR, at(2025, 3, 5, 14)),
        (at(2025, 3, 5, 7), HOUR, at(2025, 3, 5, 10)),  # before opening
        (at(2025, 3, 5), HOUR, at(2025, 3, 5, 10)),  # midnight
        (at(2025, 3, 5, 17), HOUR, at(2025, 3, 5, 18)),
        (at(2025, 3, 5, 18), HOUR, at(2025, 3, 6, 10)),  # at closing
        (at(2025, 3, 5, 20), HOUR, at(2025, 3, 6, 10)),  # after closing
        (at(2025, 3, 5, 11, 30), 24 * HOUR, at(2025, 3, 10, 11, 30)),  # three days, a weekend
        # Weekends: Friday 7 March 2025.
        (at(2025, 3, 7, 17), 2 * HOUR, at(2025, 3, 10, 10)),
        (at(2025, 3, 7, 16), 8 * HOUR, at(2025, 3, 10, 16)),
        (at(2025, 3, 8, 10), HOUR, at(2025, 3, 10, 10)),  # from a Saturday
        # 春节 2026: Saturday 14 Feb works, 15–23 Feb off.
        (at(2026, 2, 13, 17), 2 * HOUR, at(2026, 2, 14, 10)),
        (at(2026, 2, 14, 17), 2 * HOUR, at(2026, 2, 24, 10)),
        (at(2026, 2, 18, 10), HOUR, at(2026, 2, 24, 10)),  # from inside the holiday
        # 中秋 and 国庆 2026: 25–27 Sep and 1–7 Oct off, Sunday 20 Sep works.
        (at(2026, 9, 19, 10), HOUR, at(2026, 9, 20, 10)),
        (at(2026, 9, 24, 17), 2 * HOUR, at(2026, 9, 28, 10)),
        (at(2026, 9, 30, 17), 2 * HOUR, at(2026, 10, 8, 10)),
        (at(2026, 10, 1, 9), HOUR, at(2026, 10, 8, 10)),
        # Across the year end: 1–3 Jan 2026 off, Sunday 4 Jan works.
        (at(2025, 12, 31, 17), 2 * HOUR, at(2026, 1, 4, 10)),
        # 30 working days from Monday 1 Sep 2025, over 国庆 2025 (1–8 Oct off, 28 Sep and
        # 11 Oct work): the 30th working day after 1 Sep is Friday 17 Oct.
        (at(2025, 9, 1, 10), 30 * 8 * HOUR, at(2025, 10, 17, 10)),
    ],
)
def test_add(start: datetime, seconds: float, due: datetime) -> None:
    result = CHINA.add(start, seconds)
    assert result == due
    assert result.tzinfo == SHANGHAI


def test_adding_nothing_returns_the_start_even_outside_working_hours() -> None:
    saturday = at(2025, 3, 8, 3)
    assert CHINA.add(saturday, 0) == saturday


@pytest.mark.parametrize("seconds", [-1, float("nan"), float("inf")])
def test_adding_a_negative_or_endless_duration_is_refused(seconds: float) -> None:
    with pytest.raises(ValueError, match="zero or more"):
        CHINA.add(at(2025, 3, 5, 9), seconds)


# -- measuring working time ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "end", "seconds"),
    [
        (at(2025, 3, 5, 9), at(2025, 3, 5, 18), 8 * HOUR),
        (at(2025, 3, 5), at(2025, 3, 6), 8 * HOUR),
        (at(2025, 3, 5, 11), at(2025, 3, 5, 14), 2 * HOUR),  # over lunch
        (at(2025, 3, 5, 12, 15), at(2025, 3, 5, 12, 45), 0),  # inside lunch
        (at(2025, 3, 5, 18), at(2025, 3, 6, 9), 0),  # overnight
        (at(2025, 3, 7, 17), at(2025, 3, 10, 10), 2 * HOUR),  # over a weekend
        (at(2025, 3, 3), at(2025, 3, 10), 5 * 8 * HOUR),  # a whole week
        (at(2026, 2, 13), at(2026, 3, 2), 7 * 8 * HOUR),  # 13, 14 and 24…28 Feb
        (at(2026, 9, 30, 9), at(2026, 10, 9, 9), 2 * 8 * HOUR),  # 30 Sep and 8 Oct
        (at(2025, 3, 5, 10), at(2025, 3, 5, 9), 0),  # backwards
    ],
)
def test_working_seconds(start: datetime, end: datetime, seconds: float) -> None:
    assert CHINA.working_seconds(start, end) == seconds


def test_working_seconds_over_a_whole_year() -> None:
    # 2025: 261 weekdays, 18 of them holidays, 5 working weekend days → 248.
    assert CHINA.working_seconds(at(2025, 1, 1), at(2026, 1, 1)) == 248 * 8 * HOUR
    # 2026: 261 weekdays, 19 of them holidays, 6 working weekend days → 248.
    assert CHINA.working_seconds(at(2026, 1, 1), at(2027, 1, 1)) == 248 * 8 * HOUR


def test_add_and_working_seconds_agree_on_random_starts() -> None:
    rng = random.Random(20250101)
    first, last = at(2025, 1, 1), at(2026, 11, 30)
    minutes = int((last - first).total_seconds() // 60)
    for _ in range(500):
        start = first + timedelta(minutes=rng.randrange(minutes), seconds=rng.randrange(60))
        seconds = rng.randrange(1, 20 * 8 * HOUR)
        due = CHINA.add(start, seconds)
        assert CHINA.working_seconds(start, due) == seconds
        # The earliest such instant: a microsecond sooner, the time is not yet used up.
        assert CHINA.working_seconds(start, due - timedelta(microseconds=1)) < seconds
        # Adding in two steps lands at the same instant.
        split = rng.randrange(1, seconds + 1)
        assert CHINA.add(CHINA.add(start, split), seconds - split) == due


def test_working_seconds_matches_counting_minute_by_minute() -> None:
    rng = random.Random(7)
    first = at(2025, 1, 1)
    for _ in range(30):
        start = first + timedelta(minutes=rng.randrange(2 * 365 * 24 * 60 - 10 * 24 * 60))
        end = start + timedelta(minutes=rng.randrange(4 * 24 * 60))
        working_minutes = 0
        minute = start
        while minute < end:
            in_period = any(s <= minute.time() < e for s, e in CHINA.periods)
            if in_period and CHINA.is_working_day(minute.date()):
                working_minutes += 1
            minute += timedelta(minutes=1)
        assert CHINA.working_seconds(start, end) == working_minutes * 60


# -- working days ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "days", "due"),
    [
        # From Friday afternoon, 7 March 2025: the Friday itself is not counted.
        (at(2025, 3, 7, 15), 1, at(2025, 3, 10, 18)),
        (at(2025, 3, 7, 15), 3, at(2025, 3, 12, 18)),
        (at(2025, 3, 7, 15), 5, at(2025, 3, 14, 18)),
        (at(2025, 3, 7, 20), 1, at(2025, 3, 10, 18)),  # after closing: the same
        (at(2025, 3, 8, 10), 1, at(2025, 3, 10, 18)),  # from a Saturday
        # From a holiday, 1 Oct 2026: 8, 9 and 10 (Saturday) Oct work, then 12 and 13.
        (at(2026, 10, 1, 10), 1, at(2026, 10, 8, 18)),
        (at(2026, 10, 1, 10), 3, at(2026, 10, 10, 18)),
        (at(2026, 10, 1, 10), 5, at(2026, 10, 13, 18)),
        # Over 春节 2026 from Friday 13 Feb: 14 Feb, then 24, 25, 26, 27 and Saturday 28 Feb.
        (at(2026, 2, 13, 15), 1, at(2026, 2, 14, 18)),
        (at(2026, 2, 13, 15), 3, at(2026, 2, 25, 18)),
        (at(2026, 2, 13, 15), 5, at(2026, 2, 27, 18)),
        (at(2026, 2, 13, 15), 6, at(2026, 2, 28, 18)),
        (at(2026, 2, 13, 15), 7, at(2026, 3, 2, 18)),
        # Across the year end: 1–3 Jan 2026 off, Sunday 4 Jan works.
        (at(2025, 12, 31, 10), 1, at(2026, 1, 4, 18)),
        (at(2025, 12, 31, 10), 2, at(2026, 1, 5, 18)),
        # 30 working days over 国庆 2025, from Monday 1 Sep.
        (at(2025, 9, 1, 10), 30, at(2025, 10, 17, 18)),
    ],
)
def test_add_working_days(start: datetime, days: int, due: datetime) -> None:
    result = CHINA.add_working_days(start, days)
    assert result == due
    assert result.tzinfo == SHANGHAI


@pytest.mark.parametrize(
    ("start", "due"),
    [
        (at(2025, 3, 5, 10), at(2025, 3, 5, 18)),  # today's close
        (at(2025, 3, 5, 12, 30), at(2025, 3, 5, 18)),
        (at(2025, 3, 5, 17, 59), at(2025, 3, 5, 18)),
        (at(2025, 3, 5, 18), at(2025, 3, 6, 18)),  # closed: the next working day's close
        (at(2025, 3, 8, 10), at(2025, 3, 10, 18)),  # Saturday
        (at(2026, 2, 14, 10), at(2026, 2, 14, 18)),  # 调休 Saturday
    ],
)
def test_zero_working_days_means_by_the_close_of_today(start: datetime, due: datetime) -> None:
    assert CHINA.add_working_days(start, 0) == due


def test_negative_working_days_are_refused() -> None:
    with pytest.raises(ValueError, match="negative"):
        CHINA.add_working_days(at(2025, 3, 5, 10), -1)


# -- the next working moment -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("moment", "expected"),
    [
        (at(2025, 3, 5, 9), at(2025, 3, 5, 9)),
        (at(2025, 3, 5, 10, 17, 3), at(2025, 3, 5, 10, 17, 3)),
        (at(2025, 3, 5, 12), at(2025, 3, 5, 13)),
        (at(2025, 3, 5, 12, 59), at(2025, 3, 5, 13)),
        (at(2025, 3, 5, 18), at(2025, 3, 6, 9)),
        (at(2025, 3, 5), at(2025, 3, 5, 9)),
        (at(2025, 3, 7, 18), at(2025, 3, 10, 9)),
        (at(2026, 2, 15, 10), at(2026, 2, 24, 9)),
        (at(2026, 1, 3, 10), at(2026, 1, 4, 9)),  # 调休 Sunday
    ],
)
def test_next_working_moment(moment: datetime, expected: datetime) -> None:
    assert CHINA.next_working_moment(moment) == expected


# -- time zones ------------------------------------------------------------------------------


def test_utc_inputs_are_read_in_the_calendars_zone() -> None:
    # 23:00 UTC on Tuesday is 07:00 on Wednesday in Shanghai.
    result = CHINA.add(datetime(2025, 3, 4, 23, tzinfo=UTC), HOUR)
    assert result == at(2025, 3, 5, 10)
    assert result.tzinfo == SHANGHAI
    assert result.hour == 10
    # 17:00 UTC on Friday is already Saturday in Shanghai.
    assert CHINA.next_working_moment(datetime(2025, 3, 7, 17, tzinfo=UTC)) == at(2025, 3, 10, 9)
    assert CHINA.add_working_days(datetime(2025, 3, 7, 17, tzinfo=UTC), 1) == at(2025, 3, 10, 18)
    assert (
        CHINA.working_seconds(
            datetime(2025, 3, 5, 1, tzinfo=UTC), datetime(2025, 3, 5, 10, tzinfo=UTC)
        )
        == 8 * HOUR
    )


def test_daylight_saving_time_counts_real_seconds() -> None:
    # Europe/Berlin skips 02:00–03:00 on Sunday 30 March 2025.
    berlin = ZoneInfo("Europe/Berlin")
    night_shift = WorkingCalendar(
        "Night shift",
        berlin,
        ((time(1), time(4)),),
        china_holidays=False,
        weekend=frozenset(),
    )
    day = datetime(2025, 3, 30, tzinfo=berlin)
    assert night_shift.working_seconds(day, day + timedelta(days=1)) == 2 * HOUR
    assert night_shift.add(datetime(2025, 3, 30, 1, tzinfo=berlin), 2 * HOUR) == datetime(
        2025, 3, 30, 4, tzinfo=berlin
    )


@pytest.mark.parametrize(
    "call",
    [
        lambda naive: CHINA.add(naive, HOUR),
        lambda naive: CHINA.working_seconds(naive, at(2025, 3, 6)),
        lambda naive: CHINA.working_seconds(at(2025, 3, 4), naive),
        lambda naive: CHINA.add_working_days(naive, 1),
        lambda naive: CHINA.next_working_moment(naive),
        lambda naive: add_time(CHINA, Basis.CALENDAR, naive, HOUR),
        lambda naive: elapsed(CHINA, Basis.CALENDAR, naive, at(2025, 3, 6)),
    ],
)
def test_naive_datetimes_are_refused(call: Callable[[datetime], object]) -> None:
    with pytest.raises(ValueError, match="time zone"):
        call(datetime(2025, 3, 5, 10))  # noqa: DTZ001


# -- calendars that never work ---------------------------------------------------------------


def test_a_calendar_without_working_days_fails_instead_of_looping() -> None:
    never = weekends_only(weekend=frozenset(range(7)))
    with pytest.raises(ValueError, match="no working day"):
        never.add(at(2025, 3, 5, 10), HOUR)
    with pytest.raises(ValueError, match="no working day"):
        never.add_working_days(at(2025, 3, 5, 10), 1)
    with pytest.raises(ValueError, match="no working day"):
        never.next_working_moment(at(2025, 3, 5, 10))
    assert never.working_seconds(at(2025, 1, 1), at(2030, 1, 1)) == 0


# -- both bases ------------------------------------------------------------------------------


def test_calendar_basis_counts_every_second() -> None:
    friday = at(2025, 3, 7, 17)
    due = add_time(CHINA, Basis.CALENDAR, datetime(2025, 3, 7, 9, tzinfo=UTC), 24 * HOUR)
    assert due == at(2025, 3, 8, 17)
    assert due.tzinfo == SHANGHAI
    assert elapsed(CHINA, Basis.CALENDAR, friday, at(2025, 3, 10, 10)) == 65 * HOUR
    assert elapsed(CHINA, Basis.CALENDAR, at(2025, 3, 10, 10), friday) == 0


def test_business_basis_counts_working_time() -> None:
    friday = at(2025, 3, 7, 17)
    assert add_time(CHINA, Basis.BUSINESS, friday, 2 * HOUR) == at(2025, 3, 10, 10)
    assert elapsed(CHINA, Basis.BUSINESS, friday, at(2025, 3, 10, 10)) == 2 * HOUR


# -- working periods as text -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "periods"),
    [
        ("09:00-12:00, 13:00-18:00", ((time(9), time(12)), (time(13), time(18)))),
        ("9:00-12:00,13:00-18:00", ((time(9), time(12)), (time(13), time(18)))),
        ("13:00–18:00, 09:00–12:00", ((time(9), time(12)), (time(13), time(18)))),
        ("08:30～12:00，14:00～17:30", ((time(8, 30), time(12)), (time(14), time(17, 30)))),
        (" 00:00-23:59 ", ((time(0), time(23, 59)),)),
        ("09:00:30-12:00", ((time(9, 0, 30), time(12)),)),
    ],
)
def test_parse_periods(text: str, periods: tuple[tuple[time, time], ...]) -> None:
    assert parse_periods(text) == periods
    assert parse_periods(format_periods(periods)) == periods


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "at least one"),
        (" , ", "at least one"),
        ("9-12", "not a working period"),
        ("09:00 to 12:00", "not a working period"),
        ("09:00-12:00 13:00-18:00", "not a working period"),
        ("25:00-26:00", "not a time of day"),
        ("09:60-10:00", "not a time of day"),
        ("12:00-09:00", "does not end after it starts"),
        ("09:00-09:00", "does not end after it starts"),
        ("09:00-12:00, 11:00-13:00", "overlap"),
        ("09:00-18:00, 12:00-13:00", "overlap"),
    ],
)
def test_parse_periods_rejects(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_periods(text)


def test_format_periods() -> None:
    assert format_periods(CHINA.periods) == "09:00-12:00, 13:00-18:00"


def test_a_calendar_refuses_bad_periods() -> None:
    with pytest.raises(ValueError, match="at least one"):
        WorkingCalendar("Empty", SHANGHAI, ())
    with pytest.raises(ValueError, match="overlap"):
        WorkingCalendar("Unsorted", SHANGHAI, ((time(13), time(18)), (time(9), time(12))))

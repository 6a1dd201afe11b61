"""Business calendars: which days are working days, and how much working time lies between
two instants.

Pure Python, no database: the back-office stores a calendar's settings and builds a
:class:`WorkingCalendar` from them; the SLA engine asks it for due times.

Conventions
-----------
- **Working time** is the union of a working day's periods (by default 09:00–12:00 and
  13:00–18:00 in Asia/Shanghai, 8 hours). Periods are half-open: 09:00 is inside, 12:00 is
  not. Instants are compared and subtracted in UTC, days and periods are read in the
  calendar's time zone, and every datetime returned is in that zone. Naive datetimes are
  refused, because a deadline must not depend on the server's clock settings.
- **Which days work**, strongest rule first: the administrators' extra days off
  (``holidays``), their extra working days (``workdays``), then — when ``china_holidays`` is
  on and the year is not in ``entered_years`` — the mainland public holidays and adjusted
  working days (调休) of the ``chinesecalendar`` package, and last the ``weekend``.
- **Unknown years are an error, never a guess.** The package only knows years up to its
  release; a question that needs a later year raises :class:`UnknownYear` until the
  administrators enter that year's holidays and mark it as entered. A day the
  administrators listed explicitly is answered even in an unknown year.
- :meth:`WorkingCalendar.add` returns the *earliest* instant at which the working time is
  used up. A due time that falls exactly at the end of a period stays there: 3 working hours
  from 09:00 is 12:00, not 13:00. A duration of zero returns the start unchanged, even outside
  working hours.
- :meth:`WorkingCalendar.add_working_days` follows the Civil Code's rule for periods counted
  in days (民法典 第二百零一条、第二百零三条): the starting day is not counted, and the
  period ends when business stops, at the close of the last working period of the last day.
  Submitted on a Friday afternoon, "1 working day" is due on Monday at 18:00; submitted on a
  holiday, it is due at the close of the first working day after it. ``days=0`` means "by
  the close of today": the close of the starting day when it is a working day and that close
  is still ahead, otherwise the close of the next working day.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

import chinese_calendar
from django.utils.translation import gettext as _

# Days walked without meeting a single working day before we call the calendar broken.
MAX_DAYS_WITHOUT_WORK = 3 * 366

DEFAULT_PERIODS: tuple[tuple[time, time], ...] = (
    (time(9, 0), time(12, 0)),
    (time(13, 0), time(18, 0)),
)

# The package answers for every year from its first to its last table, and raises
# NotImplementedError outside; we mirror that range rather than catching the error.
_PACKAGE_FIRST_YEAR: int = min(chinese_calendar.holidays).year
_PACKAGE_LAST_YEAR: int = max(chinese_calendar.holidays).year

Periods = tuple[tuple[time, time], ...]


class UnknownYear(Exception):
    """The calendar cannot say whether days of ``year`` are working days."""

    def __init__(self, year: int, calendar_name: str) -> None:
        super().__init__(year, calendar_name)
        self.year = year
        self.calendar_name = calendar_name

    def __str__(self) -> str:
        # Translated when shown, so the reader gets their own language.
        return _(
            "The business calendar “%(calendar)s” does not know the public holidays of "
            "%(year)s. Update the chinesecalendar package, or enter %(year)s's holidays and "
            "adjusted working days in the back-office and mark the year as entered."
        ) % {"calendar": self.calendar_name, "year": self.year}


class Basis(StrEnum):
    """Whether a time limit counts working time or plain elapsed time."""

    BUSINESS = "business"
    CALENDAR = "calendar"


@dataclass(frozen=True)
class WorkingCalendar:
    """When an organisation works: daily periods, weekend, and which dates break the pattern.

    ``holidays`` and ``workdays`` are the administrators' own days off and working days;
    ``entered_years`` are the years whose table they entered in full, so the package is not
    consulted for them. See the module docstring for the order in which the rules apply.
    """

    name: str
    tz: ZoneInfo
    periods: Periods
    china_holidays: bool = True
    holidays: frozenset[date] = frozenset()
    workdays: frozenset[date] = frozenset()
    entered_years: frozenset[int] = frozenset()
    weekend: frozenset[int] = frozenset({5, 6})

    def __post_init__(self) -> None:
        _check_periods(self.periods)

    # -- days ---------------------------------------------------------------------------

    def known(self, year: int) -> bool:
        """Whether :meth:`is_working_day` can answer for every day of ``year``."""
        if not self.china_holidays or year in self.entered_years:
            return True
        return _PACKAGE_FIRST_YEAR <= year <= _PACKAGE_LAST_YEAR

    def is_working_day(self, day: date) -> bool:
        """Whether ``day`` is a working day; raises :class:`UnknownYear` if it cannot say."""
        if day in self.holidays:
            return False
        if day in self.workdays:
            return True
        if self.china_holidays and day.year not in self.entered_years:
            if not self.known(day.year):
                raise UnknownYear(day.year, self.name)
            if day in chinese_calendar.workdays:
                return True
            if day in chinese_calendar.holidays:
                return False
        return day.weekday() not in self.weekend

    @property
    def seconds_per_day(self) -> float:
        """The length of a working day's periods, in seconds (by the clock: a day on which
        daylight saving time starts or ends may hold an hour less or more)."""
        return sum(_period_seconds(start, end) for start, end in self.periods)

    # -- instants -----------------------------------------------------------------------

    def next_working_moment(self, moment: datetime) -> datetime:
        """``moment`` itself if it is inside a working period, else the next period's start."""
        period_start, _period_end = next(self._working_intervals(_utc(moment)))
        return period_start.astimezone(self.tz)

    def working_seconds(self, start: datetime, end: datetime) -> float:
        """Working time between two instants, in seconds; 0 when ``end <= start``."""
        start, end = _utc(start), _utc(end)
        if end <= start:
            return 0.0
        total = timedelta()
        for period_start, period_end in self._working_intervals(start, until=end):
            total += min(period_end, end) - period_start
        return total.total_seconds()

    def add(self, start: datetime, seconds: float) -> datetime:
        """The earliest instant ``t >= start`` with ``working_seconds(start, t) == seconds``."""
        _check_duration(seconds)
        begin = _utc(start)
        if seconds == 0:
            return begin.astimezone(self.tz)
        remaining = timedelta(seconds=seconds)
        for period_start, period_end in self._working_intervals(begin):
            if remaining <= period_end - period_start:
                return (period_start + remaining).astimezone(self.tz)
            remaining -= period_end - period_start
        raise AssertionError("unreachable: _working_intervals is endless without `until`")

    def add_working_days(self, start: datetime, days: int) -> datetime:
        """The close of business on the ``days``-th working day after ``start``'s date.

        The starting day is not counted. ``days=0`` is the close of the starting day if it is
        a working day and the close is still ahead, else the close of the next working day.
        """
        if days < 0:
            raise ValueError(_("A number of working days cannot be negative."))
        begin = _utc(start)
        day = begin.astimezone(self.tz).date()
        if days == 0:
            if self._close(day) > begin and self.is_working_day(day):
                return self._close(day).astimezone(self.tz)
            days = 1
        for count, working_day in enumerate(self._working_days_after(day), start=1):
            if count == days:
                return self._close(working_day).astimezone(self.tz)
        raise AssertionError("unreachable: _working_days_after never ends")

    # -- helpers ------------------------------------------------------------------------

    def _intervals(self, day: date) -> list[tuple[datetime, datetime]]:
        """The periods of ``day`` as UTC instants (whether or not ``day`` is working)."""
        return [
            (_local(day, start, self.tz), _local(day, end, self.tz)) for start, end in self.periods
        ]

    def _close(self, day: date) -> datetime:
        return _local(day, self.periods[-1][1], self.tz)

    def _working_intervals(
        self, begin: datetime, until: datetime | None = None
    ) -> Iterator[tuple[datetime, datetime]]:
        """The working periods from ``begin`` on (the first one clipped to start at ``begin``),
        as UTC instants, day by day; those starting at or after ``until`` are left out.

        A day is looked up only when one of its periods lies ahead, so a range that ends
        at midnight of a year the calendar does not know still gets an answer. Without
        ``until``, years without a single working day mean the calendar is broken.
        """
        day = begin.astimezone(self.tz).date()
        last_day = until.astimezone(self.tz).date() if until is not None else date.max
        idle = 0
        while day <= last_day:
            ahead = [
                (max(start, begin), end)
                for start, end in self._intervals(day)
                if end > begin and (until is None or start < until)
            ]
            if ahead and self.is_working_day(day):
                idle = 0
                yield from ahead
            elif until is None:
                idle += 1
                self._check_idle(idle, day)
            day += timedelta(days=1)

    def _working_days_after(self, day: date) -> Iterator[date]:
        idle = 0
        while True:
            day += timedelta(days=1)
            if self.is_working_day(day):
                idle = 0
                yield day
            else:
                idle += 1
                self._check_idle(idle, day)

    def _check_idle(self, idle: int, day: date) -> None:
        if idle > MAX_DAYS_WITHOUT_WORK:
            raise ValueError(
                _(
                    "The business calendar “%(calendar)s” has no working day in the %(count)s "
                    "days before %(date)s. Check its weekend, holidays and working periods."
                )
                % {"calendar": self.name, "count": MAX_DAYS_WITHOUT_WORK, "date": day}
            )


def china_mainland(name: str = "China mainland", tz: str = "Asia/Shanghai") -> WorkingCalendar:
    """The default calendar: 09:00–12:00 and 13:00–18:00 on mainland China working days."""
    return WorkingCalendar(name=name, tz=ZoneInfo(tz), periods=DEFAULT_PERIODS)


def add_time(calendar: WorkingCalendar, basis: Basis, start: datetime, seconds: float) -> datetime:
    """``start`` plus ``seconds`` of working time (BUSINESS) or of elapsed time (CALENDAR)."""
    if basis == Basis.BUSINESS:
        return calendar.add(start, seconds)
    _check_duration(seconds)
    return (_utc(start) + timedelta(seconds=seconds)).astimezone(calendar.tz)


def elapsed(calendar: WorkingCalendar, basis: Basis, start: datetime, end: datetime) -> float:
    """Seconds of working time (BUSINESS) or elapsed time (CALENDAR) from start to end, >= 0."""
    if basis == Basis.BUSINESS:
        return calendar.working_seconds(start, end)
    return max(0.0, (_utc(end) - _utc(start)).total_seconds())


# -- working periods as text -------------------------------------------------------------

_PERIOD = re.compile(r"^(\d{1,2}:\d{2}(?::\d{2})?)\s*[-–—~～至]\s*(\d{1,2}:\d{2}(?::\d{2})?)$")
# Full-width punctuation that people type with a Chinese input method.
_FULL_WIDTH = str.maketrans({"，": ",", "；": ",", ";": ",", "、": ",", "：": ":"})


def parse_periods(text: str) -> Periods:
    """``"09:00-12:00, 13:00-18:00"`` → working periods, sorted; ValueError if invalid."""
    parts = [part.strip() for part in text.translate(_FULL_WIDTH).split(",")]
    parts = [part for part in parts if part]
    periods = []
    for part in parts:
        match = _PERIOD.match(part)
        if match is None:
            raise ValueError(
                _(
                    "“%(period)s” is not a working period. Write each period as start-end in "
                    "24-hour time, separated by commas, for example “09:00-12:00, 13:00-18:00”."
                )
                % {"period": part}
            )
        periods.append((_parse_time(match[1]), _parse_time(match[2])))
    periods.sort()
    _check_periods(periods)
    return tuple(periods)


def format_periods(periods: Iterable[tuple[time, time]]) -> str:
    """Working periods as text that :func:`parse_periods` reads back: ``09:00-12:00, …``."""
    return ", ".join(f"{_format_time(start)}-{_format_time(end)}" for start, end in periods)


def _parse_time(text: str) -> time:
    hour, minute, second = (int(part) for part in f"{text}:00".split(":")[:3])
    try:
        return time(hour, minute, second)
    except ValueError:
        raise ValueError(
            _("“%(time)s” is not a time of day; use 24-hour time from 00:00 to 23:59.")
            % {"time": text}
        ) from None


def _format_time(value: time) -> str:
    return value.strftime("%H:%M:%S" if value.second else "%H:%M")


def _check_periods(periods: Iterable[tuple[time, time]]) -> None:
    """Working periods must exist, each must end after it starts, in order, without overlap."""
    previous: tuple[time, time] | None = None
    for start, end in periods:
        if start >= end:
            raise ValueError(
                _(
                    "The working period %(period)s does not end after it starts. A period "
                    "must lie within one day, for example 09:00-12:00."
                )
                % {"period": format_periods([(start, end)])}
            )
        if previous is not None and start < previous[1]:
            raise ValueError(
                _(
                    "The working periods %(first)s and %(second)s overlap or are out of order. "
                    "List them from morning to evening without overlap."
                )
                % {"first": format_periods([previous]), "second": format_periods([(start, end)])}
            )
        previous = (start, end)
    if previous is None:
        raise ValueError(
            _("Enter at least one working period, for example “09:00-12:00, 13:00-18:00”.")
        )


def _check_duration(seconds: float) -> None:
    if not math.isfinite(seconds) or seconds < 0:
        raise ValueError(
            _("A time limit must be zero or more seconds, not %(seconds)s.") % {"seconds": seconds}
        )


def _utc(moment: datetime) -> datetime:
    """``moment`` in UTC, where subtraction and comparison are plain arithmetic."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(
            _("The time %(moment)s has no time zone; business calendars need aware datetimes.")
            % {"moment": moment.isoformat()}
        )
    return moment.astimezone(UTC)


def _local(day: date, at: time, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, at, tzinfo=tz).astimezone(UTC)


def _period_seconds(start: time, end: time) -> float:
    anchor = date(2000, 1, 1)
    return (datetime.combine(anchor, end) - datetime.combine(anchor, start)).total_seconds()

"""Key figures for a scope and a period, read from the daily rollups only.

Every function here reads ``reporting.models`` rollup rows (see ``reporting.rollups`` for
how they are kept and for the exact definition of each metric); none touches a complaint.
A figure that has no denominator in the period (no surveys, nothing replied) is ``None``,
never 0, so "no data" and "0 %" look different on the page.

Complaints count in the period of the day they were *received* (cohorts): a complaint
received on 3 March and replied on 9 March counts for March in every metric.

Scopes of at most one department read ``DepartmentRollup`` (a row per day and
department) and, for the breakdowns, ``ChannelRollup`` and ``CategoryRollup``; a scope by
category, channel, kind or petitioner type reads ``CohortRollup``. On
PostgreSQL with a year of 1,000,000 complaints, everything the page reads takes about a
quarter of a second for everything, half that for one department (``bench/RESULTS.md``).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from django.db.models import Case, IntegerField, QuerySet, Sum, Value, When
from django.utils.translation import gettext as _

from complaints.models import Complaint
from reporting.models import (
    FIRST_RESPONSE_BUCKETS,
    METRIC_FIELDS,
    ON_TIME_FIELDS,
    RATING_FIELDS,
    RESOLUTION_BUCKETS,
    CategoryRollup,
    ChannelRollup,
    CohortRollup,
    DepartmentRollup,
)
from reporting.rollups import percentile
from routing.models import Category, Department

# --- The interface ----------------------------------------------------------------------

PRESETS = (
    "this_week",
    "last_week",
    "this_month",
    "last_month",
    "this_quarter",
    "last_quarter",
    "this_year",
    "last_year",
)


@dataclass(frozen=True)
class Scope:
    """Which complaints count. Every part is optional; ``None`` means "all".

    ``category_id`` covers the category's sub-categories too; ``department_id`` is the
    one department (the one the complaint is assigned to).
    """

    department_id: int | None = None
    category_id: int | None = None
    channel: str | None = None
    kind: str | None = None
    petitioner_type: str | None = None


@dataclass(frozen=True)
class Period:
    """Days ``start`` (inclusive) to ``end`` (exclusive), in TIME_ZONE."""

    start: date
    end: date

    def __post_init__(self) -> None:
        if self.end <= self.start:
            raise ValueError("A period ends after it starts.")

    @property
    def days(self) -> int:
        return (self.end - self.start).days

    def previous(self) -> Period:
        """The period of the same length just before this one."""
        return Period(self.start - timedelta(days=self.days), self.start)

    @classmethod
    def preset(cls, name: str, *, today: date) -> Period:
        """A named period around ``today``: one of ``PRESETS``.

        Weeks start on Monday; "this …" periods end with ``today`` included (``end`` is
        tomorrow), "last …" periods are complete.
        """
        return _preset(name, today)


@dataclass(frozen=True)
class Kpis:
    """The key figures of one scope and period. Rates are fractions (0.0–1.0).

    Times are estimated from histograms (``reporting.rollups.BUCKET_ERROR``).
    """

    volume: int
    # Receipt → first "complaint.accepted".
    first_response_count: int
    first_response_median: timedelta | None
    first_response_p90: timedelta | None
    # Receipt → first reply sent.
    resolution_count: int
    resolution_median: timedelta | None
    resolution_p90: timedelta | None
    # Deadlines met without breach / (met + breached), per SLA stage; "cycle" is overall.
    on_time_rate: float | None
    on_time_by_stage: Mapping[str, float | None] = field(default_factory=dict)
    # Complaints with a breached deadline.
    overdue: int = 0
    overdue_rate: float | None = None
    # Surveys answered in the period's complaints, their average rating (1–5) and the
    # share with outcome "satisfied".
    surveys_answered: int = 0
    satisfaction_average: float | None = None
    satisfaction_rate: float | None = None
    # Reopened / replied.
    replied: int = 0
    reopened: int = 0
    reopen_rate: float | None = None
    # Complaints whose petitioner complained before / volume.
    repeat_petitions: int = 0
    repeat_rate: float | None = None
    # Closed with reopen_count 0 and a satisfied first survey / closed.
    closed: int = 0
    first_contact_resolved: int = 0
    first_contact_resolution_rate: float | None = None


@dataclass(frozen=True)
class Slice:
    """One part of a breakdown: ``key`` is the stored value, ``label`` its display name."""

    key: str
    label: str
    count: int


@dataclass(frozen=True)
class LeagueRow:
    """One department's line in the league table."""

    department_id: int | None
    department: str
    volume: int
    on_time_rate: float | None
    satisfaction_rate: float | None
    satisfaction_average: float | None
    overdue: int
    resolution_median: timedelta | None


def kpis(scope: Scope, period: Period) -> Kpis:
    """All key figures of ``scope`` in ``period``."""
    return _kpis(scope, period)


def comparison(scope: Scope, period: Period) -> tuple[Kpis, Kpis]:
    """The key figures of ``period`` and of ``period.previous()``, in that order."""
    return _comparison(scope, period)


def volume_by_day(scope: Scope, period: Period) -> list[tuple[date, int]]:
    """Complaints received on each day of the period (every day, zeros included)."""
    return _volume_by_day(scope, period)


def volume_by_week(scope: Scope, period: Period) -> list[tuple[date, int]]:
    """Complaints received per week (Monday's date; the first and last may be partial)."""
    return _volume_by_week(scope, period)


def by_channel(scope: Scope, period: Period) -> list[Slice]:
    """Volume per channel, largest first; channels without complaints are left out."""
    return _by_channel(scope, period)


def by_category(scope: Scope, period: Period) -> list[Slice]:
    """Volume per category (as classified; key "" for unclassified), largest first."""
    return _by_category(scope, period)


def league(scope: Scope, period: Period) -> list[LeagueRow]:
    """One row per department with complaints in the period, by volume (largest first).

    Key "" / ``department_id`` ``None`` collects complaints not yet given a department.
    """
    return _league(scope, period)


def satisfaction_distribution(scope: Scope, period: Period) -> list[tuple[int, int]]:
    """How many answered surveys gave each rating: ``[(1, n1), …, (5, n5)]``."""
    return _satisfaction_distribution(scope, period)


def on_time_by_week(scope: Scope, period: Period) -> list[tuple[date, float | None]]:
    """The overall ("cycle") on-time rate per week (Monday's date); ``None`` if none ended."""
    return _on_time_by_week(scope, period)


# --- Implementation ---------------------------------------------------------------------


def _preset(name: str, today: date) -> Period:
    tomorrow = today + timedelta(days=1)
    monday = today - timedelta(days=today.weekday())
    month = today.replace(day=1)
    quarter = today.replace(month=(today.month - 1) // 3 * 3 + 1, day=1)
    year = today.replace(month=1, day=1)
    if name == "this_week":
        return Period(monday, tomorrow)
    if name == "last_week":
        return Period(monday - timedelta(days=7), monday)
    if name == "this_month":
        return Period(month, tomorrow)
    if name == "last_month":
        return Period((month - timedelta(days=1)).replace(day=1), month)
    if name == "this_quarter":
        return Period(quarter, tomorrow)
    if name == "last_quarter":
        before = quarter - timedelta(days=1)
        return Period(before.replace(month=(before.month - 1) // 3 * 3 + 1, day=1), quarter)
    if name == "this_year":
        return Period(year, tomorrow)
    if name == "last_year":
        return Period(year.replace(year=year.year - 1), year)
    raise ValueError(f"Unknown period preset: {name!r}")


# --- Reading the rollups ----------------------------------------------------------------


def _category_ids(category_id: int) -> list[int]:
    """The category and every category below it (the tree is small: read it whole)."""
    children: dict[int | None, list[int]] = defaultdict(list)
    for pk, parent_id in Category.objects.values_list("pk", "parent_id"):
        children[parent_id].append(pk)
    found, todo = [], [category_id]
    while todo:
        pk = todo.pop()
        if pk not in found:
            found.append(pk)
            todo.extend(children[pk])
    return found


def _department_only(scope: Scope) -> bool:
    return scope.category_id is None and not (scope.channel or scope.kind or scope.petitioner_type)


def _rows(scope: Scope, start: date, end: date) -> QuerySet[Any]:
    """The rollup rows of ``scope`` received from ``start`` to ``end`` (exclusive).

    Scopes of at most a department read the per-department table: a few rows a day
    instead of one per combination of every dimension.
    """
    if _department_only(scope):
        rows: QuerySet[Any] = DepartmentRollup.objects.all()
    else:
        rows = CohortRollup.objects.all()
        if scope.category_id is not None:
            rows = rows.filter(category_id__in=_category_ids(scope.category_id))
        if scope.channel:
            rows = rows.filter(channel=scope.channel)
        if scope.kind:
            rows = rows.filter(kind=scope.kind)
        if scope.petitioner_type:
            rows = rows.filter(petitioner_type=scope.petitioner_type)
    if scope.department_id is not None:
        rows = rows.filter(department_id=scope.department_id)
    # No default ordering: it would end up in the GROUP BY.
    return rows.filter(day__gte=start, day__lt=end).order_by()


def _breakdown_rows(scope: Scope, period: Period, by: str) -> QuerySet[Any]:
    """Rows to break the volume down ``by`` "channel" or "category_id".

    Scopes of at most a department read the small table of that breakdown; others the
    rows with every dimension.
    """
    if not _department_only(scope):
        return _rows(scope, period.start, period.end)
    table: type[ChannelRollup | CategoryRollup] = (
        ChannelRollup if by == "channel" else CategoryRollup
    )
    rows: QuerySet[Any] = table.objects.filter(day__gte=period.start, day__lt=period.end)
    if scope.department_id is not None:
        rows = rows.filter(department_id=scope.department_id)
    return rows.order_by()


def _sums(fields: Iterable[str]) -> dict[str, Sum]:
    return {name: Sum(name) for name in fields}


def _totals(values: Mapping[str, Any], fields: Iterable[str]) -> dict[str, int]:
    return {name: int(values.get(name) or 0) for name in fields}


def _rate(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def _kpis_of(t: Mapping[str, int]) -> Kpis:
    """The key figures from summed rollup columns (every ``METRIC_FIELDS`` name)."""
    by_stage = {
        stage: _rate(t[on_time], t[on_time] + t[late])
        for stage, (on_time, late) in ON_TIME_FIELDS.items()
    }
    first_response = [t[name] for name in FIRST_RESPONSE_BUCKETS]
    resolution = [t[name] for name in RESOLUTION_BUCKETS]
    volume = t["received"]
    return Kpis(
        volume=volume,
        first_response_count=t["first_response_count"],
        first_response_median=percentile(first_response, 0.5),
        first_response_p90=percentile(first_response, 0.9),
        resolution_count=t["resolution_count"],
        resolution_median=percentile(resolution, 0.5),
        resolution_p90=percentile(resolution, 0.9),
        on_time_rate=by_stage["cycle"],
        on_time_by_stage=by_stage,
        overdue=t["overdue"],
        overdue_rate=_rate(t["overdue"], volume),
        surveys_answered=t["surveys_answered"],
        satisfaction_average=(t["rating_sum"] / t["rating_count"] if t["rating_count"] else None),
        satisfaction_rate=_rate(t["surveys_satisfied"], t["surveys_answered"]),
        replied=t["replied"],
        reopened=t["reopened"],
        reopen_rate=_rate(t["reopened"], t["replied"]),
        repeat_petitions=t["repeat_petitions"],
        repeat_rate=_rate(t["repeat_petitions"], volume),
        closed=t["closed"],
        first_contact_resolved=t["first_contact_resolved"],
        first_contact_resolution_rate=_rate(t["first_contact_resolved"], t["closed"]),
    )


def _kpis(scope: Scope, period: Period) -> Kpis:
    values = _rows(scope, period.start, period.end).aggregate(**_sums(METRIC_FIELDS))
    return _kpis_of(_totals(values, METRIC_FIELDS))


def _comparison(scope: Scope, period: Period) -> tuple[Kpis, Kpis]:
    # One pass over both periods, grouped by which one a row belongs to.
    before = period.previous()
    grouped = (
        _rows(scope, before.start, period.end)
        .annotate(
            current=Case(
                When(day__gte=period.start, then=Value(1)),
                default=Value(0),
                output_field=IntegerField(),
            )
        )
        .values("current")
        .annotate(**_sums(METRIC_FIELDS))
    )
    found = {row["current"]: row for row in grouped}
    return (
        _kpis_of(_totals(found.get(1, {}), METRIC_FIELDS)),
        _kpis_of(_totals(found.get(0, {}), METRIC_FIELDS)),
    )


def _days(period: Period) -> list[date]:
    return [period.start + timedelta(days=n) for n in range(period.days)]


def _monday(day: date) -> date:
    return day - timedelta(days=day.weekday())


def _volume_by_day(scope: Scope, period: Period) -> list[tuple[date, int]]:
    counts = dict(
        _rows(scope, period.start, period.end)
        .values("day")
        .annotate(n=Sum("received"))
        .values_list("day", "n")
    )
    return [(day, int(counts.get(day) or 0)) for day in _days(period)]


def _volume_by_week(scope: Scope, period: Period) -> list[tuple[date, int]]:
    weeks: dict[date, int] = {}
    for day, count in _volume_by_day(scope, period):
        weeks[_monday(day)] = weeks.get(_monday(day), 0) + count
    return list(weeks.items())


def _by_channel(scope: Scope, period: Period) -> list[Slice]:
    labels = dict(Complaint.Channel.choices)
    rows = (
        _breakdown_rows(scope, period, "channel")
        .values("channel")
        .annotate(n=Sum("received"))
        .values_list("channel", "n")
    )
    slices = [Slice(key, str(labels.get(key, key)), int(n)) for key, n in rows if n]
    return sorted(slices, key=lambda s: (-s.count, s.label))


def _by_category(scope: Scope, period: Period) -> list[Slice]:
    rows = list(
        _breakdown_rows(scope, period, "category_id")
        .values("category_id")
        .annotate(n=Sum("received"))
        .values_list("category_id", "n")
    )
    names = {c.pk: c.name for c in Category.objects.filter(pk__in=[pk for pk, _n in rows if pk])}
    slices = [
        Slice(
            str(pk) if pk else "",
            names.get(pk, "") if pk else _("Not classified"),
            int(n),
        )
        for pk, n in rows
        if n
    ]
    return sorted(slices, key=lambda s: (-s.count, s.label))


_LEAGUE_FIELDS = [
    "received",
    "overdue",
    "surveys_answered",
    "surveys_satisfied",
    "rating_sum",
    "rating_count",
    *ON_TIME_FIELDS["cycle"],
    *RESOLUTION_BUCKETS,
]


def _league(scope: Scope, period: Period) -> list[LeagueRow]:
    grouped = list(
        _rows(scope, period.start, period.end)
        .values("department_id")
        .annotate(**_sums(_LEAGUE_FIELDS))
    )
    names = {
        d.pk: d.name
        for d in Department.objects.filter(
            pk__in=[row["department_id"] for row in grouped if row["department_id"]]
        )
    }
    on_time, late = ON_TIME_FIELDS["cycle"]
    league = []
    for row in grouped:
        t = _totals(row, _LEAGUE_FIELDS)
        if not t["received"]:
            continue
        department_id = row["department_id"]
        league.append(
            LeagueRow(
                department_id=department_id,
                department=(
                    names.get(department_id, "") if department_id else _("No department yet")
                ),
                volume=t["received"],
                on_time_rate=_rate(t[on_time], t[on_time] + t[late]),
                satisfaction_rate=_rate(t["surveys_satisfied"], t["surveys_answered"]),
                satisfaction_average=(
                    t["rating_sum"] / t["rating_count"] if t["rating_count"] else None
                ),
                overdue=t["overdue"],
                resolution_median=percentile([t[name] for name in RESOLUTION_BUCKETS], 0.5),
            )
        )
    return sorted(league, key=lambda r: (-r.volume, r.department))


def _satisfaction_distribution(scope: Scope, period: Period) -> list[tuple[int, int]]:
    values = _rows(scope, period.start, period.end).aggregate(**_sums(RATING_FIELDS))
    return [(rating, int(values[f"rating_{rating}"] or 0)) for rating in range(1, 6)]


def _on_time_by_week(scope: Scope, period: Period) -> list[tuple[date, float | None]]:
    on_time_field, late_field = ON_TIME_FIELDS["cycle"]
    rows = (
        _rows(scope, period.start, period.end)
        .values("day")
        .annotate(on_time=Sum(on_time_field), late=Sum(late_field))
        .values_list("day", "on_time", "late")
    )
    weeks: dict[date, list[int]] = {_monday(day): [0, 0] for day in _days(period)}
    for day, on_time, late in rows:
        week = weeks[_monday(day)]
        week[0] += int(on_time or 0)
        week[1] += int(late or 0)
    return [(week, _rate(on_time, on_time + late)) for week, (on_time, late) in weeks.items()]

"""The reports page (/reports/): key figures against the previous period, charts, league.

It reads the rollups only (``reporting.kpis``), a handful of queries whatever the period.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import formats, timezone
from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext, pgettext_lazy

from ops.params import ascii_int
from reporting import charts, kpis
from reporting.access import department_lock
from reporting.definitions import COHORTS, DEFINITIONS
from reporting.filters import DEFAULT_PERIOD, ReportFilterForm
from reporting.formatting import format_count, format_duration, format_rate, format_rating
from reporting.kpis import Kpis, Period, Scope
from reporting.replica import replica_reads
from routing.models import Department
from sla.models import Stage

# A period up to this long is drawn day by day; a longer one week by week.
DAILY_UP_TO = 92

# --- Cards ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Card:
    """One key figure, with last period's value and how it moved."""

    label: str
    help: str
    value: str
    previous: str
    change: str
    trend: str  # "up", "down", "flat", or "" when either side has no value
    verdict: str  # "better", "worse", "neutral"
    trend_text: str


@dataclass(frozen=True)
class _Figure:
    label: Promise
    help: Promise
    read: Callable[[Kpis], Any]
    kind: str  # count, rate, time, rating
    better: str = ""  # "higher", "lower", or "" when neither is better


FIGURES = [
    _Figure(
        gettext_lazy("Complaints received"), DEFINITIONS["volume"], lambda k: k.volume, "count"
    ),
    _Figure(
        gettext_lazy("First response, median"),
        DEFINITIONS["first_response"],
        lambda k: k.first_response_median,
        "time",
        "lower",
    ),
    _Figure(
        gettext_lazy("Resolution, median"),
        DEFINITIONS["resolution"],
        lambda k: k.resolution_median,
        "time",
        "lower",
    ),
    _Figure(
        gettext_lazy("Resolution, 90th percentile"),
        DEFINITIONS["resolution"],
        lambda k: k.resolution_p90,
        "time",
        "lower",
    ),
    _Figure(
        gettext_lazy("On time"), DEFINITIONS["on_time"], lambda k: k.on_time_rate, "rate", "higher"
    ),
    _Figure(
        pgettext_lazy("key figure", "Overdue"),
        DEFINITIONS["overdue"],
        lambda k: k.overdue,
        "count",
        "lower",
    ),
    _Figure(
        gettext_lazy("Satisfied"),
        DEFINITIONS["satisfaction"],
        lambda k: k.satisfaction_rate,
        "rate",
        "higher",
    ),
    _Figure(
        gettext_lazy("Average rating"),
        DEFINITIONS["satisfaction"],
        lambda k: k.satisfaction_average,
        "rating",
        "higher",
    ),
    _Figure(
        pgettext_lazy("key figure", "Reopened"),
        DEFINITIONS["reopen"],
        lambda k: k.reopen_rate,
        "rate",
        "lower",
    ),
    _Figure(
        gettext_lazy("Repeat petitions"),
        DEFINITIONS["repeat"],
        lambda k: k.repeat_rate,
        "rate",
        "lower",
    ),
    _Figure(
        gettext_lazy("Resolved at first contact"),
        DEFINITIONS["first_contact"],
        lambda k: k.first_contact_resolution_rate,
        "rate",
        "higher",
    ),
]

_FORMAT: dict[str, Callable[[Any], str]] = {
    "count": format_count,
    "rate": format_rate,
    "time": format_duration,
    "rating": format_rating,
}


def _number(value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, timedelta):
        return value.total_seconds()
    return float(value)


def _change(kind: str, now: float, before: float) -> tuple[str, float]:
    """The change as shown, and its size (for the trend)."""
    if kind == "rate":
        points = (now - before) * 100
        return _("%(points)s pp") % {"points": f"{points:+.1f}"}, points
    if kind == "rating":
        return f"{now - before:+.2f}", now - before
    if before == 0:
        return ("" if now == 0 else _("new")), now
    relative = (now - before) / before * 100
    return f"{relative:+.0f} %", relative


def card(figure: _Figure, current: Kpis, previous: Kpis) -> Card:
    now, before = figure.read(current), figure.read(previous)
    show = _FORMAT[figure.kind]
    trend = verdict = change = ""
    a, b = _number(now), _number(before)
    if a is not None and b is not None:
        change, size = _change(figure.kind, a, b)
        trend = "up" if size > 0.05 else "down" if size < -0.05 else "flat"
        verdict = "neutral"
        if figure.better and trend != "flat":
            verdict = "better" if (trend == "up") == (figure.better == "higher") else "worse"
    texts = {
        "up": _("up from the previous period"),
        "down": _("down from the previous period"),
        "flat": _("as in the previous period"),
        "": "",
    }
    return Card(
        label=str(figure.label),
        help=str(figure.help),
        value=show(now),
        previous=show(before),
        change=change,
        trend=trend,
        verdict=verdict or "neutral",
        trend_text=texts[trend],
    )


# --- Charts and their tables ------------------------------------------------------------


@dataclass(frozen=True)
class Chart:
    """A chart and the same numbers as a table (for screen readers, and without images)."""

    title: str
    svg: str
    headers: tuple[str, ...]
    rows: list[tuple[str, ...]]


def _short(day: date) -> str:
    return formats.date_format(day, "SHORT_DATE_FORMAT")


def _charts(scope: Scope, period: Period, current: Kpis) -> list[Chart]:
    found: list[Chart] = []

    if period.days <= DAILY_UP_TO:
        title = _("Complaints received per day")
        volume = [(_short(day), count) for day, count in kpis.volume_by_day(scope, period)]
        first_column = _("Day")
    else:
        title = _("Complaints received per week")
        volume = [(_short(week), count) for week, count in kpis.volume_by_week(scope, period)]
        first_column = _("Week from")
    found.append(
        Chart(
            title,
            charts.bar_chart(volume, title=title),
            (first_column, pgettext("how many", "Complaints")),
            [(label, format_count(count)) for label, count in volume],
        )
    )

    title = _("On time per week (whole cycle)")
    weekly = [(_short(week), rate) for week, rate in kpis.on_time_by_week(scope, period)]
    found.append(
        Chart(
            title,
            charts.line_chart({_("On time"): weekly}, title=title, percent=True),
            (_("Week from"), _("On time")),
            [(label, format_rate(rate)) for label, rate in weekly],
        )
    )

    stage_labels = dict(Stage.choices)
    stages = [
        (str(stage_labels.get(stage, stage)), rate)
        for stage, rate in current.on_time_by_stage.items()
        if rate is not None
    ]
    title = _("On time per stage")
    found.append(
        Chart(
            title,
            charts.hbar_chart(stages, title=title, percent=True),
            (_("Stage"), _("On time")),
            [(label, format_rate(rate)) for label, rate in stages],
        )
    )

    for title, name, slices in (
        (_("Complaints by channel"), _("Channel"), kpis.by_channel(scope, period)),
        (_("Complaints by category"), _("Category"), kpis.by_category(scope, period)),
    ):
        total = sum(s.count for s in slices)
        found.append(
            Chart(
                title,
                charts.hbar_chart([(s.label, s.count) for s in slices], title=title),
                (name, pgettext("how many", "Complaints"), _("Share")),
                [(s.label, format_count(s.count), format_rate(s.count / total)) for s in slices],
            )
        )

    distribution = kpis.satisfaction_distribution(scope, period)
    title = _("Satisfaction ratings")
    answered = sum(count for _rating, count in distribution)
    found.append(
        Chart(
            title,
            charts.distribution_chart(dict(distribution), title=title),
            (_("Rating"), _("Answers"), _("Share")),
            [
                (
                    str(rating),
                    format_count(count),
                    format_rate(count / answered if answered else None),
                )
                for rating, count in distribution
            ],
        )
    )
    return found


# --- The page ---------------------------------------------------------------------------


def _forged_department(request: HttpRequest, lock: int | None) -> bool:
    """A department in the query that this reader may not see (or that does not exist)."""
    raw = request.GET.get("department", "")
    if not raw:
        return False
    if lock is not None:
        return raw != str(lock)
    pk = ascii_int(raw)
    return not (pk is not None and Department.objects.filter(pk=pk).exists())


@login_required(login_url="console:login")
@replica_reads
def overview(request: HttpRequest) -> HttpResponse:
    lock = department_lock(request.user)  # 403 for those who read no reports
    if _forged_department(request, lock):
        raise Http404
    today = timezone.localdate()
    form = ReportFilterForm(request.GET or None, locked_department=lock)
    context: dict[str, Any] = {"form": form, "cohorts": COHORTS, "definitions": DEFINITIONS}
    if request.GET and not form.is_valid():
        return render(request, "reporting/overview.html", context, status=400)
    if request.GET:
        scope, period = form.scope(), form.chosen_period(today=today)
    else:
        scope, period = Scope(department_id=lock), Period.preset(DEFAULT_PERIOD, today=today)
    current, previous = kpis.comparison(scope, period)
    context.update(
        {
            "period": period,
            "period_last_day": period.end - timedelta(days=1),
            "previous": period.previous(),
            "previous_last_day": period.start - timedelta(days=1),
            "cards": [card(figure, current, previous) for figure in FIGURES],
            "charts": _charts(scope, period, current),
            "league": kpis.league(scope, period),
            "current": current,
        }
    )
    return render(request, "reporting/overview.html", context)

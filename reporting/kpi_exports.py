"""KPI tables as exports: the key figures of a period beside the previous one, or the
league table of departments — for the period and scope of the reports page.

The choices are the reports page's own (``reporting.filters.ReportFilterForm``, the same
query parameters), and so is the reach (``reporting.access.department_lock``): a
department head gets their own department's figures whatever the filters ask. A preset
period ("this month") means the one around the day the export was asked for.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

from django import forms
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accounts.models import User
from reporting.access import department_lock
from reporting.filters import ReportFilterForm

if TYPE_CHECKING:
    from reporting.exports import Source
    from reporting.kpis import Kpis

TABLES = [
    ("kpis", gettext_lazy("Key figures, this period and the previous one")),
    ("league", gettext_lazy("League table of departments")),
]


class KpiExportForm(ReportFilterForm):
    """The reports page's period and scope, and which table."""

    table = forms.ChoiceField(label=gettext_lazy("Table"), choices=TABLES, initial="kpis")

    def filters(self) -> dict[str, str]:
        """The choices as stored on the export job: the reports page's query, and the table."""
        stored: dict[str, str] = {}
        for name in KpiExportForm.base_fields:
            value = self.cleaned_data.get(name)
            if value in (None, ""):
                continue
            stored[name] = str(value.pk) if hasattr(value, "pk") else str(value)
        return stored


def _hours(value: timedelta | None) -> float | None:
    return round(value.total_seconds() / 3600, 1) if value is not None else None


def _percent(value: float | None) -> float | None:
    return round(value * 100, 1) if value is not None else None


def _rounded(value: float | None) -> float | None:
    return round(value, 2) if value is not None else None


# Each line of the key figures: its label, and how to read it from a Kpis.
KPI_LINES: list[tuple[Any, Any]] = [
    (gettext_lazy("Complaints received"), lambda k: k.volume),
    (gettext_lazy("First response, median (hours)"), lambda k: _hours(k.first_response_median)),
    (
        gettext_lazy("First response, 90th percentile (hours)"),
        lambda k: _hours(k.first_response_p90),
    ),
    (gettext_lazy("Replied"), lambda k: k.replied),
    (gettext_lazy("Resolution, median (hours)"), lambda k: _hours(k.resolution_median)),
    (gettext_lazy("Resolution, 90th percentile (hours)"), lambda k: _hours(k.resolution_p90)),
    (gettext_lazy("On time (%)"), lambda k: _percent(k.on_time_rate)),
    (gettext_lazy("Overdue complaints"), lambda k: k.overdue),
    (gettext_lazy("Overdue complaints (%)"), lambda k: _percent(k.overdue_rate)),
    (gettext_lazy("Surveys answered"), lambda k: k.surveys_answered),
    (gettext_lazy("Average satisfaction (1–5)"), lambda k: _rounded(k.satisfaction_average)),
    (gettext_lazy("Satisfied (%)"), lambda k: _percent(k.satisfaction_rate)),
    (gettext_lazy("Reopened"), lambda k: k.reopened),
    (gettext_lazy("Reopened (%)"), lambda k: _percent(k.reopen_rate)),
    (gettext_lazy("Repeat petitions"), lambda k: k.repeat_petitions),
    (gettext_lazy("Repeat petitions (%)"), lambda k: _percent(k.repeat_rate)),
    (gettext_lazy("Closed"), lambda k: k.closed),
    (gettext_lazy("Resolved at first contact"), lambda k: k.first_contact_resolved),
    (
        gettext_lazy("Resolved at first contact (%)"),
        lambda k: _percent(k.first_contact_resolution_rate),
    ),
]


def kpi_rows(current: Kpis, previous: Kpis) -> list[list[Any]]:
    """The key figures as rows: label, this period, the previous one."""
    from sla.models import Stage

    rows = [[str(label), read(current), read(previous)] for label, read in KPI_LINES]
    for stage, label in Stage.choices:
        if stage in current.on_time_by_stage or stage in previous.on_time_by_stage:
            rows.append(
                [
                    _("On time: %(stage)s (%%)") % {"stage": label},
                    _percent(current.on_time_by_stage.get(stage)),
                    _percent(previous.on_time_by_stage.get(stage)),
                ]
            )
    return rows


def _span(start: date, end: date) -> str:
    """``start`` to the day before ``end`` (a Period's end is exclusive)."""
    return f"{start:%Y-%m-%d} – {end - timedelta(days=1):%Y-%m-%d}"


def source(user: User, filters: dict[str, Any], *, today: date) -> Source:
    """The table the filters ask for, within ``user``'s reach (PermissionDenied outside)."""
    from reporting import kpis
    from reporting.exports import Source

    form = KpiExportForm(filters, locked_department=department_lock(user))
    if not form.is_valid():
        raise ValueError(f"invalid KPI export filters: {form.errors.as_json()}")
    scope, period = form.scope(), form.chosen_period(today=today)
    if form.cleaned_data["table"] == "league":
        headers = [
            _("Department"),
            _("Complaints received"),
            _("On time (%)"),
            _("Satisfied (%)"),
            _("Average satisfaction (1–5)"),
            _("Overdue complaints"),
            _("Resolution, median (hours)"),
        ]
        rows: Sequence[Sequence[Any]] = [
            [
                row.department or _("No department yet"),
                row.volume,
                _percent(row.on_time_rate),
                _percent(row.satisfaction_rate),
                _rounded(row.satisfaction_average),
                row.overdue,
                _hours(row.resolution_median),
            ]
            for row in kpis.league(scope, period)
        ]
        widths = [24, 12, 12, 12, 12, 10, 14]
        name = _("League table")
    else:
        current, previous = kpis.comparison(scope, period)
        before = period.previous()
        headers = [
            _("Key figure"),
            _span(period.start, period.end),
            _span(before.start, before.end),
        ]
        rows = kpi_rows(current, previous)
        widths = [40, 24, 24]
        name = _("Key figures")
    return Source(headers=headers, total=len(rows), rows=_each(rows), name=name, widths=widths)


def _each(rows: Sequence[Sequence[Any]]) -> Iterator[Sequence[Any]]:
    yield from rows

"""The monthly report: the key figures of the month beside the month before, the
departments' league table and the most frequent categories — all from ``reporting.kpis``.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from django.utils.translation import gettext as _

from reporting.kpi_exports import kpi_rows
from reporting.scheduled import Cell, percent, section, table

TOP_CATEGORIES = 10


def _hours(value: timedelta | None) -> str:
    return "—" if value is None else f"{value.total_seconds() / 3600:.1f}"


def _number(value: Any) -> Cell:
    return "—" if value is None else value


def report_data(start: date, end: date) -> dict[str, Any]:
    from reporting import kpis

    everything = kpis.Scope()
    period = kpis.Period(start, end + timedelta(days=1))
    before = period.previous()
    # The month before is a calendar month too, not the same number of days back.
    previous_start = (start - timedelta(days=1)).replace(day=1)
    if before.start != previous_start:
        before = kpis.Period(previous_start, start)
    current = kpis.kpis(everything, period)
    previous = kpis.kpis(everything, before)
    league = kpis.league(everything, period)
    categories = kpis.by_category(everything, period)[:TOP_CATEGORIES]

    month, last = f"{start:%Y-%m}", f"{previous_start:%Y-%m}"
    title = _("Monthly report %(month)s") % {"month": month}
    summary = _(
        "%(month)s: %(volume)d complaints received (%(previous)d in %(last)s); "
        "on time %(on_time)s, satisfied %(satisfied)s, reopened %(reopened)s."
    ) % {
        "month": month,
        "last": last,
        "volume": current.volume,
        "previous": previous.volume,
        "on_time": percent(current.on_time_rate),
        "satisfied": percent(current.satisfaction_rate),
        "reopened": percent(current.reopen_rate),
    }
    volume = current.volume or 0
    return {
        "title": title,
        "summary": summary,
        "period": {"start": start.isoformat(), "end": end.isoformat()},
        "counts": {"volume": current.volume, "previous_volume": previous.volume},
        "sections": [
            section(
                _("Key figures"),
                intro=_(
                    "Complaints count in the month they were received; times are in hours, "
                    "rates in per cent."
                ),
                tables=[
                    table(
                        [_("Key figure"), month, last],
                        [
                            [row[0], _number(row[1]), _number(row[2])]
                            for row in kpi_rows(current, previous)
                        ],
                    )
                ],
            ),
            section(
                _("League table of departments"),
                tables=[
                    table(
                        [
                            _("Department"),
                            _("Complaints received"),
                            _("On time"),
                            _("Satisfied"),
                            _("Average satisfaction (1–5)"),
                            _("Overdue complaints"),
                            _("Resolution, median (hours)"),
                        ],
                        [
                            [
                                row.department or _("No department yet"),
                                row.volume,
                                percent(row.on_time_rate),
                                percent(row.satisfaction_rate),
                                "—"
                                if row.satisfaction_average is None
                                else f"{row.satisfaction_average:.2f}",
                                row.overdue,
                                _hours(row.resolution_median),
                            ]
                            for row in league
                        ],
                    )
                ],
                empty=_("No complaints this month."),
            ),
            section(
                _("Top categories"),
                tables=[
                    table(
                        [_("Category"), _("Complaints received"), _("Share")],
                        [
                            [
                                item.label or _("Not classified"),
                                item.count,
                                percent(item.count / volume if volume else None),
                            ]
                            for item in categories
                        ],
                    )
                ],
                empty=_("No complaints this month."),
            ),
        ],
    }

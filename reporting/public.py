"""Public statistics (/statistics/): anonymised figures anyone may read.

Each installation decides whether to publish them (``PUBLIC_STATISTICS``). The figures
come from the reports' key figures (``reporting.kpis``) for a whole period — this month,
last month or this year — and every cell built on fewer than
``PUBLIC_STATISTICS_MIN_COUNT`` (5) complaints reads "fewer than 5" instead of a number,
so that nobody can be recognised in a small count:

- received: the complaints received; closed: those of them closed;
- on time: the overall on-time rate, shown when at least 5 of the complaints were replied
  (each replied complaint's whole-cycle deadline was met or passed, so the rate stands on
  at least as many);
- satisfaction: the share satisfied and the average rating, over at least 5 answers;
- by category: each category with at least 5 complaints; the smaller ones are added up
  under "Other categories", unnamed, so that none of them can be worked out.

No personal data, no names of staff or departments. The figures are cached for
``PUBLIC_STATISTICS_CACHE_SECONDS`` (10 minutes), per period, day and language.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from django.conf import settings
from django.core.cache import cache
from django.utils.safestring import SafeString
from django.utils.translation import get_language, gettext_lazy
from django.utils.translation import gettext as _

from reporting.charts import hbar_chart
from reporting.formatting import format_count, format_rate, format_rating

PERIODS = {
    "this_month": gettext_lazy("This month"),
    "last_month": gettext_lazy("Last month"),
    "this_year": gettext_lazy("This year"),
}
DEFAULT_PERIOD = "this_month"


@dataclass(frozen=True)
class Cell:
    """One published figure: its text, and whether it was withheld."""

    text: str
    suppressed: bool = False


@dataclass(frozen=True)
class PublicFigures:
    period: str
    first_day: date
    last_day: date
    received: Cell
    closed: Cell
    on_time: Cell
    satisfied: Cell
    rating: Cell
    # (category, count) largest first, the small ones added up last.
    categories: list[tuple[str, Cell]]
    category_chart: SafeString | None


def minimum() -> int:
    return int(settings.PUBLIC_STATISTICS_MIN_COUNT)


def fewer_than() -> Cell:
    return Cell(_("fewer than %(n)s") % {"n": minimum()}, suppressed=True)


def count_cell(value: int) -> Cell:
    return Cell(format_count(value)) if value >= minimum() else fewer_than()


def figures(period: str, *, today: date) -> PublicFigures:
    """The published figures of ``period`` (one of ``PERIODS``), cached."""
    key = f"reporting:public:{period}:{today.isoformat()}:{get_language()}:{minimum()}"
    found = cache.get(key)
    if not isinstance(found, PublicFigures):
        found = _figures(period, today)
        cache.set(key, found, settings.PUBLIC_STATISTICS_CACHE_SECONDS)
    return found


def _figures(period_name: str, today: date) -> PublicFigures:
    # Imported here: the key figures are read only when the page is asked for.
    from reporting import kpis

    scope = kpis.Scope()
    period = kpis.Period.preset(period_name, today=today)
    figures = kpis.kpis(scope, period)
    smallest = minimum()
    enough_answers = figures.surveys_answered >= smallest
    shown, others = [], 0
    for part in kpis.by_category(scope, period):
        if part.count >= smallest:
            shown.append((part.label, part.count))
        else:
            others += part.count
    categories = [(label, count_cell(count)) for label, count in shown]
    if others:
        categories.append((_("Other categories"), count_cell(others)))
    chart = hbar_chart(shown, title=_("Complaints by category")) if len(shown) >= 2 else None
    return PublicFigures(
        period=period_name,
        first_day=period.start,
        last_day=period.end - timedelta(days=1),
        received=count_cell(figures.volume),
        closed=count_cell(figures.closed),
        on_time=(
            Cell(format_rate(figures.on_time_rate)) if figures.replied >= smallest else fewer_than()
        ),
        satisfied=Cell(format_rate(figures.satisfaction_rate)) if enough_answers else fewer_than(),
        rating=Cell(format_rating(figures.satisfaction_average))
        if enough_answers
        else fewer_than(),
        categories=categories,
        category_chart=chart,
    )

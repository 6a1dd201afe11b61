"""Numbers as the reports show them: counts, rates, times, ratings; "—" for no value."""

from __future__ import annotations

from datetime import timedelta

from django.utils import formats
from django.utils.translation import gettext as _


def format_duration(value: timedelta | None) -> str:
    """A time for people: minutes under an hour, hours under two days, then days."""
    if value is None:
        return "—"
    seconds = value.total_seconds()
    if seconds < 3600:
        return _("%(n)s min") % {"n": formats.number_format(round(seconds / 60))}
    if seconds < 48 * 3600:
        return _("%(n)s h") % {"n": formats.number_format(seconds / 3600, 1)}
    return _("%(n)s days") % {"n": formats.number_format(seconds / 86400, 1)}


def format_rate(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{formats.number_format(value * 100, 1)} %"


def format_count(value: int | None) -> str:
    return "—" if value is None else formats.number_format(value, force_grouping=True)


def format_rating(value: float | None) -> str:
    return "—" if value is None else formats.number_format(value, 2)

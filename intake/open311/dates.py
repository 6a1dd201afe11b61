"""Dates in Open311 searches: W3C dates and datetimes, and the 90-day window."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from datetime import timezone as dt_timezone

from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _

from intake.open311.params import Open311Error, param

# By default the requests of the last 90 days, and never a longer span.
MAX_SPAN = timedelta(days=90)

# The W3C profile of ISO 8601: YYYY, YYYY-MM, YYYY-MM-DD, or a date and time with a zone.
_W3C = re.compile(
    r"^(?P<year>[0-9]{4})(?:-(?P<month>[0-9]{2})(?:-(?P<day>[0-9]{2})"
    r"(?:T(?P<hour>[0-9]{2}):(?P<minute>[0-9]{2})"
    r"(?::(?P<second>[0-9]{2})(?:\.(?P<fraction>[0-9]{1,9}))?)?"
    r"(?P<zone>Z|[+-][0-9]{2}:[0-9]{2}))?)?)?$"
)


def _w3c_period(parameter: str, raw: str) -> tuple[datetime, datetime]:
    """The first and the last instant that a W3C date or datetime denotes.

    A datetime is one instant and must carry its zone; a date (or month, or year) is the
    whole of it in the server's time zone.
    """
    match = _W3C.fullmatch(raw)
    try:
        if match is None or not 1900 <= int(match["year"]) <= 9000:
            raise ValueError(raw)
        year, month, day = int(match["year"]), int(match["month"] or 1), int(match["day"] or 1)
        if match["hour"] is not None:
            fraction = (match["fraction"] or "").ljust(6, "0")[:6]
            moment = datetime(
                year,
                month,
                day,
                int(match["hour"]),
                int(match["minute"]),
                int(match["second"] or 0),
                int(fraction),
                tzinfo=_zone(match["zone"]),
            )
            return moment, moment
        first = datetime(year, month, day)  # noqa: DTZ001 - made aware below
        if match["day"] is not None:
            following = first + timedelta(days=1)
        elif match["month"] is not None:
            following = (first.replace(day=28) + timedelta(days=4)).replace(day=1)
        else:
            following = first.replace(year=year + 1)
        zone = timezone.get_current_timezone()
        return (
            timezone.make_aware(first, zone),
            timezone.make_aware(following, zone) - timedelta(microseconds=1),
        )
    except ValueError as error:
        raise Open311Error(
            400,
            _(
                "%(parameter)s: use a W3C date and time with its time zone, "
                "e.g. 2010-01-01T00:00:00Z."
            )
            % {"parameter": parameter},
        ) from error


def _zone(text: str) -> dt_timezone:
    if text == "Z":
        return UTC
    hours, minutes = int(text[1:3]), int(text[4:6])
    if minutes >= 60:
        raise ValueError(text)
    offset = timedelta(hours=hours, minutes=minutes)
    return dt_timezone(-offset if text[0] == "-" else offset)  # ValueError from 24:00 on


def period(request: HttpRequest) -> tuple[datetime, datetime]:
    """start_date..end_date; 90 days at most, the most recent 90 days by default."""
    start_raw, end_raw = param(request, "start_date"), param(request, "end_date")
    start = _w3c_period("start_date", start_raw)[0] if start_raw else None
    end = _w3c_period("end_date", end_raw)[1] if end_raw else None
    if start is None and end is None:
        end = timezone.now()
    if start is None:
        assert end is not None
        return end - MAX_SPAN, end
    if end is None:
        return start, start + MAX_SPAN
    if end < start:
        raise Open311Error(400, _("end_date is before start_date."))
    if end - start > MAX_SPAN:
        raise Open311Error(
            400,
            _("start_date and end_date may not be more than %(days)d days apart.")
            % {"days": MAX_SPAN.days},
        )
    return start, end

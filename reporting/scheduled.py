"""Scheduled reports: built once per period, archived, sent to their subscribers.

Two kinds (``ReportKind``): the weekly process-exception report (``reporting.weekly``),
built on Mondays for the week before, and the monthly report (``reporting.monthly``),
built on the 1st for the month before. Each is stored once per kind and period
(``StoredReport``, unique): its figures as data, and the HTML rendered from
``reporting/scheduled_report_body.html`` at that moment, in the site's language. Beat, a
retried task and ``manage.py build_report`` may all ask again; the stored report stays the
one built first, and each subscriber hears of it once (the outbox's dedupe key).

A report covers every department, so it is for those who oversee them all:
supervisors, administrators and auditors (``may_read``). Subscribers get a short summary
by e-mail and in the console, with a link to the stored report; it also downloads as PDF.

A report's data is a list of sections, each with tables whose cells are text, numbers,
or ``{"text": …, "url": …}`` for a link: the HTML template and the PDF both read that.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from datetime import date, datetime, time, timedelta
from typing import Any
from xml.sax.saxutils import escape

from django.conf import settings
from django.db import IntegrityError, transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from accounts.models import User
from complaints import permissions
from notifications.services import notify
from reporting.products import ReportKind, ReportSubscription, StoredReport

logger = logging.getLogger(__name__)

Cell = str | int | float | None | dict[str, str]


# --- Who ----------------------------------------------------------------------------------


def may_read(user: Any) -> bool:
    """Supervisors, administrators and auditors: those who oversee every department."""
    if not (user and user.is_active):
        return False
    return permissions.has_wide_scope(user) and (
        user.has_perm(permissions.perm("manage_department"))
        or user.has_perm(permissions.perm("view_audit_log"))
    )


def subscribe(user: User, kind: str, *, active: bool) -> ReportSubscription:
    """Start or stop ``user``'s subscription to ``kind`` (kept as a row either way)."""
    subscription, _created = ReportSubscription.objects.update_or_create(
        user=user, kind=kind, defaults={"active": active}
    )
    return subscription


def subscribers(kind: str) -> list[User]:
    found = ReportSubscription.objects.filter(
        kind=kind, active=True, user__is_active=True
    ).select_related("user")
    return [s.user for s in found if may_read(s.user)]


# --- Periods ------------------------------------------------------------------------------


def period_of(kind: str, day: date) -> tuple[date, date]:
    """The period of ``kind`` that ``day`` falls in: first and last day (inclusive)."""
    if kind == ReportKind.WEEKLY_EXCEPTIONS:
        start = day - timedelta(days=day.weekday())
        return start, start + timedelta(days=6)
    if kind == ReportKind.MONTHLY:
        start = day.replace(day=1)
        following = (start + timedelta(days=32)).replace(day=1)
        return start, following - timedelta(days=1)
    raise ValueError(f"unknown report kind {kind!r}")


def last_complete_period(kind: str, *, today: date | None = None) -> tuple[date, date]:
    """The latest period of ``kind`` that ended before ``today``."""
    today = today or timezone.localdate()
    start, _end = period_of(kind, today)
    return period_of(kind, start - timedelta(days=1))


def start_of(day: date) -> datetime:
    """Midnight of ``day`` in TIME_ZONE: where a reporting day begins."""
    return datetime.combine(day, time.min, tzinfo=timezone.get_default_timezone())


# --- Building -----------------------------------------------------------------------------


def build(
    kind: str,
    period_start: date | None = None,
    *,
    send: bool = True,
    today: date | None = None,
) -> tuple[StoredReport, bool]:
    """The stored report of ``kind`` for the period starting on (or containing)
    ``period_start`` — by default the last complete one; built if it is not stored yet.

    Returns the report and whether it was built now. With ``send``, subscribers are told
    (once each, however often this runs). A period that has not ended yet is refused
    (``ValueError``): a report is built once and then kept as it is.
    """
    today = today or timezone.localdate()
    if period_start is None:
        start, end = last_complete_period(kind, today=today)
    else:
        start, end = period_of(kind, period_start)
    if end >= today:
        raise ValueError(_("That period is not over yet."))
    report = StoredReport.objects.filter(kind=kind, period_start=start).first()
    created = False
    if report is None:
        report, created = _store(kind, start, end)
    if send:
        tell_subscribers(report)
    return report, created


def _store(kind: str, start: date, end: date) -> tuple[StoredReport, bool]:
    language = settings.LANGUAGE_CODE
    with translation.override(language):
        if kind == ReportKind.WEEKLY_EXCEPTIONS:
            from reporting import weekly

            data = weekly.report_data(start, end)
        else:
            from reporting import monthly

            data = monthly.report_data(start, end)
        html = render_to_string("reporting/scheduled_report_body.html", {"data": data})
    try:
        with transaction.atomic():
            report = StoredReport.objects.create(
                kind=kind,
                period_start=start,
                period_end=end,
                title=data["title"],
                summary=data["summary"],
                data=data,
                html=html,
                language=language,
            )
    except IntegrityError:
        # Built by someone else meanwhile (an overlapping run): theirs is the report.
        return StoredReport.objects.get(kind=kind, period_start=start), False
    logger.info("stored report %s for %s – %s", kind, start, end)
    return report, True


def tell_subscribers(report: StoredReport) -> int:
    """E-mail and in-app message to each active subscriber, once each; how many stored."""
    title, summary = report.title, report.summary

    def compose(_recipient: Any) -> tuple[str, str]:
        return title, summary + "\n\n" + _("The whole report, also as PDF:")

    return notify(
        subscribers(report.kind),
        kind=f"reporting.{report.kind}",
        compose=compose,
        key=f"reporting.report:{report.pk}",
        channels=["email", "in_app"],
        url=reverse("reporting:report", args=[report.pk]),
    )


# --- The shape of the data ----------------------------------------------------------------


def table(
    headers: Sequence[str], rows: Iterable[Sequence[Cell]], *, caption: str = ""
) -> dict[str, Any]:
    return {"caption": caption, "headers": list(headers), "rows": [list(row) for row in rows]}


def section(
    title: str,
    *,
    intro: str = "",
    tables: Sequence[dict[str, Any]] = (),
    empty: str = "",
) -> dict[str, Any]:
    """A part of a report; ``empty`` is said instead of tables when they have no rows."""
    return {
        "title": title,
        "intro": intro,
        "tables": list(tables),
        "empty": empty,
        "has_rows": any(found["rows"] for found in tables),
    }


def link(text: str, url: str) -> dict[str, str]:
    return {"text": text, "url": url}


def when(value: datetime | None) -> str:
    return timezone.localtime(value).strftime("%Y-%m-%d %H:%M") if value else ""


def percent(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f}%"


# --- PDF ------------------------------------------------------------------------------------


def pdf(report: StoredReport) -> bytes:
    """The stored report as an A4 PDF, from its data, in the language it was built in."""
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.units import mm
    from reportlab.platypus import Paragraph, Spacer, Table, TableStyle

    from complaints import documents

    with translation.override(report.language or settings.LANGUAGE_CODE):
        styles = documents._Styles(documents.font_name())
        cell_style = styles.small
        story: list[Any] = [
            Paragraph(escape(documents.organisation_name()), styles.sender),
            Paragraph(escape(report.title), styles.title),
            *documents._paragraphs(report.summary, styles.body),
        ]
        for part in report.data.get("sections", []):
            story.append(Paragraph(escape(part["title"]), styles.heading))
            if part.get("intro"):
                story += documents._paragraphs(part["intro"], styles.small)
            if not part.get("has_rows") and part.get("empty"):
                story.append(Paragraph(escape(part["empty"]), styles.body))
                continue
            for found in part.get("tables", []):
                if found.get("caption"):
                    story.append(Paragraph(escape(found["caption"]), styles.subheading))
                if not found["rows"]:
                    story.append(Paragraph(escape(_("None.")), styles.small))
                    continue
                cells = [
                    [Paragraph(escape(_text(cell)), cell_style) for cell in row]
                    for row in [found["headers"], *found["rows"]]
                ]
                width = (A4[0] - 2 * documents.MARGIN) / max(1, len(found["headers"]))
                grid = Table(cells, colWidths=width, repeatRows=1, hAlign="LEFT")
                grid.setStyle(
                    TableStyle(
                        [
                            ("VALIGN", (0, 0), (-1, -1), "TOP"),
                            ("GRID", (0, 0), (-1, -1), 0.25, colors.HexColor("#bbbbbb")),
                            ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#eef3ef")),
                        ]
                    )
                )
                story += [grid, Spacer(1, 3 * mm)]
        return documents._build(story, title=report.title, reference=report.title)


def _text(cell: Cell) -> str:
    if isinstance(cell, dict):
        return str(cell.get("text", ""))
    return "" if cell is None else str(cell)

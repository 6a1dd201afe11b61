"""The weekly process-exception report: what went wrong in the handling last week.

Four parts, for the week's Monday 00:00 to the next Monday 00:00 (TIME_ZONE):

* **Overdue steps** — time limits that passed during the week (``Deadline.breached_at``),
  by stage and by department (a co-handling task counts for the department doing it);
* **Escalations** — levels the SLA sweep escalated during the week (``SlaAction``), by
  level and by department;
* **Missing details** — complaints received by the end of the week and still open when
  the report is built that lack what the process needs: a category or department after
  classification, any way to reach the petitioner, or an answer to a request for
  details for more than ``NEEDS_INFO_WAITING_DAYS`` days;
* **Reopened** — complaints reopened during the week (the petitioner was not satisfied).

Lists show the first ``LIST_LIMIT`` rows; the counts are always complete.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from django.db.models import Count, F, Max, Q, QuerySet
from django.db.models.functions import Coalesce
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import pgettext

from complaints.models import OPEN_STATES, Complaint, Event
from reporting.scheduled import Cell, link, section, start_of, table, when
from routing.models import Department
from sla.models import Deadline, SlaAction, Stage

LIST_LIMIT = 100
NEEDS_INFO_WAITING_DAYS = 7
# States in which a complaint must have a category and a department.
_HANDLED = ("assigned", "in_progress", "replied", "reopened")


def report_data(start: date, end: date) -> dict[str, Any]:
    since, until = start_of(start), start_of(end + timedelta(days=1))
    overdue = Deadline.objects.filter(breached_at__gte=since, breached_at__lt=until).annotate(
        unit=Coalesce(F("co_handling_task__department_id"), F("complaint__department_id"))
    )
    escalations = SlaAction.objects.filter(
        kind=SlaAction.Kind.ESCALATION, created_at__gte=since, created_at__lt=until
    ).annotate(
        unit=Coalesce(
            F("deadline__co_handling_task__department_id"), F("deadline__complaint__department_id")
        )
    )
    missing = _missing(until)
    reopened = Event.objects.filter(
        kind="complaint.reopened", created_at__gte=since, created_at__lt=until
    ).select_related("complaint", "complaint__department")
    counts = {
        "overdue": overdue.count(),
        "escalations": escalations.count(),
        "missing": sum(query.count() for _label, query in missing),
        "reopened": reopened.count(),
    }
    title = _("Process exceptions, %(start)s – %(end)s") % {"start": start, "end": end}
    summary = _(
        "Week %(start)s – %(end)s: %(overdue)d steps overdue, %(escalations)d escalations, "
        "%(missing)d open complaints with missing details, %(reopened)d reopened."
    ) % {"start": start, "end": end, **counts}
    return {
        "title": title,
        "summary": summary,
        "period": {"start": start.isoformat(), "end": end.isoformat()},
        "counts": counts,
        "sections": [
            _overdue_section(overdue, counts["overdue"]),
            _escalation_section(escalations, counts["escalations"]),
            _missing_section(missing, NEEDS_INFO_WAITING_DAYS),
            _reopened_section(reopened, counts["reopened"]),
        ],
    }


# --- Parts --------------------------------------------------------------------------------


def _overdue_section(overdue: QuerySet[Deadline], total: int) -> dict[str, Any]:
    stages = dict(Stage.choices)
    by_stage = overdue.values("stage").annotate(n=Count("id")).order_by("-n", "stage")
    listed = overdue.select_related("complaint").order_by("breached_at", "id")[:LIST_LIMIT]
    names = _department_names(overdue)
    return section(
        _("Overdue steps"),
        intro=_("Time limits that passed during the week."),
        tables=[
            table(
                [_("Stage"), _("Steps overdue")],
                [[str(stages.get(row["stage"], row["stage"])), row["n"]] for row in by_stage],
                caption=_("By stage"),
            ),
            table(
                [_("Department"), _("Steps overdue")],
                _by_unit(overdue, names),
                caption=_("By department"),
            ),
            table(
                [_("Complaint"), _("Stage"), _("Department"), _("Due"), _("Now")],
                [
                    [
                        _complaint_link(d.complaint),
                        str(stages.get(d.stage, d.stage)),
                        names.get(getattr(d, "unit", None), "—"),
                        when(d.due_at),
                        d.get_state_display(),
                    ]
                    for d in listed
                ],
                caption=_listed(total),
            ),
        ],
        empty=_("No time limit passed this week."),
    )


def _escalation_section(escalations: QuerySet[SlaAction], total: int) -> dict[str, Any]:
    stages = dict(Stage.choices)
    by_level = escalations.values("level").annotate(n=Count("id")).order_by("level")
    listed = escalations.select_related("deadline__complaint").order_by("created_at", "id")[
        :LIST_LIMIT
    ]
    names = _department_names(escalations)
    return section(
        _("Escalations"),
        intro=_("Levels escalated during the week because a time limit had passed."),
        tables=[
            table(
                [_("Level"), _("Escalations")],
                [[row["level"], row["n"]] for row in by_level],
                caption=_("By level"),
            ),
            table(
                [_("Department"), _("Escalations")],
                _by_unit(escalations, names),
                caption=_("By department"),
            ),
            table(
                [
                    _("Complaint"),
                    _("Stage"),
                    _("Level"),
                    _("Department"),
                    pgettext("date", "Escalated"),
                ],
                [
                    [
                        _complaint_link(action.deadline.complaint),
                        str(stages.get(action.deadline.stage, action.deadline.stage)),
                        action.level,
                        names.get(getattr(action, "unit", None), "—"),
                        when(action.created_at),
                    ]
                    for action in listed
                ],
                caption=_listed(total),
            ),
        ],
        empty=_("Nothing was escalated this week."),
    )


def _missing(until: Any) -> list[tuple[str, QuerySet[Complaint]]]:
    """Open complaints received before ``until`` that lack something, by what they lack."""
    received = Complaint.objects.filter(received_at__lt=until).select_related("department")
    unclassified = received.filter(
        Q(status__in=_HANDLED, category__isnull=True)
        | Q(status__in=_HANDLED, department__isnull=True)
        | Q(status="classified", category__isnull=True)
    )
    unreachable = received.filter(status__in=OPEN_STATES, anonymised_at__isnull=True).filter(
        Q(petitioner__isnull=True)
        | Q(petitioner__phone="", petitioner__email="", petitioner__address="")
    )
    waiting_since = timezone.now() - timedelta(days=NEEDS_INFO_WAITING_DAYS)
    waiting = (
        received.filter(status="needs_info")
        .annotate(
            asked=Max("events__created_at", filter=Q(events__kind="complaint.info_requested"))
        )
        .filter(Q(asked__lt=waiting_since) | Q(asked__isnull=True))
    )
    return [
        (_("No category or department after classification"), unclassified),
        (_("No way to reach the petitioner"), unreachable),
        (_("Waiting for details from the petitioner for a long time"), waiting),
    ]


def _missing_section(
    missing: list[tuple[str, QuerySet[Complaint]]], waiting_days: int
) -> dict[str, Any]:
    tables = []
    for label, found in missing:
        count = found.count()
        rows: list[list[Cell]] = [
            [
                _complaint_link(complaint),
                complaint.get_status_display(),
                str(complaint.department) if complaint.department else "—",
                when(complaint.received_at),
            ]
            for complaint in found.order_by("received_at", "id")[:LIST_LIMIT]
        ]
        tables.append(
            table(
                [_("Complaint"), _("Status"), _("Department"), pgettext("date", "Received")],
                rows,
                caption=f"{label} ({count})",
            )
        )
    return section(
        _("Missing details"),
        intro=_(
            "Complaints received by the end of the week and still open when this report was "
            "built. Waiting for details counts from %(days)d days after they were asked for."
        )
        % {"days": waiting_days},
        tables=tables,
        empty=_("No open complaint lacks anything."),
    )


def _reopened_section(reopened: QuerySet[Event], total: int) -> dict[str, Any]:
    listed = reopened.order_by("created_at", "id")[:LIST_LIMIT]
    rows: list[list[Cell]] = [
        [
            _complaint_link(event.complaint),
            str(event.complaint.department) if event.complaint.department else "—",
            event.payload.get("reopened") or event.complaint.reopen_count,
            when(event.created_at),
            str(event.payload.get("reason", ""))[:200],
        ]
        for event in listed
    ]
    return section(
        _("Reopened"),
        intro=_("Complaints reopened during the week because the petitioner was not satisfied."),
        tables=[
            table(
                [
                    _("Complaint"),
                    _("Department"),
                    _("Times reopened"),
                    pgettext("date", "Reopened"),
                    _("Why"),
                ],
                rows,
                caption=_listed(total),
            )
        ],
        empty=_("No complaint was reopened this week."),
    )


# --- Helpers ------------------------------------------------------------------------------


def _complaint_link(complaint: Complaint) -> dict[str, str]:
    text = f"{complaint.tracking_code} {complaint.title}"[:80]
    return link(text, reverse("console:complaint", args=[complaint.pk]))


def _listed(total: int) -> str:
    if total > LIST_LIMIT:
        return _("List: the first %(shown)d of %(total)d") % {"shown": LIST_LIMIT, "total": total}
    return _("List")


def _department_names(rows: QuerySet[Any]) -> dict[int | None, str]:
    """Names of the departments the rows count for (their ``unit``)."""
    ids = set(rows.exclude(unit__isnull=True).values_list("unit", flat=True).distinct())
    names: dict[int | None, str] = {d.pk: str(d) for d in Department.objects.filter(pk__in=ids)}
    names[None] = _("No department")
    return names


def _by_unit(rows: QuerySet[Any], names: dict[int | None, str]) -> list[list[Cell]]:
    counted = rows.values("unit").annotate(n=Count("id")).order_by("-n", "unit")
    return [[names.get(row["unit"], "—"), row["n"]] for row in counted]

"""Exports: complaint lists and KPI tables as CSV or XLSX, at once or built by a worker.

What a person may export is what they may see, never more: a complaint list is the
console queue itself — ``complaints.queues`` builds it from ``permissions.visible_to``
with the very filters of the queue page — and it is built again with the owner's current
rights when a worker runs the job later.

Personal data of petitioners is masked, as everywhere in the console (see
``complaints.privacy``). A user who may see it can ask for it unmasked, with a reason; the
export is then recorded on the timeline of every complaint whose data went out
(``personal_data.exported``), like an unmasked view. Every export, masked or not, leaves
an ``ExportJob`` row: who, when, what filters, how many rows.

Up to ``EXPORT_SYNC_LIMIT`` rows are written at once and downloaded in the same request.
Larger exports become a job: a Celery task streams the rows (``iterator``, in chunks),
writes the file to the media storage (``exports/``), keeps the progress on the row, and tells
the owner in the console when it is ready. Files are deleted after ``EXPORT_KEEP_DAYS``.
"""

from __future__ import annotations

import logging
import tempfile
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from io import BytesIO
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.core.files import File
from django.db import transaction
from django.db.models import Q, QuerySet
from django.http import QueryDict
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext, pgettext_lazy

from accounts.models import User
from complaints import permissions, privacy, queues
from complaints.models import Complaint, Event
from notifications.services import notify
from reporting import spreadsheets
from reporting.products import ExportJob
from reporting.replica import reads_from_replica

logger = logging.getLogger(__name__)

# Rows fetched from the database at a time while streaming a large export.
CHUNK_SIZE = 500
# A running job whose row was not touched for this long lost its worker: run it again.
STALE_AFTER = timedelta(minutes=10)
# Query parameters of the queue page that are not filters.
_NOT_FILTERS = ("after", "csrfmiddlewaretoken", "format")


@dataclass
class Source:
    """What an export writes: headers, how many rows, and the rows (streamed)."""

    headers: list[str]
    total: int
    rows: Iterator[Sequence[Any]]
    name: str
    widths: list[int]


@dataclass(frozen=True)
class Started:
    """An export just asked for: its row, and the file itself when it was small."""

    job: ExportJob
    content: bytes | None = None


# --- Starting ---------------------------------------------------------------------------


def filters_from_query(query: str) -> dict[str, list[str]]:
    """The filters of a queue query string, as stored on the job (empty values dropped)."""
    params = QueryDict(query)
    kept: dict[str, list[str]] = {}
    for key in params:
        if key in _NOT_FILTERS:
            continue
        values = [value for value in params.getlist(key) if value]
        if values:
            kept[key] = values
    return kept


def may_export_personal_data(user: User) -> bool:
    return user.is_active and user.has_perm(permissions.perm("view_personal_data"))


def start(
    *,
    owner: User,
    kind: str,
    file_format: str,
    filters: dict[str, Any],
    personal_data: bool = False,
    reason: str = "",
) -> Started:
    """Record an export and build it: at once when small, else queued for a worker.

    Unmasked personal data needs ``view_personal_data`` and a reason; otherwise
    ``PermissionDenied`` or ``ValueError``. The job row is the record of the export.
    """
    if file_format not in ExportJob.Format.values or kind not in ExportJob.Kind.values:
        raise ValueError(f"unknown export {kind!r} as {file_format!r}")
    reason = (reason or "").strip()
    if personal_data:
        if kind != ExportJob.Kind.COMPLAINTS or not may_export_personal_data(owner):
            raise PermissionDenied(_("You may not export personal data unmasked."))
        if not reason:
            raise ValueError(_("Say why you need the personal data unmasked."))
    now = timezone.now()
    with transaction.atomic():
        job = ExportJob.objects.create(
            owner=owner,
            kind=kind,
            format=file_format,
            filters=filters,
            personal_data=personal_data,
            reason=reason[:300],
            status=ExportJob.Status.RUNNING,
            started_at=now,
            updated_at=now,
        )
        with reads_from_replica():
            source = source_for(job)
            total = source.total
        if total > settings.EXPORT_SYNC_LIMIT:
            job.status = ExportJob.Status.QUEUED
            job.started_at = None
            job.rows_total = total
            job.save(update_fields=["status", "started_at", "rows_total"])
            transaction.on_commit(lambda: queue_job(job.pk))
            return Started(job)
        buffer = BytesIO()
        with reads_from_replica():
            count = _write(job, source, buffer)
        job.status = ExportJob.Status.DONE
        job.direct = True
        job.rows_total = job.rows_done = count
        job.finished_at = timezone.now()
        job.save(update_fields=["status", "direct", "rows_total", "rows_done", "finished_at"])
    return Started(job, buffer.getvalue())


def queue_job(job_id: int) -> None:
    """Ask a worker to build the job; without a broker, the periodic clean-up asks again."""
    from reporting.tasks import run_export

    try:
        run_export.delay(job_id)
    except Exception:  # kombu raises many kinds; the job waits, it is not lost
        logger.warning("could not queue export %s; it is queued again later", job_id, exc_info=True)


# --- Building (the worker) --------------------------------------------------------------


def run(job_id: int) -> ExportJob | None:
    """Build the file of a queued job, keeping its progress; tell the owner when it is done.

    Claimed with a guarded update, so a duplicate task does nothing; a job whose worker
    died (running, untouched for ``STALE_AFTER``) is built again from the start.
    """
    now = timezone.now()
    claimable = Q(status=ExportJob.Status.QUEUED) | Q(
        status=ExportJob.Status.RUNNING, updated_at__lt=now - STALE_AFTER
    )
    claimed = (
        ExportJob.objects.filter(claimable, pk=job_id)
        .exclude(direct=True)
        .update(status=ExportJob.Status.RUNNING, started_at=now, updated_at=now, rows_done=0)
    )
    if not claimed:
        return None
    job = ExportJob.objects.select_related("owner").get(pk=job_id)
    try:
        with translation.override(job.owner.preferred_language), reads_from_replica():
            source = source_for(job)
            ExportJob.objects.filter(pk=job.pk).update(rows_total=source.total)

            def progress(count: int) -> None:
                ExportJob.objects.filter(pk=job.pk).update(
                    rows_done=count, updated_at=timezone.now()
                )

            with tempfile.TemporaryFile() as scratch:
                count = _write(job, source, scratch, progress=progress)
                scratch.seek(0)
                job.file.save(
                    f"{uuid.uuid4().hex}.{job.format}", File(scratch, name="export"), save=False
                )
    except Exception as error:
        logger.exception("export %s failed", job.pk)
        job.status = ExportJob.Status.FAILED
        job.error = f"{type(error).__name__}: {error}"[:2000]
        job.finished_at = timezone.now()
        job.save(update_fields=["status", "error", "finished_at"])
        _tell_owner(job)
        return job
    job.status = ExportJob.Status.DONE
    job.rows_done = job.rows_total = count
    job.finished_at = job.updated_at = timezone.now()
    with transaction.atomic():
        job.save(
            update_fields=["status", "rows_done", "rows_total", "file", "finished_at", "updated_at"]
        )
        _tell_owner(job)
    return job


def _write(job: ExportJob, source: Source, out: Any, **options: Any) -> int:
    return spreadsheets.write(
        job.format,
        out,
        source.headers,
        source.rows,
        sheet_title=source.name,
        widths=source.widths,
        **options,
    )


def _tell_owner(job: ExportJob) -> None:
    done = job.status == ExportJob.Status.DONE

    def compose(_recipient: Any) -> tuple[str, str]:
        if not done:
            return _("Your export could not be built"), _(
                "Try again, or ask an administrator to look at export #%(id)s."
            ) % {"id": job.pk}
        body = ngettext(
            "%(count)d row, %(format)s. The file is kept for %(days)d days.",
            "%(count)d rows, %(format)s. The file is kept for %(days)d days.",
            job.rows_done,
        ) % {
            "count": job.rows_done,
            "format": job.get_format_display(),
            "days": settings.EXPORT_KEEP_DAYS,
        }
        return _("Your export is ready to download"), body

    notify(
        [job.owner],
        kind="reporting.export_done" if done else "reporting.export_failed",
        compose=compose,
        key=f"reporting.export:{job.pk}",
        channels=["in_app"],
        url=reverse("reporting:export_download", args=[job.pk])
        if done
        else reverse("reporting:exports"),
    )


# --- Clean-up (beat) --------------------------------------------------------------------


def housekeeping(*, now: datetime | None = None) -> dict[str, int]:
    """Delete files past ``EXPORT_KEEP_DAYS``; queue again jobs a broker outage stranded."""
    now = now or timezone.now()
    expired = 0
    old = ExportJob.objects.filter(
        finished_at__lt=now - timedelta(days=settings.EXPORT_KEEP_DAYS)
    ).exclude(file="")
    for job in old.iterator(chunk_size=200):
        job.file.delete(save=False)
        ExportJob.objects.filter(pk=job.pk).update(file="", status=ExportJob.Status.EXPIRED)
        expired += 1
    stranded = ExportJob.objects.filter(
        Q(status=ExportJob.Status.QUEUED, created_at__lt=now - STALE_AFTER)
        | Q(status=ExportJob.Status.RUNNING, updated_at__lt=now - STALE_AFTER),
        direct=False,
    ).values_list("pk", flat=True)
    requeued = 0
    for pk in stranded:
        queue_job(pk)
        requeued += 1
    return {"expired": expired, "requeued": requeued}


def download_name(job: ExportJob) -> str:
    stamp = timezone.localtime(job.created_at).strftime("%Y%m%d-%H%M")
    return f"{job.kind}-{stamp}-{job.pk}.{job.format}"


# --- Sources ----------------------------------------------------------------------------


def source_for(job: ExportJob) -> Source:
    if job.kind == ExportJob.Kind.KPIS:
        from reporting import kpi_exports

        # "This month" is the month around the day the export was asked for.
        return kpi_exports.source(job.owner, job.filters, today=timezone.localdate(job.created_at))
    return complaint_source(job)


def queue_of(user: User, filters: dict[str, Any]) -> queues.Queue | None:
    """The console queue the filters name (else the user's default), if theirs to use."""
    name = _first(filters.get("q")) or queues.default_queue(user)
    return next((q for q in queues.queues_for(user) if q.name == name), None)


def complaint_queryset(user: User, filters: dict[str, Any]) -> QuerySet[Complaint]:
    """The complaints of the queue page with these filters, in its order — for ``user``."""
    queue = queue_of(user, filters)
    if queue is None:
        return Complaint.objects.none()
    params = QueryDict(mutable=True)
    for key, values in filters.items():
        params.setlist(key, values if isinstance(values, list) else [values])
    form = queues.QueueFilterForm(params)
    form.is_valid()  # as on the page: a field with an error does not filter
    data = form.cleaned_data
    found = queues.apply_filters(queues.base_queryset(user, queue.name), data, user)
    sort = data.get("sort") or queues.DEFAULT_SORT
    return queues.ordered(found, sort).select_related("petitioner")


def _first(value: Any) -> str:
    if isinstance(value, list):
        return str(value[0]) if value else ""
    return str(value or "")


def _local(value: datetime | None) -> datetime | None:
    return timezone.localtime(value) if value else None


@dataclass(frozen=True)
class Column:
    header: str | Promise
    width: int
    value: Callable[[Complaint, privacy.PetitionerView | None], Any]


def _person(field: str) -> Callable[[Complaint, privacy.PetitionerView | None], str]:
    return lambda _complaint, person: getattr(person, field) if person else ""


def _handler(complaint: Complaint, _person: privacy.PetitionerView | None) -> str:
    assignee = complaint.assignee
    return (assignee.get_full_name() or assignee.get_username()) if assignee else ""


COLUMNS = [
    Column(gettext_lazy("Tracking code"), 18, lambda c, _p: c.tracking_code),
    Column(gettext_lazy("Title"), 40, lambda c, _p: c.title),
    Column(gettext_lazy("Kind"), 10, lambda c, _p: c.get_kind_display()),
    Column(gettext_lazy("Channel"), 12, lambda c, _p: c.get_channel_display()),
    Column(gettext_lazy("Status"), 10, lambda c, _p: c.get_status_display()),
    Column(gettext_lazy("Priority"), 8, lambda c, _p: c.get_priority_display()),
    Column(gettext_lazy("Category"), 16, lambda c, _p: str(c.category) if c.category else ""),
    Column(gettext_lazy("Department"), 20, lambda c, _p: str(c.department) if c.department else ""),
    Column(gettext_lazy("Handler"), 12, _handler),
    Column(pgettext_lazy("date", "Received"), 17, lambda c, _p: _local(c.received_at)),
    Column(gettext_lazy("Next time limit"), 17, lambda c, _p: _local(getattr(c, "next_due", None))),
    Column(gettext_lazy("Overdue since"), 17, lambda c, _p: _local(c.overdue_since)),
    Column(gettext_lazy("Supervision"), 12, lambda c, _p: c.get_supervision_display()),
    Column(pgettext_lazy("date", "Replied"), 17, lambda c, _p: _local(c.replied_at)),
    Column(pgettext_lazy("date", "Closed"), 17, lambda c, _p: _local(c.closed_at)),
    Column(gettext_lazy("Times reopened"), 8, lambda c, _p: c.reopen_count),
    Column(gettext_lazy("Location"), 24, lambda c, _p: c.location),
    Column(gettext_lazy("Petitioner"), 12, _person("name")),
    Column(gettext_lazy("Organisation"), 20, _person("organisation")),
    Column(gettext_lazy("Phone"), 16, _person("phone")),
    Column(gettext_lazy("E-mail"), 24, _person("email")),
    Column(gettext_lazy("ID number"), 20, _person("id_number")),
    Column(gettext_lazy("Address"), 30, _person("address")),
    Column(gettext_lazy("Content"), 60, lambda c, _p: c.content),
]


def complaint_source(job: ExportJob) -> Source:
    owner = job.owner
    found = complaint_queryset(owner, job.filters)
    # Unmasked only with the permission, also if it was taken away since the job began.
    unmasked = job.personal_data and may_export_personal_data(owner)
    return Source(
        headers=[str(column.header) for column in COLUMNS],
        total=found.count(),
        rows=_complaint_rows(found, owner, job, unmasked=unmasked),
        name=str(_("Complaints")),
        widths=[column.width for column in COLUMNS],
    )


def _complaint_rows(
    found: QuerySet[Complaint], owner: User, job: ExportJob, *, unmasked: bool
) -> Iterator[list[Any]]:
    pending: list[Event] = []
    for complaint in found.iterator(chunk_size=CHUNK_SIZE):
        person = privacy.petitioner_view(complaint, owner, revealed=unmasked)
        if unmasked and person is not None and not person.masked:
            fields = privacy.revealed_fields(complaint)
            if fields:
                pending.append(_export_event(complaint, owner, job, fields))
        if len(pending) >= CHUNK_SIZE:
            Event.objects.bulk_create(pending)
            pending = []
        yield [column.value(complaint, person) for column in COLUMNS]
    if pending:
        Event.objects.bulk_create(pending)


def _export_event(complaint: Complaint, owner: User, job: ExportJob, fields: list[str]) -> Event:
    # Written in bulk, beside the service layer: an export of thousands of complaints
    # would otherwise lock each row in turn. The event changes nothing in the complaint
    # (no deadline listens for it); it only puts the export on its timeline, as the copy
    # of a person's data does (``complaints.rights``).
    return Event(
        complaint=complaint,
        kind="personal_data.exported",
        actor=owner,
        payload={
            "export_id": job.pk,
            "format": job.format,
            "reason": job.reason,
            "fields": fields,
        },
    )

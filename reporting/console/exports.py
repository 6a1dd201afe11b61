"""Exports in the console: my export jobs, starting one, following it, downloading it.

Complaint lists start from the queue page's Export buttons, which post the queue's query
string here (masked, at once); this page adds the choice to unmask personal data, with a
reason, for those allowed to. KPI tables are started from the second form.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods

from accounts import audit
from accounts.models import User
from complaints import queues
from reporting import exports, spreadsheets
from reporting.access import department_lock
from reporting.kpi_exports import KpiExportForm
from reporting.models import ExportJob

# The latest exports listed; older ones stay recorded, and their files are gone anyway.
LISTED = 50


class ComplaintExportForm(forms.Form):
    query = forms.CharField(max_length=2000, required=False, widget=forms.HiddenInput)
    format = forms.ChoiceField(
        label=gettext_lazy("Format"),
        choices=ExportJob.Format.choices,
        initial=ExportJob.Format.XLSX,
        widget=forms.RadioSelect,
    )
    personal_data = forms.BooleanField(
        label=gettext_lazy("Petitioners' personal data unmasked"),
        required=False,
        help_text=gettext_lazy(
            "Phone, e-mail, ID number and address in full. The export is recorded on the "
            "timeline of every complaint concerned."
        ),
    )
    reason = forms.CharField(
        label=gettext_lazy("Why do you need the personal data?"), max_length=300, required=False
    )

    def __init__(self, *args: Any, user: User, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not exports.may_export_personal_data(user):
            del self.fields["personal_data"]
            del self.fields["reason"]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if cleaned.get("personal_data") and not (cleaned.get("reason") or "").strip():
            self.add_error("reason", _("Say why you need the personal data unmasked."))
        return cleaned


class KpiForm(KpiExportForm):
    field_order = ["table", "period", "start", "end"]

    format = forms.ChoiceField(
        label=gettext_lazy("Format"),
        choices=ExportJob.Format.choices,
        initial=ExportJob.Format.XLSX,
        widget=forms.RadioSelect,
    )


def _kpi_form(request: HttpRequest, user: User, *, bound: bool) -> KpiForm | None:
    """The KPI form within the user's reach; None for those who read no reports."""
    try:
        lock = department_lock(user)
    except PermissionDenied:
        return None
    return KpiForm(request.POST if bound else None, locked_department=lock)


def _user(request: HttpRequest) -> User:
    user: User = request.user  # type: ignore[assignment]
    if not queues.queues_for(user):  # active, and may see complaints at all
        raise PermissionDenied
    return user


def _handed_out(request: HttpRequest, job: ExportJob) -> None:
    # A complaint list names petitioners (masked or not): each copy handed out is on record.
    audit.export_downloaded(
        request,
        export_id=job.pk,
        kind=job.kind,
        personal_data=job.personal_data,
        rows=job.rows_total,
    )


def _download(request: HttpRequest, content: bytes, job: ExportJob) -> HttpResponse:
    _handed_out(request, job)
    response = HttpResponse(content, content_type=spreadsheets.CONTENT_TYPES[job.format])
    response["Content-Disposition"] = f'attachment; filename="{exports.download_name(job)}"'
    response["Cache-Control"] = "private, no-store"
    return response


@never_cache
@login_required(login_url="console:login")
@require_http_methods(["GET", "POST"])
def export_list(request: HttpRequest) -> HttpResponse:
    """My exports (newest first), and the forms to start one."""
    user = _user(request)
    which = request.POST.get("export") if request.method == "POST" else None
    query = request.POST.get("query") if which else request.GET.get("query", "")
    complaint_form = ComplaintExportForm(
        request.POST if which == "complaints" else None,
        user=user,
        initial={"query": query or ""},
    )
    kpi_form = _kpi_form(request, user, bound=which == "kpis")
    if which == "complaints" and complaint_form.is_valid():
        data = complaint_form.cleaned_data
        filters = exports.filters_from_query(data["query"])
        if exports.queue_of(user, filters) is None:
            raise Http404
        return _started(
            request,
            user,
            kind=ExportJob.Kind.COMPLAINTS,
            file_format=data["format"],
            filters=filters,
            personal_data=bool(data.get("personal_data")),
            reason=data.get("reason", ""),
        )
    if which == "kpis" and kpi_form is not None and kpi_form.is_valid():
        return _started(
            request,
            user,
            kind=ExportJob.Kind.KPIS,
            file_format=kpi_form.cleaned_data["format"],
            filters=kpi_form.filters(),
        )
    filters = exports.filters_from_query(query or "")
    queue = exports.queue_of(user, filters)
    return render(
        request,
        "reporting/exports_list.html",
        {
            "jobs": ExportJob.objects.filter(owner=user)[:LISTED],
            "complaint_form": complaint_form,
            "kpi_form": kpi_form,
            "queue": queue,
            "query": query,
            "filtered": any(key != "q" for key in filters),
            "queue_url": reverse("console:queue") + (f"?{query}" if query else ""),
            "keep_days": settings.EXPORT_KEEP_DAYS,
        },
        status=400 if complaint_form.errors or (kpi_form and kpi_form.errors) else 200,
    )


def _started(request: HttpRequest, user: User, **options: Any) -> HttpResponse:
    try:
        started = exports.start(owner=user, **options)
    except ValueError as error:
        messages.error(request, str(error))
        return redirect("reporting:exports")
    if started.content is not None:
        return _download(request, started.content, started.job)
    messages.success(
        request,
        _(
            "Export number %(number)s is being built: %(rows)d rows. You will find it here, "
            "and get a message when it is ready."
        )
        % {"number": started.job.pk, "rows": started.job.rows_total or 0},
    )
    return redirect("reporting:exports")


@never_cache
@login_required(login_url="console:login")
@require_GET
def export_status(request: HttpRequest, pk: int) -> HttpResponse:
    """One row of the list, for the page to poll while the job runs (htmx)."""
    job = get_object_or_404(ExportJob, pk=pk, owner=request.user)
    return render(request, "reporting/exports_row.html", {"job": job})


@login_required(login_url="console:login")
@require_GET
def export_download(request: HttpRequest, pk: int) -> HttpResponseBase:
    """The file of one of my finished exports; anyone else's does not exist (404)."""
    job = get_object_or_404(ExportJob, pk=pk, owner=request.user)
    if job.status != ExportJob.Status.DONE or not job.file:
        raise Http404
    _handed_out(request, job)
    response = FileResponse(
        job.file.open("rb"), as_attachment=True, filename=exports.download_name(job)
    )
    response["Content-Type"] = spreadsheets.CONTENT_TYPES[job.format]
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, no-store"
    return response

"""Scheduled reports in the console: the archive, my subscriptions, one report (HTML, PDF)."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods

from accounts.models import User
from reporting import scheduled
from reporting.models import ReportKind, ReportSubscription, StoredReport


class SubscriptionForm(forms.Form):
    kinds = forms.MultipleChoiceField(
        label=gettext_lazy("Send me by e-mail"),
        choices=ReportKind.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )


def _reader(request: HttpRequest) -> User:
    user: User = request.user  # type: ignore[assignment]
    if not scheduled.may_read(user):
        raise PermissionDenied
    return user


@login_required(login_url="console:login")
@require_http_methods(["GET", "POST"])
def report_list(request: HttpRequest) -> HttpResponse:
    """Stored reports, newest period first; the user's subscriptions beside them."""
    user = _reader(request)
    mine = set(
        ReportSubscription.objects.filter(user=user, active=True).values_list("kind", flat=True)
    )
    form = SubscriptionForm(request.POST or None, initial={"kinds": sorted(mine)})
    if request.method == "POST" and form.is_valid():
        chosen = set(form.cleaned_data["kinds"])
        for value in ReportKind.values:
            if (value in chosen) != (value in mine):
                scheduled.subscribe(user, value, active=value in chosen)
        messages.success(request, _("Your subscriptions are saved."))
        return redirect("reporting:scheduled")
    kind = request.GET.get("kind", "")
    reports = StoredReport.objects.defer("html", "data")
    if kind in ReportKind.values:
        reports = reports.filter(kind=kind)
    page = Paginator(reports, 30).get_page(request.GET.get("page"))
    return render(
        request,
        "reporting/scheduled_list.html",
        {"page": page, "form": form, "kinds": ReportKind.choices, "kind": kind},
    )


@login_required(login_url="console:login")
@require_GET
def report(request: HttpRequest, pk: int) -> HttpResponse:
    """One stored report as it was built."""
    _reader(request)
    found = get_object_or_404(StoredReport, pk=pk)
    # Rendered from our own template at build time, every value escaped there.
    body = mark_safe(found.html)  # noqa: S308
    return render(request, "reporting/scheduled_report.html", {"report": found, "body": body})


@login_required(login_url="console:login")
@require_GET
def report_pdf(request: HttpRequest, pk: int) -> HttpResponse:
    _reader(request)
    found = get_object_or_404(StoredReport, pk=pk)
    response = HttpResponse(scheduled.pdf(found), content_type="application/pdf")
    name = f"{found.kind}-{found.period_start:%Y%m%d}.pdf"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response

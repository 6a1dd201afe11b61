"""The sampling audit in the console: samples to check, one sample's checklist, the summary.

Auditors see the samples handed to them, open ones first; supervisors and administrators
see every sample, and how often each checklist item passed. A sample out of reach does
not exist (404); recording findings is for its auditor or an administrator (403).
"""

from __future__ import annotations

from datetime import date
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Case, IntegerField, Value, When
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods

from accounts.models import User
from reporting import audits
from reporting.models import AuditSample


class AuditForm(forms.Form):
    """One radio group per checklist item, the verdict and the findings."""

    verdict = forms.ChoiceField(
        label=gettext_lazy("Overall verdict"),
        choices=AuditSample.Verdict.choices,
        widget=forms.RadioSelect,
    )
    findings = forms.CharField(
        label=gettext_lazy("Findings"),
        required=False,
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 5}),
        help_text=gettext_lazy("What was wrong or could be better; needed for any failed item."),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        items = {
            f"item_{key}": forms.ChoiceField(
                label=label, choices=audits.ANSWERS, widget=forms.RadioSelect
            )
            for key, label in audits.CHECKLIST
        }
        # The checklist first, then the verdict and the findings.
        self.fields = {**items, **self.fields}

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        failed = any(cleaned.get(f"item_{key}") == audits.FAIL for key, _l in audits.CHECKLIST)
        if (failed or cleaned.get("verdict") == AuditSample.Verdict.FAIL) and not (
            cleaned.get("findings") or ""
        ).strip():
            self.add_error("findings", _("Describe what failed."))
        return cleaned

    def checklist(self) -> dict[str, str]:
        return {key: self.cleaned_data[f"item_{key}"] for key, _label in audits.CHECKLIST}


def _user(request: HttpRequest) -> User:
    user: User = request.user  # type: ignore[assignment]
    if not audits.may_use(user):
        raise PermissionDenied
    return user


def _month(value: str | None) -> date | None:
    try:
        return date.fromisoformat(f"{value}-01") if value else None
    except ValueError:
        return None


@login_required(login_url="console:login")
def sample_list(request: HttpRequest) -> HttpResponse:
    """My samples (auditors) or all of them (overseers), open first; the month's summary."""
    user = _user(request)
    samples = audits.visible_samples(user)
    months = list(samples.order_by("-month").values_list("month", flat=True).distinct()[:24])
    month = _month(request.GET.get("month"))
    if month is not None:
        samples = samples.filter(month=month)
    mine_only = request.GET.get("mine") == "1" or not audits.oversees(user)
    if mine_only:
        samples = samples.filter(auditor=user)
    ordered = samples.annotate(
        waiting=Case(
            When(status=AuditSample.Status.OPEN, then=Value(0)),
            default=Value(1),
            output_field=IntegerField(),
        )
    ).order_by("waiting", "-month", "pk")
    page = Paginator(ordered, 50).get_page(request.GET.get("page"))
    items, verdicts = audits.summary(samples) if audits.oversees(user) else ([], {})
    return render(
        request,
        "reporting/audit_list.html",
        {
            "page": page,
            "months": months,
            "month": month,
            "mine_only": mine_only,
            "oversees": audits.oversees(user),
            "items": items,
            "verdicts": [
                (label, verdicts.get(value, 0)) for value, label in AuditSample.Verdict.choices
            ],
            "done": sum(verdicts.values()),
        },
    )


@login_required(login_url="console:login")
@require_http_methods(["GET", "POST"])
def sample(request: HttpRequest, pk: int) -> HttpResponse:
    """One sample: the complaint (linked), and the checklist to fill in or as recorded."""
    user = _user(request)
    found = get_object_or_404(audits.visible_samples(user), pk=pk)
    may_record = audits.may_record(user, found)
    form = AuditForm(request.POST or None) if may_record else None
    if request.method == "POST":
        if form is None:
            raise PermissionDenied
        if form.is_valid():
            audits.record(
                sample_id=found.pk,
                actor=user,
                checklist=form.checklist(),
                verdict=form.cleaned_data["verdict"],
                findings=form.cleaned_data["findings"],
            )
            messages.success(
                request,
                _("Findings on %(code)s recorded.") % {"code": found.complaint.tracking_code},
            )
            return redirect("reporting:audits")
    labels = dict(audits.ANSWERS)
    answers = [
        (label, labels.get(found.checklist.get(key, ""), "—")) for key, label in audits.CHECKLIST
    ]
    return render(
        request,
        "reporting/audit_sample.html",
        {"sample": found, "form": form, "answers": answers},
        status=400 if form is not None and form.errors else 200,
    )

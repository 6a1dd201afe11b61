"""The dispatcher's inbox: what routing was not sure about, with its suggestion preselected.

The inbox lists the complaints waiting for a dispatcher — still ``received`` (routing was
not sure, or it may be a repeat) or classified without a department — the most urgent
limit first. The triage page shows the suggestion and why (matched phrases, model
scores), the probable repeats, and one form to classify and assign at once; merging,
rejecting and asking for details are a click away. Everything goes through the same
services as routing itself and the back-office.
"""

from __future__ import annotations

import copy
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Count, F, Min, Q, QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods

from accounts.models import User
from complaints import permissions
from complaints import services as complaint_services
from complaints.console.htmx import render_page
from complaints.errors import DomainError
from complaints.forms import ClassifyForm, ReasonForm, RequestInfoForm, StaffChoiceField
from complaints.models import Complaint
from ops.params import ascii_int
from routing import services
from routing.models import Category, Department, DuplicateCandidate, Suggestion

# Stages of the limits that run while a complaint waits for a dispatcher.
_WAITING_STAGES = ("classify", "assign")


def _require_dispatcher(user: Any) -> None:
    if not user.has_perm(permissions.action_permission("classify")):
        raise PermissionDenied


def waiting(user: User) -> QuerySet[Complaint]:
    """Complaints waiting for a dispatcher that ``user`` may see, most urgent limit first."""
    waiting_states = Q(status=Complaint.Status.RECEIVED) | Q(
        status=Complaint.Status.CLASSIFIED, department__isnull=True
    )
    found = permissions.visible_to(Complaint.objects.filter(waiting_states), user)
    return (
        found.annotate(
            due=Min(
                "deadlines__due_at",
                filter=Q(deadlines__state="open", deadlines__stage__in=_WAITING_STAGES),
            ),
            repeats=Count(
                "duplicate_candidates",
                filter=Q(duplicate_candidates__status=DuplicateCandidate.Status.PENDING),
                distinct=True,
            ),
        )
        .select_related("category")
        .order_by(F("due").asc(nulls_last=True), "received_at", "id")
    )


@login_required(login_url="console:login")
def inbox(request: HttpRequest) -> HttpResponse:
    _require_dispatcher(request.user)
    page = Paginator(waiting(request.user), 50).get_page(  # type: ignore[arg-type]
        request.GET.get("page")
    )
    suggestions = {
        s.complaint_id: s
        for s in Suggestion.objects.filter(complaint__in=[c.pk for c in page]).select_related(
            "category"
        )
    }
    labels = dict(Complaint.Priority.choices)
    rows = [
        (c, s, labels.get(s.priority, s.priority) if s else "")
        for c in page
        for s in [suggestions.get(c.pk)]
    ]
    return render_page(
        request,
        "routing/inbox.html",
        "routing/_inbox_view.html",
        {"page": page, "rows": rows, "now": timezone.now()},
    )


class TriageForm(ClassifyForm):
    """Classify and, optionally, assign in one go; preselected from the suggestion."""

    department = forms.ModelChoiceField(
        label=gettext_lazy("Department"),
        queryset=Department.objects.filter(is_active=True),
        required=False,
        help_text=gettext_lazy("Empty: classify only, and assign later."),
    )
    assignee = StaffChoiceField(
        label=gettext_lazy("Handler"),
        queryset=User.objects.filter(is_active=True, department__isnull=False)
        .select_related("department")
        .order_by("department__code", "last_name", "first_name"),
        required=False,
        help_text=gettext_lazy("Empty: the department's own rule picks the handler."),
    )
    version = forms.IntegerField(widget=forms.HiddenInput, required=False)

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        department, assignee = cleaned.get("department"), cleaned.get("assignee")
        if assignee is not None and (department is None or assignee.department_id != department.pk):
            self.add_error("assignee", _("Choose a handler of the chosen department."))
        return cleaned


def _initial(complaint: Complaint, suggestion: Suggestion | None) -> dict[str, Any]:
    initial: dict[str, Any] = {"version": complaint.version}
    category = complaint.category or (suggestion.category if suggestion else None)
    if category is not None and category.is_active:
        initial["category"] = category
        graded = copy.copy(complaint)
        graded.category = category
        initial["department"] = services.department_for(graded)
    if suggestion is not None and complaint.status == Complaint.Status.RECEIVED:
        initial["priority"] = suggestion.priority
    else:
        initial["priority"] = complaint.priority
    return initial


@login_required(login_url="console:login")
@require_http_methods(["GET", "POST"])
def triage(request: HttpRequest, pk: int) -> HttpResponse:
    user: User = request.user  # type: ignore[assignment]
    _require_dispatcher(user)
    complaint = permissions.complaint_or_404(user, pk, request=request)
    suggestion = complaint.suggestions.select_related("category").first()
    action = request.POST.get("action", "")
    form = TriageForm(
        request.POST if action == "classify" else None, initial=_initial(complaint, suggestion)
    )
    reject_form = ReasonForm(request.POST if action == "reject" else None, prefix="reject")
    info_form = RequestInfoForm(request.POST if action == "request_info" else None, prefix="info")
    if request.method == "POST":
        try:
            done = _act(request, user, complaint, action, form, reject_form, info_form)
        except DomainError as error:
            messages.error(request, str(error))
            return redirect("console:triage", pk=complaint.pk)
        if done:
            messages.success(request, done)
            if action == "dismiss":  # still waiting: back to it, one repeat fewer
                return redirect("console:triage", pk=complaint.pk)
            return redirect("console:inbox")
    candidates = (
        complaint.duplicate_candidates.filter(status=DuplicateCandidate.Status.PENDING)
        .select_related("original", "original__category")
        .order_by("-similarity")
    )
    return render(
        request,
        "routing/triage.html",
        {
            "complaint": complaint,
            "suggestion": suggestion,
            "explanation": (suggestion.scores or {}).get("_explanation", []) if suggestion else [],
            "matched": _matched(suggestion),
            "suggested_priority": (
                dict(Complaint.Priority.choices).get(suggestion.priority, suggestion.priority)
                if suggestion
                else ""
            ),
            "candidates": candidates,
            "form": form,
            "reject_form": reject_form,
            "info_form": info_form,
            "deadlines": complaint.deadlines.filter(state="open", stage__in=_WAITING_STAGES),
            "now": timezone.now(),
        },
    )


def _matched(suggestion: Suggestion | None) -> list[dict[str, str]]:
    """The keyword rules that matched, with category names and priority labels."""
    if suggestion is None:
        return []
    names = {c.code: c.name for c in Category.objects.all()}
    labels = dict(Complaint.Priority.choices)
    return [
        {
            "phrase": hit.get("phrase", ""),
            "category": names.get(hit.get("category") or "", ""),
            "priority": str(labels.get(hit.get("priority") or "", "")),
        }
        for hit in suggestion.matched or []
    ]


def _act(
    request: HttpRequest,
    user: User,
    complaint: Complaint,
    action: str,
    form: TriageForm,
    reject_form: ReasonForm,
    info_form: RequestInfoForm,
) -> str | None:
    """Carry out ``action``; the success message, or None to show the page (and errors)."""
    code = complaint.tracking_code
    if action == "classify" and form.is_valid():
        data = form.cleaned_data
        expected = data.get("version")
        if complaint.status == Complaint.Status.RECEIVED:
            complaint = complaint_services.classify(
                complaint_id=complaint.pk,
                category=data["category"],
                priority=data["priority"],
                kind=data.get("kind") or None,
                actor=user,
                expected_version=expected,
            )
            expected = complaint.version
        department = data.get("department")
        if department is None:
            return _("%(code)s classified; it waits for assignment.") % {"code": code}
        assignee = data.get("assignee") or services.pick_assignee(department)
        complaint_services.assign(
            complaint_id=complaint.pk,
            department=department,
            assignee=assignee,
            actor=user,
            expected_version=expected,
        )
        return _("%(code)s classified and assigned to %(department)s.") % {
            "code": code,
            "department": department,
        }
    if action in ("merge", "dismiss"):
        candidate_id = request.POST.get("candidate", "")
        candidate = complaint.duplicate_candidates.filter(pk=ascii_int(candidate_id) or 0).first()
        if candidate is None:
            raise Http404
        if action == "merge":
            services.merge_duplicate(candidate_id=candidate.pk, actor=user)
            return _("%(code)s merged into %(original)s.") % {
                "code": code,
                "original": candidate.original.tracking_code,
            }
        services.dismiss_duplicate(candidate_id=candidate.pk, actor=user)
        return _("Marked as not a repeat of %(original)s.") % {
            "original": candidate.original.tracking_code
        }
    if action == "reject" and reject_form.is_valid():
        complaint_services.reject(
            complaint_id=complaint.pk, reason=reject_form.cleaned_data["reason"], actor=user
        )
        return _("%(code)s rejected.") % {"code": code}
    if action == "request_info" and info_form.is_valid():
        complaint_services.request_info(
            complaint_id=complaint.pk, question=info_form.cleaned_data["question"], actor=user
        )
        return _("The petitioner of %(code)s is asked for details.") % {"code": code}
    return None

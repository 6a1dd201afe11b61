"""Personal data requests in the console: list, record, decide, hand over the copy.

Intake staff record a request once they have checked who asks (``add_datarequest``);
administrators decide (``decide_datarequest``) and download an approved copy to hand
over. Lists and pages show the petitioner masked — the decision is about which complaints
are theirs, not about reading their details; the copy itself is personal data in full, so
it is served only to deciders, as a download the browser may not store, and every
download is an export on the timelines.
"""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Case, Exists, IntegerField, OuterRef, Value, When
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from accounts.models import User
from complaints import permissions, privacy, rights, tracking
from complaints.errors import DomainError
from complaints.models import Complaint, DataRequest, Petitioner

VIEW_PERMISSION = "complaints.view_datarequest"


# --- Forms ------------------------------------------------------------------------------


class RecordForm(forms.Form):
    tracking_code = forms.CharField(
        label=gettext_lazy("Tracking code"),
        max_length=40,
        help_text=gettext_lazy("Of one of the requester's complaints; the others are found."),
    )
    kind = forms.ChoiceField(
        label=gettext_lazy("The petitioner asks for"),
        choices=DataRequest.Kind.choices,
        widget=forms.RadioSelect,
    )
    verified_by = forms.CharField(
        label=gettext_lazy("How was the requester's identity checked?"),
        max_length=200,
        help_text=gettext_lazy(
            "For example: ID card seen at the window; tracking code and secret."
        ),
    )
    note = forms.CharField(
        label=gettext_lazy("Note"), required=False, widget=forms.Textarea(attrs={"rows": 3})
    )

    def clean_tracking_code(self) -> str:
        raw = self.cleaned_data["tracking_code"]
        return tracking.normalize_tracking_code(raw) or raw.strip().upper()


class DecideForm(forms.Form):
    decision = forms.ChoiceField(
        label=gettext_lazy("Decision"),
        choices=[
            ("approve", gettext_lazy("Approve")),
            ("refuse", gettext_lazy("Refuse")),
        ],
        widget=forms.RadioSelect,
    )
    refusal_reason = forms.CharField(
        label=gettext_lazy("Reason for refusing"),
        required=False,
        help_text=gettext_lazy("Shown to the petitioner."),
        widget=forms.Textarea(attrs={"rows": 3}),
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("decision") == "refuse" and not (data.get("refusal_reason") or "").strip():
            self.add_error(
                "refusal_reason", _("Give the reason for refusing; the petitioner will see it.")
            )
        return data


# --- Helpers ----------------------------------------------------------------------------


def _user(request: HttpRequest, permission: str) -> User:
    user: User = request.user  # type: ignore[assignment]
    if not user.has_perm(permission):
        raise PermissionDenied
    return user


def masked_petitioner(person: Petitioner, *, anonymous: bool | None = None) -> dict[str, str]:
    """What a request page may show of the requester: masked contact values, and the name
    unless one of their complaints asked to stay anonymous (``anonymous``, when known)."""
    if anonymous is None:
        anonymous = person.complaints.filter(is_anonymous=True).exists()
    return {
        "name": privacy.mask_name(person.name) if anonymous else person.name,
        "phone": privacy.mask_phone(person.phone),
        "email": privacy.mask_email(person.email),
        "id_number": privacy.mask_id_number(person.id_number),
    }


def _no_store(response: HttpResponse) -> HttpResponse:
    response["Cache-Control"] = "private, no-cache, no-store, must-revalidate, max-age=0"
    response["Pragma"] = "no-cache"
    return response


# --- Views ------------------------------------------------------------------------------


@never_cache
@login_required(login_url="console:login")
def request_list(request: HttpRequest) -> HttpResponse:
    """Every request, open ones first, newest first within each group."""
    _user(request, VIEW_PERMISSION)
    requests = (
        DataRequest.objects.select_related("petitioner", "received_by", "decided_by")
        .annotate(
            waiting=Case(
                When(status=DataRequest.Status.OPEN, then=Value(0)),
                default=Value(1),
                output_field=IntegerField(),
            ),
            anonymous=Exists(
                Complaint.objects.filter(petitioner=OuterRef("petitioner"), is_anonymous=True)
            ),
        )
        .order_by("waiting", "-received_at", "-pk")
    )
    page = Paginator(requests, 50).get_page(request.GET.get("page"))
    rows = [
        (item, masked_petitioner(item.petitioner, anonymous=item.anonymous))  # type: ignore[attr-defined]
        for item in page
    ]
    return render(
        request,
        "complaints/datarequests/list.html",
        {"page": page, "rows": rows, "can_add": request.user.has_perm(rights.ADD_PERMISSION)},
    )


@never_cache
@login_required(login_url="console:login")
@require_http_methods(["GET", "POST"])
def record(request: HttpRequest) -> HttpResponse:
    """Record a request: the tracking code of one complaint, the kind, the identity check."""
    user = _user(request, rights.ADD_PERMISSION)
    form = RecordForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        # Out of reach or unknown: the same answer.
        complaint = (
            permissions.visible_to(Complaint.objects.all(), user)
            .filter(tracking_code=form.cleaned_data["tracking_code"])
            .first()
        )
        if complaint is None:
            form.add_error("tracking_code", _("No complaint with this tracking code."))
        else:
            try:
                created = rights.record_data_request(
                    complaint_id=complaint.pk,
                    kind=form.cleaned_data["kind"],
                    verified_by=form.cleaned_data["verified_by"],
                    note=form.cleaned_data["note"],
                    actor=user,
                )
            except DomainError as error:
                form.add_error(None, str(error))
            else:
                messages.success(
                    request, _("Request number %(number)s recorded.") % {"number": created.pk}
                )
                return redirect("console:data_request", pk=created.pk)
    return render(
        request,
        "complaints/datarequests/record.html",
        {"form": form},
        status=400 if form.errors else 200,
    )


@never_cache
@login_required(login_url="console:login")
@require_http_methods(["GET", "POST"])
def detail(request: HttpRequest, pk: int) -> HttpResponse:
    """One request: who (masked), the complaints found, the decision, the copy."""
    user = _user(request, VIEW_PERMISSION)
    found = (
        DataRequest.objects.select_related("petitioner", "received_by", "decided_by")
        .filter(pk=pk)
        .first()
    )
    if found is None:
        raise Http404
    can_decide = user.has_perm(rights.DECIDE_PERMISSION)
    is_open = found.status == DataRequest.Status.OPEN
    form = DecideForm(request.POST or None) if can_decide and is_open else None
    if request.method == "POST":
        if form is None:
            raise PermissionDenied
        if form.is_valid():
            approve = form.cleaned_data["decision"] == "approve"
            try:
                rights.decide_data_request(
                    found.pk,
                    approve=approve,
                    refusal_reason=form.cleaned_data["refusal_reason"],
                    actor=user,
                )
            except DomainError as error:
                form.add_error(None, str(error))
            else:
                decided = (
                    _("Request number %(number)s approved.")
                    if approve
                    else _("Request number %(number)s refused.")
                )
                messages.success(request, decided % {"number": found.pk})
                return redirect("console:data_request", pk=found.pk)
    complaints = list(rights.complaints_of(found.petitioner))
    return render(
        request,
        "complaints/datarequests/detail.html",
        {
            "data_request": found,
            "petitioner": masked_petitioner(found.petitioner),
            "complaints": complaints,
            "blocking": rights.blocking_erasure(complaints)
            if found.kind == DataRequest.Kind.ERASURE and is_open
            else [],
            "form": form,
            "can_download": can_decide
            and found.kind == DataRequest.Kind.EXPORT
            and found.status == DataRequest.Status.DONE,
        },
        status=400 if form is not None and form.errors else 200,
    )


@never_cache
@login_required(login_url="console:login")
def download(request: HttpRequest, pk: int, file_format: str) -> HttpResponse:
    """The approved copy, as JSON or PDF, to hand over; each download is an export."""
    user = _user(request, rights.DECIDE_PERMISSION)
    found = DataRequest.objects.select_related("petitioner").filter(pk=pk).first()
    if (
        found is None
        or file_format not in rights.EXPORT_FORMATS
        or found.kind != DataRequest.Kind.EXPORT
        or found.status != DataRequest.Status.DONE
    ):
        raise Http404
    data = rights.export_data(
        found.petitioner, actor=user, request_id=found.pk, file_format=file_format
    )
    return export_response(data, f"personal-data-{found.pk}", file_format)


def export_response(data: dict[str, Any], stem: str, file_format: str) -> HttpResponse:
    """The copy as a download that no browser or proxy keeps (also for the tracking page)."""
    if file_format == "pdf":
        response = HttpResponse(rights.export_pdf(data), content_type="application/pdf")
    else:
        body = json.dumps(data, ensure_ascii=False, indent=2)
        response = HttpResponse(body, content_type="application/json; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{stem}.{file_format}"'
    response["X-Content-Type-Options"] = "nosniff"
    return _no_store(response)

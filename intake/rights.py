"""The petitioner's personal data, from the tracking page: a copy at once, erasure on request.

Only for a complaint this browser session has opened with its code and secret
(``intake.views._may_see``); anyone else is sent to the look-up form, as for the tracking
page itself. The copy covers this one complaint — the code and secret prove nothing about
others — and is served at once, as a download no browser or proxy keeps. Erasure covers
all of the person's matters, so it is a request staff check and decide
(``complaints.rights``); its state is shown here.
"""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from complaints import rights
from complaints.console.datarequests import export_response
from complaints.errors import GuardFailed
from complaints.models import Complaint, DataRequest
from intake.views import _may_see


class ErasureForm(forms.Form):
    note = forms.CharField(
        label=gettext_lazy("Anything we should know (optional)"),
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    confirm = forms.BooleanField(
        label=gettext_lazy(
            "I ask you to erase my personal data from all my matters. I understand that "
            "you can no longer contact me about them."
        )
    )


def _complaint(request: HttpRequest, code: str) -> Complaint | None:
    """The complaint, if this session may see it; None sends the visitor to look it up."""
    if not _may_see(request, code):
        return None
    found = (
        Complaint.objects.select_related("petitioner", "category", "department")
        .filter(tracking_code=code)
        .first()
    )
    if found is None:
        raise Http404
    return found


def _to_look_up(code: str) -> HttpResponse:
    return redirect(f"{reverse('intake:track')}?code={code}")


@never_cache
@require_http_methods(["GET"])
def data(request: HttpRequest, code: str) -> HttpResponse:
    complaint = _complaint(request, code)
    if complaint is None:
        return _to_look_up(code)
    return _page(request, complaint, ErasureForm())


def _page(request: HttpRequest, complaint: Complaint, form: ErasureForm) -> HttpResponse:
    requests = (
        DataRequest.objects.filter(petitioner=complaint.petitioner).order_by("-received_at")
        if complaint.petitioner_id
        else DataRequest.objects.none()
    )
    return render(
        request,
        "intake/rights/data.html",
        {
            "complaint": complaint,
            "form": form,
            "can_erase": complaint.petitioner_id is not None and complaint.anonymised_at is None,
            "requests": requests,
        },
        status=400 if form.errors else 200,
    )


@never_cache
@require_http_methods(["GET"])
def download(request: HttpRequest, code: str, file_format: str) -> HttpResponse:
    complaint = _complaint(request, code)
    if complaint is None:
        return _to_look_up(code)
    if file_format not in rights.EXPORT_FORMATS:
        raise Http404
    data = rights.export_complaint(complaint, file_format=file_format)
    return export_response(data, complaint.tracking_code, file_format)


@never_cache
@require_POST
def erase(request: HttpRequest, code: str) -> HttpResponse:
    complaint = _complaint(request, code)
    if complaint is None:
        return _to_look_up(code)
    form = ErasureForm(request.POST)
    if not form.is_valid():
        return _page(request, complaint, form)
    try:
        rights.record_data_request(
            complaint_id=complaint.pk,
            kind=DataRequest.Kind.ERASURE,
            verified_by=rights.verified_on_tracking_page(complaint.tracking_code),
            note=form.cleaned_data["note"],
            actor=None,
            actor_label="petitioner",
        )
    except GuardFailed as error:
        messages.info(request, str(error))
    else:
        messages.success(
            request,
            _(
                "We have received your request. We will check it and erase your data "
                "once your matters are finished; the answer will appear on this page."
            ),
        )
    return redirect("intake:data", code=complaint.tracking_code)

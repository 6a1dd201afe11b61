"""Staff registration of complaints that come by phone, at the window or by letter.

The intake clerk fills the same fields a citizen would, plus how and when it came (a
letter's date of receipt, its number or the call id), and attaches scanned pages. The
clerk can first look up the caller's earlier complaints by phone number.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from accounts import audit
from complaints import permissions
from complaints.errors import GuardFailed
from complaints.models import Complaint
from intake import services
from intake.forms import RegisterForm
from intake.links import private_link

SESSION_REGISTERED = "just_registered"


def _require_register(request: HttpRequest) -> None:
    if not request.user.has_perm(permissions.action_permission("register")):
        raise PermissionDenied


def earlier_complaints(user: Any, raw_phone: str) -> list[Complaint]:
    """The caller's earlier complaints (by normalised phone) that ``user`` may see."""
    try:
        phone = services.normalize_phone(raw_phone)
    except ValueError:
        return []
    if not phone:
        return []
    found = Complaint.objects.filter(petitioner__phone=phone).select_related("category")
    return list(permissions.visible_to(found, user).order_by("-received_at")[:20])


@login_required
@require_http_methods(["GET", "POST"])
def register(request: HttpRequest) -> HttpResponse:
    _require_register(request)
    form = RegisterForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        submission = form.submission(channel=form.cleaned_data["channel"])
        try:
            receipt = services.submit(submission, actor=request.user)  # type: ignore[arg-type]
        except GuardFailed as error:
            form.add_refusal(error)
        else:
            request.session[SESSION_REGISTERED] = {
                "id": receipt.complaint.pk,
                "secret": receipt.secret,
                "created": receipt.created,
                "missing": list(receipt.missing),
            }
            return redirect("console:registered")
    phone = request.POST.get("phone") or request.GET.get("phone", "")
    earlier = earlier_complaints(request.user, phone)
    if request.method == "GET" and phone:
        # A look-up by phone number tells whether that person complained (as the API's).
        audit.personal_data_searched(request, field="phone", via="console")
    return render(
        request,
        "console/register.html",
        {"form": form, "phone": phone, "earlier": earlier},
        status=400 if form.errors else 200,
    )


@login_required
def registered(request: HttpRequest) -> HttpResponse:
    _require_register(request)
    details = request.session.pop(SESSION_REGISTERED, None)
    if not details:
        return redirect("console:register")
    complaint = Complaint.objects.get(pk=details["id"])
    link = (
        private_link(request, complaint.tracking_code, details["secret"])
        if details["secret"]
        else ""
    )
    return render(
        request,
        "console/registered.html",
        {
            "complaint": complaint,
            **details,
            "missing": services.describe_missing(details["missing"]),
            "private_link": link,
        },
    )


@login_required
def home(request: HttpRequest) -> HttpResponse:
    return render(request, "console/home.html")

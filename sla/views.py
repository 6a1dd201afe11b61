"""The console's deadline board, and extensions (延期申请): ask for more time, decide."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from accounts.models import User
from complaints import permissions
from complaints.console.htmx import render_page
from complaints.errors import DomainError
from sla import selectors, services
from sla.forms import DecisionForm, ExtensionForm
from sla.models import Deadline, ExtensionRequest


@login_required(login_url="console:login")
def deadlines(request: HttpRequest) -> HttpResponse:
    user: User = request.user  # type: ignore[assignment]
    now = timezone.now()
    page = Paginator(selectors.watched(user, now=now), 50).get_page(request.GET.get("page"))
    can_ask = user.has_perm(permissions.action_permission("request_extension"))
    return render_page(
        request,
        "sla/deadlines.html",
        "sla/_deadlines_view.html",
        {
            "page": page,
            "now": now,
            "extensions": selectors.extensions_to_decide(user),
            "can_ask": can_ask,
            "extendable": set(services.EXTENDABLE),
        },
    )


@login_required(login_url="console:login")
@require_http_methods(["GET", "POST"])
def request_extension(request: HttpRequest, pk: int) -> HttpResponse:
    user: User = request.user  # type: ignore[assignment]
    deadline = Deadline.objects.filter(pk=pk).select_related("complaint").first()
    if deadline is None:
        raise Http404
    complaint = permissions.complaint_or_404(user, deadline.complaint_id, request=request)
    if not permissions.can_act(user, complaint, "request_extension"):
        raise PermissionDenied
    form = ExtensionForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.request_extension(
                deadline_id=deadline.pk,
                until=form.cleaned_data["until"],
                reason=form.cleaned_data["reason"],
                actor=user,
            )
        except DomainError as error:
            form.add_error(None, str(error))
        else:
            messages.success(
                request,
                _("Your request for more time on %(code)s went to the department head.")
                % {"code": complaint.tracking_code},
            )
            return redirect("console:deadlines")
    return render(request, "sla/extension_request.html", {"form": form, "deadline": deadline})


@login_required(login_url="console:login")
@require_http_methods(["GET", "POST"])
def decide_extension(request: HttpRequest, pk: int) -> HttpResponse:
    user: User = request.user  # type: ignore[assignment]
    extension = (
        ExtensionRequest.objects.filter(pk=pk)
        .select_related("deadline__complaint", "requested_by", "decided_by")
        .first()
    )
    if extension is None:
        raise Http404
    complaint = permissions.complaint_or_404(user, extension.deadline.complaint_id, request=request)
    if not permissions.can_act(user, complaint, "decide_extension"):
        raise PermissionDenied
    form = DecisionForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        approve = form.cleaned_data["decision"] == "approve"
        try:
            services.decide_extension(
                request_id=extension.pk, approve=approve, note=form.cleaned_data["note"], actor=user
            )
        except DomainError as error:
            form.add_error(None, str(error))
        else:
            messages.success(
                request,
                (
                    _("Extension approved for %(code)s.")
                    if approve
                    else _("Extension refused for %(code)s.")
                )
                % {"code": complaint.tracking_code},
            )
            return redirect("console:deadlines")
    return render(request, "sla/extension_decide.html", {"form": form, "extension": extension})

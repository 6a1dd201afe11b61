"""The console's queues: lists to work through, filters, saved views, bulk assignment.

The reads live in ``complaints.queues``; these views validate, call it or the services,
and render. Everything works without JavaScript: links and plain forms. With it, htmx
swaps the queue in place (filters, tabs, pages) and keeps its address in the history.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, QueryDict
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django.views.decorators.http import require_POST

from accounts.models import User
from complaints import permissions, queues, services
from complaints.console.htmx import render_page
from complaints.console.widgets import QuickSelect
from complaints.errors import DomainError
from complaints.forms import StaffChoiceField
from complaints.models import Complaint, SavedFilter
from ops.params import ascii_int
from routing.models import Department

# Query parameters that belong to one visit, not to a view worth saving.
_TRANSIENT = ("after", "csrfmiddlewaretoken")
# More than a couple of pages at once is a mistake, not a plan.
_MAX_BULK = 2 * queues.PAGE_SIZE


class BulkForm(forms.Form):
    """Where the selected complaints go: assigned if classified, transferred if not."""

    department = forms.ModelChoiceField(
        label=gettext_lazy("Department"), queryset=Department.objects.filter(is_active=True)
    )
    assignee = StaffChoiceField(
        label=gettext_lazy("Handler"),
        queryset=User.objects.filter(is_active=True, department__isnull=False)
        .select_related("department")
        .order_by("department__code", "last_name", "first_name"),
        required=False,
        help_text=gettext_lazy("Empty: the department picks the handler."),
        widget=QuickSelect,
    )
    reason = forms.CharField(
        label=gettext_lazy("Reason for the transfer"),
        max_length=1000,
        required=False,
        help_text=gettext_lazy("Needed for complaints that are already assigned."),
    )

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        department, assignee = cleaned.get("department"), cleaned.get("assignee")
        if assignee is not None and (department is None or assignee.department_id != department.pk):
            self.add_error("assignee", _("Choose a handler of the chosen department."))
        return cleaned


class SaveFilterForm(forms.Form):
    name = forms.CharField(label=gettext_lazy("Name of this view"), max_length=100)
    query = forms.CharField(max_length=1000, required=False, widget=forms.HiddenInput)


def _may_move(user: Any) -> bool:
    return user.has_perm(permissions.action_permission("assign")) or user.has_perm(
        permissions.action_permission("transfer")
    )


def _clean_query(raw: str) -> str:
    """A queue query string, re-encoded, without the paging cursor or empty fields."""
    params = QueryDict(raw, mutable=True)
    for key in _TRANSIENT:
        params.pop(key, None)
    kept = QueryDict(mutable=True)
    for key in params:
        values = [value for value in params.getlist(key) if value]
        if values:
            kept.setlist(key, values)
    return kept.urlencode()


def _report_errors(request: HttpRequest, form: forms.Form) -> None:
    # These forms sit beside a list; their errors come back as messages above it.
    for errors in form.errors.values():
        for error in errors:
            messages.error(request, str(error))


def _queue_url(query: str) -> str:
    query = _clean_query(query)
    return reverse("console:queue") + (f"?{query}" if query else "")


@login_required(login_url="console:login")
def queue(request: HttpRequest) -> HttpResponse:
    user: User = request.user  # type: ignore[assignment]
    usable = queues.queues_for(user)
    if not usable:
        raise PermissionDenied
    name = request.GET.get("q") or queues.default_queue(user)
    current = next((q for q in usable if q.name == name), None)
    if current is None:
        raise Http404
    form = queues.QueueFilterForm(request.GET)
    form.is_valid()  # a field with an error is shown with it, and does not filter
    data = form.cleaned_data
    sort = data.get("sort") or queues.DEFAULT_SORT
    found = queues.apply_filters(queues.base_queryset(user, current.name), data, user)
    page = queues.page_after(found, request.GET.get("after"), sort)

    # The view as it stands, named queue included, for the links, saving and coming back.
    params = request.GET.copy()
    params["q"] = current.name
    query = _clean_query(params.urlencode())
    next_url = None
    if page.next_cursor:
        params = QueryDict(query, mutable=True)
        params["after"] = page.next_cursor
        next_url = f"?{params.urlencode()}"
    filtered = any(data.get(field) for field in form.fields if field not in ("sort", "text"))
    may_move = _may_move(user)
    return render_page(
        request,
        "complaints/queue.html",
        "complaints/_queue_view.html",
        {
            "queue": current,
            "tabs": usable,
            "form": form,
            "filtered": filtered,
            "rows": page.rows,
            "next_url": next_url,
            "is_later_page": bool(request.GET.get("after")),
            "first_url": _queue_url(query),
            "query": query,
            "saved": SavedFilter.objects.filter(user=user),
            "save_form": SaveFilterForm(initial={"query": query}),
            "bulk_form": BulkForm(prefix="bulk") if may_move else None,
            "now": timezone.now(),
        },
    )


def _picks(values: list[str]) -> dict[int, int | None]:
    """Selected rows, ``"<id>:<version>"`` each: the version the user saw, if sent."""
    picked: dict[int, int | None] = {}
    for value in values:
        pk, _sep, version = value.partition(":")
        number = ascii_int(pk)
        if number is not None:
            picked[number] = ascii_int(version)
    return picked


@login_required(login_url="console:login")
@require_POST
def bulk(request: HttpRequest) -> HttpResponse:
    """Assign (classified) or transfer (assigned, in progress) each selected complaint.

    Each one goes through its own service call and transaction: one refusal does not stop
    the others, and every refusal is reported with its reason.
    """
    user: User = request.user  # type: ignore[assignment]
    if not _may_move(user):
        raise PermissionDenied
    back = _queue_url(request.POST.get("back", ""))
    form = BulkForm(request.POST, prefix="bulk")
    picked = _picks(request.POST.getlist("pick"))
    if not picked:
        messages.error(request, _("Select the complaints to assign or transfer."))
        return redirect(back)
    if len(picked) > _MAX_BULK:
        messages.error(
            request,
            _("Select at most %(count)d complaints at once.") % {"count": _MAX_BULK},
        )
        return redirect(back)
    if not form.is_valid():
        _report_errors(request, form)
        return redirect(back)

    data = form.cleaned_data
    visible = permissions.visible_to(Complaint.objects.filter(pk__in=picked), user)
    found = {complaint.pk: complaint for complaint in visible}
    missing = [pk for pk in picked if pk not in found]
    for pk in Complaint.objects.filter(pk__in=missing).values_list("pk", flat=True):
        permissions.log_denial(user, f"complaint:{pk}", request=request)
    moved = 0
    refused: list[tuple[str, str]] = []
    for pk, version in picked.items():
        complaint = found.get(pk)
        if complaint is None:  # gone, or out of reach: the same answer as a 404
            refused.append((f"#{pk}", _("No such complaint.")))
            continue
        try:
            _move(complaint, data, actor=user, expected_version=version)
        except DomainError as error:
            refused.append((complaint.tracking_code, str(error)))
        else:
            moved += 1

    if moved:
        messages.success(
            request,
            ngettext(
                "%(count)d complaint assigned or transferred.",
                "%(count)d complaints assigned or transferred.",
                moved,
            )
            % {"count": moved},
        )
    for code, reason in refused:
        messages.error(
            request, _("%(code)s not moved: %(reason)s") % {"code": code, "reason": reason}
        )
    return redirect(back)


def _move(
    complaint: Complaint, data: dict[str, Any], *, actor: User, expected_version: int | None
) -> None:
    if complaint.status == Complaint.Status.CLASSIFIED:
        services.assign(
            complaint_id=complaint.pk,
            department=data["department"],
            assignee=data.get("assignee"),
            actor=actor,
            expected_version=expected_version,
        )
    else:
        # Anything else is a transfer; the service refuses states it cannot leave from,
        # with the message that says what is possible instead.
        services.transfer(
            complaint_id=complaint.pk,
            department=data["department"],
            assignee=data.get("assignee"),
            reason=data.get("reason", ""),
            actor=actor,
            expected_version=expected_version,
        )


@login_required(login_url="console:login")
@require_POST
def save_filter(request: HttpRequest) -> HttpResponse:
    user: User = request.user  # type: ignore[assignment]
    form = SaveFilterForm(request.POST)
    if not form.is_valid():
        _report_errors(request, form)
        return redirect(_queue_url(request.POST.get("query", "")))
    name = form.cleaned_data["name"].strip()
    # The form kept it within the model's 1000 characters; cleaning only shortens it.
    query = _clean_query(form.cleaned_data["query"])
    _saved, created = SavedFilter.objects.update_or_create(
        user=user, name=name, defaults={"query": query}
    )
    messages.success(
        request,
        (_("View “%(name)s” saved.") if created else _("View “%(name)s” updated."))
        % {"name": name},
    )
    return redirect(_queue_url(query))


@login_required(login_url="console:login")
@require_POST
def delete_filter(request: HttpRequest, pk: int) -> HttpResponse:
    saved = get_object_or_404(SavedFilter, pk=pk, user=request.user)
    saved.delete()
    messages.success(request, _("View “%(name)s” deleted.") % {"name": saved.name})
    return redirect("console:queue")

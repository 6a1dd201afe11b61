"""The audit log in the console, read-only, for those who hold ``view_audit_log``.

Auditors and supervisors read the log where they already work: the back-office is for
administrators (it needs ``is_staff`` and model permissions that roles do not grant),
while ``complaints.view_audit_log`` is a role permission (``accounts.roles``). Entries are
filtered by user, action and date, newest first; nothing here writes.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any

from django import forms
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from accounts.models import AuditEntry

PERMISSION = "complaints.view_audit_log"
PER_PAGE = 50


class AuditLogFilter(forms.Form):
    user = forms.CharField(label=gettext_lazy("User"), max_length=150, required=False)
    action = forms.CharField(
        label=pgettext_lazy("audit log", "Action"),
        max_length=64,
        required=False,
        help_text=gettext_lazy("For example login.failed, or login. for every login act."),
    )
    since = forms.DateField(
        label=gettext_lazy("From"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    until = forms.DateField(
        label=gettext_lazy("To"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        since, until = data.get("since"), data.get("until")
        if since and until and since > until:
            self.add_error("until", _("The end date comes before the start date."))
        return data

    def entries(self) -> QuerySet[AuditEntry]:
        """The entries the (valid) filter selects, newest first."""
        found = AuditEntry.objects.all()
        data = self.cleaned_data
        if data.get("user"):
            found = found.filter(actor_name=data["user"].strip())
        action = (data.get("action") or "").strip()
        if action.endswith("."):
            found = found.filter(action__startswith=action)
        elif action:
            found = found.filter(action=action)
        zone = timezone.get_current_timezone()
        if data.get("since"):
            found = found.filter(at__gte=datetime.combine(data["since"], time.min, zone))
        if data.get("until"):
            end = datetime.combine(data["until"] + timedelta(days=1), time.min, zone)
            found = found.filter(at__lt=end)
        return found.order_by("-at", "-id")


@never_cache
@login_required(login_url="console:login")
@require_GET
def audit_log(request: HttpRequest) -> HttpResponse:
    """The audit log, filtered; a bad filter is answered 400 with its errors."""
    if not request.user.has_perm(PERMISSION):
        raise PermissionDenied
    form = AuditLogFilter(request.GET or None)
    valid = form.is_valid() if form.is_bound else True
    found = form.entries() if form.is_bound and valid else AuditEntry.objects.all()
    page = Paginator(found, PER_PAGE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "accounts/audit_log.html",
        {"form": form, "page": page, "query": query.urlencode()},
        status=200 if valid else 400,
    )

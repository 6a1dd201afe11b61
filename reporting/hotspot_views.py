"""The hotspots page (热点与预警): spikes, repeat petitioners, clusters of similar complaints.

Who sees what is the rule of the reports (``reporting.access``): roles that reach every
department see everything; a department head sees their own department; anyone else is
refused (403).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.db.models import Count
from django.db.models.functions import TruncDate
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.utils.translation import pgettext
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from accounts.models import User
from complaints.models import Complaint
from reporting import access, hotspots
from reporting.charts import bar_chart
from reporting.replica import replica_reads
from routing.models import Department


@login_required(login_url="console:login")
@require_GET
@never_cache  # names and personal data, even masked, stay out of shared caches
@replica_reads
def hotspots_page(request: HttpRequest) -> HttpResponse:
    user: User = request.user  # type: ignore[assignment]
    department_id = access.department_lock(user)
    now = timezone.now()
    department = Department.objects.filter(pk=department_id).first() if department_id else None
    return render(
        request,
        "reporting/hotspots.html",
        {
            "now": now,
            "department": department,
            "spikes": hotspots.spikes(department_id=department_id, now=now),
            "repeats": hotspots.repeat_petitioners(department_id=department_id, now=now),
            "cluster_report": hotspots.clusters(department_id=department_id, now=now),
            "windows": hotspots.WINDOWS,
            "volume_chart": _volume_chart(department_id, now),
            "rule": {
                "min_count": settings.HOTSPOT_MIN_COUNT,
                "p_value": settings.HOTSPOT_P_VALUE,
                "baseline_days": settings.HOTSPOT_BASELINE_DAYS,
                "repeat_min": settings.HOTSPOT_REPEAT_MIN,
                "repeat_days": settings.HOTSPOT_REPEAT_DAYS,
                "cluster_days": settings.HOTSPOT_CLUSTER_DAYS,
                "cluster_min": settings.HOTSPOT_CLUSTER_MIN_SIZE,
                "similarity": round(settings.HOTSPOT_CLUSTER_SIMILARITY * 100),
            },
        },
    )


def _volume_chart(department_id: int | None, now: datetime) -> str:
    """Complaints received per day over the baseline and the last week: the background."""
    days = settings.HOTSPOT_BASELINE_DAYS + 7
    today = timezone.localdate(now)
    first = today - timedelta(days=days - 1)
    complaints = Complaint.objects.filter(
        received_at__gte=now - timedelta(days=days + 1), received_at__lt=now
    ).exclude(status=Complaint.Status.MERGED)
    if department_id is not None:
        complaints = complaints.filter(department_id=department_id)
    counts = dict(
        complaints.annotate(day=TruncDate("received_at", tzinfo=timezone.get_current_timezone()))
        .values("day")
        .annotate(n=Count("id"))
        .values_list("day", "n")
    )
    points = [
        (date_format(day, "m-d"), counts.get(day, 0))
        for day in (first + timedelta(days=offset) for offset in range(days))
    ]
    return bar_chart(
        points, title=_("Complaints received per day"), unit=pgettext("unit", "complaints")
    )

"""The public statistics page: anonymised figures for everyone, when published."""

from __future__ import annotations

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from reporting import public


@require_GET
def public_statistics(request: HttpRequest) -> HttpResponse:
    if not settings.PUBLIC_STATISTICS:
        raise Http404
    period = request.GET.get("period", "")
    if period not in public.PERIODS:
        period = public.DEFAULT_PERIOD
    return render(
        request,
        "reporting/public_statistics.html",
        {
            "figures": public.figures(period, today=timezone.localdate()),
            "periods": public.PERIODS,
            "minimum": public.minimum(),
        },
    )

"""The console's deadline board: what is late, what is due soon, what waits for a decision."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from sla import selectors


@login_required(login_url="console:login")
def deadlines(request: HttpRequest) -> HttpResponse:
    user = request.user
    now = timezone.now()
    page = Paginator(selectors.watched(user, now=now), 50).get_page(  # type: ignore[arg-type]
        request.GET.get("page")
    )
    return render(
        request,
        "sla/deadlines.html",
        {
            "page": page,
            "now": now,
            "extensions": selectors.extensions_to_decide(user),  # type: ignore[arg-type]
        },
    )

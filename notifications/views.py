"""The staff console's notification list: read them, open them, mark them read."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import ngettext
from django.views.decorators.http import require_POST

from accounts.models import User
from notifications import services
from notifications.models import Notification

PER_PAGE = 25


@login_required
def notification_list(request: HttpRequest) -> HttpResponse:
    """The signed-in user's in-app notifications, newest first."""
    user: User = request.user  # type: ignore[assignment]
    notifications = Notification.objects.filter(
        user=user, channel=Notification.Channel.IN_APP
    ).order_by("-created_at", "-pk")
    page = Paginator(notifications, PER_PAGE).get_page(request.GET.get("page"))
    # The unread count comes from the context processor (notifications.context.unread).
    return render(request, "notifications/list.html", {"page": page})


@login_required
@require_POST
def read(request: HttpRequest, pk: int) -> HttpResponse:
    """Mark one read, then open what it links to (or go back to the list)."""
    try:
        notification = services.mark_read(request.user, pk)  # type: ignore[arg-type]
    except Notification.DoesNotExist as exc:
        raise Http404 from exc
    if notification.url and url_has_allowed_host_and_scheme(
        notification.url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return redirect(notification.url)
    return redirect("console:notifications")


@login_required
@require_POST
def read_all(request: HttpRequest) -> HttpResponse:
    count = services.mark_all_read(request.user)  # type: ignore[arg-type]
    messages.success(
        request,
        ngettext(
            "%(count)d notification marked read.", "%(count)d notifications marked read.", count
        )
        % {"count": count},
    )
    return redirect("console:notifications")

"""Reads of deadlines for people: what is late or due soon, within what a user may see."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db.models import Q, QuerySet
from django.utils import timezone

from accounts.models import User
from complaints import permissions
from complaints.models import Complaint
from sla.models import Deadline, ExtensionRequest


def watched(
    user: User, *, now: datetime | None = None, within: timedelta = timedelta(hours=2)
) -> QuerySet[Deadline]:
    """Running deadlines of complaints ``user`` may see that need attention: passed, past
    their warning point, or due within ``within``."""
    now = now or timezone.now()
    visible = permissions.visible_to(Complaint.objects.all(), user).values("pk")
    return (
        Deadline.objects.filter(state=Deadline.State.OPEN, complaint__in=visible)
        .filter(Q(due_at__lte=now + within) | Q(warn_at__lte=now))
        .select_related("complaint", "complaint__department", "complaint__assignee")
        .order_by("due_at", "id")
    )


def extensions_to_decide(user: User) -> QuerySet[ExtensionRequest]:
    """Pending extension requests on complaints ``user`` may decide about."""
    if not user.has_perm(permissions.action_permission("decide_extension")):
        return ExtensionRequest.objects.none()
    visible = permissions.visible_to(Complaint.objects.all(), user).values("pk")
    return (
        ExtensionRequest.objects.filter(
            state=ExtensionRequest.State.PENDING, deadline__complaint__in=visible
        )
        .exclude(requested_by=user)
        .select_related("deadline__complaint", "requested_by")
    )

"""Complaints at the steps of closing the loop: in handling, replied, surveyed."""

from __future__ import annotations

from typing import Any

from accounts.models import User
from complaints import services, surveys
from complaints.models import Complaint, Reply, Survey
from notifications.models import Notification
from routing.models import Department
from tests.factories import complaint_in

S = Complaint.Status


def handling(department: Department, handler: User, **fields: Any) -> Complaint:
    """A complaint in progress with ``handler`` of ``department``."""
    return complaint_in(S.IN_PROGRESS, department=department, assignee=handler, **fields)


def reply_to(complaint: Complaint, handler: User, body: str = "路灯已修复。", **send: Any) -> Reply:
    """Draft and send a reply that needs no approval; the sent reply."""
    services.draft_reply(complaint_id=complaint.pk, body=body, actor=handler)
    services.send_reply(complaint_id=complaint.pk, actor=handler, **send)
    return complaint.replies.get(sent_at__isnull=False, body=body)


def replied(department: Department, handler: User, **fields: Any) -> Complaint:
    """A replied complaint with its first survey open."""
    complaint = handling(department, handler, **fields)
    reply_to(complaint, handler)
    complaint.refresh_from_db()
    return complaint


def open_survey(complaint: Complaint) -> Survey:
    survey = surveys.current(complaint)
    assert survey is not None, f"{complaint.tracking_code} has no open survey"
    return survey


def link_of(survey: Survey) -> str:
    return f"/survey/{surveys.token_for(survey.pk)}/"


def to_petitioner(complaint: Complaint, kind: str = "reply.sent") -> list[Notification]:
    """Outbox rows of ``kind`` addressed to someone without a staff account."""
    return list(
        Notification.objects.filter(complaint=complaint, kind=kind, user__isnull=True).order_by(
            "pk"
        )
    )


def told(user: User, kind: str) -> list[Notification]:
    """In-app rows of ``kind`` for ``user``."""
    return list(Notification.objects.filter(user=user, kind=kind, channel="in_app"))

"""Critical complaints alert the on-call leaders at once, on every channel, once each."""

from __future__ import annotations

from django.conf import settings

from accounts.models import User
from complaints import services as complaint_services
from complaints.models import Complaint
from notifications.services import notify
from sla import messages
from sla.models import EmergencyAlert, Recipients
from sla.recipients import Directory


def alert_if_critical(complaint: Complaint) -> list[User]:
    """Alert the on-call leaders not yet alerted about ``complaint``; return them.

    Called when a complaint is graded critical and again when it reaches a department,
    whose own on-call leaders are then alerted too. Runs in the caller's transaction.
    """
    if complaint.priority != Complaint.Priority.CRITICAL:
        return []
    department_id = complaint.department_id
    if department_id is None and complaint.category is not None:
        department_id = complaint.category.default_department_id
    return alert(complaint, department_id)


def alert(complaint: Complaint, department_id: int | None) -> list[User]:
    """Alert the on-call leaders of ``department_id`` (else the supervisors) not yet alerted.

    Also for a complaint routing only suspects to be critical while it waits for a
    dispatcher: an emergency does not wait for the classification.
    """
    directory = Directory()
    leaders = directory.on_call_for(department_id) or directory.resolve(
        Recipients.SUPERVISOR, department_id=None, assignee_id=None
    )
    done = set(EmergencyAlert.objects.filter(complaint=complaint).values_list("user_id", flat=True))
    new = [u for u in {u.pk: u for u in leaders}.values() if u.pk not in done]
    if not new:
        return []
    EmergencyAlert.objects.bulk_create([EmergencyAlert(complaint=complaint, user=u) for u in new])
    notify(
        new,
        kind="sla.emergency",
        compose=lambda _r: messages.emergency(
            complaint.tracking_code, complaint.title, complaint.location
        ),
        key=f"sla.emergency:{complaint.pk}",
        channels=settings.SLA_EMERGENCY_CHANNELS,
        complaint_id=complaint.pk,
        url=messages.staff_url(complaint.pk),
    )
    complaint_services.record_event(
        complaint_id=complaint.pk,
        kind="sla.emergency_alerted",
        payload={"alerted": [u.get_username() for u in new]},
    )
    return new

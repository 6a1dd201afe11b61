"""SLA use cases people start: asking for more time (延期申请) and deciding on it."""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import User
from complaints import permissions
from complaints import services as complaint_services
from complaints.errors import GuardFailed, NotFound, PermissionDenied
from complaints.models import Complaint
from notifications.services import notify
from sla import messages
from sla.deadlines import elapsed_in, engine_for, refresh_overdue, schedule, set_warning
from sla.models import Deadline, ExtensionRequest, Stage
from sla.recipients import Directory

# Limits a handler answers for, and so may ask to move.
EXTENDABLE = (Stage.ACCEPT, Stage.PLAN, Stage.REPLY, Stage.CYCLE, Stage.CO_HANDLING)


def _locked_deadline(deadline_id: int) -> tuple[Deadline, Complaint]:
    try:
        deadline = Deadline.objects.select_related("policy_version", "calendar").get(pk=deadline_id)
    except Deadline.DoesNotExist as exc:
        raise NotFound(_("No such deadline.")) from exc
    complaint = Complaint.objects.select_for_update().get(pk=deadline.complaint_id)
    deadline.refresh_from_db()
    return deadline, complaint


def request_extension(
    *, deadline_id: int, until: datetime, reason: str, actor: User
) -> ExtensionRequest:
    """A handler asks to move a running limit to ``until``, with a reason."""
    reason = (reason or "").strip()
    if not reason:
        raise GuardFailed(_("Say why more time is needed."))
    with transaction.atomic():
        deadline, complaint = _locked_deadline(deadline_id)
        if not permissions.can_act(actor, complaint, "request_extension"):
            raise PermissionDenied(
                _("You are not allowed to ask for more time on %(code)s.")
                % {"code": complaint.tracking_code}
            )
        if deadline.stage not in EXTENDABLE or not deadline.is_running:
            raise GuardFailed(_("This limit cannot be extended."))
        if until <= max(deadline.due_at, timezone.now()):
            raise GuardFailed(_("Ask for a time later than the current limit and than now."))
        try:
            with transaction.atomic():
                request = ExtensionRequest.objects.create(
                    deadline=deadline,
                    reason=reason,
                    requested_due_at=until,
                    previous_due_at=deadline.due_at,
                    requested_by=actor,
                )
        except IntegrityError as exc:
            raise GuardFailed(
                _("An extension of this limit is already waiting for a decision.")
            ) from exc
        complaint_services.record_event(
            complaint_id=complaint.pk,
            kind="sla.extension_requested",
            actor=actor,
            payload={
                "request_id": request.pk,
                "stage": deadline.stage,
                "due_at": deadline.due_at.isoformat(),
                "until": until.isoformat(),
                "reason": reason,
            },
        )
        department_id = complaint.department_id
        if deadline.co_handling_task_id:
            department_id = deadline.co_handling_task.department_id  # type: ignore[union-attr]
        heads = Directory().resolve("head", department_id=department_id, assignee_id=None)
        who = actor.get_full_name() or actor.get_username()
        notify(
            [h for h in heads if h.pk != actor.pk] or heads,
            kind="sla.extension_requested",
            compose=lambda _r: messages.extension_requested(
                complaint.tracking_code, deadline.stage, until, who, reason
            ),
            key=f"sla.extension_requested:{request.pk}",
            channels=settings.SLA_WARNING_CHANNELS,
            complaint_id=complaint.pk,
            url=messages.staff_url(complaint.pk),
        )
    return request


def decide_extension(
    *, request_id: int, approve: bool, note: str = "", actor: User
) -> ExtensionRequest:
    """The department head approves (the limit moves) or refuses; the handler is told."""
    note = (note or "").strip()
    with transaction.atomic():
        try:
            request = ExtensionRequest.objects.select_related("deadline").get(pk=request_id)
        except ExtensionRequest.DoesNotExist as exc:
            raise NotFound(_("No such extension request.")) from exc
        deadline, complaint = _locked_deadline(request.deadline_id)
        request = ExtensionRequest.objects.select_for_update().get(pk=request_id)
        if not permissions.can_act(actor, complaint, "decide_extension"):
            raise PermissionDenied(
                _("You are not allowed to decide on extensions for %(code)s.")
                % {"code": complaint.tracking_code}
            )
        if request.requested_by_id == actor.pk:
            raise PermissionDenied(_("Someone else must decide on your own request."))
        if request.state != ExtensionRequest.State.PENDING:
            raise GuardFailed(_("This request has been decided already."))
        if not approve and not note:
            raise GuardFailed(_("Say why the extension is refused."))
        now = timezone.now()
        request.state = (
            ExtensionRequest.State.APPROVED if approve else ExtensionRequest.State.REFUSED
        )
        request.decided_by = actor
        request.decided_at = now
        request.decision_note = note
        request.save()
        if approve and deadline.is_running:
            _move(deadline, request.requested_due_at, now)
            refresh_overdue(complaint, now)
        complaint_services.record_event(
            complaint_id=complaint.pk,
            kind="sla.extension_approved" if approve else "sla.extension_refused",
            actor=actor,
            payload={
                "request_id": request.pk,
                "stage": deadline.stage,
                "until": request.requested_due_at.isoformat(),
                "note": note,
            },
        )
        until = request.requested_due_at if approve else deadline.due_at
        notify(
            [request.requested_by],
            kind="sla.extension_decided",
            compose=lambda _r: messages.extension_decided(
                complaint.tracking_code, deadline.stage, approve, until, note
            ),
            key=f"sla.extension_decided:{request.pk}",
            channels=settings.SLA_WARNING_CHANNELS,
            complaint_id=complaint.pk,
            url=messages.staff_url(complaint.pk),
        )
    return request


def _move(deadline: Deadline, until: datetime, now: datetime) -> None:
    """A new due time, and a new round of warning and escalation towards it."""
    engine = engine_for(deadline)
    if deadline.state == Deadline.State.PAUSED:
        assert deadline.paused_at is not None
        deadline.due_left = (deadline.due_left or 0.0) + elapsed_in(
            deadline, engine, deadline.due_at, until
        )
        deadline.warn_left = None
    deadline.due_at = until
    deadline.round += 1
    deadline.escalation_level = 0
    deadline.warned_at = None
    deadline.breached_at = None
    ratio = deadline.policy_version.warn_ratio if deadline.policy_version else None
    if ratio is not None and deadline.state == Deadline.State.OPEN:
        set_warning(deadline, engine, ratio, now)
    else:
        deadline.warn_at = None
    schedule(deadline)
    deadline.save()

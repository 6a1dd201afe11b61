"""Use cases of a complaint: one function each, each one atomic.

Every state change goes through ``_transition``: open a transaction, lock the row, check
the version the actor saw, check state, role and scope, run the pure transition, save,
write the ``Event``, and announce the change after commit (``complaint_changed``), so
that no listener ever acts on data that was rolled back.

``actor`` is the staff user acting, or ``None`` for the system and for callers that
vouched for the petitioner themselves (a tracking code and secret, a channel token);
those pass ``actor_label`` ("petitioner", "channel:wechat", …) for the audit trail.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial
from typing import Any, Protocol

from django.conf import settings
from django.core.files.base import File
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django_fsm import Transition

from accounts.models import User
from complaints import approvals, outreach, permissions, privacy, scanning, surveys, tracking
from complaints import people as people_of
from complaints.errors import Conflict, GuardFailed, InvalidTransition, NotFound, PermissionDenied
from complaints.models import (
    FINISHED_STATES,
    OPEN_STATES,
    Attachment,
    CloseReason,
    CoHandlingTask,
    Complaint,
    Delivery,
    Event,
    Petitioner,
    Reply,
    ReplyApproval,
    Survey,
)
from complaints.selectors import same_person as selectors_same_person
from complaints.signals import complaint_changed, event_recorded
from notifications.services import notify

# The event each transition writes; the dotted names are part of the audit log's format.
EVENT_KIND = {
    "classify": "complaint.classified",
    "request_info": "complaint.info_requested",
    "supply_info": "complaint.info_supplied",
    "assign": "complaint.assigned",
    "transfer": "complaint.transferred",
    "send_back": "complaint.returned",
    "accept": "complaint.accepted",
    "reply": "complaint.replied",
    "close": "complaint.closed",
    "reopen": "complaint.reopened",
    "reject": "complaint.rejected",
    "merge": "complaint.merged",
    "withdraw": "complaint.withdrawn",
    "archive": "complaint.archived",
}
# Actions listed in lifecycle order wherever people see them.
_ACTION_ORDER = list(EVENT_KIND)
SYSTEM = "system"


# --- Reading the state machine ----------------------------------------------------------


def transition_of(action: str) -> Transition:
    """The django-fsm transition named ``action`` (any of its sources)."""
    method = getattr(Complaint, action, None)
    meta = getattr(method, "_django_fsm", None)
    if meta is None:
        raise NotFound(_("There is no action “%(action)s”.") % {"action": action})
    return next(iter(meta.transitions.values()))


def action_label(action: str) -> str:
    return str(transition_of(action).custom.get("label", action))


def allowed_actions(complaint: Complaint, actor: User | None) -> list[Transition]:
    """Transitions possible now from the complaint's state, and permitted to ``actor``."""
    available = complaint.get_available_status_transitions()  # type: ignore[attr-defined]
    permitted = [t for t in available if actor is None or t.has_perm(complaint, actor)]
    return sorted(permitted, key=lambda t: _ACTION_ORDER.index(t.name))


def _invalid(complaint: Complaint, actor: User | None, label: str) -> InvalidTransition:
    """The refusal of an action the complaint's state does not allow, naming what is."""
    allowed = allowed_actions(complaint, actor)
    return InvalidTransition(
        state_label=complaint.get_status_display(),
        action_label=label,
        allowed=[t.custom.get("label", t.name) for t in allowed],
        actions=[t.name for t in allowed],
    )


# --- The unit of work -------------------------------------------------------------------


def _lock(complaint_id: int, expected_version: int | None) -> Complaint:
    try:
        complaint = Complaint.objects.select_for_update().get(pk=complaint_id)
    except Complaint.DoesNotExist as exc:
        raise NotFound(_("No such complaint.")) from exc
    if expected_version is not None and complaint.version != expected_version:
        raise Conflict(
            _(
                "%(code)s was changed by someone else while you were working on it "
                "(it is now “%(state)s”). Reload it and try again."
            )
            % {"code": complaint.tracking_code, "state": complaint.get_status_display()}
        )
    return complaint


def _require(actor: User | None, complaint: Complaint, verb: str) -> None:
    if actor is not None and not permissions.can_act(actor, complaint, verb):
        raise PermissionDenied(
            _("You are not allowed to do “%(action)s” on %(code)s.")
            % {"action": _verb_label(verb), "code": complaint.tracking_code}
        )


def _verb_label(verb: str) -> str:
    labels = {
        "draft_reply": _("Draft reply"),
        "approve_reply": _("Approve reply"),
        "add_note": _("Add note"),
        "register": _("Register complaint"),
        "request_co_handling": _("Request co-handling"),
        "record_plan": _("Record handling plan"),
        "record_contact": _("Record contact with petitioner"),
        "request_extension": _("Ask for more time"),
        "decide_extension": _("Decide on extension"),
        "deliver_reply": _("Record delivery of the reply"),
        "record_survey": _("Enter survey answer"),
    }
    return labels.get(verb) or action_label(verb)


def _record(
    complaint: Complaint,
    kind: str,
    *,
    actor: User | None,
    actor_label: str = "",
    from_state: str = "",
    to_state: str = "",
    payload: dict[str, Any] | None = None,
) -> Event:
    event = Event.objects.create(
        complaint=complaint,
        kind=kind,
        actor=actor,
        actor_label=actor_label or ("" if actor else SYSTEM),
        from_state=from_state,
        to_state=to_state,
        payload=payload or {},
    )
    event_recorded.send(sender=Complaint, complaint=complaint, event=event)
    transaction.on_commit(
        lambda: complaint_changed.send(
            sender=Complaint,
            complaint_id=complaint.pk,
            event_id=event.pk,
            kind=kind,
            received_at=complaint.received_at,
        )
    )
    return event


def _touch(complaint: Complaint) -> None:
    complaint.version += 1
    complaint.save()


def _transition(
    complaint_id: int,
    action: str,
    *,
    actor: User | None,
    actor_label: str = "",
    expected_version: int | None = None,
    payload: dict[str, Any] | None = None,
    **arguments: Any,
) -> Complaint:
    with transaction.atomic():
        complaint = _lock(complaint_id, expected_version)
        method = getattr(complaint, action)
        transition = method._django_fsm.get_transition(complaint.status)
        if transition is None:
            raise _invalid(complaint, actor, action_label(action))
        _require(actor, complaint, action)
        from_state = complaint.status
        method(**arguments)
        _touch(complaint)
        _record(
            complaint,
            EVENT_KIND[action],
            actor=actor,
            actor_label=actor_label,
            from_state=from_state,
            to_state=complaint.status,
            payload=payload,
        )
    return complaint


# --- Intake -----------------------------------------------------------------------------


class UploadedFileLike(Protocol):
    """An uploaded file, or anything a channel builds that reads like one."""

    @property
    def name(self) -> str | None: ...

    @property
    def content_type(self) -> str | None: ...

    def chunks(self) -> Iterable[bytes]: ...


@dataclass(frozen=True)
class PetitionerDetails:
    name: str = ""
    type: str = Petitioner.Type.INDIVIDUAL
    organisation: str = ""
    phone: str = ""
    email: str = ""
    id_number: str = ""
    address: str = ""
    language: str = ""


@dataclass(frozen=True)
class Submission:
    complaint: Complaint
    # The citizen secret in clear, shown once; None when a retry found the complaint
    # that an earlier attempt already created (its secret went out with that attempt).
    secret: str | None
    created: bool = True
    attachments: list[Attachment] = field(default_factory=list)


def submit_complaint(
    *,
    title: str,
    content: str,
    channel: str,
    kind: str = Complaint.Kind.COMPLAINT,
    petitioner: Petitioner | PetitionerDetails | None = None,
    location: str = "",
    external_ref: str = "",
    received_at: datetime | None = None,
    attachments: Sequence[UploadedFileLike] = (),
    actor: User | None = None,
    actor_label: str = "",
    details: Mapping[str, Any] | None = None,
    on_created: Callable[[Complaint], None] | None = None,
    reference_checked: bool = False,
) -> Submission:
    """Create a complaint in ``received``; ``intake.services.submit`` is the caller.

    Content may be empty: intake accepts such a complaint and asks for the details.
    ``on_created`` runs with the new complaint before its first event is recorded, in the
    same transaction: the channel's own records (which client sent it) are there for
    every listener of that event.

    A channel that passes its own ``external_ref`` (message id, idempotency key, letter
    number) may retry safely: the same reference on the same channel returns the
    complaint created the first time instead of a second one. A caller that has just
    looked the reference up says so (``reference_checked``); a retry racing it is still
    caught, by the unique constraint.
    """
    title, content = (title or "").strip(), (content or "").strip()
    if not title:
        title = content.splitlines()[0][:80] if content else "—"
    if channel not in Complaint.Channel.values:
        raise GuardFailed(_("Unknown channel “%(channel)s”.") % {"channel": channel})
    if kind not in Complaint.Kind.values:
        raise GuardFailed(_("Unknown kind “%(kind)s”.") % {"kind": kind})
    if actor is not None and not actor.has_perm(permissions.action_permission("register")):
        raise PermissionDenied(_("You are not allowed to register complaints."))

    details = dict(details or {})
    if unknown := set(details) - SUBMISSION_DETAILS:
        raise TypeError(f"not a submission detail: {sorted(unknown)}")
    if (
        external_ref
        and not reference_checked
        and (existing := find_by_reference(channel, external_ref))
    ):
        return Submission(complaint=existing, secret=None, created=False)

    received_at = received_at or timezone.now()
    secret = tracking.new_secret()
    try:
        with transaction.atomic():
            person = (
                Petitioner.objects.create(**vars(petitioner))
                if isinstance(petitioner, PetitionerDetails)
                else petitioner
            )
            complaint = Complaint.objects.create(
                tracking_code=_unused_tracking_code(received_at),
                secret_hash=tracking.hash_secret(secret),
                title=title[:200],
                content=content,
                channel=channel,
                kind=kind,
                petitioner=person,
                location=location,
                external_ref=external_ref,
                received_at=received_at,
                **details,
            )
            stored = [_store_attachment(complaint, upload, actor) for upload in attachments]
            if on_created is not None:
                on_created(complaint)
            _record(
                complaint,
                "complaint.received",
                actor=actor,
                actor_label=actor_label or (f"channel:{channel}" if actor is None else ""),
                to_state=complaint.status,
                payload={
                    "channel": channel,
                    "kind": kind,
                    "attachments": [a.original_name for a in stored],
                },
            )
    except IntegrityError:
        # Two retries of one submission raced; the other one committed first.
        if external_ref and (existing := find_by_reference(channel, external_ref)):
            return Submission(complaint=existing, secret=None, created=False)
        raise
    return Submission(complaint=complaint, secret=secret, attachments=stored)


# Complaint fields a channel may set when submitting, besides the named arguments.
SUBMISSION_DETAILS = {
    "latitude",
    "longitude",
    "occurred_at",
    "is_anonymous",
    "contact_preference",
    "privacy_consent_at",
    "channel_data",
}


def find_by_reference(channel: str, external_ref: str) -> Complaint | None:
    """The complaint a channel already submitted under its own reference, if any."""
    return Complaint.objects.filter(channel=channel, external_ref=external_ref).first()


def _unused_tracking_code(received_at: datetime) -> str:
    # 40 random bits: a clash is rare, but checking costs one indexed lookup.
    while True:
        code = tracking.new_tracking_code(received_at)
        if not Complaint.objects.filter(tracking_code=code).exists():
            return code


def _store_attachment(
    complaint: Complaint,
    upload: UploadedFileLike,
    actor: User | None,
    *,
    reply: Reply | None = None,
) -> Attachment:
    digest = hashlib.sha256()
    size = 0
    for chunk in upload.chunks():
        digest.update(chunk)
        size += len(chunk)
    name = (upload.name or "attachment").replace("\\", "/").rsplit("/", 1)[-1][:255]
    attachment = Attachment(
        complaint=complaint,
        original_name=name,
        content_type=(upload.content_type or "application/octet-stream")[:100],
        size=size,
        sha256=digest.hexdigest(),
        is_inline=bool(getattr(upload, "inline", False)),
        content_id=str(getattr(upload, "content_id", ""))[:255],
        uploaded_by=actor,
        reply=reply,
        scan_status=scanning.initial_status(),
    )
    attachment.file.save(name, File(upload), save=False)  # type: ignore[arg-type]
    attachment.save()
    if attachment.scan_status == Attachment.Scan.PENDING:
        # After commit, so the worker finds the row; a lost task is found by the sweep.
        transaction.on_commit(partial(scanning.queue_scan, attachment.pk), robust=True)
    return attachment


def add_attachment(
    *,
    complaint_id: int,
    upload: UploadedFileLike,
    actor: User | None,
    actor_label: str = "",
) -> Attachment:
    with transaction.atomic():
        complaint = _lock(complaint_id, None)
        _refuse_archived(complaint)
        _require(actor, complaint, "add_note")
        attachment = _store_attachment(complaint, upload, actor)
        _touch(complaint)
        _record(
            complaint,
            "attachment.added",
            actor=actor,
            actor_label=actor_label,
            payload={"attachment_id": attachment.pk, "name": attachment.original_name},
        )
    return attachment


# --- Personal data ----------------------------------------------------------------------


def reveal_personal_data(*, complaint_id: int, reason: str, actor: User) -> Event:
    """Log that ``actor`` sees the petitioner's personal data unmasked, and why.

    Needs ``view_personal_data`` within the actor's scope and a reason. Writes the
    ``personal_data.viewed`` event (the reason and which fields, never their values);
    the complaint itself does not change, so its version stays.
    """
    reason = (reason or "").strip()
    if not reason:
        raise GuardFailed(_("Say why you need to see the personal data."))
    with transaction.atomic():
        complaint = _lock(complaint_id, None)
        if not permissions.can_view_personal_data(actor, complaint):
            raise PermissionDenied(
                _("You are not allowed to see the personal data of %(code)s.")
                % {"code": complaint.tracking_code}
            )
        fields = privacy.revealed_fields(complaint)
        if not fields:
            raise GuardFailed(
                _("%(code)s has no personal data to show.") % {"code": complaint.tracking_code}
            )
        return _record(
            complaint,
            "personal_data.viewed",
            actor=actor,
            payload={"reason": reason, "fields": fields},
        )


# --- Dispatch ---------------------------------------------------------------------------


def classify(
    *,
    complaint_id: int,
    category: Any,
    priority: str,
    kind: str | None = None,
    actor: User | None,
    actor_label: str = "",
    expected_version: int | None = None,
) -> Complaint:
    """received → classified: set category and priority (and kind, if corrected)."""
    return _transition(
        complaint_id,
        "classify",
        actor=actor,
        actor_label=actor_label,
        expected_version=expected_version,
        category=category,
        priority=priority,
        kind=kind,
        payload={
            "category": getattr(category, "code", None),
            "priority": priority,
            **({"kind": kind} if kind else {}),
        },
    )


def assign(
    *,
    complaint_id: int,
    department: Any,
    assignee: User | None = None,
    actor: User | None,
    actor_label: str = "",
    expected_version: int | None = None,
) -> Complaint:
    """classified → assigned: to a department, and optionally to one handler in it."""
    return _transition(
        complaint_id,
        "assign",
        actor=actor,
        actor_label=actor_label,
        expected_version=expected_version,
        department=department,
        assignee=assignee,
        payload=_unit_payload(department, assignee),
    )


def reject(
    *, complaint_id: int, reason: str, actor: User | None, expected_version: int | None = None
) -> Complaint:
    """received/classified → rejected (不予受理): the reason goes to the petitioner."""
    with transaction.atomic():
        complaint = _transition(
            complaint_id,
            "reject",
            actor=actor,
            expected_version=expected_version,
            reason=reason,
            payload={"reason": reason},
        )
        outreach.tell(
            complaint,
            kind="complaint.rejected",
            key=f"rejected:{complaint.pk}",
            compose=lambda: (
                _("Your complaint %(code)s was not accepted") % {"code": complaint.tracking_code},
                _("Reason: %(reason)s") % {"reason": reason},
            ),
        )
    return complaint


def merge(
    *,
    complaint_id: int,
    into_id: int,
    actor: User | None,
    expected_version: int | None = None,
) -> Complaint:
    """received/classified → merged: a duplicate of ``into_id``, which stays open."""
    with transaction.atomic():
        # Lock both rows, lower id first, so two opposite merges cannot deadlock.
        locked = {
            c.pk: c
            for c in Complaint.objects.select_for_update()
            .filter(pk__in=[complaint_id, into_id])
            .order_by("pk")
        }
        target = locked.get(into_id)
        if target is None:
            raise NotFound(_("The complaint to merge into does not exist."))
        complaint = _transition(
            complaint_id,
            "merge",
            actor=actor,
            expected_version=expected_version,
            into=target,
            payload={"into": target.tracking_code},
        )
        _record(
            target,
            "complaint.duplicate_merged",
            actor=actor,
            payload={"duplicate": complaint.tracking_code},
        )
        outreach.tell(
            complaint,
            kind="complaint.merged",
            key=f"merged:{complaint.pk}",
            compose=lambda: (
                _("Your complaint %(code)s is handled together with another one")
                % {"code": complaint.tracking_code},
                _(
                    "Others reported the same matter; it is handled once, as %(other)s. "
                    "You will receive its reply, and your tracking code keeps working."
                )
                % {"other": target.tracking_code},
            ),
        )
    return complaint


# --- Waiting for the petitioner ---------------------------------------------------------


def request_info(
    *,
    complaint_id: int,
    question: str,
    fields: Sequence[str] = (),
    actor: User | None,
    actor_label: str = "",
    expected_version: int | None = None,
) -> Complaint:
    """Any working state → needs_info; the SLA clock pauses until details arrive.

    ``question`` is what the petitioner is asked; ``fields`` names the missing ones for
    machines (``content``, ``contact``, …).
    """
    return _transition(
        complaint_id,
        "request_info",
        actor=actor,
        actor_label=actor_label,
        expected_version=expected_version,
        question=question,
        payload={"question": question, **({"fields": list(fields)} if fields else {})},
    )


def supply_info(
    *,
    complaint_id: int,
    details: str,
    actor: User | None,
    actor_label: str = "",
    expected_version: int | None = None,
) -> Complaint:
    """needs_info → the state it was in before; the details join the timeline."""
    return _transition(
        complaint_id,
        "supply_info",
        actor=actor,
        actor_label=actor_label,
        expected_version=expected_version,
        details=details,
        payload={"details": details},
    )


# --- Handling ---------------------------------------------------------------------------


def accept(
    *, complaint_id: int, actor: User | None, expected_version: int | None = None
) -> Complaint:
    """assigned/reopened → in_progress; an unassigned complaint goes to the acceptor."""
    return _transition(
        complaint_id, "accept", actor=actor, expected_version=expected_version, handler=actor
    )


def transfer(
    *,
    complaint_id: int,
    department: Any,
    reason: str,
    assignee: User | None = None,
    actor: User | None,
    expected_version: int | None = None,
) -> Complaint:
    """assigned/in_progress → assigned, to another department or handler."""
    return _transition(
        complaint_id,
        "transfer",
        actor=actor,
        expected_version=expected_version,
        department=department,
        assignee=assignee,
        reason=reason,
        payload={**_unit_payload(department, assignee), "reason": reason},
    )


def send_back(
    *, complaint_id: int, reason: str, actor: User | None, expected_version: int | None = None
) -> Complaint:
    """assigned → classified: misrouted, back to the dispatcher with the reason."""
    return _transition(
        complaint_id,
        "send_back",
        actor=actor,
        expected_version=expected_version,
        reason=reason,
        payload={"reason": reason},
    )


def add_supplement(
    *,
    complaint_id: int,
    text: str,
    attachments: Sequence[UploadedFileLike] = (),
    actor: User | None = None,
    actor_label: str = "petitioner",
) -> Complaint:
    """The petitioner adds details or files. Waiting for them (needs_info)? It resumes.

    Accepted in any state, even after closing, so that nothing the petitioner sends is
    lost; only a complaint waiting for details changes state.
    """
    text = (text or "").strip()
    if not text and not attachments:
        raise GuardFailed(_("Write something or attach a file."))
    with transaction.atomic():
        complaint = _lock(complaint_id, None)
        _refuse_archived(complaint)
        _require(actor, complaint, "supply_info")
        stored = [_store_attachment(complaint, upload, actor) for upload in attachments]
        names = [a.original_name for a in stored]
        if complaint.status == Complaint.Status.NEEDS_INFO:
            return _transition(
                complaint_id,
                "supply_info",
                actor=actor,
                actor_label=actor_label,
                details=text or ", ".join(names),
                payload={"details": text, "attachments": names},
            )
        _touch(complaint)
        _record(
            complaint,
            "complaint.supplemented",
            actor=actor,
            actor_label=actor_label,
            payload={"details": text, "attachments": names},
        )
    return complaint


def record_event(
    *,
    complaint_id: int,
    kind: str,
    actor: User | None = None,
    actor_label: str = "",
    payload: dict[str, Any] | None = None,
) -> Event:
    """An event another app decided on (routing, SLA), on the complaint's timeline."""
    with transaction.atomic():
        complaint = _lock(complaint_id, None)
        return _record(complaint, kind, actor=actor, actor_label=actor_label, payload=payload)


# --- Co-handling (协办) ------------------------------------------------------------------


def request_co_handling(
    *,
    complaint_id: int,
    department: Any,
    task: str,
    due_at: datetime,
    actor: User | None,
) -> CoHandlingTask:
    """The lead department asks another department to handle a part, by ``due_at``."""
    if not (task or "").strip():
        raise GuardFailed(_("Describe the co-handling department's task."))
    if due_at <= timezone.now():
        raise GuardFailed(_("The co-handling deadline must be in the future."))
    with transaction.atomic():
        complaint = _lock(complaint_id, None)
        _refuse_outside(
            complaint,
            actor,
            "request_co_handling",
            Complaint.Status.ASSIGNED,
            Complaint.Status.IN_PROGRESS,
            Complaint.Status.REOPENED,
        )
        _require(actor, complaint, "transfer")
        if (
            department is None
            or not department.is_active
            or department.pk == complaint.department_id
        ):
            raise GuardFailed(_("Choose another active department to co-handle."))
        if complaint.co_handling.filter(department=department, status="open").exists():
            raise GuardFailed(
                _("%(department)s already has an open task on this complaint.")
                % {"department": department}
            )
        co_task = CoHandlingTask.objects.create(
            complaint=complaint, department=department, task=task, due_at=due_at, requested_by=actor
        )
        _touch(complaint)
        _record(
            complaint,
            "cohandling.requested",
            actor=actor,
            payload={
                "task_id": co_task.pk,
                "department": department.code,
                "task": task,
                "due_at": due_at.isoformat(),
            },
        )
    return co_task


def complete_co_handling(*, task_id: int, result: str, actor: User | None) -> CoHandlingTask:
    """The co-handling department reports what it did; the lead department continues."""
    if not (result or "").strip():
        raise GuardFailed(_("Describe what your department did."))
    with transaction.atomic():
        co_task = CoHandlingTask.objects.select_for_update().get(pk=task_id)
        complaint = _lock(co_task.complaint_id, None)
        if co_task.status != CoHandlingTask.Status.OPEN:
            raise GuardFailed(_("This co-handling task is already done."))
        if actor is not None and (
            actor.department_id != co_task.department_id
            or not actor.has_perm(permissions.action_permission("accept"))
        ):
            raise PermissionDenied(_("Only the co-handling department can complete its task."))
        co_task.status = CoHandlingTask.Status.DONE
        co_task.result = result
        co_task.completed_by = actor
        co_task.completed_at = timezone.now()
        co_task.save()
        _touch(complaint)
        _record(
            complaint,
            "cohandling.completed",
            actor=actor,
            payload={
                "task_id": co_task.pk,
                "department": co_task.department.code,
                "result": result,
            },
        )
    return co_task


def mark_sensitive(
    *, complaint_id: int, phrases: Iterable[str], actor: User | None = None, actor_label: str = ""
) -> Complaint:
    """Show the complaint only to people who need to see it, and record why."""
    with transaction.atomic():
        complaint = _lock(complaint_id, None)
        if complaint.is_sensitive:
            return complaint
        complaint.is_sensitive = True
        _touch(complaint)
        _record(
            complaint,
            "complaint.marked_sensitive",
            actor=actor,
            actor_label=actor_label,
            payload={"phrases": sorted(phrases)},
        )
    return complaint


def record_plan(*, complaint_id: int, plan: str, actor: User | None) -> Event:
    """The handler writes down how the matter will be handled (办理方案); replies follow."""
    if not (plan or "").strip():
        raise GuardFailed(_("Write the handling plan."))
    with transaction.atomic():
        complaint = _lock(complaint_id, None)
        _refuse_outside(
            complaint, actor, "record_plan", Complaint.Status.IN_PROGRESS, Complaint.Status.ASSIGNED
        )
        _require(actor, complaint, "draft_reply")
        _touch(complaint)
        return _record(
            complaint, "complaint.plan_recorded", actor=actor, payload={"plan": plan.strip()}
        )


def record_contact(*, complaint_id: int, note: str, actor: User | None) -> Event:
    """Staff talked to the petitioner (phone, visit, message): what was said, on the record.

    While details are missing (``needs_info``) it also meets the limit for chasing them.
    """
    if not (note or "").strip():
        raise GuardFailed(_("Say how the petitioner was contacted and what was agreed."))
    with transaction.atomic():
        complaint = _lock(complaint_id, None)
        _refuse_archived(complaint)
        _refuse_outside(complaint, actor, "record_contact", *OPEN_STATES, Complaint.Status.REPLIED)
        _require(actor, complaint, "request_info")
        _touch(complaint)
        return _record(
            complaint,
            "complaint.petitioner_contacted",
            actor=actor,
            payload={"note": note.strip()},
        )


def add_note(*, complaint_id: int, body: str, actor: User) -> Event:
    """An internal note on the timeline; no state change."""
    if not (body or "").strip():
        raise GuardFailed(_("The note is empty."))
    with transaction.atomic():
        complaint = _lock(complaint_id, None)
        _refuse_archived(complaint)
        _require(actor, complaint, "add_note")
        return _record(complaint, "complaint.note_added", actor=actor, payload={"body": body})


def _refuse_archived(complaint: Complaint) -> None:
    """An archived complaint is a record: read, searched, exported, never changed.

    Nor does an anonymised one take new entries: they would bring personal data back.
    """
    if not complaint.takes_entries:
        raise GuardFailed(
            _("%(code)s is archived and can no longer be changed.")
            % {"code": complaint.tracking_code}
        )


def _unit_payload(department: Any, assignee: User | None) -> dict[str, Any]:
    return {
        "department": getattr(department, "code", None),
        "assignee": assignee.get_username() if assignee else None,
    }


# --- Replying and closing ---------------------------------------------------------------


def _current_draft(complaint: Complaint) -> Reply | None:
    return complaint.replies.filter(sent_at__isnull=True).first()


def _refuse_outside(complaint: Complaint, actor: User | None, verb: str, *states: str) -> None:
    if complaint.status not in states:
        raise _invalid(complaint, actor, _verb_label(verb))


def draft_reply(
    *,
    complaint_id: int,
    body: str,
    actor: User | None,
    expected_version: int | None = None,
    attachments: Sequence[UploadedFileLike] = (),
) -> Reply:
    """Write or rewrite the reply, with files to send along. Rewriting voids approvals.

    The approval levels the reply needs are decided now (``complaints.approvals``), for
    the approval queue, and again by the rules in force when it is approved and sent.
    """
    if not (body or "").strip():
        raise GuardFailed(_("Write the reply before saving it."))
    with transaction.atomic():
        complaint = _lock(complaint_id, expected_version)
        _refuse_outside(complaint, actor, "draft_reply", Complaint.Status.IN_PROGRESS)
        _require(actor, complaint, "draft_reply")
        draft = _current_draft(complaint) or Reply(complaint=complaint)
        # New files change what goes out as much as new words: approvals start again.
        changed = draft.pk is None or draft.body != body or bool(attachments)
        draft.body = body
        if changed or actor is None or draft.author_id != actor.pk:
            draft.author = actor
            draft.approved_by = None
            draft.approved_at = None
            draft.approved_level = 0
            draft.returned_comment = ""
        draft.required_levels = approvals.required_levels(complaint)
        draft.save()
        stored = [
            _store_attachment(complaint, upload, actor, reply=draft) for upload in attachments
        ]
        _touch(complaint)
        _record(
            complaint,
            "reply.drafted",
            actor=actor,
            payload={
                "reply_id": draft.pk,
                "approval_levels": draft.required_levels,
                **({"attachments": [a.original_name for a in stored]} if stored else {}),
            },
        )
        if draft.required_levels and changed:
            _ask_for_approval(complaint, draft)
    return draft


def _ask_for_approval(complaint: Complaint, draft: Reply) -> None:
    """Tell the approvers of the next level that a draft waits for them."""
    level = draft.approved_level + 1
    people = people_of.heads_of(complaint.department_id) if level == 1 else people_of.supervisors()
    # Nobody approves their own text, nor two levels of it (approvals.check_approver).
    passed = set(
        ReplyApproval.objects.filter(
            reply=draft,
            decision=ReplyApproval.Decision.APPROVED,
            body_sha256=approvals.text_digest(draft.body),
            level__lte=draft.approved_level,
        ).values_list("actor_id", flat=True)
    )
    people = [p for p in people if p.pk != draft.author_id and p.pk not in passed]
    notify(
        people,
        kind="reply.approval_requested",
        compose=lambda r: (
            _("%(code)s: a reply waits for your approval") % {"code": complaint.tracking_code},
            complaint.title,
        ),
        key=(
            f"reply.approval:{draft.pk}:{approvals.text_digest(draft.body)[:16]}"
            f":{draft.attachments.count()}:{level}"
        ),
        channels=["in_app", "email"],
        complaint_id=complaint.pk,
        url=reverse("console:complaint", args=[complaint.pk]),
    )


def approve_reply(
    *, complaint_id: int, actor: User | None, expected_version: int | None = None
) -> Reply:
    """An approver passes the current draft, exactly as written, at the next level."""
    with transaction.atomic():
        complaint = _lock(complaint_id, expected_version)
        _refuse_outside(complaint, actor, "approve_reply", Complaint.Status.IN_PROGRESS)
        _require(actor, complaint, "approve_reply")
        draft = _current_draft(complaint)
        if draft is None:
            raise GuardFailed(_("There is no draft reply to approve."))
        draft.required_levels = approvals.required_levels(complaint)
        level = approvals.check_approver(draft, actor)
        if actor is not None:
            ReplyApproval.objects.create(
                reply=draft,
                level=level,
                decision=ReplyApproval.Decision.APPROVED,
                body_sha256=approvals.text_digest(draft.body),
                actor=actor,
            )
        draft.approved_level = level
        draft.returned_comment = ""
        if approvals.is_approved(draft):
            draft.approved_by = actor
            draft.approved_at = timezone.now()
        draft.save()
        _touch(complaint)
        _record(
            complaint,
            "reply.approved",
            actor=actor,
            payload={"reply_id": draft.pk, "level": level, "of": draft.required_levels},
        )
        if not approvals.is_approved(draft):
            _ask_for_approval(complaint, draft)
        elif draft.author is not None and draft.author != actor:
            notify(
                [draft.author],
                kind="reply.approved",
                compose=lambda r: (
                    _("%(code)s: your reply is approved and can be sent")
                    % {"code": complaint.tracking_code},
                    complaint.title,
                ),
                key=f"reply.approved:{draft.pk}:{approvals.text_digest(draft.body)[:16]}",
                channels=["in_app"],
                complaint_id=complaint.pk,
                url=reverse("console:complaint", args=[complaint.pk]),
            )
    return draft


def return_reply(
    *,
    complaint_id: int,
    comment: str,
    actor: User | None,
    expected_version: int | None = None,
) -> Reply:
    """An approver sends the draft back with what to change; earlier approvals lapse."""
    if not (comment or "").strip():
        raise GuardFailed(_("Say what should change in the reply."))
    with transaction.atomic():
        complaint = _lock(complaint_id, expected_version)
        _refuse_outside(complaint, actor, "approve_reply", Complaint.Status.IN_PROGRESS)
        _require(actor, complaint, "approve_reply")
        draft = _current_draft(complaint)
        if draft is None:
            raise GuardFailed(_("There is no draft reply to send back."))
        if actor is not None:
            if draft.author_id == actor.pk:
                raise GuardFailed(_("You wrote this reply: rewrite it instead."))
            ReplyApproval.objects.create(
                reply=draft,
                level=min(draft.approved_level + 1, max(draft.required_levels, 1)),
                decision=ReplyApproval.Decision.RETURNED,
                comment=comment,
                body_sha256=approvals.text_digest(draft.body),
                actor=actor,
            )
        draft.approved_level = 0
        draft.approved_by = None
        draft.approved_at = None
        draft.returned_comment = comment
        draft.save()
        _touch(complaint)
        _record(
            complaint,
            "reply.returned",
            actor=actor,
            payload={"reply_id": draft.pk, "comment": comment},
        )
        if draft.author is not None:
            notify(
                [draft.author],
                kind="reply.returned",
                compose=lambda r: (
                    _("%(code)s: your reply was sent back") % {"code": complaint.tracking_code},
                    comment,
                ),
                key=f"reply.returned:{draft.pk}:{ReplyApproval.objects.filter(reply=draft).count()}",
                channels=["in_app", "email"],
                complaint_id=complaint.pk,
                url=reverse("console:complaint", args=[complaint.pk]),
            )
    return draft


def send_reply(
    *,
    complaint_id: int,
    actor: User | None,
    delivery: str = "",
    expected_version: int | None = None,
) -> Complaint:
    """in_progress → replied with the current draft, through the channel of origin.

    ``delivery`` overrides the default way (``outreach.default_delivery``) with another
    possible one. E-mail and SMS go to the outbox; a letter or an oral reply is recorded
    as delivered by staff later (``record_delivery``); the tracking page delivers at once.
    A satisfaction survey opens with the reply, its link in the message.
    """
    with transaction.atomic():
        complaint = _lock(complaint_id, expected_version)
        draft = _current_draft(complaint)
        delivery = delivery or outreach.default_delivery(complaint)
        if delivery not in outreach.possible_deliveries(complaint):
            raise GuardFailed(
                _("The reply cannot go out as “%(way)s”: the petitioner cannot be reached so.")
                % {"way": Delivery(delivery).label if delivery in Delivery.values else delivery}
            )
        if draft is not None:
            # The rules as they are now: a rule added, or a priority raised, since the
            # draft was written applies; a priority lowered lifts the need.
            draft.required_levels = approvals.required_levels(complaint)
        complaint = _transition(
            complaint_id,
            "reply",
            actor=actor,
            expected_version=expected_version,
            reply=draft,
            payload={
                "reply_id": draft.pk if draft else None,
                "body": draft.body if draft else "",
                "delivery": delivery,
            },
        )
        assert draft is not None  # the transition's guard refused a missing draft
        draft.sent_at = complaint.replied_at
        draft.delivery = delivery
        if delivery == Delivery.PORTAL:
            draft.delivered_at = complaint.replied_at
        draft.save()
        _survey, token = surveys.open_survey(complaint, draft)
        outreach.send_reply(complaint, draft, survey_token=token)
        _copy_to_merged(complaint, draft)
    return complaint


def _copy_to_merged(complaint: Complaint, reply: Reply) -> None:
    """Petitioners whose complaints were merged into this one get its reply too."""
    for duplicate in complaint.duplicates.select_related("petitioner"):
        if selectors_same_person(duplicate.petitioner, complaint.petitioner):
            continue  # they get the reply itself already
        outreach.tell(
            duplicate,
            kind="reply.sent_to_duplicate",
            key=f"reply:{reply.pk}:duplicate:{duplicate.pk}",
            compose=partial(_answered_notice, duplicate.tracking_code, reply.body),
        )


def _answered_notice(code: str, body: str) -> tuple[str, str]:
    return _("Your complaint %(code)s has been answered.") % {"code": code}, body


def record_delivery(
    *, complaint_id: int, note: str, actor: User | None, expected_version: int | None = None
) -> Reply:
    """Staff record that the letter was posted or the reply was given orally."""
    if not (note or "").strip():
        raise GuardFailed(
            _("Say how and when the reply was delivered (posted, phoned, handed over).")
        )
    with transaction.atomic():
        complaint = _lock(complaint_id, expected_version)
        _require(actor, complaint, "deliver_reply")
        reply = complaint.replies.filter(sent_at__isnull=False).order_by("-sent_at").first()
        if reply is None or complaint.status != Complaint.Status.REPLIED:
            raise GuardFailed(_("There is no sent reply waiting to be delivered."))
        if reply.delivered_at is not None:
            raise GuardFailed(_("This reply is already recorded as delivered."))
        reply.delivered_at = timezone.now()
        reply.delivery_note = note
        reply.save(update_fields=["delivered_at", "delivery_note", "updated_at"])
        # The petitioner has the reply only now: the survey's window counts from here.
        window = timedelta(days=settings.SURVEY_WINDOW_DAYS)
        complaint.surveys.filter(
            reply=reply, outcome="", closes_at__lt=reply.delivered_at + window
        ).update(closes_at=reply.delivered_at + window)
        _touch(complaint)
        _record(
            complaint,
            "reply.delivered",
            actor=actor,
            payload={"reply_id": reply.pk, "delivery": reply.delivery, "note": note},
        )
    return reply


def reply_delivered(*, notification_id: int) -> Reply | None:
    """The outbox handed a reply's e-mail or SMS to its channel: record it, once."""
    from notifications.models import Notification

    notification = Notification.objects.filter(pk=notification_id, kind="reply.sent").first()
    if notification is None or notification.complaint_id is None:
        return None
    with transaction.atomic():
        complaint = _lock(notification.complaint_id, None)
        # The reply this row carries: a late message of an earlier round must not mark
        # the reply of a later one as delivered.
        sent = complaint.replies.filter(sent_at__isnull=False)
        reply_id = outreach.reply_id_of(notification.dedupe_key)
        reply = (sent.filter(pk=reply_id) if reply_id else sent.order_by("-sent_at")).first()
        if reply is None or reply.delivered_at is not None:
            return reply
        reply.delivered_at = notification.sent_at or timezone.now()
        reply.save(update_fields=["delivered_at", "updated_at"])
        _record(
            complaint,
            "reply.delivered",
            actor=None,
            payload={"reply_id": reply.pk, "delivery": reply.delivery},
        )
    return reply


def close(
    *,
    complaint_id: int,
    actor: User | None,
    actor_label: str = "",
    expected_version: int | None = None,
) -> Complaint:
    """replied → closed by staff (or after a supervisor's review of a second dissatisfaction).

    The survey closes complaints itself (``complaints.surveys``), with its own reason.
    """
    with transaction.atomic():
        complaint = _lock(complaint_id, expected_version)
        reviewed = complaint.review_requested_at is not None
        if reviewed and actor is not None and not reviews(actor):
            # Only a supervisor's decision may be recorded as "closed after review".
            raise PermissionDenied(
                _("%(code)s waits for a supervisor's review: the petitioner is not satisfied.")
                % {"code": complaint.tracking_code}
            )
        reason = CloseReason.REVIEWED if reviewed else CloseReason.STAFF
        return close_for(
            complaint_id,
            reason=reason,
            actor=actor,
            actor_label=actor_label,
            expected_version=expected_version,
        )


def reviews(actor: User) -> bool:
    """Supervisors (and administrators): every department, and managing them."""
    return permissions.has_wide_scope(actor) and actor.has_perm(
        permissions.perm("manage_department")
    )


def close_for(
    complaint_id: int,
    *,
    reason: str,
    actor: User | None,
    actor_label: str = "",
    expected_version: int | None = None,
    payload: dict[str, Any] | None = None,
) -> Complaint:
    """replied → closed, saying why (``CloseReason``); any open survey is settled."""
    with transaction.atomic():
        complaint = _transition(
            complaint_id,
            "close",
            actor=actor,
            actor_label=actor_label,
            expected_version=expected_version,
            reason=reason,
            payload={"reason": reason, **(payload or {})},
        )
        complaint.surveys.filter(outcome="").update(outcome=Survey.Outcome.NO_RESPONSE)
    return complaint


def reopen(
    *,
    complaint_id: int,
    reason: str,
    actor: User | None,
    actor_label: str = "",
    expected_version: int | None = None,
) -> Complaint:
    """replied → reopened: the petitioner is not satisfied; handling starts again (二次办理).

    It goes back to the same department and handler, with limits of its own (the SLA
    engine opens accept and cycle again); the handler and the department's heads are told.
    """
    with transaction.atomic():
        complaint = _transition(
            complaint_id,
            "reopen",
            actor=actor,
            actor_label=actor_label,
            expected_version=expected_version,
            reason=reason,
            payload={"reason": reason},
        )
        complaint.surveys.filter(outcome="").update(outcome=Survey.Outcome.DISSATISFIED)
        _tell_handling_unit(
            complaint,
            kind="complaint.reopened",
            key=f"reopened:{complaint.pk}:{complaint.reopen_count}",
            subject=_("%(code)s reopened: the petitioner is not satisfied")
            % {"code": complaint.tracking_code},
            body=reason,
        )
    return complaint


def _tell_handling_unit(
    complaint: Complaint, *, kind: str, key: str, subject: str, body: str
) -> None:
    people = people_of.heads_of(complaint.department_id)
    if complaint.assignee is not None:
        people.append(complaint.assignee)
    notify(
        people,
        kind=kind,
        compose=lambda r: (subject, body),
        key=key,
        channels=["in_app", "email"],
        complaint_id=complaint.pk,
        url=reverse("console:complaint", args=[complaint.pk]),
    )


# --- The satisfaction survey (回访) -------------------------------------------------------


def answer_survey(
    *,
    survey_id: int,
    resolved: bool | None,
    rating: int | None,
    comment: str = "",
    actor: User | None = None,
    actor_label: str = "",
) -> Survey:
    """Record the petitioner's answer, then close the complaint or start handling again.

    ``actor`` is the staff member who took the answer by phone; ``None`` with
    ``actor_label="petitioner"`` is the petitioner through the survey link. Satisfied:
    the complaint closes. Not satisfied (``surveys.is_dissatisfied``) the first time: it
    is reopened (二次办理). Not satisfied again: it waits for a supervisor's review, who
    reopens it once more or closes it.
    """
    if resolved is None:
        raise GuardFailed(_("Say whether the matter was resolved."))
    if rating is None or not 1 <= rating <= 5:
        raise GuardFailed(_("Choose a satisfaction rating from 1 to 5."))
    comment = (comment or "").strip()
    with transaction.atomic():
        survey = Survey.objects.filter(pk=survey_id).first()
        if survey is None:
            raise NotFound(_("No such survey."))
        complaint = _lock(survey.complaint_id, None)
        survey = Survey.objects.select_for_update().get(pk=survey_id)
        if survey.outcome or complaint.status != Complaint.Status.REPLIED:
            raise GuardFailed(_("This survey is closed; thank you all the same."))
        if actor is not None:
            _require(actor, complaint, "record_survey")
        dissatisfied = surveys.is_dissatisfied(resolved, rating)
        survey.resolved, survey.rating, survey.comment = resolved, rating, comment
        survey.answered_at = timezone.now()
        survey.via = Survey.Via.PHONE if actor is not None else Survey.Via.LINK
        survey.entered_by = actor
        survey.outcome = Survey.Outcome.DISSATISFIED if dissatisfied else Survey.Outcome.SATISFIED
        survey.save()
        label = actor_label or ("" if actor else "petitioner")
        _record(
            complaint,
            "survey.answered",
            actor=actor,
            actor_label=label,
            payload={
                "round": survey.round,
                "via": survey.via,
                "resolved": resolved,
                "rating": rating,
                "comment": comment,
                "outcome": survey.outcome,
            },
        )
        why = _("Survey: resolved %(resolved)s, satisfaction %(rating)s/5. %(comment)s") % {
            "resolved": _("yes") if resolved else _("no"),
            "rating": rating,
            "comment": comment,
        }
        # What follows is the survey's doing, whoever typed the answer in.
        if not dissatisfied:
            close_for(complaint.pk, reason=CloseReason.SURVEY, actor=None, actor_label="survey")
        elif complaint.reopen_count == 0:
            reopen(complaint_id=complaint.pk, reason=why.strip(), actor=None, actor_label="survey")
        else:
            _request_review(complaint, why.strip())
    return survey


def answer_current_survey(*, complaint_id: int, **answer: Any) -> Survey:
    """``answer_survey`` for the survey a replied complaint is waiting on (an answer taken
    by phone, or a channel answering for the petitioner); refused when none waits."""
    complaint = Complaint.objects.filter(pk=complaint_id).first()
    if complaint is None:
        raise NotFound(_("No such complaint."))
    current = surveys.current(complaint)
    if current is None:
        raise GuardFailed(_("This survey is closed; thank you all the same."))
    return answer_survey(survey_id=current.pk, **answer)


def _request_review(complaint: Complaint, why: str) -> None:
    """A second dissatisfaction: supervisors review it (reopen once more, or close)."""
    complaint.review_requested_at = timezone.now()
    _touch(complaint)
    _record(
        complaint,
        "complaint.review_requested",
        actor=None,
        actor_label="survey",
        payload={"reason": why, "reopened": complaint.reopen_count},
    )
    notify(
        people_of.supervisors(),
        kind="complaint.review_requested",
        compose=lambda r: (
            _("%(code)s: not satisfied again — please review") % {"code": complaint.tracking_code},
            why,
        ),
        key=f"review:{complaint.pk}:{complaint.reopen_count}",
        channels=["in_app", "email"],
        complaint_id=complaint.pk,
        url=reverse("console:complaint", args=[complaint.pk]),
    )


def close_unanswered_surveys(*, now: datetime | None = None, limit: int = 500) -> int:
    """Close complaints whose survey window passed without an answer ("no response").

    Each complaint in its own transaction, re-checked under its lock, so an answer that
    arrives at the same moment wins or loses cleanly; safe to run twice at once.
    """
    now = now or timezone.now()
    due = Survey.objects.filter(
        outcome="", closes_at__lte=now, complaint__status=Complaint.Status.REPLIED
    ).order_by("closes_at", "pk")
    closed = 0
    for survey_id, complaint_id in due.values_list("pk", "complaint_id")[:limit]:
        with transaction.atomic():
            complaint = _lock(complaint_id, None)
            survey = Survey.objects.select_for_update().get(pk=survey_id)
            if survey.outcome or complaint.status != Complaint.Status.REPLIED:
                continue
            survey.outcome = Survey.Outcome.NO_RESPONSE
            survey.save(update_fields=["outcome"])
            _record(complaint, "survey.expired", actor=None, payload={"round": survey.round})
            close_for(complaint.pk, reason=CloseReason.NO_RESPONSE, actor=None)
            closed += 1
    return closed


def archive_due(*, now: datetime | None = None, limit: int = 500) -> int:
    """Archive finished complaints closed more than ARCHIVE_AFTER_DAYS ago."""
    now = now or timezone.now()
    cutoff = now - timedelta(days=settings.ARCHIVE_AFTER_DAYS)
    due = Complaint.objects.filter(status__in=FINISHED_STATES, closed_at__lte=cutoff)
    archived = 0
    for complaint_id in due.order_by("closed_at", "pk").values_list("pk", flat=True)[:limit]:
        try:
            archive(complaint_id=complaint_id, actor=None)
        except InvalidTransition:
            continue  # archived meanwhile by someone else
        archived += 1
    return archived


def withdraw(
    *,
    complaint_id: int,
    reason: str = "",
    actor: User | None,
    actor_label: str = "",
    expected_version: int | None = None,
) -> Complaint:
    """Any open state → withdrawn, at the petitioner's request; whoever handles it is told."""
    with transaction.atomic():
        complaint = _transition(
            complaint_id,
            "withdraw",
            actor=actor,
            actor_label=actor_label,
            expected_version=expected_version,
            reason=reason,
            payload={"reason": reason},
        )
        if complaint.department_id is not None:
            _tell_handling_unit(
                complaint,
                kind="complaint.withdrawn",
                key=f"withdrawn:{complaint.pk}",
                subject=_("%(code)s was withdrawn by the petitioner")
                % {"code": complaint.tracking_code},
                body=reason,
            )
    return complaint


def archive(
    *, complaint_id: int, actor: User | None, expected_version: int | None = None
) -> Complaint:
    """closed/rejected/merged/withdrawn → archived."""
    return _transition(complaint_id, "archive", actor=actor, expected_version=expected_version)


# The service behind each transition, for doors that are driven by the action's name
# (the admin's transition buttons, later the console and the API).
SERVICE_FOR_ACTION: dict[str, Callable[..., Any]] = {
    "classify": classify,
    "request_info": request_info,
    "supply_info": supply_info,
    "assign": assign,
    "transfer": transfer,
    "send_back": send_back,
    "accept": accept,
    "reply": send_reply,
    "close": close,
    "reopen": reopen,
    "reject": reject,
    "merge": merge,
    "withdraw": withdraw,
    "archive": archive,
}

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
from datetime import datetime
from typing import Any, Protocol

from django.core.files.base import File
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django_fsm import Transition

from accounts.models import User
from complaints import permissions, privacy, tracking
from complaints.errors import Conflict, GuardFailed, InvalidTransition, NotFound, PermissionDenied
from complaints.models import (
    OPEN_STATES,
    Attachment,
    CoHandlingTask,
    Complaint,
    Event,
    Petitioner,
    Reply,
)
from complaints.signals import complaint_changed, event_recorded

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
            sender=Complaint, complaint_id=complaint.pk, event_id=event.pk, kind=kind
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
            raise InvalidTransition(
                state_label=complaint.get_status_display(),
                action_label=action_label(action),
                allowed=[t.custom.get("label", t.name) for t in allowed_actions(complaint, actor)],
            )
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
) -> Submission:
    """Create a complaint in ``received``; ``intake.services.submit`` is the caller.

    Content may be empty: intake accepts such a complaint and asks for the details.

    A channel that passes its own ``external_ref`` (message id, idempotency key, letter
    number) may retry safely: the same reference on the same channel returns the
    complaint created the first time instead of a second one.
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
    if external_ref and (existing := find_by_reference(channel, external_ref)):
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
    complaint: Complaint, upload: UploadedFileLike, actor: User | None
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
    )
    attachment.file.save(name, File(upload), save=False)  # type: ignore[arg-type]
    attachment.save()
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
    """received/classified → rejected: out of scope or spam; the reason goes to the petitioner."""
    return _transition(
        complaint_id,
        "reject",
        actor=actor,
        expected_version=expected_version,
        reason=reason,
        payload={"reason": reason},
    )


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
        _require(actor, complaint, "add_note")
        return _record(complaint, "complaint.note_added", actor=actor, payload={"body": body})


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
        raise InvalidTransition(
            state_label=complaint.get_status_display(),
            action_label=_verb_label(verb),
            allowed=[t.custom.get("label", t.name) for t in allowed_actions(complaint, actor)],
        )


def draft_reply(
    *, complaint_id: int, body: str, actor: User | None, expected_version: int | None = None
) -> Reply:
    """Write or rewrite the reply. Rewriting voids an earlier approval."""
    if not (body or "").strip():
        raise GuardFailed(_("Write the reply before saving it."))
    with transaction.atomic():
        complaint = _lock(complaint_id, expected_version)
        _refuse_outside(complaint, actor, "draft_reply", Complaint.Status.IN_PROGRESS)
        _require(actor, complaint, "draft_reply")
        draft = _current_draft(complaint) or Reply(complaint=complaint)
        draft.body = body
        draft.author = actor
        draft.approved_by = None
        draft.approved_at = None
        draft.save()
        _touch(complaint)
        _record(complaint, "reply.drafted", actor=actor, payload={"reply_id": draft.pk})
    return draft


def approve_reply(
    *, complaint_id: int, actor: User | None, expected_version: int | None = None
) -> Reply:
    """A department head approves the current draft, exactly as written."""
    with transaction.atomic():
        complaint = _lock(complaint_id, expected_version)
        _refuse_outside(complaint, actor, "approve_reply", Complaint.Status.IN_PROGRESS)
        _require(actor, complaint, "approve_reply")
        draft = _current_draft(complaint)
        if draft is None:
            raise GuardFailed(_("There is no draft reply to approve."))
        draft.approved_by = actor
        draft.approved_at = timezone.now()
        draft.save()
        _touch(complaint)
        _record(complaint, "reply.approved", actor=actor, payload={"reply_id": draft.pk})
    return draft


def send_reply(
    *, complaint_id: int, actor: User | None, expected_version: int | None = None
) -> Complaint:
    """in_progress → replied with the current draft (approved first if urgent)."""
    with transaction.atomic():
        draft = _current_draft(_lock(complaint_id, expected_version))
        complaint = _transition(
            complaint_id,
            "reply",
            actor=actor,
            expected_version=expected_version,
            reply=draft,
            payload={"reply_id": draft.pk if draft else None, "body": draft.body if draft else ""},
        )
        assert draft is not None  # the transition's guard refused a missing draft
        draft.sent_at = complaint.replied_at
        draft.save(update_fields=["sent_at", "updated_at"])
    return complaint


def close(
    *,
    complaint_id: int,
    actor: User | None,
    actor_label: str = "",
    expected_version: int | None = None,
) -> Complaint:
    """replied → closed: survey answered, survey window over, or closed by staff."""
    return _transition(
        complaint_id,
        "close",
        actor=actor,
        actor_label=actor_label,
        expected_version=expected_version,
    )


def reopen(
    *,
    complaint_id: int,
    reason: str,
    actor: User | None,
    actor_label: str = "",
    expected_version: int | None = None,
) -> Complaint:
    """replied → reopened: the petitioner is not satisfied; handling starts again."""
    return _transition(
        complaint_id,
        "reopen",
        actor=actor,
        actor_label=actor_label,
        expected_version=expected_version,
        reason=reason,
        payload={"reason": reason},
    )


def withdraw(
    *,
    complaint_id: int,
    reason: str = "",
    actor: User | None,
    actor_label: str = "",
    expected_version: int | None = None,
) -> Complaint:
    """Any open state → withdrawn, at the petitioner's request."""
    return _transition(
        complaint_id,
        "withdraw",
        actor=actor,
        actor_label=actor_label,
        expected_version=expected_version,
        reason=reason,
        payload={"reason": reason},
    )


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

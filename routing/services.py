"""Routing a complaint: suggest, classify when sure, choose the department and handler.

``route_complaint`` runs after intake commits (a Celery task) and again from the
periodic sweep for complaints a lost task left in ``received``. It is idempotent: a
complaint routed once (it has a suggestion) is left alone unless asked to redo it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Case, Count, IntegerField, Q, Sum, Value, When
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import User
from accounts.roles import Role
from complaints import permissions
from complaints import services as complaint_services
from complaints.errors import DomainError, PermissionDenied
from complaints.models import OPEN_STATES, Complaint
from routing import duplicates
from routing.decide import Decision, decide
from routing.models import Category, Department, DuplicateCandidate, RoutingRule, Suggestion

ACTOR_LABEL = "routing"
# Open work weighs by priority when balancing load.
LOAD_WEIGHT = {"normal": 1, "urgent": 2, "critical": 3}


@dataclass(frozen=True)
class Routed:
    complaint: Complaint
    suggestion: Suggestion | None
    classified: bool = False
    assigned: bool = False
    duplicates: tuple[DuplicateCandidate, ...] = ()


def text_of(complaint: Complaint) -> str:
    return f"{complaint.title}\n{complaint.content}"


def route_complaint(complaint_id: int, *, force: bool = False) -> Routed:
    """received → (suggestion) → classified → assigned, as far as routing is sure.

    Below the confidence threshold the complaint stays in ``received`` with the
    suggestion for a dispatcher. A dispatcher's own decision is never overridden.
    """
    complaint = Complaint.objects.get(pk=complaint_id)
    if complaint.status != Complaint.Status.RECEIVED:
        return Routed(complaint, None)
    if not force and complaint.suggestions.exists():
        return Routed(complaint, complaint.suggestions.first())
    decision = decide(text_of(complaint))
    suggestion = _record(complaint, decision)
    probable = duplicates.record(complaint)
    if not decision.sure or probable:
        # A probable repeat waits for a dispatcher: merging is possible only before assignment.
        if decision.priority == Complaint.Priority.CRITICAL:
            # An emergency cannot wait for the dispatcher: the SLA engine alerts the
            # on-call leaders now and shortens the time left to classify it.
            complaint_services.record_event(
                complaint_id=complaint.pk,
                kind="routing.critical_suggested",
                actor_label=ACTOR_LABEL,
                payload={"category": decision.category, "confidence": decision.confidence},
            )
        return Routed(complaint, suggestion, duplicates=tuple(probable))
    category = Category.objects.filter(code=decision.category, is_active=True).first()
    if category is None:
        return Routed(complaint, suggestion)
    try:
        complaint = complaint_services.classify(
            complaint_id=complaint.pk,
            category=category,
            priority=decision.priority,
            actor=None,
            actor_label=ACTOR_LABEL,
            expected_version=complaint.version,
        )
    except DomainError:
        # A dispatcher acted meanwhile (or the state moved on): theirs is the decision.
        return Routed(Complaint.objects.get(pk=complaint_id), suggestion)
    Suggestion.objects.filter(pk=suggestion.pk).update(applied=True)
    return assign_by_rules(complaint)


def _record(complaint: Complaint, decision: Decision) -> Suggestion:
    with transaction.atomic():
        suggestion = Suggestion.objects.create(
            complaint=complaint,
            category=Category.objects.filter(code=decision.category).first(),
            priority=decision.priority,
            confidence=decision.confidence,
            sensitive=decision.sensitive,
            matched=decision.matched,
            scores={
                **decision.scores,
                **({"_explanation": decision.explanation} if decision.explanation else {}),
            },
            model_version=decision.model_version,
        )
        if decision.sensitive:
            complaint_services.mark_sensitive(
                complaint_id=complaint.pk,
                phrases={hit["phrase"] for hit in decision.matched if hit["sensitive"]},
                actor_label=ACTOR_LABEL,
            )
    return suggestion


def department_for(complaint: Complaint) -> Department | None:
    """The first matching routing rule's department, else the category's default."""
    place = f"{complaint.location}\n{complaint.title}\n{complaint.content}"
    for rule in RoutingRule.objects.filter(is_active=True).select_related("department"):
        if rule.category_id and rule.category_id != complaint.category_id:
            continue
        if rule.priority and rule.priority != complaint.priority:
            continue
        if rule.channel and rule.channel != complaint.channel:
            continue
        if rule.places and not any(p in place for p in rule.places):
            continue
        if rule.department.is_active:
            return rule.department
    category = complaint.category
    if category and category.default_department and category.default_department.is_active:
        return category.default_department
    return None


def handlers_of(department: Department) -> list[User]:
    """Who can be given work in the department: active handlers who are not away."""
    return list(
        User.objects.filter(
            department=department,
            is_active=True,
            is_away=False,
            groups__name=Role.HANDLER.value,
        )
        .distinct()
        .order_by("id")
    )


def pick_assignee(department: Department) -> User | None:
    """The handler the department's assignment strategy chooses (None: the head decides)."""
    if department.assignment == Department.Assignment.MANUAL:
        return None
    candidates = handlers_of(department)
    if not candidates:
        return None
    if department.assignment == Department.Assignment.ROUND_ROBIN:
        after = department.last_assignee_id or 0
        return next((u for u in candidates if u.pk > after), candidates[0])
    weight = Case(
        *(When(assigned_complaints__priority=p, then=Value(w)) for p, w in LOAD_WEIGHT.items()),
        default=Value(1),
        output_field=IntegerField(),
    )
    open_work = Q(assigned_complaints__status__in=OPEN_STATES)
    loads = (
        User.objects.filter(pk__in=[u.pk for u in candidates])
        .annotate(
            load=Sum(weight, filter=open_work, default=0),
            items=Count("assigned_complaints", filter=open_work),
        )
        .order_by("load", "items", "id")
    )
    return loads.first()


def assign_by_rules(complaint: Complaint) -> Routed:
    """classified → assigned when a department can be found; else it waits for a dispatcher."""
    department = department_for(complaint)
    suggestion = complaint.suggestions.first()
    if department is None:
        return Routed(complaint, suggestion, classified=True)
    with transaction.atomic():
        # Lock the department row: two routings at once must not pick the same "next".
        department = Department.objects.select_for_update().get(pk=department.pk)
        assignee = pick_assignee(department)
        try:
            complaint = complaint_services.assign(
                complaint_id=complaint.pk,
                department=department,
                assignee=assignee,
                actor=None,
                actor_label=ACTOR_LABEL,
                expected_version=complaint.version,
            )
        except DomainError:
            return Routed(Complaint.objects.get(pk=complaint.pk), suggestion, classified=True)
        if assignee is not None:
            Department.objects.filter(pk=department.pk).update(last_assignee=assignee)
    return Routed(complaint, suggestion, classified=True, assigned=True)


def stranded() -> list[int]:
    """Complaints still in ``received`` with no suggestion: their routing task was lost.

    Only those older than ``ROUTING_STRANDED_AFTER`` seconds, so that a task still waiting
    in the queue is not raced by the sweep.
    """
    cutoff = timezone.now() - timedelta(seconds=settings.ROUTING_STRANDED_AFTER)
    return list(
        Complaint.objects.filter(
            status=Complaint.Status.RECEIVED, created_at__lt=cutoff, suggestions__isnull=True
        )
        .order_by("id")
        .values_list("pk", flat=True)[:500]
    )


def merge_duplicate(*, candidate_id: int, actor: User) -> DuplicateCandidate:
    """The dispatcher confirms: the complaint is merged into the earlier one (state merged).

    The petitioner sees "handled together with …" on their tracking page.
    """
    with transaction.atomic():
        candidate = DuplicateCandidate.objects.select_for_update().get(pk=candidate_id)
        if candidate.status != DuplicateCandidate.Status.PENDING:
            return candidate
        complaint_services.merge(
            complaint_id=candidate.complaint_id, into_id=candidate.original_id, actor=actor
        )
        return _decide_candidate(candidate, DuplicateCandidate.Status.MERGED, actor)


def dismiss_duplicate(*, candidate_id: int, actor: User) -> DuplicateCandidate:
    """The dispatcher decides it is not a repeat; routing may then continue."""
    with transaction.atomic():
        candidate = DuplicateCandidate.objects.select_for_update().get(pk=candidate_id)
        if candidate.status != DuplicateCandidate.Status.PENDING:
            return candidate
        if not permissions.can_act(actor, candidate.complaint, "merge"):
            raise PermissionDenied(_("You are not allowed to decide on duplicates."))
        candidate = _decide_candidate(candidate, DuplicateCandidate.Status.DISMISSED, actor)
        complaint_services.record_event(
            complaint_id=candidate.complaint_id,
            kind="complaint.duplicate_dismissed",
            actor=actor,
            payload={"original": candidate.original.tracking_code},
        )
    return candidate


def _decide_candidate(
    candidate: DuplicateCandidate, status: str, actor: User
) -> DuplicateCandidate:
    candidate.status = status
    candidate.decided_by = actor
    candidate.decided_at = timezone.now()
    candidate.save(update_fields=["status", "decided_by", "decided_at"])
    return candidate

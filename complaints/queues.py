"""The console's queues: which complaints a person works through, filtered, searched, paged.

Reads only. Every queue starts from ``permissions.visible_to``: a queue narrows what the
user may see, it never widens it.

Search (``?text=``). Chinese runs words together, so a word index does not find 路灯 in
“小区门口的路灯坏了”: substring matching (``icontains``) is the baseline on every database,
each space-separated term on its own (all must match, in any order). On PostgreSQL a
full-text match over title and content (``SearchVector``, config ``simple``: no stemming,
right for mixed Chinese and English) is added as an alternative, which brings web-search
syntax for Latin words — ``"a phrase"``, ``lamp or bench``. Trigram search would need the
``pg_trgm`` extension and ``django.contrib.postgres`` installed; substring matching covers
what it would add for Chinese. Neither is indexed: queues are scoped to what one person
may see, and a GIN index can come when the numbers ask for it.

Paging is by keyset, never OFFSET: the cursor carries the last row's sort value and id,
signed so that nobody can hand-craft one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from django import forms
from django.contrib.postgres.search import SearchQuery, SearchVector
from django.core import signing
from django.db import connection
from django.db.models import F, Min, Q, QuerySet
from django.utils import timezone
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from accounts.models import User
from accounts.roles import Role
from complaints import permissions, tracking
from complaints.contacts import normalize_phone
from complaints.models import OPEN_STATES, CoHandlingTask, Complaint, Reply, Supervision
from routing.models import Category, Department

PAGE_SIZE = 50
SORTS = {"due": _("Most urgent time limit first"), "newest": _("Newest first")}
DEFAULT_SORT = "due"
_CURSOR_SALT = "complaints.queues.cursor"
# A search is a few words, not an essay: more terms only make the query slower.
_MAX_TERMS = 6


# --- The queues -------------------------------------------------------------------------


@dataclass(frozen=True)
class Queue:
    name: str
    label: str | Promise
    description: str | Promise
    may_use: Callable[[User], bool]
    members: Callable[[User], Q]


def _can(action: str) -> Callable[[User], bool]:
    return lambda user: user.has_perm(permissions.action_permission(action))


def _handles(user: User) -> bool:
    return user.has_perm(permissions.action_permission("accept"))


def _oversees_everything(user: User) -> bool:
    # Supervisors and administrators (manage every department), auditors (read the log);
    # intake clerks and dispatchers reach every department too, but work from the inbox.
    return permissions.has_wide_scope(user) and (
        user.has_perm(permissions.perm("manage_department"))
        or user.has_perm(permissions.perm("view_audit_log"))
    )


_OPEN = Q(status__in=OPEN_STATES)


def _mine(user: User) -> Q:
    return _OPEN & Q(assignee=user)


def _department(user: User) -> Q:
    department = user.department_id
    if department is None:
        return Q(pk__in=[])
    helping = CoHandlingTask.objects.filter(
        department_id=department, status=CoHandlingTask.Status.OPEN
    ).values("complaint_id")
    return _OPEN & (Q(department_id=department) | Q(pk__in=helping))


def _inbox(user: User) -> Q:
    # The same complaints as the dispatcher inbox (routing.console.waiting).
    return Q(status=Complaint.Status.RECEIVED) | Q(
        status=Complaint.Status.CLASSIFIED, department__isnull=True
    )


def _approval(user: User) -> Q:
    drafts = Reply.objects.filter(
        sent_at__isnull=True, approved_level__lt=F("required_levels"), returned_comment=""
    )
    if permissions.has_wide_scope(user):
        waiting = Q(status=Complaint.Status.IN_PROGRESS, pk__in=drafts.values("complaint_id"))
        return waiting
    # A head gives the first level; the lead department replies, not co-handlers.
    first = drafts.filter(approved_level=0)
    waiting = Q(status=Complaint.Status.IN_PROGRESS, pk__in=first.values("complaint_id"))
    return waiting & Q(department_id=user.department_id)


def _overdue(user: User) -> Q:
    return _OPEN & (Q(overdue_since__isnull=False) | ~Q(supervision=Supervision.NONE))


QUEUES: dict[str, Queue] = {
    queue.name: queue
    for queue in [
        Queue(
            "mine",
            _("Mine"),
            _("Open complaints assigned to you."),
            _handles,
            _mine,
        ),
        Queue(
            "department",
            _("My department"),
            _("Open complaints of your department, and those it helps with (co-handling)."),
            lambda user: _handles(user) and user.department_id is not None,
            _department,
        ),
        Queue(
            "inbox",
            _("To dispatch"),
            _("Received complaints, and classified ones without a department."),
            _can("classify"),
            _inbox,
        ),
        Queue(
            "approval",
            _("To approve"),
            _("Complaints in progress whose draft reply waits for approval."),
            _can("approve_reply"),
            _approval,
        ),
        Queue(
            "overdue",
            _("Overdue"),
            _("Open complaints past a time limit, or supervised."),
            lambda user: user.has_perm(permissions.perm("view_complaint")),
            _overdue,
        ),
        Queue(
            "all",
            _("All"),
            _("Every complaint you may see."),
            _oversees_everything,
            lambda user: Q(),
        ),
    ]
}

# Where each role starts; a person with several roles starts at the first that applies.
_ROLE_DEFAULTS = [
    (Role.AUDITOR, "all"),
    (Role.ADMINISTRATOR, "all"),
    (Role.SUPERVISOR, "overdue"),
    (Role.DEPARTMENT_HEAD, "department"),
    (Role.DISPATCHER, "inbox"),
    (Role.HANDLER, "mine"),
]


def queues_for(user: User) -> list[Queue]:
    """The queues ``user`` may use, in display order."""
    if not (user.is_active and user.has_perm(permissions.perm("view_complaint"))):
        return []
    return [queue for queue in QUEUES.values() if queue.may_use(user)]


def default_queue(user: User) -> str | None:
    """The queue ``user`` lands on: their role's, else the widest they may use."""
    usable = [queue.name for queue in queues_for(user)]
    if not usable:
        return None
    roles = set(user.roles)
    for role, name in _ROLE_DEFAULTS:
        if role in roles and name in usable:
            return name
    return "all" if "all" in usable else usable[0]


def base_queryset(user: User, name: str) -> QuerySet[Complaint]:
    """The complaints of queue ``name`` that ``user`` may see; none if not theirs to use."""
    queue = QUEUES.get(name)
    if queue is None or name not in {usable.name for usable in queues_for(user)}:
        return Complaint.objects.none()
    visible = permissions.visible_to(Complaint.objects.all(), user)
    return visible.filter(queue.members(user)).select_related("category", "department", "assignee")


# --- Filters ----------------------------------------------------------------------------


class DateInput(forms.DateInput):
    input_type = "date"


class QueueFilterForm(forms.Form):
    """What narrows a queue, all optional, read from the query string."""

    text = forms.CharField(label=_("Search"), max_length=200, required=False)
    status = forms.MultipleChoiceField(
        label=_("Status"),
        choices=Complaint.Status.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    category = forms.ModelChoiceField(
        label=_("Category"),
        queryset=Category.objects.order_by("code"),
        required=False,
        empty_label="—",
    )
    priority = forms.ChoiceField(
        label=_("Priority"), choices=[("", "—"), *Complaint.Priority.choices], required=False
    )
    channel = forms.ChoiceField(
        label=_("Channel"), choices=[("", "—"), *Complaint.Channel.choices], required=False
    )
    department = forms.ModelChoiceField(
        label=_("Department"),
        queryset=Department.objects.order_by("code"),
        required=False,
        empty_label="—",
    )
    received_from = forms.DateField(label=_("Received from"), required=False, widget=DateInput)
    received_to = forms.DateField(label=_("Received until"), required=False, widget=DateInput)
    overdue = forms.BooleanField(label=_("Overdue only"), required=False)
    supervision = forms.ChoiceField(
        label=_("Supervision"),
        choices=[("", "—"), (Supervision.YELLOW, _("yellow")), (Supervision.RED, _("red"))],
        required=False,
    )
    sort = forms.ChoiceField(label=_("Order"), choices=list(SORTS.items()), required=False)

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        start, end = cleaned.get("received_from"), cleaned.get("received_to")
        if start and end and start > end:
            self.add_error("received_to", _("The end date is before the start date."))
        return cleaned


def _start_of(day: date) -> datetime:
    """Midnight of ``day`` in the configured time zone (TIME_ZONE), as people count days."""
    return datetime.combine(day, time.min, tzinfo=timezone.get_default_timezone())


def apply_filters(
    queryset: QuerySet[Complaint], data: dict[str, Any], user: User
) -> QuerySet[Complaint]:
    """Narrow ``queryset`` by the cleaned fields of ``QueueFilterForm`` (absent: no limit)."""
    if statuses := data.get("status"):
        queryset = queryset.filter(status__in=statuses)
    for field in ("category", "priority", "channel", "department", "supervision"):
        if value := data.get(field):
            queryset = queryset.filter(**{field: value})
    if start := data.get("received_from"):
        queryset = queryset.filter(received_at__gte=_start_of(start))
    if end := data.get("received_to"):
        # Inclusive: everything before the next day's midnight.
        queryset = queryset.filter(received_at__lt=_start_of(end + timedelta(days=1)))
    if data.get("overdue"):
        queryset = queryset.filter(overdue_since__isnull=False)
    if text := (data.get("text") or "").strip():
        queryset = search(queryset, text, user)
    return queryset


# --- Search -----------------------------------------------------------------------------


def search(queryset: QuerySet[Complaint], text: str, user: User) -> QuerySet[Complaint]:
    """Complaints matching ``text``: tracking code, title and content; petitioner's name,
    phone and e-mail too for those allowed to see personal data."""
    text = text.strip()[:200]
    if not text:
        return queryset
    terms = [t.strip("\"'") for t in text.split()[:_MAX_TERMS]]
    terms = [t for t in terms if t] or [text]
    matches = _code_matches(text)
    words = Q()
    for term in terms:
        words &= Q(title__icontains=term) | Q(content__icontains=term)
    matches |= words
    if connection.vendor == "postgresql":
        queryset = queryset.alias(
            document=SearchVector("title", "content", config="simple"),
        )
        matches |= Q(document=SearchQuery(text, config="simple", search_type="websearch"))
    if user.has_perm(permissions.perm("view_personal_data")):
        matches |= _petitioner_matches(text, user)
    return queryset.filter(matches)


def _code_matches(text: str) -> Q:
    compact = text.replace(" ", "")
    found = Q(tracking_code__istartswith=compact)
    if code := tracking.normalize_tracking_code(text):
        found |= Q(tracking_code=code)
    return found


def _petitioner_matches(text: str, user: User) -> Q:
    person = Q(petitioner__name__icontains=text) | Q(petitioner__email__icontains=text)
    try:
        phone = normalize_phone(text)
    except ValueError:
        phone = ""
    if phone:
        # Phones are stored normalised; a tail of five or more digits finds them too, as
        # when someone reads out only the end of a number.
        person |= Q(petitioner__phone__endswith=phone.lstrip("+"))
    if not permissions.has_wide_scope(user):
        # The identity of an anonymous petitioner is hidden from the departments:
        # finding their complaint by name or number would reveal it.
        person &= Q(is_anonymous=False)
    return person


# --- Order and pages --------------------------------------------------------------------


@dataclass(frozen=True)
class Page:
    rows: list[Complaint]
    next_cursor: str | None


def ordered(queryset: QuerySet[Complaint], sort: str) -> QuerySet[Complaint]:
    """With ``next_due`` (the earliest running limit), in ``sort`` order, ties by id."""
    queryset = queryset.annotate(
        next_due=Min("deadlines__due_at", filter=Q(deadlines__state="open"))
    )
    if sort == "newest":
        return queryset.order_by("-received_at", "-id")
    return queryset.order_by(F("next_due").asc(nulls_last=True), "id")


def page_after(
    queryset: QuerySet[Complaint], cursor: str | None, sort: str, *, size: int = PAGE_SIZE
) -> Page:
    """The page after ``cursor`` (the first page without one, or with a bad one)."""
    sort = sort if sort in SORTS else DEFAULT_SORT
    found = ordered(queryset, sort)
    position = _read_cursor(cursor, sort) if cursor else None
    if position is not None:
        found = found.filter(_after(sort, *position))
    rows = list(found[: size + 1])
    if len(rows) <= size:
        return Page(rows=rows, next_cursor=None)
    rows = rows[:size]
    return Page(rows=rows, next_cursor=_make_cursor(sort, rows[-1]))


def _after(sort: str, value: datetime | None, pk: int) -> Q:
    if sort == "newest":
        return Q(received_at__lt=value) | Q(received_at=value, pk__lt=pk)
    if value is None:  # among the complaints without a running limit, at the end
        return Q(next_due__isnull=True, pk__gt=pk)
    return Q(next_due__gt=value) | Q(next_due=value, pk__gt=pk) | Q(next_due__isnull=True)


def _make_cursor(sort: str, last: Complaint) -> str:
    value = last.received_at if sort == "newest" else getattr(last, "next_due", None)
    payload = {"s": sort, "v": value.isoformat() if value else None, "id": last.pk}
    return signing.dumps(payload, salt=_CURSOR_SALT, compress=True)


def _read_cursor(cursor: str, sort: str) -> tuple[datetime | None, int] | None:
    """The (value, id) a cursor stands for; None if forged, damaged or of another order."""
    try:
        payload = signing.loads(cursor, salt=_CURSOR_SALT)
        if payload["s"] != sort or not isinstance(payload["id"], int):
            return None
        value = datetime.fromisoformat(payload["v"]) if payload["v"] is not None else None
    except (signing.BadSignature, KeyError, TypeError, ValueError):
        return None
    if value is None and sort == "newest":
        return None
    return value, payload["id"]

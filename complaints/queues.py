"""The console's queues: which complaints a person works through, filtered, searched, paged.

Reads only. Every queue starts from ``permissions.visible_to``: a queue narrows what the
user may see, it never widens it.

Search (``?text=``). Chinese runs words together, so a word index does not find 路灯 in
“小区门口的路灯坏了”: substring matching (``icontains``) is the rule, each space-separated
term on its own (all must match, in any order) — on PostgreSQL, a term of Latin letters
only matches the start of a word instead (``light`` finds "lights", not "streetlight"),
which its full-text index answers at once. On PostgreSQL a full-text
match over title and content (``SearchVector``, config ``simple``: no stemming, right for
mixed Chinese and English) is added as an alternative, which brings web-search syntax for
Latin words — ``"a phrase"``, ``lamp or bench``.

On PostgreSQL every way of matching is indexed (migration 0015), so a search over a
million complaints reads the rows that match, not the whole scope: English words through
the full-text index, other terms (Chinese, numbers) through a GIN index of the text's
character pairs (``sutong_bigrams``; pg_trgm does not serve the usual two-character
Chinese word, see the migration), tracking codes through the code's own index, and
petitioners' names, e-mails and phone tails through indexes on the petitioner. Each way
is one indexed query; their ids are united (``UNION``) and the queue keeps those within
its scope. SQLite reads them all: fine for the embedded default's size.

The order by time limit (``next_due``, the earliest running limit) is one index look-up
per complaint of the queue (sla's ``deadline_open_by_complaint``), and a page is read in
two steps: its 51 ids from the narrow columns the order needs, then those rows in full.

Paging is by keyset, never OFFSET: the cursor carries the last row's sort value and id,
signed so that nobody can hand-craft one.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import reduce
from typing import Any

from django import forms
from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.search import SearchQuery, SearchVector
from django.core import signing
from django.db import connection
from django.db.models import F, Func, OuterRef, Q, QuerySet, Subquery, TextField, Value
from django.db.models.functions import Reverse
from django.utils import timezone
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from accounts.models import User
from accounts.roles import Role
from complaints import permissions, tracking
from complaints.contacts import normalize_phone
from complaints.models import (
    OPEN_STATES,
    CoHandlingTask,
    Complaint,
    Petitioner,
    Reply,
    Supervision,
)
from routing.models import Category, Department

PAGE_SIZE = 50
SORTS = {"due": _("Most urgent time limit first"), "newest": _("Newest first")}
DEFAULT_SORT = "due"
_CURSOR_SALT = "complaints.queues.cursor"
# A search is a few words, not an essay: more terms only make the query slower.
_MAX_TERMS = 6
# Letters only, three or more: matched as the start of a word on PostgreSQL (safe to hand
# to to_tsquery as it is).
_LATIN_WORD = re.compile(r"[A-Za-z]{3,}")


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
    on_postgres = connection.vendor == "postgresql"
    words = Q()
    for term in terms:
        if on_postgres and _LATIN_WORD.fullmatch(term):
            # An English word: the words beginning with it, from the full-text index. Its
            # letter pairs (th, er, at…) are in most English texts: the pair index would
            # hand over half the table to check.
            words &= Q(document=SearchQuery(f"{term}:*", config="simple", search_type="raw"))
            continue
        words &= Q(title__icontains=term) | Q(content__icontains=term)
        if on_postgres and len(term) > 1:
            # The index finds the rows holding every pair of the term's characters; the
            # substring match above then checks that they come in the term's order.
            words &= Q(text_bigrams__contains=_Bigrams(Value(term)))
    ways = [_code_matches(text), words]
    if user.has_perm(permissions.perm("view_personal_data")):
        ways.append(_petitioner_matches(text, user))
    if not on_postgres:
        return queryset.filter(reduce(operator.or_, ways))
    ways.append(Q(document=SearchQuery(text, config="simple", search_type="websearch")))
    # One indexed look-up per way, their ids united: an OR across the complaint's columns
    # and the petitioner's would make PostgreSQL read every complaint in scope.
    found = [
        Complaint.objects.alias(
            text_bigrams=_Bigrams(F("title"), F("content")),
            document=SearchVector("title", "content", config="simple"),
        )
        .filter(way)
        .order_by()
        .values("pk")
        for way in ways
    ]
    return queryset.filter(pk__in=found[0].union(*found[1:]))


class _Bigrams(Func):
    """``sutong_bigrams(a || ' ' || b …)``: the pairs of adjacent characters of the text,
    lower-cased, as the GIN indexes of migration 0015 store them (PostgreSQL only)."""

    function = "sutong_bigrams"
    template = "%(function)s(%(expressions)s)"
    arg_joiner = " || ' ' || "
    output_field = ArrayField(TextField())


def _code_matches(text: str) -> Q:
    # Codes are stored in capitals: a plain prefix match uses the column's pattern index.
    compact = text.replace(" ", "").upper()
    found = Q(tracking_code__startswith=compact)
    if code := tracking.normalize_tracking_code(text):
        found |= Q(tracking_code=code)
    return found


def _petitioner_matches(text: str, user: User) -> Q:
    people = Q(name__icontains=text) | Q(email__icontains=text)
    if connection.vendor == "postgresql" and len(text) > 1:
        people &= Q(person_bigrams__contains=_Bigrams(Value(text)))
    try:
        phone = normalize_phone(text)
    except ValueError:
        phone = ""
    if phone:
        # Phones are stored normalised; a tail of five or more digits finds them too, as
        # when someone reads out only the end of a number. Matched reversed, as a prefix:
        # an index on the reversed number finds it (migration 0015).
        people |= Q(enohp__startswith=phone.lstrip("+")[::-1])
    found = Q(
        petitioner__in=Petitioner.objects.alias(
            person_bigrams=_Bigrams(F("name"), F("email")), enohp=Reverse("phone")
        )
        .filter(people)
        .order_by()
        .values("pk")
    )
    if not permissions.has_wide_scope(user):
        # The identity of an anonymous petitioner is hidden from the departments:
        # finding their complaint by name or number would reveal it.
        found &= Q(is_anonymous=False)
    return found


# --- Order and pages --------------------------------------------------------------------


@dataclass(frozen=True)
class Page:
    rows: list[Complaint]
    next_cursor: str | None


def ordered(queryset: QuerySet[Complaint], sort: str) -> QuerySet[Complaint]:
    """With ``next_due`` (the earliest running limit), in ``sort`` order, ties by id."""
    # A subquery per row, not a join and GROUP BY: each is one look-up in the index of
    # running limits (sla's deadline_open_by_complaint), and the rows stay narrow.
    deadlines = Complaint._meta.get_field("deadlines").related_model._default_manager
    queryset = queryset.annotate(
        next_due=Subquery(
            deadlines.filter(complaint=OuterRef("pk"), state="open")
            .order_by("due_at")
            .values("due_at")[:1]
        )
    )
    if sort == "newest":
        return queryset.order_by("-received_at", "-id")
    return queryset.order_by(F("next_due").asc(nulls_last=True), "id")


def page_after(
    queryset: QuerySet[Complaint], cursor: str | None, sort: str, *, size: int = PAGE_SIZE
) -> Page:
    """The page after ``cursor`` (the first page without one, or with a bad one)."""
    sort = sort if sort in SORTS else DEFAULT_SORT
    position = _read_cursor(cursor, sort) if cursor else None
    # Two steps: the page's ids in order, from the narrow columns the order needs (an
    # index-only read of the queue's open complaints), then those rows in full. One step
    # would sort every complaint of the queue with all its columns to keep 51.
    if sort == "due":
        keys = _due_keys(queryset, position, size + 1)
    else:
        found = ordered(queryset, sort)
        if position is not None:
            found = found.filter(_after(sort, *position))
        keys = list(found.values_list("pk", flat=True)[: size + 1])
    # The ids are the queue's, filtered and searched already: read them by id alone.
    shown = Complaint.objects.filter(pk__in=keys).select_related(
        "category", "department", "assignee"
    )
    by_key = {row.pk: row for row in ordered(shown, sort)}
    rows = [by_key[key] for key in keys if key in by_key]
    if len(rows) <= size:
        return Page(rows=rows, next_cursor=None)
    rows = rows[:size]
    return Page(rows=rows, next_cursor=_make_cursor(sort, rows[-1]))


def _due_keys(
    queryset: QuerySet[Complaint], position: tuple[datetime | None, int] | None, count: int
) -> list[int]:
    """The ids of the next ``count`` complaints in time-limit order after ``position``.

    Those with a running limit come first, by limit; then those without, by id. Read in
    that order, so that a wide list (every complaint, or a search over a year) looks up
    the limit of the few complaints that have one, not of every complaint it holds.
    """
    deadlines = Complaint._meta.get_field("deadlines").related_model._default_manager
    running = deadlines.filter(state="open").values("complaint_id")
    keys: list[int] = []
    if position is None or position[0] is not None:
        found = ordered(queryset.filter(pk__in=running), "due")
        if position is not None:
            found = found.filter(_after("due", *position))
        keys = list(found.values_list("pk", flat=True)[:count])
        position = None
    if len(keys) < count:
        # By id as a value, not along the primary key's index: for a search that found a
        # few complaints among a million, PostgreSQL would walk the whole index to them.
        rest = queryset.exclude(pk__in=running).order_by(F("pk") + 0)
        if position is not None:
            rest = rest.filter(pk__gt=position[1])
        keys += rest.values_list("pk", flat=True)[: count - len(keys)]
    return keys


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

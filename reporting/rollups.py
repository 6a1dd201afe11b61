"""Daily cohort rollups: computed from the complaints, read by the reports.

A *cohort* is the complaints received on one day (in TIME_ZONE) with one department,
category, channel, kind and petitioner type. Every figure of a cohort belongs to the day
of receipt, whenever it happened: a reply sent a week later changes the row of the day
the complaint arrived. So a day's rows change for weeks, and are recomputed whole.

Definitions (the reports page shows them as help text, ``reporting.definitions``):

* **volume** — complaints received (every kind and outcome, merged and rejected too).
* **first response** — receipt → the first ``complaint.accepted`` event.
* **resolution** — receipt → the first reply sent (the first ``complaint.replied`` event).
* **on time, per SLA stage** — deadlines met without a breach / (those + deadlines
  breached), where breached means the limit passed (``breached_at`` set, or done late);
  an extension that moved the limit clears the breach. Running deadlines not yet breached
  and cancelled ones that never breached do not count. Overall on time is the whole
  cycle stage ("cycle", receipt to reply).
* **overdue** — complaints with at least one breached deadline.
* **satisfaction** — over the surveys answered (``answered_at`` set): the average rating
  (1–5, of those that gave one) and the share with outcome "satisfied".
* **reopen rate** — complaints reopened at least once / complaints with a reply sent.
* **repeat-petition rate** — complaints whose petitioner (the ``same_petitioner`` rule:
  the same record, or a shared phone, e-mail or ID number) had complained before /
  volume.
* **first-contact resolution** — complaints closed (after a reply) never reopened and
  with the first survey satisfied / complaints closed after a reply.

Times are kept as histograms of ``BUCKETS`` log-spaced buckets: one under a minute, 38
from 1 minute to 90 days each ``RATIO`` (≈ 1.363) times wider than the one before, and
one for 90 days and more. A percentile is read as the geometric middle of the bucket
holding the nearest-rank percentile, so it is within ``BUCKET_ERROR`` (√RATIO − 1,
≈ 16.8 %) of the exact value for times between 1 minute and 90 days, within 30 s below
a minute, and shown as "90 days" above.

How the rows stay fresh: every change of a complaint (``complaint_changed``, after
commit) marks its received day dirty (``DirtyDay``); the SLA sweep, which writes its
events in bulk without that signal, is caught by a scan of new ``sla.*`` events. A
periodic task (``REPORTING_ROLLUP_INTERVAL``) recomputes the dirty days, each by delete
and insert in one transaction; a nightly task rebuilds the last
``REPORTING_REBUILD_DAYS`` days whatever their marks; ``manage.py rebuild_rollups``
rebuilds any range.
"""

from __future__ import annotations

import io
import logging
import math
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from time import monotonic
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import DatabaseError, connection, models, transaction
from django.db.models import Count, Exists, Max, Min, OuterRef, Q, QuerySet, Subquery, Sum
from django.db.models.functions import TruncDate
from django.utils import timezone

from complaints.models import Complaint, Event, Survey
from reporting.models import (
    BUCKETS,
    FIRST_RESPONSE_BUCKETS,
    METRIC_FIELDS,
    ON_TIME_FIELDS,
    RESOLUTION_BUCKETS,
    CategoryRollup,
    ChannelRollup,
    CohortRollup,
    DepartmentRollup,
    DirtyDay,
    RollupCursor,
)
from sla.models import Deadline

logger = logging.getLogger(__name__)

# --- Histogram buckets ------------------------------------------------------------------

FIRST_EDGE = 60.0  # seconds: everything faster is one bucket
LAST_EDGE = 90 * 86400.0  # seconds: everything slower is one bucket
RATIO = (LAST_EDGE / FIRST_EDGE) ** (1 / (BUCKETS - 2))
BUCKET_ERROR = math.sqrt(RATIO) - 1
_LOG_RATIO = math.log(RATIO)


def bucket_of(seconds: float) -> int:
    """The histogram bucket of a duration."""
    if seconds < FIRST_EDGE:
        return 0
    if seconds >= LAST_EDGE:
        return BUCKETS - 1
    # The small epsilon keeps a value exactly on an edge in the bucket it opens.
    return min(BUCKETS - 2, 1 + int(math.log(seconds / FIRST_EDGE) / _LOG_RATIO + 1e-9))


def bucket_bounds(index: int) -> tuple[float, float]:
    """The bucket's lower (inclusive) and upper (exclusive) edge, in seconds."""
    if index == 0:
        return 0.0, FIRST_EDGE
    if index == BUCKETS - 1:
        return LAST_EDGE, math.inf
    return FIRST_EDGE * RATIO ** (index - 1), FIRST_EDGE * RATIO**index


def bucket_value(index: int) -> float:
    """The value a percentile in this bucket is reported as, in seconds."""
    low, high = bucket_bounds(index)
    if index == 0:
        return FIRST_EDGE / 2
    if index == BUCKETS - 1:
        return LAST_EDGE
    return math.sqrt(low * high)


def percentile(histogram: list[int], q: float) -> timedelta | None:
    """The nearest-rank ``q``-quantile (0 < q ≤ 1) of a histogram, or None if empty."""
    total = sum(histogram)
    if total == 0:
        return None
    rank = max(1, math.ceil(q * total))
    seen = 0
    for index, count in enumerate(histogram):
        seen += count
        if seen >= rank:
            return timedelta(seconds=bucket_value(index))
    raise AssertionError("unreachable: the ranks add up to the total")


# --- Days -------------------------------------------------------------------------------


def local_zone() -> ZoneInfo:
    return ZoneInfo(settings.TIME_ZONE)


def local_day(moment: datetime) -> date:
    """The day in TIME_ZONE a moment falls on."""
    return moment.astimezone(local_zone()).date()


def day_start(day: date) -> datetime:
    """Midnight starting ``day`` in TIME_ZONE, as an aware datetime."""
    return datetime.combine(day, time.min, tzinfo=local_zone())


# --- Marking days dirty -----------------------------------------------------------------


def mark_days(days: Iterable[date], *, now: datetime | None = None) -> None:
    """Mark received days to recompute; marking again moves ``marked_at`` on."""
    now = now or timezone.now()
    rows = [DirtyDay(day=day, marked_at=now) for day in sorted(set(days))]
    if rows:
        DirtyDay.objects.bulk_create(
            rows, update_conflicts=True, unique_fields=["day"], update_fields=["marked_at"]
        )


def mark_complaints(complaint_ids: Iterable[int]) -> None:
    """Mark the received days of these complaints."""
    ids = list(set(complaint_ids))
    days: set[date] = set()
    for first in range(0, len(ids), 500):
        received = Complaint.objects.filter(pk__in=ids[first : first + 500]).values_list(
            "received_at", flat=True
        )
        days.update(local_day(moment) for moment in received)
    mark_days(days)


# When this process last marked each day (time.monotonic()); see REPORTING_MARK_EVERY.
_marked: dict[date, float] = {}


def on_complaint_changed(
    sender: Any, *, complaint_id: int, received_at: datetime | None = None, **kwargs: Any
) -> None:
    """``complaint_changed`` listener: the complaint's cohort day is stale."""
    try:
        if received_at is None:
            mark_complaints([complaint_id])
            return
        day = local_day(received_at)
        now = monotonic()
        if now - _marked.get(day, -math.inf) < settings.REPORTING_MARK_EVERY:
            return  # marked a moment ago: a recompute keeps that mark (refresh_dirty)
        mark_days([day])
        if len(_marked) > 1000:
            _marked.clear()
        _marked[day] = now
    except DatabaseError:
        # The change is committed; the nightly rebuild catches the day up. A report
        # must never make a complaint's action fail.
        logger.exception("Could not mark the rollup day of complaint %s", complaint_id)


SWEEP_CURSOR = "sla-events"


def mark_from_sla_events(*, batch: int = 10_000) -> int:
    """Mark the days of complaints the SLA sweep touched since the last scan.

    The sweep writes its ``sla.*`` events in bulk, without ``complaint_changed``. The
    first scan starts at the newest event: the nightly rebuild covers what came before.
    """
    cursor, created = RollupCursor.objects.get_or_create(name=SWEEP_CURSOR)
    if created:
        cursor.position = Event.objects.aggregate(last=Max("id"))["last"] or 0
        cursor.save(update_fields=["position"])
        return 0
    marked = 0
    while True:
        rows = list(
            Event.objects.filter(id__gt=cursor.position, kind__startswith="sla.")
            .order_by("id")
            .values_list("id", "complaint_id")[:batch]
        )
        if not rows:
            return marked
        mark_complaints(complaint_id for _, complaint_id in rows)
        marked += len(rows)
        cursor.position = rows[-1][0]
        cursor.save(update_fields=["position"])


# --- Computing cohorts ------------------------------------------------------------------

Key = tuple[date, int | None, int | None, str, str, str]
Row = dict[str, int]

_DIMENSIONS = ("department_id", "category_id", "channel", "kind", "petitioner__type")


def _empty() -> Row:
    return dict.fromkeys(METRIC_FIELDS, 0)


def _grouped(
    queryset: QuerySet[Any], prefix: str, *extra: str, **aggregates: Any
) -> Iterator[dict[str, Any]]:
    """``queryset`` grouped by cohort key (its complaint reached through ``prefix``)."""
    return iter(
        queryset.annotate(cohort_day=TruncDate(f"{prefix}received_at", tzinfo=local_zone()))
        .values("cohort_day", *(f"{prefix}{name}" for name in _DIMENSIONS), *extra)
        # Clear any default ordering: it would split the groups.
        .order_by()
        .annotate(**aggregates)
    )


def _key(values: dict[str, Any], prefix: str) -> Key:
    return (
        values["cohort_day"],
        values[f"{prefix}department_id"],
        values[f"{prefix}category_id"],
        values[f"{prefix}channel"],
        values[f"{prefix}kind"],
        values[f"{prefix}petitioner__type"] or "",
    )


def _first_event(kind: str) -> Subquery:
    return Subquery(
        Event.objects.filter(complaint=OuterRef("pk"), kind=kind)
        .order_by("created_at")
        .values("created_at")[:1]
    )


_BREACHED = Q(breached_at__isnull=False) | Q(state=Deadline.State.MISSED)


def _earliest(field: str, values: set[Any]) -> dict[Any, datetime]:
    """For each value of a petitioner field, when a complaint first came with it."""
    found: dict[Any, datetime] = {}
    items = sorted(values)
    # As many values per query as the database takes (SQLite: 999; PostgreSQL: no limit).
    size = connection.features.max_query_params or 20_000
    for first in range(0, len(items), size):
        rows = (
            Complaint.objects.filter(**{f"{field}__in": items[first : first + size]})
            .values(field)
            .order_by()
            .annotate(first=Min("received_at"))
        )
        found.update((row[field], row["first"]) for row in rows)
    return found


def compute(start: date, end: date) -> dict[Key, Row]:
    """The cohort rows of the days ``start`` (inclusive) to ``end`` (exclusive)."""
    window = {"received_at__gte": day_start(start), "received_at__lt": day_start(end)}
    received = Complaint.objects.filter(**window)
    via_complaint = {f"complaint__{name}": value for name, value in window.items()}
    cohorts: dict[Key, Row] = defaultdict(_empty)
    complaints = list(
        received.annotate(
            first_accepted=_first_event("complaint.accepted"),
            first_replied=_first_event("complaint.replied"),
            satisfied_first=Exists(
                Survey.objects.filter(
                    complaint=OuterRef("pk"), round=1, outcome=Survey.Outcome.SATISFIED
                )
            ),
            breached=Exists(Deadline.objects.filter(_BREACHED, complaint=OuterRef("pk"))),
        )
        .order_by()
        .values_list(
            "received_at",
            "department_id",
            "category_id",
            "channel",
            "kind",
            "petitioner__type",
            "petitioner_id",
            "petitioner__phone",
            "petitioner__email",
            "petitioner__id_number",
            "first_accepted",
            "first_replied",
            "reopen_count",
            "close_reason",
            "satisfied_first",
            "breached",
        )
    )
    # Repeat petitions, the ``same_petitioner`` rule in bulk: someone complained before
    # if any of their identifying values first came with an earlier complaint.
    earliest = {
        field: _earliest(field, {c[index] for c in complaints if c[index]})
        for index, field in (
            (6, "petitioner_id"),
            (7, "petitioner__phone"),
            (8, "petitioner__email"),
            (9, "petitioner__id_number"),
        )
    }
    for (
        received_at,
        department_id,
        category_id,
        channel,
        kind,
        petitioner_type,
        petitioner_id,
        phone,
        email,
        id_number,
        first_accepted,
        first_replied,
        reopen_count,
        close_reason,
        satisfied_first,
        breached,
    ) in complaints:
        row = cohorts[
            (
                local_day(received_at),
                department_id,
                category_id,
                channel,
                kind,
                petitioner_type or "",
            )
        ]
        row["received"] += 1
        if first_accepted is not None:
            seconds = max(0, int((first_accepted - received_at).total_seconds()))
            row["first_response_count"] += 1
            row["first_response_seconds"] += seconds
            row[FIRST_RESPONSE_BUCKETS[bucket_of(seconds)]] += 1
        if first_replied is not None:
            seconds = max(0, int((first_replied - received_at).total_seconds()))
            row["resolution_count"] += 1
            row["resolution_seconds"] += seconds
            row[RESOLUTION_BUCKETS[bucket_of(seconds)]] += 1
            row["replied"] += 1
        if reopen_count:
            row["reopened"] += 1
        if close_reason:
            row["closed"] += 1
            if not reopen_count and satisfied_first:
                row["first_contact_resolved"] += 1
        if breached:
            row["overdue"] += 1
        for field, value in (
            ("petitioner_id", petitioner_id),
            ("petitioner__phone", phone),
            ("petitioner__email", email),
            ("petitioner__id_number", id_number),
        ):
            if value and earliest[field].get(value, received_at) < received_at:
                row["repeat_petitions"] += 1
                break

    surveys = Survey.objects.filter(**via_complaint, answered_at__isnull=False)
    prefix = "complaint__"
    for values in _grouped(
        surveys,
        prefix,
        answered=Count("id"),
        satisfied=Count("id", filter=Q(outcome=Survey.Outcome.SATISFIED)),
        rated=Count("rating"),
        rating_total=Sum("rating"),
        **{f"r{r}": Count("id", filter=Q(rating=r)) for r in range(1, 6)},
    ):
        row = cohorts[_key(values, prefix)]
        row["surveys_answered"] += values["answered"]
        row["surveys_satisfied"] += values["satisfied"]
        row["rating_count"] += values["rated"]
        row["rating_sum"] += values["rating_total"] or 0
        for r in range(1, 6):
            row[f"rating_{r}"] += values[f"r{r}"]

    deadlines = Deadline.objects.filter(**via_complaint, stage__in=list(ON_TIME_FIELDS))
    for values in _grouped(
        deadlines,
        prefix,
        "stage",
        on_time=Count("id", filter=Q(state=Deadline.State.MET, breached_at__isnull=True)),
        late=Count("id", filter=_BREACHED),
    ):
        row = cohorts[_key(values, prefix)]
        on_time_field, late_field = ON_TIME_FIELDS[values["stage"]]
        row[on_time_field] += values["on_time"]
        row[late_field] += values["late"]
    return cohorts


def _by_department(cohorts: dict[Key, Row]) -> dict[tuple[date, int | None], Row]:
    totals: dict[tuple[date, int | None], Row] = defaultdict(_empty)
    for (day, department_id, *_rest), row in cohorts.items():
        total = totals[(day, department_id)]
        for name, value in row.items():
            total[name] += value
    return totals


def _volume_by(cohorts: dict[Key, Row], position: int) -> list[tuple[Any, ...]]:
    """``(day, department, dimension, received)`` rows: the volume by one dimension."""
    totals: dict[tuple[Any, ...], int] = defaultdict(int)
    for key, row in cohorts.items():
        totals[(key[0], key[1], key[position])] += row["received"]
    return [(*key, received) for key, received in totals.items()]


# --- Writing ----------------------------------------------------------------------------

# Every table a day's recompute replaces, together.
ROLLUPS: tuple[type[CohortRollup | DepartmentRollup | ChannelRollup | CategoryRollup], ...] = (
    CohortRollup,
    DepartmentRollup,
    ChannelRollup,
    CategoryRollup,
)
_KEY_COLUMNS = ["day", "department_id", "category_id", "channel", "kind", "petitioner_type"]

# Any two recomputations queue up: each replaces whole days, and two inserting the same
# day at once would leave it twice. (SQLite lets one writer in at a time anyway.)
_LOCK_KEY = 0x5EB0_0001


def _lock() -> None:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_LOCK_KEY])


def _copy_text(value: Any) -> str:
    if value is None:
        return r"\N"
    return str(value).replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")


def _insert(model: type[models.Model], columns: list[str], rows: list[tuple[Any, ...]]) -> None:
    """Insert rows (values of ``columns``, the day first): COPY on PostgreSQL, else
    executemany.

    Hundreds of thousands of rows of 120 columns in a full rebuild: through model
    instances and ``bulk_create`` most of the time went into preparing each value.
    """
    if not rows:
        return
    column_of = {field.attname: str(field.column) for field in model._meta.concrete_fields}
    table = connection.ops.quote_name(model._meta.db_table)
    names = ", ".join(connection.ops.quote_name(column_of[name]) for name in columns)
    with connection.cursor() as cursor:
        if hasattr(cursor, "copy_expert"):  # psycopg2
            buffer = io.StringIO()
            for row in rows:
                buffer.write("\t".join(_copy_text(value) for value in row))
                buffer.write("\n")
            buffer.seek(0)
            cursor.copy_expert(f"COPY {table} ({names}) FROM STDIN", buffer)
        else:
            day = connection.ops.adapt_datefield_value
            marks = ", ".join(["%s"] * len(columns))
            cursor.executemany(
                f"INSERT INTO {table} ({names}) VALUES ({marks})",  # noqa: S608 (our names)
                [(day(row[0]), *row[1:]) for row in rows],
            )


def recompute(start: date, end: date) -> int:
    """Replace the rollups of the days ``start`` to ``end`` (exclusive) in one transaction.

    Returns the number of cohort rows written. Idempotent: running it again with nothing
    changed writes the same rows.
    """
    with transaction.atomic():
        _lock()
        cohorts = compute(start, end)
        for model in ROLLUPS:
            model.objects.filter(day__gte=start, day__lt=end).delete()
        _insert(
            CohortRollup,
            [*_KEY_COLUMNS, *METRIC_FIELDS],
            [(*key, *(row[name] for name in METRIC_FIELDS)) for key, row in cohorts.items()],
        )
        _insert(
            DepartmentRollup,
            ["day", "department_id", *METRIC_FIELDS],
            [
                (*key, *(row[name] for name in METRIC_FIELDS))
                for key, row in _by_department(cohorts).items()
            ],
        )
        volume = ["received"]
        _insert(ChannelRollup, [*_KEY_COLUMNS[:2], "channel", *volume], _volume_by(cohorts, 3))
        _insert(CategoryRollup, [*_KEY_COLUMNS[:2], "category_id", *volume], _volume_by(cohorts, 2))
    return len(cohorts)


@dataclass
class RefreshResult:
    days: int = 0
    rows: int = 0
    sla_events: int = 0


def refresh_dirty() -> RefreshResult:
    """Recompute every day marked dirty, oldest first, one transaction per day.

    A day marked again while it is recomputed keeps its mark (``marked_at`` moved on) and
    is done again on the next run; so does a day marked within ``REPORTING_MARK_EVERY``
    before the recompute began, since a process skips marking a day again that soon.
    """
    result = RefreshResult(sla_events=mark_from_sla_events())
    for dirty in list(DirtyDay.objects.order_by("day")):
        settled = timezone.now() - timedelta(seconds=settings.REPORTING_MARK_EVERY)
        with transaction.atomic():
            result.rows += recompute(dirty.day, dirty.day + timedelta(days=1))
            DirtyDay.objects.filter(
                pk=dirty.pk, marked_at=dirty.marked_at, marked_at__lte=settled
            ).delete()
        result.days += 1
    return result


def rebuild(since: date | None = None, *, chunk_days: int = 7) -> RefreshResult:
    """Recompute every day from ``since`` (default: the first complaint) to today.

    Without ``since``, rows of days outside that range (no complaints any more) go too.
    Works in transactions of ``chunk_days`` days; marks older than the start are
    cleared for the days done.
    """
    started = timezone.now() - timedelta(seconds=settings.REPORTING_MARK_EVERY)
    today = timezone.localdate()
    bounds = Complaint.objects.aggregate(first=Min("received_at"), last=Max("received_at"))
    if bounds["first"] is None:
        first, last = today, today
    else:
        first, last = local_day(bounds["first"]), local_day(bounds["last"])
    start = since or first
    end = max(today, last) + timedelta(days=1)
    if since is None:
        with transaction.atomic():
            _lock()
            for model in ROLLUPS:
                model.objects.filter(Q(day__lt=start) | Q(day__gte=end)).delete()
    result = RefreshResult()
    day = start
    while day < end:
        until = min(end, day + timedelta(days=chunk_days))
        result.rows += recompute(day, until)
        DirtyDay.objects.filter(day__gte=day, day__lt=until, marked_at__lte=started).delete()
        result.days += (until - day).days
        day = until
    return result


def rebuild_recent() -> RefreshResult:
    """The nightly safety net: rebuild the last ``REPORTING_REBUILD_DAYS`` days."""
    return rebuild(timezone.localdate() - timedelta(days=settings.REPORTING_REBUILD_DAYS))

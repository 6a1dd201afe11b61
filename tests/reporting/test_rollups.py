"""Keeping the rollups fresh: dirty days, the periodic recompute, the rebuilds."""

from __future__ import annotations

import math
import random
from datetime import date, timedelta
from io import StringIO
from typing import Any

import pytest
import time_machine
from django.core.management import CommandError, call_command
from django.db import DatabaseError
from django.utils import timezone

from accounts.models import User
from complaints import services
from complaints.models import Complaint, Event
from complaints.signals import complaint_changed
from reporting import rollups, tasks
from reporting.kpis import Period, Scope, kpis
from reporting.models import (
    BUCKETS,
    CategoryRollup,
    ChannelRollup,
    CohortRollup,
    DepartmentRollup,
    DirtyDay,
    RollupCursor,
)
from routing.models import Department
from tests.reporting.data import accepted, at, complaint, replied

pytestmark = pytest.mark.django_db

MARCH_2 = date(2026, 3, 2)


def rows() -> list[dict[str, Any]]:
    """Every cohort row, without its id: what two runs must agree on."""
    return sorted(
        ({k: v for k, v in row.items() if k != "id"} for row in CohortRollup.objects.values()),
        key=repr,
    )


def dirty() -> set[date]:
    return set(DirtyDay.objects.values_list("day", flat=True))


# --- The histogram ----------------------------------------------------------------------


def test_buckets_cover_every_duration_in_order() -> None:
    assert rollups.bucket_of(0) == 0
    assert rollups.bucket_of(59.9) == 0
    assert rollups.bucket_of(60) == 1
    assert rollups.bucket_of(90 * 86400 - 1) == BUCKETS - 2
    assert rollups.bucket_of(90 * 86400) == BUCKETS - 1
    assert rollups.bucket_of(10**9) == BUCKETS - 1
    for index in range(1, BUCKETS - 1):
        low, high = rollups.bucket_bounds(index)
        assert rollups.bucket_of(low) == index
        assert rollups.bucket_of(high * 0.999999) == index


def test_the_documented_error_bound_holds_for_any_value_in_range() -> None:
    assert 0.16 < rollups.BUCKET_ERROR < 0.17
    generator = random.Random(8)
    for _ in range(5000):
        seconds = math.exp(generator.uniform(math.log(60), math.log(90 * 86400 - 1)))
        estimate = rollups.bucket_value(rollups.bucket_of(seconds))
        assert abs(estimate / seconds - 1) <= rollups.BUCKET_ERROR + 1e-9


def test_percentile_reads_the_nearest_rank_bucket() -> None:
    histogram = [0] * BUCKETS
    assert rollups.percentile(histogram, 0.5) is None
    histogram[3] = 2
    histogram[10] = 1
    assert rollups.percentile(histogram, 0.5) == timedelta(seconds=rollups.bucket_value(3))
    assert rollups.percentile(histogram, 0.9) == timedelta(seconds=rollups.bucket_value(10))


# --- Marking days -----------------------------------------------------------------------


def test_a_committed_change_marks_the_received_day_dirty(
    handler: User, urban: Department, django_capture_on_commit_callbacks: Any
) -> None:
    c = complaint(at("2026-03-02", "23:50"), department=urban, status="assigned", assignee=handler)

    with django_capture_on_commit_callbacks(execute=True):
        services.accept(complaint_id=c.pk, actor=handler)

    assert dirty() == {MARCH_2}


def test_a_complaint_changing_days_later_updates_its_cohort(
    handler: User, urban: Department, django_capture_on_commit_callbacks: Any
) -> None:
    c = complaint(at("2026-03-02"), department=urban, status="assigned", assignee=handler)
    rollups.rebuild(MARCH_2)
    march = Period(date(2026, 3, 1), date(2026, 4, 1))
    assert kpis(Scope(), march).first_response_count == 0

    with django_capture_on_commit_callbacks(execute=True):
        services.accept(complaint_id=c.pk, actor=handler)  # today, long after 2 March
    result = tasks.refresh_rollups()

    assert result["days"] == 1
    assert kpis(Scope(), march).first_response_count == 1
    assert dirty() == set()


def test_a_failing_mark_never_fails_the_change(monkeypatch: pytest.MonkeyPatch) -> None:
    c = complaint(at("2026-03-02"))

    def broken(ids: object) -> None:
        raise DatabaseError("database gone")

    monkeypatch.setattr(rollups, "mark_complaints", broken)
    complaint_changed.send(sender=Complaint, complaint_id=c.pk, event_id=0, kind="x")

    assert dirty() == set()


def test_sla_sweep_events_mark_their_days() -> None:
    c = complaint(at("2026-03-02"))
    Event.objects.create(complaint=c, kind="sla.escalated")  # before the first scan
    assert rollups.mark_from_sla_events() == 0  # the first scan starts at the newest event
    Event.objects.bulk_create(
        [Event(complaint=c, kind="sla.escalated"), Event(complaint=c, kind="complaint.noted")]
    )

    assert rollups.mark_from_sla_events() == 1
    assert dirty() == {MARCH_2}
    assert rollups.mark_from_sla_events() == 0
    assert (
        RollupCursor.objects.get(name=rollups.SWEEP_CURSOR).position
        == Event.objects.latest("id").pk - 1
    )


# --- The periodic recompute -------------------------------------------------------------


def test_refresh_recomputes_only_the_dirty_days() -> None:
    one = complaint(at("2026-03-02"))
    complaint(at("2026-03-05"))
    rollups.rebuild(date(2026, 3, 1))
    accepted(one, timedelta(hours=3))
    complaint(at("2026-03-05"))  # not marked: waits for the nightly rebuild
    rollups.mark_complaints([one.pk])

    result = rollups.refresh_dirty()

    assert (result.days, result.rows) == (1, 1)
    assert CohortRollup.objects.get(day=MARCH_2).first_response_count == 1
    assert CohortRollup.objects.get(day=date(2026, 3, 5)).received == 1
    assert dirty() == set()


def test_recomputing_a_day_twice_writes_the_same_rows(urban: Department) -> None:
    for channel in ("web", "hotline"):
        replied(complaint(at("2026-03-02"), channel=channel, department=urban), timedelta(days=1))
    rollups.mark_days([MARCH_2])
    rollups.refresh_dirty()
    first = rows()

    rollups.mark_days([MARCH_2])
    rollups.refresh_dirty()
    rollups.recompute(MARCH_2, MARCH_2 + timedelta(days=1))

    assert rows() == first
    assert CohortRollup.objects.count() == 2
    assert DepartmentRollup.objects.get().received == 2
    assert ChannelRollup.objects.count() == 2
    assert CategoryRollup.objects.get().received == 2


def test_a_day_marked_again_while_recomputed_stays_dirty(monkeypatch: pytest.MonkeyPatch) -> None:
    complaint(at("2026-03-02"))
    rollups.mark_days([MARCH_2], now=timezone.now() - timedelta(minutes=1))
    compute = rollups.compute

    def compute_while_marked(start: date, end: date) -> Any:
        rollups.mark_days([start])  # a change committed meanwhile
        return compute(start, end)

    monkeypatch.setattr(rollups, "compute", compute_while_marked)
    rollups.refresh_dirty()

    assert dirty() == {MARCH_2}
    assert CohortRollup.objects.get().received == 1


def test_beat_runs_the_refresh_and_the_nightly_rebuild(settings: Any) -> None:
    from config.celery import app

    refresh = app.conf.beat_schedule["refresh-rollups"]
    assert refresh["task"] == "reporting.tasks.refresh_rollups"
    assert refresh["schedule"] == float(settings.REPORTING_ROLLUP_INTERVAL)
    assert app.conf.beat_schedule["rebuild-rollups"]["task"] == (
        "reporting.tasks.rebuild_recent_rollups"
    )


def test_the_nightly_rebuild_covers_the_last_days(settings: Any) -> None:
    settings.REPORTING_REBUILD_DAYS = 3
    complaint(timezone.now() - timedelta(days=1))
    complaint(timezone.now() - timedelta(days=10))

    result = tasks.rebuild_recent_rollups()

    assert result["days"] == 4
    assert CohortRollup.objects.count() == 1


# --- The command ------------------------------------------------------------------------


def test_rebuild_command_rebuilds_every_day_and_drops_stale_rows() -> None:
    complaint(at("2026-03-02"))
    complaint(at("2026-03-04"))
    CohortRollup.objects.create(day=date(2026, 1, 1), channel="web", kind="complaint", received=9)
    out = StringIO()

    call_command("rebuild_rollups", stdout=out)

    assert sorted(CohortRollup.objects.values_list("day", "received")) == [
        (MARCH_2, 1),
        (date(2026, 3, 4), 1),
    ]
    assert "2 cohort rows" in out.getvalue()


def test_rebuild_command_since_a_date_leaves_older_days() -> None:
    old = complaint(at("2026-03-02"))
    complaint(at("2026-03-04"))
    call_command("rebuild_rollups", stdout=StringIO())
    accepted(old, timedelta(hours=1))
    rollups.mark_days([date(2026, 3, 4)], now=timezone.now() - timedelta(minutes=1))

    call_command("rebuild_rollups", since="2026-03-03", stdout=StringIO())

    assert CohortRollup.objects.get(day=MARCH_2).first_response_count == 0
    assert CohortRollup.objects.get(day=date(2026, 3, 4)).received == 1
    assert dirty() == set()


def test_rebuild_command_refuses_a_bad_date() -> None:
    with pytest.raises(CommandError, match="not a date"):
        call_command("rebuild_rollups", since="March", stdout=StringIO())


def test_a_busy_day_is_marked_once_a_while_and_its_late_changes_still_count(
    handler: User,
    urban: Department,
    settings: Any,
    django_capture_on_commit_callbacks: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """At peak every change of today's complaints would update one row: each process marks
    a day at most every REPORTING_MARK_EVERY seconds, and a recompute keeps a mark that
    young, so a change whose mark was skipped is counted by the next run."""
    settings.REPORTING_MARK_EVERY = 5
    monkeypatch.setattr(rollups, "_marked", {})
    first = complaint(at("2026-03-02"), department=urban, status="assigned", assignee=handler)
    second = complaint(at("2026-03-02"), department=urban, status="assigned", assignee=handler)
    march = Period(date(2026, 3, 1), date(2026, 4, 1))
    with django_capture_on_commit_callbacks(execute=True):
        services.accept(complaint_id=first.pk, actor=handler)
    marked = DirtyDay.objects.get(day=MARCH_2).marked_at

    tasks.refresh_rollups()  # the mark is younger than 5 s: recomputed, and kept
    assert kpis(Scope(), march).first_response_count == 1
    with django_capture_on_commit_callbacks(execute=True):
        services.accept(complaint_id=second.pk, actor=handler)  # no new mark: skipped
    assert DirtyDay.objects.get(day=MARCH_2).marked_at == marked

    with time_machine.travel(timezone.now() + timedelta(seconds=6)):
        tasks.refresh_rollups()  # catches the second change up, then lets the mark go
    assert kpis(Scope(), march).first_response_count == 2
    assert dirty() == set()

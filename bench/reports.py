"""Benchmark: the report rollups and the KPI page's reads over a year, on PostgreSQL.

    python -m bench.reports [--complaints 1000000] [--runs 15]

Target (issue 8): the queries of the /reports/ page — the key figures, the comparison
with the previous period and every series — answer within 1 s for a whole year of
1,000,000 complaints, for everything and for one department.

It works in its own database (``BENCH_DATABASE_URL``, default
``postgres://postgres@127.0.0.1/sutong_bench_reports``), created and migrated when
missing. A year of complaints is loaded once with COPY and kept for later runs, with a
realistic spread: twelve departments of very different sizes, twenty categories (six with
sub-categories) mostly handled by their usual department, nine channels, six kinds, four
petitioner types, a quarter of complaints from people who complained before, fewer on
weekends and at night. Most complaints are accepted (hours) and replied (days), some late;
each has an accept and a whole-cycle deadline; two thirds of the replies get a survey
answer. Every run then rebuilds the rollups (timed once) and times the page's reads.
"""

from __future__ import annotations

import argparse
import io
import json
import math
import os
import random
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

from bench.sla_sweep import _ensure_database, _setup

DEFAULT_URL = "postgres://postgres@127.0.0.1/sutong_bench_reports"
SEED = 8

DEPARTMENTS = [  # code, English name, Chinese name, share of the work
    ("urban", "Urban Management Bureau", "城市管理局", 20),
    ("market", "Market Regulation Bureau", "市场监督管理局", 15),
    ("housing", "Housing Bureau", "住房和城乡建设局", 12),
    ("transport", "Transport Bureau", "交通运输局", 10),
    ("environment", "Ecology and Environment Bureau", "生态环境局", 9),
    ("health", "Health Commission", "卫生健康委员会", 8),
    ("education", "Education Bureau", "教育局", 7),
    ("hrss", "Human Resources and Social Security Bureau", "人力资源和社会保障局", 6),
    ("police", "Public Security Bureau", "公安局", 5),
    ("water", "Water Authority", "水务局", 4),
    ("civil", "Civil Affairs Bureau", "民政局", 3),
    ("petition", "Petition Office", "信访办公室", 1),
]
CATEGORIES = [  # code, parent code, usual department, share
    ("service_quality", "", "market", 10),
    ("service_quality_refunds", "service_quality", "market", 6),
    ("service_quality_food", "service_quality", "market", 5),
    ("efficiency", "", "hrss", 6),
    ("efficiency_permits", "efficiency", "housing", 5),
    ("efficiency_benefits", "efficiency", "hrss", 4),
    ("facilities", "", "urban", 8),
    ("facilities_lights", "facilities", "urban", 7),
    ("facilities_roads", "facilities", "transport", 7),
    ("facilities_water", "facilities", "water", 4),
    ("facilities_noise", "facilities", "environment", 6),
    ("staff_conduct", "", "civil", 3),
    ("staff_conduct_police", "staff_conduct", "police", 3),
    ("policy_inquiry", "", "petition", 5),
    ("policy_inquiry_schools", "policy_inquiry", "education", 5),
    ("policy_inquiry_health", "policy_inquiry", "health", 5),
    ("policy_inquiry_housing", "policy_inquiry", "housing", 4),
    ("other", "", "petition", 3),
    ("other_pollution", "other", "environment", 3),
    ("other_traffic", "other", "transport", 3),
]
CHANNELS = [
    ("hotline", 32),
    ("web", 22),
    ("wechat", 18),
    ("app", 8),
    ("walk_in", 6),
    ("email", 5),
    ("letter", 4),
    ("api", 3),
    ("open311", 2),
]
KINDS = [
    ("complaint", 55),
    ("inquiry", 18),
    ("help", 10),
    ("suggestion", 8),
    ("report", 5),
    ("praise", 4),
]
PETITIONER_TYPES = [("individual", 86), ("organisation", 6), ("employee", 5), ("partner", 3)]
RATINGS = [(5, 45), (4, 25), (3, 12), (2, 8), (1, 10)]


def _picker(pairs: Sequence[tuple[Any, float]], generator: random.Random) -> Callable[[], Any]:
    values = [value for value, _ in pairs]
    weights = [weight for _, weight in pairs]
    cumulative = []
    total = 0.0
    for weight in weights:
        total += weight
        cumulative.append(total)

    def pick() -> Any:
        return generator.choices(values, cum_weights=cumulative)[0]

    return pick


def _stamp(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).isoformat()


def _organisation() -> tuple[dict[str, int], dict[str, int]]:
    from routing.models import Category, Department

    departments = {}
    for code, en, zh, _share in DEPARTMENTS:
        department, _ = Department.objects.get_or_create(
            code=f"bench_{code}", defaults={"name_en": en, "name_zh": zh}
        )
        departments[code] = department.pk
    categories: dict[str, int] = {}
    for code, parent, usual, _share in CATEGORIES:
        category, _ = Category.objects.get_or_create(
            code=f"bench_{code}",
            defaults={
                "name_en": code.replace("_", " ").capitalize(),
                "name_zh": code,
                "parent_id": categories.get(parent),
                "default_department_id": departments[usual],
            },
        )
        categories[code] = category.pk
    return departments, categories


class _Tables:
    """COPY buffers for one batch, with ids given here (sequences are set afterwards)."""

    COLUMNS = {
        "complaints_petitioner": (
            "id type name organisation phone email id_number address language created_at"
        ),
        "complaints_complaint": (
            "id tracking_code secret_hash kind channel external_ref title content location "
            "status resume_status priority received_at replied_at closed_at created_at "
            "updated_at version category_id department_id petitioner_id channel_data "
            "contact_preference is_anonymous is_sensitive supervision close_reason reopen_count "
            "overdue_since"
        ),
        "complaints_event": (
            "id kind actor_label from_state to_state payload created_at complaint_id"
        ),
        "complaints_reply": (
            "id body sent_at created_at updated_at complaint_id approved_level delivery "
            "delivery_note required_levels returned_comment"
        ),
        "complaints_survey": (
            "id round token_hash sent_at closes_at answered_at via resolved rating comment "
            "outcome complaint_id reply_id"
        ),
        "sla_deadline": (
            "id stage basis started_at due_at state paused_seconds breached_at "
            "escalation_level round closed_at provisional created_at complaint_id"
        ),
    }

    def __init__(self, first_ids: dict[str, int]) -> None:
        self.buffers = {table: io.StringIO() for table in self.COLUMNS}
        self.next_id = dict(first_ids)

    def add(self, table: str, *values: Any) -> int:
        pk = self.next_id[table]
        self.next_id[table] = pk + 1
        self.buffers[table].write(
            "\t".join(["\\N" if v is None else str(v) for v in (pk, *values)]) + "\n"
        )
        return pk

    def copy(self) -> None:
        from django.db import connection

        with connection.cursor() as cursor:
            for table, columns in self.COLUMNS.items():
                buffer = self.buffers[table]
                buffer.seek(0)
                cursor.copy_expert(
                    f"COPY {table} ({', '.join(columns.split())}) FROM STDIN", buffer
                )


def _load(count: int, *, days: int = 365) -> tuple[date, date]:
    """A year of complaints ending yesterday; returns the first and last day received."""
    from django.db import connection, transaction
    from django.utils import timezone

    from complaints.models import Complaint

    today = timezone.localdate()
    first_day = today - timedelta(days=days)
    if Complaint.objects.filter(tracking_code__startswith="BR-").count() >= count:
        return first_day, today - timedelta(days=1)
    if Complaint.objects.filter(tracking_code__startswith="BR-").exists():
        sys.exit("A partial bench load is in the database: drop it and start again.")
    departments, categories = _organisation()
    generator = random.Random(SEED)
    department_of = {code: departments[usual] for code, _p, usual, _s in CATEGORIES}
    pick_category = _picker([(code, share) for code, _p, _u, share in CATEGORIES], generator)
    pick_department = _picker(
        [(departments[code], share) for code, _e, _z, share in DEPARTMENTS], generator
    )
    pick_channel = _picker(CHANNELS, generator)
    pick_kind = _picker(KINDS, generator)
    pick_type = _picker(PETITIONER_TYPES, generator)
    pick_rating = _picker(RATINGS, generator)
    # Fewer on weekends, a little seasonal swell; hours mostly in the working day.
    day_weights = []
    for n in range(days):
        day = first_day + timedelta(days=n)
        weight = 0.55 if day.weekday() >= 5 else 1.0
        day_weights.append(weight * (1 + 0.25 * math.sin(2 * math.pi * n / days)))
    pick_day = _picker(list(enumerate(day_weights)), generator)
    hour_weights = [
        1,
        1,
        1,
        1,
        1,
        2,
        4,
        8,
        14,
        16,
        16,
        14,
        10,
        14,
        16,
        15,
        13,
        10,
        8,
        6,
        5,
        4,
        2,
        1,
    ]
    pick_hour = _picker(list(enumerate(hour_weights)), generator)
    start0 = datetime.combine(
        first_day, datetime.min.time(), tzinfo=timezone.get_current_timezone()
    ).timestamp()
    now = time.time()

    def next_ids() -> dict[str, int]:
        found = {}
        with connection.cursor() as cursor:
            for table in _Tables.COLUMNS:
                cursor.execute(f"SELECT COALESCE(MAX(id), 0) + 1 FROM {table}")  # noqa: S608
                found[table] = cursor.fetchone()[0]
        return found

    # People: a quarter of complaints come from someone who complained before.
    petitioners: list[int] = []
    ids = next_ids()
    # Complaints are made in order of receipt, so "before" means earlier in the list.
    moments = sorted(
        start0 + pick_day() * 86400 + pick_hour() * 3600 + generator.random() * 3600
        for _ in range(count)
    )
    started = time.perf_counter()
    batch = 50_000
    for first in range(0, count, batch):
        tables = _Tables(ids)
        for n in range(first, min(count, first + batch)):
            received = moments[n]
            if petitioners and generator.random() < 0.25:
                petitioner = generator.choice(petitioners)
            else:
                petitioner = tables.add(
                    "complaints_petitioner",
                    pick_type(),
                    f"P{n}",
                    "",
                    f"1{n:010d}",
                    f"p{n}@example.com",
                    "",
                    "",
                    "",
                    _stamp(received),
                )
                petitioners.append(petitioner)
            category = pick_category()
            department = department_of[category] if generator.random() < 0.8 else pick_department()
            accepted = received + generator.lognormvariate(math.log(3 * 3600), 1.0)
            replied = received + generator.lognormvariate(math.log(2.5 * 86400), 0.7)
            is_accepted = generator.random() < 0.92 and accepted < now
            is_replied = is_accepted and generator.random() < 0.9 and replied < now
            answered = is_replied and generator.random() < 0.67
            rating = pick_rating() if answered else None
            satisfied = rating is not None and rating >= 3
            reopen = 1 if answered and not satisfied and generator.random() < 0.6 else 0
            closed = is_replied and (answered or replied + 7 * 86400 < now)
            close_reason = ("survey" if answered else "no_response") if closed else ""
            status = "closed" if closed else "replied" if is_replied else "in_progress"
            if not is_accepted:
                status = "assigned"
            cycle_due = received + 5 * 86400
            cycle_late = (replied if is_replied else now) > cycle_due
            complaint = tables.add(
                "complaints_complaint",
                f"BR-{n:09d}",
                "x" * 64,
                pick_kind(),
                pick_channel(),
                "",
                f"Bench complaint {n}",
                "A street light is out.",
                "",
                status,
                "",
                "normal",
                _stamp(received),
                _stamp(replied) if is_replied else None,
                _stamp(replied + 86400) if closed else None,
                _stamp(received),
                _stamp(received),
                1,
                categories[category],
                department,
                petitioner,
                "{}",
                "",
                "f",
                "f",
                "",
                close_reason,
                reopen,
                _stamp(cycle_due) if cycle_late else None,
            )
            if is_accepted:
                tables.add(
                    "complaints_event", "complaint.accepted", "", "assigned", "in_progress",
                    "{}", _stamp(accepted), complaint,
                )  # fmt: skip
            if is_replied:
                tables.add(
                    "complaints_event", "complaint.replied", "", "in_progress", "replied",
                    "{}", _stamp(replied), complaint,
                )  # fmt: skip
                reply = tables.add(
                    "complaints_reply", "已处理。", _stamp(replied), _stamp(replied),
                    _stamp(replied), complaint, 0, "portal", "", 0, "",
                )  # fmt: skip
                tables.add(
                    "complaints_survey", 1, f"{n:064x}", _stamp(replied),
                    _stamp(replied + 7 * 86400), _stamp(replied + 7200) if answered else None,
                    "link" if answered else "", ("t" if satisfied else "f") if answered else None,
                    rating, "",
                    ("satisfied" if satisfied else "dissatisfied") if answered
                    else ("no_response" if closed else ""),
                    complaint, reply,
                )  # fmt: skip
            accept_due = received + 24 * 3600
            accept_late = (accepted if is_accepted else now) > accept_due
            tables.add(
                "sla_deadline", "accept", "calendar", _stamp(received), _stamp(accept_due),
                ("missed" if accept_late else "met") if is_accepted else "open", 0,
                _stamp(accept_due) if accept_late else None, 0, 0,
                _stamp(accepted) if is_accepted else None, "f", _stamp(received), complaint,
            )  # fmt: skip
            tables.add(
                "sla_deadline", "cycle", "business", _stamp(received), _stamp(cycle_due),
                ("missed" if cycle_late else "met") if is_replied else "open", 0,
                _stamp(cycle_due) if cycle_late else None, 0, 0,
                _stamp(replied) if is_replied else None, "f", _stamp(received), complaint,
            )  # fmt: skip
        with transaction.atomic():
            tables.copy()
        ids = tables.next_id
        done = min(count, first + batch)
        print(f"  loaded {done:,} complaints ({time.perf_counter() - started:.0f} s)", flush=True)
    with connection.cursor() as cursor:
        for table in _Tables.COLUMNS:
            cursor.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), MAX(id)) FROM {table}"  # noqa: S608
            )
            cursor.execute(f"VACUUM ANALYZE {table}")
    return first_day, today - timedelta(days=1)


def _page_reads(scope: Any, period: Any) -> None:
    """Everything the /reports/ page reads, as the view reads it."""
    from reporting import kpis

    kpis.kpis(scope, period)
    kpis.comparison(scope, period)
    kpis.volume_by_day(scope, period)
    kpis.volume_by_week(scope, period)
    kpis.by_channel(scope, period)
    kpis.by_category(scope, period)
    kpis.league(scope, period)
    kpis.satisfaction_distribution(scope, period)
    kpis.on_time_by_week(scope, period)


def _timed(work: Callable[[], Any], runs: int) -> dict[str, float]:
    work()  # warm the caches once, as a page in use would be
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        work()
        times.append((time.perf_counter() - started) * 1000)
    times.sort()
    p95 = times[min(len(times) - 1, math.ceil(0.95 * len(times)) - 1)]
    return {"median_ms": round(statistics.median(times), 1), "p95_ms": round(p95, 1)}


def _rows(table: str) -> int:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM {table}")  # noqa: S608
        return int(cursor.fetchone()[0])


def _page(department_id: int | None, period: Any) -> None:
    """The whole page, rendered for a supervisor (form, cards, charts, tables)."""
    from django.contrib.auth.models import Group
    from django.test import Client

    from accounts.models import User
    from accounts.roles import Role

    user, created = User.objects.get_or_create(username="bench_reader")
    if created:
        user.groups.add(Group.objects.get(name=Role.SUPERVISOR.value))
    client = Client()
    client.force_login(user)
    last = period.end - timedelta(days=1)
    query = f"?period=custom&start={period.start}&end={last}"
    if department_id:
        query += f"&department={department_id}"
    response = client.get("/reports/" + query, HTTP_ACCEPT_LANGUAGE="en", secure=True)
    assert response.status_code == 200, response.status_code


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--complaints", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument(
        "--skip-rebuild", action="store_true", help="time the reads on the rollups as they are"
    )
    args = parser.parse_args(argv)
    url = os.environ.get("BENCH_DATABASE_URL", DEFAULT_URL)
    if not url.startswith("postgres"):
        sys.exit("The reports benchmark needs PostgreSQL (BENCH_DATABASE_URL=postgres://…).")
    _ensure_database(url)
    _setup(url)

    from django.conf import settings
    from django.db import connection

    from reporting import rollups
    from reporting.kpis import Period, Scope
    from routing.models import Category, Department

    # The page is rendered by the test client: no collected static files, plain HTTP.
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    print(f"A year of {args.complaints:,} complaints", flush=True)
    load_started = time.perf_counter()
    first_day, last_day = _load(args.complaints)
    print(f"  ready in {time.perf_counter() - load_started:.0f} s", flush=True)

    rebuild_seconds = None
    if not args.skip_rebuild:
        started = time.perf_counter()
        result = rollups.rebuild()
        rebuild_seconds = time.perf_counter() - started
        print(f"  rebuilt {result.days} days, {result.rows:,} rows in {rebuild_seconds:.1f} s")
        with connection.cursor() as cursor:
            for model in rollups.ROLLUPS:
                cursor.execute(f"VACUUM ANALYZE {model._meta.db_table}")
    # One day's recompute, as the periodic task does for a day marked dirty.
    started = time.perf_counter()
    rollups.recompute(last_day, last_day + timedelta(days=1))
    one_day_ms = (time.perf_counter() - started) * 1000

    year = Period(first_day, last_day + timedelta(days=1))
    biggest = Department.objects.get(code="bench_urban")
    scopes = {"all": Scope(), "one department": Scope(department_id=biggest.pk)}
    reads = {
        name: _timed(lambda s=scope: _page_reads(s, year), args.runs)  # type: ignore[misc]
        for name, scope in scopes.items()
    }
    facilities = Category.objects.get(code="bench_facilities")  # with sub-categories
    narrow = Scope(category_id=facilities.pk, channel="hotline")
    reads["category + channel"] = _timed(lambda: _page_reads(narrow, year), args.runs)
    pages = {
        name: _timed(lambda d=scope.department_id: _page(d, year), max(3, args.runs // 3))  # type: ignore[misc]
        for name, scope in scopes.items()
    }
    report = {
        "complaints": _rows("complaints_complaint"),
        "period": f"{year.start} – {last_day}",
        "cohort_rows": _rows("reporting_cohortrollup"),
        "department_rows": _rows("reporting_departmentrollup"),
        "channel_rows": _rows("reporting_channelrollup"),
        "category_rows": _rows("reporting_categoryrollup"),
        "rebuild_seconds": None if rebuild_seconds is None else round(rebuild_seconds, 1),
        "recompute_one_day_ms": round(one_day_ms, 1),
        "page_reads_for_a_year": reads,
        "whole_page_for_a_year": pages,
        # The target is for everything and for one department; a narrower scope reads the
        # wide cohort rows and is reported for information.
        "targets": {
            "reads_under_1_s": all(reads[name]["p95_ms"] < 1000 for name in scopes),
        },
    }
    print(json.dumps(report, indent=2, ensure_ascii=False))
    return report


if __name__ == "__main__":
    main()

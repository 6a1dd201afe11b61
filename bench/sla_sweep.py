"""Benchmark: the SLA sweep over a large open backlog, on PostgreSQL.

    python -m bench.sla_sweep [--complaints 1000000] [--due 10000] [--runs 3]

Targets (issue 5): with 1,000,000 open complaints and 10,000 deadlines due at once, one
sweep handles all 10,000 within 10 s on two cores; a sweep with nothing due takes no more
than 50 ms, however many complaints are open.

It works in its own database (``BENCH_DATABASE_URL``, default
``postgres://postgres@127.0.0.1/sutong_bench``), created and migrated when missing. The
backlog is loaded once with COPY (about a minute for a million complaints) and kept for
later runs: each open complaint has a running whole-cycle deadline due next month. Every
run then makes ``--due`` of them due now and times one sweep, which escalates each to the
department heads (in-app and e-mail) and marks the complaints supervised.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import statistics
import sys
import time
from datetime import timedelta
from typing import Any
from urllib.parse import urlparse

from bench.table import Row, publish

DEFAULT_URL = "postgres://postgres@127.0.0.1/sutong_bench"


def _ensure_database(url: str) -> None:
    import psycopg2

    parts = urlparse(url)
    name = parts.path.lstrip("/")
    admin = psycopg2.connect(
        host=parts.hostname,
        port=parts.port or 5432,
        user=parts.username or "postgres",
        password=parts.password,
        dbname="postgres",
    )
    admin.autocommit = True
    with admin.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name])
        if cursor.fetchone() is None:
            cursor.execute(f'CREATE DATABASE "{name}"')
    admin.close()


def _setup(url: str) -> None:
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def _people() -> tuple[Any, Any]:
    from django.contrib.auth.models import Group

    from accounts.models import User
    from accounts.roles import Role
    from routing.models import Department

    department, _ = Department.objects.get_or_create(
        code="bench", defaults={"name_zh": "基准部门", "name_en": "Bench department"}
    )
    for username, role, email in (
        ("bench_head", Role.DEPARTMENT_HEAD, "head@example.com"),
        ("bench_supervisor", Role.SUPERVISOR, "supervisor@example.com"),
    ):
        user, created = User.objects.get_or_create(
            username=username, defaults={"department": department, "email": email}
        )
        if created:
            user.groups.add(Group.objects.get(name=role.value))
    return department, User.objects.get(username="bench_head")


def _copy(table: str, columns: list[str], rows: Any) -> None:
    from django.db import connection

    buffer = io.StringIO()
    for row in rows:
        buffer.write("\t".join(row))
        buffer.write("\n")
    buffer.seek(0)
    with connection.cursor() as cursor:
        cursor.copy_expert(
            f"COPY {table} ({', '.join(columns)}) FROM STDIN",
            buffer,
        )


def _load(count: int, department_id: int) -> None:
    """Open complaints with a running cycle deadline each, due in a month: COPY, batched."""
    from django.db import connection, transaction
    from django.utils import timezone

    from complaints.models import Complaint
    from sla.models import BusinessCalendar, PolicyVersion

    have = Complaint.objects.count()
    if have >= count:
        return
    version = PolicyVersion.objects.get(policy__code="standard")
    calendar = BusinessCalendar.objects.get(is_default=True)
    now = timezone.now()
    later = (now + timedelta(days=30)).isoformat()
    warn = (now + timedelta(days=20)).isoformat()
    stamp = now.isoformat()
    complaint_columns = [
        "tracking_code",
        "secret_hash",
        "kind",
        "channel",
        "external_ref",
        "title",
        "content",
        "location",
        "is_sensitive",
        "is_anonymous",
        "contact_preference",
        "channel_data",
        "status",
        "resume_status",
        "priority",
        "department_id",
        "received_at",
        "created_at",
        "updated_at",
        "version",
        "supervision",
        "close_reason",
        "reopen_count",
    ]
    deadline_columns = [
        "complaint_id",
        "stage",
        "policy_version_id",
        "calendar_id",
        "basis",
        "started_at",
        "warn_at",
        "due_at",
        "state",
        "paused_seconds",
        "escalation_level",
        "round",
        "next_check_at",
        "provisional",
        "created_at",
    ]
    started = time.perf_counter()
    batch = 100_000
    for first in range(have, count, batch):
        last = min(count, first + batch)
        with transaction.atomic():
            _copy(
                "complaints_complaint",
                complaint_columns,
                (
                    [
                        f"BN-{n:09d}",
                        "x" * 64,
                        "complaint",
                        "web",
                        "",
                        f"Bench complaint {n}",
                        "A street light is out.",
                        "",
                        "f",
                        "f",
                        "",
                        "{}",
                        "assigned",
                        "",
                        "normal",
                        str(department_id),
                        stamp,
                        stamp,
                        stamp,
                        "1",
                        "",
                        "",
                        "0",
                    ]
                    for n in range(first, last)
                ),
            )
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT id FROM complaints_complaint WHERE tracking_code >= %s "
                    "AND tracking_code < %s ORDER BY id",
                    [f"BN-{first:09d}", f"BN-{last:09d}"],
                )
                ids = [row[0] for row in cursor.fetchall()]
            _copy(
                "sla_deadline",
                deadline_columns,
                (
                    [
                        str(pk),
                        "cycle",
                        str(version.pk),
                        str(calendar.pk),
                        "business",
                        stamp,
                        warn,
                        later,
                        "open",
                        "0",
                        "0",
                        "0",
                        warn,
                        "f",
                        stamp,
                    ]
                    for pk in ids
                ),
            )
        print(f"  loaded {last:,} complaints ({time.perf_counter() - started:.0f} s)", flush=True)
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE complaints_complaint")
        cursor.execute("VACUUM ANALYZE sla_deadline")


def _make_due(count: int) -> list[int]:
    """Make ``count`` running deadlines due a minute ago (never escalated before)."""
    from django.db import connection
    from django.utils import timezone

    past = timezone.now() - timedelta(minutes=1)
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE sla_deadline SET due_at = %s, warn_at = NULL, next_check_at = %s, "
            "escalation_level = 0, warned_at = NULL, breached_at = NULL, round = round + 1 "
            "WHERE id IN (SELECT id FROM sla_deadline WHERE state = 'open' "
            "AND escalation_level = 0 AND next_check_at > %s ORDER BY random() LIMIT %s) "
            "RETURNING id",
            [past, past, timezone.now(), count],
        )
        ids = [row[0] for row in cursor.fetchall()]
        cursor.execute("ANALYZE sla_deadline")
    return ids


def _settle(ids: list[int]) -> None:
    """Put the swept deadlines back to running, due next month, for the next run."""
    from django.db import connection
    from django.utils import timezone

    later = timezone.now() + timedelta(days=30)
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE sla_deadline SET due_at = %s, next_check_at = %s, escalation_level = 0, "
            "breached_at = NULL WHERE id = ANY(%s)",
            [later, later, ids],
        )
        cursor.execute(
            "UPDATE complaints_complaint SET supervision = '', overdue_since = NULL "
            "WHERE supervision <> ''"
        )


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--complaints", type=int, default=1_000_000)
    parser.add_argument("--due", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args(argv)
    url = os.environ.get("BENCH_DATABASE_URL", DEFAULT_URL)
    if not url.startswith("postgres"):
        sys.exit("The SLA sweep benchmark needs PostgreSQL (BENCH_DATABASE_URL=postgres://…).")
    _ensure_database(url)
    _setup(url)

    from complaints.models import Complaint
    from sla.models import Deadline, SlaAction
    from sla.sweep import sweep

    department, _head = _people()
    print(f"Backlog: {args.complaints:,} open complaints", flush=True)
    _load(args.complaints, department.pk)
    open_complaints = Complaint.objects.count()
    running = Deadline.objects.filter(state="open").count()

    empty = []
    for _ in range(20):
        started = time.perf_counter()
        result = sweep()
        empty.append((time.perf_counter() - started) * 1000)
        assert result.deadlines == 0, result
    due_runs = []
    for run in range(args.runs):
        ids = _make_due(args.due)
        before = SlaAction.objects.count()
        started = time.perf_counter()
        result = sweep()
        seconds = time.perf_counter() - started
        made = SlaAction.objects.count() - before
        print(f"  run {run + 1}: {result.as_dict()} in {seconds:.2f} s", flush=True)
        if not result.deadlines == made == len(ids):
            sys.exit(f"Expected {len(ids)} deadlines escalated once each: {result}, {made} actions")
        due_runs.append(seconds)
        _settle(ids)
    report = {
        "open_complaints": open_complaints,
        "running_deadlines": running,
        "due_per_run": args.due,
        "sweep_due_seconds": {"median": statistics.median(due_runs), "max": max(due_runs)},
        "sweep_empty_ms": {"median": statistics.median(empty), "max": max(empty)},
        "targets": {
            "due_sweep_under_10_s": max(due_runs) <= 10.0,
            "empty_sweep_under_50_ms": max(empty) <= 50.0,
        },
    }
    print(json.dumps(report, indent=2))
    section = f"SLA sweep, {open_complaints:,} open complaints"
    publish(
        [
            Row(section, "sweep with nothing due, worst of 20", max(empty), "ms",
                target="≤ 50 ms", met=max(empty) <= 50.0),
            Row(section, f"sweep with {args.due:,} due, worst of {args.runs}", max(due_runs),
                "s", target="≤ 10 s", met=max(due_runs) <= 10.0),
        ]
    )  # fmt: skip
    return report


if __name__ == "__main__":
    main()

"""Benchmark: the console's reads at a year of 1,000,000 complaints, on PostgreSQL.

    python -m bench.scale [--complaints 1000000] [--runs 50]

Targets (issue 12), on two cores: a department's queue sorted by time limit and the
console's search answer within 150 ms at p95; the complaint page within 150 ms at p95;
the KPI page within 1 s.

It reads the year of ``bench.reports`` (same database, ``BENCH_DATABASE_URL``, default
``postgres://postgres@127.0.0.1/sutong_bench_reports``; loaded once by ``bench.dataset``
and kept). Every request goes through Django's test client as a signed-in member of
staff — middleware, permissions, forms and templates included, as a browser would get
it, minus the network. Each measure is ``--runs`` requests, varied (other complaints,
other search terms, other pages), after one warm-up; p50 and p95 in milliseconds.

* queue: the "My department" queue sorted by time limit, as a department head of the
  biggest and of the smallest department sees it (first page; later pages by cursor),
  and as a handler of the biggest;
* search: the queue's search box with Chinese words, English words, tracking codes and
  phone tails, as a supervisor over every complaint and as a department head;
* the complaint page with its timeline, for a supervisor (any complaint) and for a
  handler (their own open complaints: the page then offers drafting a reply);
* the KPI page ``/reports/`` for the year, for a supervisor;
* the REST API: the department queue, newest first (first page and the next), and one
  complaint.
"""

from __future__ import annotations

import argparse
import math
import os
import random
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import Any

from bench import dataset
from bench.sla_sweep import _ensure_database, _setup
from bench.table import Row, publish

DEFAULT_URL = "postgres://postgres@127.0.0.1/sutong_bench_reports"
CHINESE = ["路灯", "噪音", "物业", "停车", "垃圾", "退款", "食堂", "医保", "施工噪音", "油烟"]
ENGLISH = ["refund", "street light", "noise", "parking", "water", "landlord", "bus", "rubbish"]


def _percentiles(times: Sequence[float]) -> tuple[float, float]:
    ordered = sorted(times)
    p95 = ordered[min(len(ordered) - 1, math.ceil(0.95 * len(ordered)) - 1)]
    return round(statistics.median(ordered), 1), round(p95, 1)


def _timed(client: Any, urls: Sequence[str]) -> tuple[float, float, int]:
    """p50, p95 (ms) of GETting each of ``urls`` once, and the queries of the first."""
    from django.db import connection

    _get(client, urls[0])  # warm-up: the first request of a session fills caches
    # Counted by a wrapper: the request's start empties the connection's query log.
    counted = []

    def count(execute: Any, sql: str, *args: Any) -> Any:
        counted.append(sql)
        return execute(sql, *args)

    with connection.execute_wrapper(count):
        _get(client, urls[0])
    times = []
    for url in urls:
        started = time.perf_counter()
        _get(client, url)
        times.append((time.perf_counter() - started) * 1000)
    p50, p95 = _percentiles(times)
    return p50, p95, len(counted)


def _get(client: Any, url: str) -> Any:
    response = client.get(url, HTTP_ACCEPT_LANGUAGE="zh-hans", secure=True)
    assert response.status_code == 200, (url, response.status_code)
    return response


def _client(username: str, role: Any = None) -> Any:
    from django.contrib.auth.models import Group
    from django.test import Client

    from accounts.models import User

    user, created = User.objects.get_or_create(username=username)
    if created and role is not None:
        user.groups.add(Group.objects.get(name=role.value))
    client = Client()
    client.force_login(user)
    return client


def _later_pages(client: Any, url: str, pages: int) -> list[str]:
    """The addresses of pages 2 … ``pages`` + 1 of a console queue, by following its cursor."""
    found = []
    for _ in range(pages):
        context = _get(client, url).context
        next_url = context["next_url"] if context else None
        if not next_url:
            break
        url = "/console/queue/" + next_url
        found.append(url)
    return found


def _api_next(client: Any, url: str) -> str:
    return str(_get(client, url).json()["next"] or url)


def _search_terms(generator: random.Random, count: int) -> list[str]:
    """Chinese words, English words, tracking codes and phone tails, in equal parts."""
    from complaints.models import Complaint, Petitioner

    some = list(Complaint.objects.order_by("?").values_list("tracking_code", flat=True)[:count])
    phones = list(Petitioner.objects.order_by("?").values_list("phone", flat=True)[:count])
    kinds: list[Callable[[int], str]] = [
        lambda n: CHINESE[n % len(CHINESE)],
        lambda n: ENGLISH[n % len(ENGLISH)],
        lambda n: some[n],
        lambda n: phones[n][-5:] if n % 2 else phones[n],
    ]
    return [kinds[n % 4](n // 4 + generator.randrange(3)) for n in range(count)]


def main(argv: list[str] | None = None) -> list[Row]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--complaints", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=50)
    args = parser.parse_args(argv)
    url = os.environ.get("BENCH_DATABASE_URL", DEFAULT_URL)
    if not url.startswith("postgres"):
        sys.exit("The scale benchmark needs PostgreSQL (BENCH_DATABASE_URL=postgres://…).")
    _ensure_database(url)
    print(f"A year of {args.complaints:,} complaints (migrating, loading if needed)", flush=True)
    _setup(url)

    from urllib.parse import quote

    from django.conf import settings

    from accounts.roles import Role
    from bench.reports import _page
    from complaints.models import OPEN_STATES, Complaint
    from reporting.kpis import Period

    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    started = time.perf_counter()
    first_day, last_day = dataset.load(args.complaints)
    print(f"  ready in {time.perf_counter() - started:.0f} s", flush=True)
    generator = random.Random(12)
    runs = args.runs
    results: dict[str, tuple[float, float, int]] = {}

    def measure(name: str, client: Any, urls: Sequence[str]) -> None:
        urls = [urls[n % len(urls)] for n in range(runs)]
        results[name] = _timed(client, urls)
        p50, p95, queries = results[name]
        print(f"  {name}: p50 {p50} ms, p95 {p95} ms, {queries} queries", flush=True)

    queue = "/console/queue/?q=department&sort=due"
    for size, code in (("big", "market"), ("small", "civil")):
        head = _client(f"bench_{code}_head")
        measure(f"queue by time limit, {size} department, first page", head, [queue])
        measure(
            f"queue by time limit, {size} department, later page",
            head,
            _later_pages(head, queue, 5) or [queue],
        )
    handler = _client("bench_market_00")
    measure("queue by time limit, handler (big department), first page", handler, [queue])

    supervisor = _client("bench_reader", Role.SUPERVISOR)
    terms = _search_terms(generator, runs)
    measure(
        "search, supervisor (every complaint)",
        supervisor,
        [f"/console/queue/?q=all&text={quote(term)}" for term in terms],
    )
    head = _client("bench_market_head")
    measure(
        "search, department head (big department)",
        head,
        [f"/console/queue/?q=department&text={quote(term)}" for term in terms],
    )

    anything = list(Complaint.objects.order_by("?").values_list("pk", flat=True)[:runs])
    measure(
        "complaint page, supervisor (any complaint)",
        supervisor,
        [f"/console/complaints/{pk}/" for pk in anything],
    )
    own = list(
        Complaint.objects.filter(assignee__username="bench_market_00", status__in=OPEN_STATES)
        .order_by("?")
        .values_list("pk", flat=True)[:runs]
    )
    measure(
        "complaint page, handler (own open complaints)",
        handler,
        [f"/console/complaints/{pk}/" for pk in own],
    )

    api = "/api/v1/complaints/?queue=department&ordering=-received_at"
    measure("API list, department queue, first page", head, [api])
    measure("API list, department queue, next page", head, [_api_next(head, api)])
    measure(
        "API complaint, supervisor", supervisor, [f"/api/v1/complaints/{pk}/" for pk in anything]
    )

    year = Period(first_day, last_day + timedelta(days=1))
    times = []
    _page(None, year)
    for _ in range(max(3, runs // 5)):
        begun = time.perf_counter()
        _page(None, year)
        times.append((time.perf_counter() - begun) * 1000)
    kpi_p50, kpi_p95 = _percentiles(times)
    print(f"  KPI page for a year: p50 {kpi_p50} ms, p95 {kpi_p95} ms", flush=True)

    section = f"{Complaint.objects.count():,} complaints"
    rows = []
    for name, (p50, p95, queries) in results.items():
        target = 150.0 if name.startswith(("queue", "search", "complaint page")) else None
        rows.append(Row(section, f"{name}, p50", p50, "ms"))
        rows.append(
            Row(
                section,
                f"{name}, p95 ({queries} queries)",
                p95,
                "ms",
                target=f"< {target:.0f} ms" if target else "",
                met=p95 < target if target else None,
            )
        )
    rows.append(Row(section, "KPI page for a year, p50", kpi_p50, "ms"))
    rows.append(
        Row(section, "KPI page for a year, p95", kpi_p95, "ms", target="< 1 s", met=kpi_p95 < 1000)
    )
    return publish(rows)


if __name__ == "__main__":
    main()

"""Sustained intake: the channel API at 70 % of its peak for ten minutes loses nothing.

gunicorn with production's settings (``config/gunicorn.conf.py``, ``WEB_CONCURRENCY``
workers, two per core by default) and one Celery worker, on the stack's PostgreSQL and
Redis. ``wrk`` (``bench.load``) sends new complaints, each with its own number; the peak
is measured briefly (or taken from ``CHAOS_PEAK_RPS``), then the load runs paced at 70 %
of it for ``CHAOS_LOAD_SECONDS`` (600 by default; 30 to iterate). Afterwards:

- every answer was 201, and wrk saw no socket error or timeout;
- complaints stored equal complaints accepted, give or take only the requests wrk cut off
  at the end of each run (one per connection, counted as ``bench.intake`` does), and no
  complaint was stored twice;
- routing goes on: after the load the one worker (a solo process) works the backlog off
  steadily — all of it within ``CHAOS_DRAIN_SECONDS`` (default 120), or at least
  ``CHAOS_MIN_ROUTING_RPS`` complaints a second (default 5) all that time. One worker
  process routes more slowly than the web tier accepts at peak (bench/RESULTS.md), so at
  70 % of peak a backlog builds during the load; production runs more worker processes.

The achieved rate and p99 are printed (run pytest with ``-s`` to see them).
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable

import pytest

from bench import intake, load
from tests.chaos.stack import Stack

LOAD_SECONDS = float(os.environ.get("CHAOS_LOAD_SECONDS", "600"))
PEAK_RPS = float(os.environ.get("CHAOS_PEAK_RPS", "0"))
DRAIN_SECONDS = float(os.environ.get("CHAOS_DRAIN_SECONDS", "120"))
MIN_ROUTING_RPS = float(os.environ.get("CHAOS_MIN_ROUTING_RPS", "5"))
# Connection counts tried for the peak (bench.intake tries 4 to 32, 20 s each).
PEAK_CONNECTIONS = (8, 16)
PEAK_SECONDS = 10.0

pytestmark = pytest.mark.skipif(
    shutil.which("wrk") is None,
    reason="wrk is not installed (Debian package `wrk`; .ci/run installs it when it can)",
)


def backlog(database_url: str) -> int:
    """The load's complaints not routed yet (routing leaves one suggestion per complaint)."""
    return int(
        intake._one(
            database_url,
            "SELECT count(*) FROM complaints_complaint c WHERE c.title LIKE %s AND NOT EXISTS "
            "(SELECT 1 FROM routing_suggestion s WHERE s.complaint_id = c.id)",
        )
    )


def test_seventy_percent_of_peak_for_minutes_loses_nothing(
    sutong: Stack, figures: Callable[[str], None]
) -> None:
    token = sutong.channel_token("sustained-load")
    database_url = sutong.database_url
    runs: list[tuple[load.LoadResult, int]] = []  # each run and its connections

    def run(result: load.LoadResult, connections: int) -> load.LoadResult:
        runs.append((result, connections))
        return result

    with (
        sutong.web(workers=intake.workers()) as (_, base),
        sutong.worker(name="worker"),
    ):
        target = intake.api_target(base, token)
        before = intake.complaint_count(database_url)
        twice_before = intake.stored_twice(database_url)
        # Warm up: every web worker loads its code and opens its connections.
        warm = 2 * intake.workers()
        run(load.hammer(target, seconds=3, connections=warm), warm)
        if PEAK_RPS:
            peak, connections = PEAK_RPS, 16
        else:
            measured = [
                run(load.hammer(target, seconds=PEAK_SECONDS, connections=c), c)
                for c in PEAK_CONNECTIONS
            ]
            best = max(range(len(measured)), key=lambda i: measured[i].rate)
            peak, connections = measured[best].rate, PEAK_CONNECTIONS[best]
        assert peak > 0, f"no complaint accepted at all: {runs[-1][0].statuses}"
        paced_connections = max(8, connections)
        trial, paced = load.at_rate(
            target,
            rate=0.7 * peak,
            seconds=LOAD_SECONDS,
            connections=paced_connections,
        )
        run(trial, paced_connections)
        run(paced, paced_connections)
        stored = intake.complaint_count(database_url) - before
        twice = intake.stored_twice(database_url) - twice_before

        finished = time.monotonic()
        waiting = backlog(database_url)
        left = waiting
        while left and time.monotonic() - finished < DRAIN_SECONDS:
            time.sleep(2.0)
            left = backlog(database_url)
        drained = time.monotonic() - finished
        routing_rate = (waiting - left) / drained if drained else 0.0

    answered = sum(result.ok for result, _ in runs)
    cut_off = sum(connections for _, connections in runs)
    figures(
        f"peak {peak:.0f}/s ({connections} connections); "
        f"paced at {0.7 * peak:.0f}/s for {paced.seconds:.0f} s: {paced.rate:.1f}/s achieved, "
        f"p50 {paced.p50_ms:.1f} ms, p90 {paced.p90_ms:.1f} ms, p99 {paced.p99_ms:.1f} ms; "
        f"{answered} accepted, {stored} stored; routing backlog {waiting} at the end, "
        f"{left} after {drained:.0f} s ({routing_rate:.1f} routed/s)"
    )
    for result, _ in runs:
        assert set(result.statuses) <= {201}, f"answers other than 201: {result.statuses}"
        assert result.socket_errors == 0, "socket errors or timeouts"
    assert paced.seconds >= 0.9 * LOAD_SECONDS
    assert paced.rate >= 0.5 * peak, "the paced run fell far below the rate it was asked for"
    assert stored >= answered, f"{answered - stored} complaints accepted but not stored"
    assert stored - answered <= cut_off, "stored beyond what the answers and cut-offs explain"
    assert twice == 0, f"{twice} complaints stored twice"
    assert left == 0 or routing_rate >= MIN_ROUTING_RPS, (
        f"routing stalled: {left} of {waiting} complaints still waiting after {drained:.0f} s"
    )

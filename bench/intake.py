"""Benchmark: complaints taken in under load — the channel API and the citizen portal form,
Sutong against django-helpdesk on the same machine, database server and load generator.

    python -m bench.intake [--seconds 20] [--no-peer]

Sutong runs under gunicorn (``config/gunicorn.conf.py``: two sync workers per core) on
PostgreSQL, with Redis as cache and Celery broker, DEBUG off, in its own database
(``BENCH_INTAKE_DATABASE_URL``, default ``postgres://postgres@127.0.0.1/sutong_bench_intake``)
seeded with the demo organisation and a trained classifier, so every complaint is
classified, graded, routed and given its deadlines as in production. wrk loads it from
this machine over keep-alive connections; each request is a new complaint.

- Peak: the most complaints per second over a few connection counts, with p50 and p99.
- At 70 % of that peak, p99 latency (each connection paces itself; see bench.load).
- Every run counts the complaints stored and compares with the successful answers: they
  must be equal (nothing lost, nothing stored twice).
- Memory: resident size of each web worker after the load, and of a Celery worker after it
  has delivered what the load queued (outbox, notifications).

The peer (bench.peer: django-helpdesk 2.6.1 in its own virtualenv) gets the same
gunicorn settings and the same load, through its public ticket form and its REST API.
"""

from __future__ import annotations

import argparse
import contextlib
import multiprocessing
import os
import re
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.cookiejar import CookieJar
from pathlib import Path
from typing import Any

from bench import load
from bench.table import Row, publish

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_URL = "postgres://postgres@127.0.0.1/sutong_bench_intake"
REDIS_URL = "redis://127.0.0.1:6379/7"
SECTION = "intake under load"
CONNECTIONS = (4, 8, 16, 32)
CONTENT = (
    "小区门口的路灯坏了一个多星期，晚上一片漆黑，老人孩子出行很不安全，请尽快派人修理。编号 @N@"
)


def workers() -> int:
    return int(os.environ.get("WEB_CONCURRENCY", 2 * multiprocessing.cpu_count()))


def gunicorn_args() -> list[str]:
    """The settings both servers run with (ours come from config/gunicorn.conf.py)."""
    return ["--workers", str(workers()), "--worker-class", "sync", "--keep-alive", "5"]


def server_env(database_url: str) -> dict[str, str]:
    return {
        "DATABASE_URL": database_url,
        "REDIS_URL": REDIS_URL,
        "DEBUG": "0",
        "SECRET_KEY": "bench-only-" + "x" * 50,
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "SECURE_SSL_REDIRECT": "0",
        "SESSION_COOKIE_SECURE": "0",
        "CSRF_COOKIE_SECURE": "0",
        # The load comes from one address with one token: per-caller limits would measure
        # the limiter, not the intake.
        "API_RATE_CLIENT": "0",
        "GUNICORN_ACCESS_LOG": "",
        "DJANGO_SETTINGS_MODULE": "config.settings",
    }


def manage(database_url: str, *args: str) -> str:
    completed = subprocess.run(  # noqa: S603 (our own arguments)
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**os.environ, **server_env(database_url)},
        capture_output=True,
        text=True,
        check=False,
    )
    if completed.returncode:
        raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{completed.stderr}")
    return completed.stdout


def prepare(database_url: str) -> str:
    """Migrate and seed the bench database once; return a channel client's token."""
    from bench.sla_sweep import _ensure_database

    _ensure_database(database_url)
    manage(database_url, "migrate", "--noinput")
    # DEBUG off serves hashed static files: the portal's pages need the manifest.
    manage(database_url, "collectstatic", "--noinput")
    token_file = ROOT / "var" / "bench" / "intake-token"
    seeded = token_file.exists() and token_file.read_text().startswith(database_url + " ")
    if not seeded:
        manage(database_url, "seed_demo", "--skip-training")
        manage(database_url, "train_classifier")
        name = f"bench-{int(time.time())}"
        token = manage(database_url, "create_channel_client", name).strip().splitlines()[-1]
        token_file.parent.mkdir(parents=True, exist_ok=True)
        token_file.write_text(f"{database_url} {token}")
    return token_file.read_text().split(" ", 1)[1]


TITLE = "路灯不亮 "


def _one(database_url: str, sql: str, params: tuple[str, ...] = (TITLE + "%",)) -> int:
    import psycopg2

    with (
        contextlib.closing(psycopg2.connect(database_url)) as connection,
        connection.cursor() as cursor,
    ):
        cursor.execute(sql, params)
        return int(cursor.fetchone()[0])


def complaint_count(database_url: str) -> int:
    """The bench's complaints, once the number has stopped changing (the server finishes
    requests that a run sent but stopped waiting for)."""
    last = -1
    while True:
        now = _one(database_url, "SELECT count(*) FROM complaints_complaint WHERE title LIKE %s")
        if now == last:
            return now
        last = now
        time.sleep(0.5)


def routed(database_url: str) -> int:
    return _one(database_url, "SELECT count(*) FROM routing_suggestion", ())


def stored_twice(database_url: str) -> int:
    """Complaints whose title (unique to one request) was stored more than once."""
    return _one(
        database_url,
        "SELECT count(*) - count(DISTINCT title) FROM complaints_complaint WHERE title LIKE %s",
    )


@contextlib.contextmanager
def sutong(database_url: str, port: int) -> Iterator[subprocess.Popen[bytes]]:
    command = [
        str(Path(sys.executable).parent / "gunicorn"),
        "-c",
        "config/gunicorn.conf.py",
        "--bind",
        f"127.0.0.1:{port}",
        *gunicorn_args(),
        "config.wsgi",
    ]
    log = ROOT / "var" / "bench" / "gunicorn.log"
    with load.serve(
        command,
        probe_url=f"http://127.0.0.1:{port}/api/v1/",
        env=server_env(database_url),
        cwd=ROOT,
        log=log,
    ) as process:
        yield process


def api_target(base: str, token: str) -> load.Target:
    body = (
        '{"kind": "complaint", "title": "路灯不亮 @N@", "content": "' + CONTENT + '", '
        '"petitioner": {"name": "张三", "phone": "@P@"}, "location": "幸福路 @N@ 号"}'
    )
    return load.Target(
        "intake API",
        "POST",
        f"{base}/api/v1/intake/",
        headers={
            "Authorization": f"Token {token}",
            "Content-Type": "application/json",
            "Idempotency-Key": "bench-@N@",
            "Accept-Language": "zh-hans",
        },
        body=body,
        ok=(201,),
    )


def csrf_pair(url: str) -> tuple[str, str]:
    """A CSRF cookie and the form's token for it, from one GET; reused for every POST."""
    jar = CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    with opener.open(url, timeout=10) as answer:
        page = answer.read().decode()
    cookie = next(c.value for c in jar if c.name == "csrftoken")
    found = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)
    if not found or cookie is None:
        raise RuntimeError(f"no CSRF token on {url}")
    return cookie, found.group(1)


def portal_target(base: str) -> load.Target:
    cookie, token = csrf_pair(f"{base}/submit/")
    from urllib.parse import urlencode

    fields = {
        "csrfmiddlewaretoken": token,
        "kind": "complaint",
        "petitioner_type": "individual",
        "title": "路灯不亮 @N@",
        "content": CONTENT,
        "name": "张三",
        "phone": "@P@",
        "email": "",
        "location": "幸福路 @N@ 号",
        "contact_preference": "phone",
        "privacy_consent": "on",
    }
    return load.Target(
        "portal form",
        "POST",
        f"{base}/submit/",
        headers={
            "Cookie": f"csrftoken={cookie}",
            "Content-Type": "application/x-www-form-urlencoded",
            "Referer": f"{base}/submit/",
            "Accept-Language": "zh-hans",
        },
        body=urlencode(fields).replace("%40N%40", "@N@").replace("%40P%40", "@P@"),
        ok=(302,),
    )


@dataclass(frozen=True)
class Measured:
    peak: load.LoadResult
    peak_connections: int
    paced: load.LoadResult | None
    stored: int
    answered: int
    # wrk stops reading at the end of a run: up to one request per connection is still
    # being served, stored but never counted as answered.
    cut_off: int
    twice: int | None

    @property
    def lost(self) -> int:
        """Answered as accepted, yet not stored."""
        return max(0, self.answered - self.stored)

    @property
    def unexplained(self) -> int:
        """Stored beyond what the answers and the cut-off requests explain."""
        return max(0, self.stored - self.answered - self.cut_off)


def measure(
    target: load.Target,
    count: Callable[[], int],
    *,
    seconds: float,
    paced: bool,
    twice: Callable[[], int] | None = None,
    connection_counts: tuple[int, ...] = CONNECTIONS,
) -> Measured:
    """The peak over a few connection counts, then a paced run at 70 % of it."""
    # Warm up: every worker loads its code and opens its connections.
    load.hammer(target, seconds=3, connections=workers() * 2)
    before = count()
    twice_before = twice() if twice else 0
    answered = 0
    cut_off = 0
    best: tuple[load.LoadResult, int] | None = None
    for connections in connection_counts:
        result = load.hammer(target, seconds=seconds, connections=connections)
        answered += result.ok
        cut_off += connections
        print(
            f"  {target.name}: {connections} connections: {result.rate:,.0f}/s, "
            f"p50 {result.p50_ms:.1f} ms, p99 {result.p99_ms:.1f} ms, {result.statuses}",
            flush=True,
        )
        if best is None or result.rate > best[0].rate:
            best = (result, connections)
    assert best is not None
    slow = None
    if best[0].rate == 0:
        raise RuntimeError(f"{target.name}: no request succeeded: {best[0].statuses}")
    if paced:
        rate = 0.7 * best[0].rate
        trial, slow = load.at_rate(
            target,
            rate=rate,
            seconds=seconds,
            connections=max(8, best[1]),
        )
        answered += trial.ok + slow.ok
        cut_off += 2 * max(8, best[1])
        print(
            f"  {target.name}: paced at {rate:,.0f}/s: {slow.rate:,.0f}/s achieved, "
            f"p50 {slow.p50_ms:.1f} ms, p99 {slow.p99_ms:.1f} ms",
            flush=True,
        )
    stored = count() - before
    print(
        f"  {target.name}: {answered:,} answered as accepted, {stored:,} stored "
        f"(up to {cut_off} cut off by the ends of the runs)",
        flush=True,
    )
    doubled = twice() - twice_before if twice else None
    return Measured(best[0], best[1], slow, stored, answered, cut_off, doubled)


def web_rss(process: subprocess.Popen[bytes]) -> float:
    """The largest resident size among the gunicorn workers, MiB."""
    return max((load.rss_mb(pid) for pid in load.children(process.pid)), default=0.0)


def celery_worker(database_url: str, *, seconds: float = 60) -> tuple[float, float, int]:
    """Start one Celery worker process (the production default per container) on what the
    load queued — routing each complaint (classification, urgency, duplicates, department),
    outbox notifications — for ``seconds``; return its resident size (MiB), the tasks it
    routed per second, and how many tasks were waiting. The rest are discarded."""
    import redis

    broker = redis.Redis.from_url(REDIS_URL)
    waiting = int(broker.llen("celery"))
    command = [
        str(Path(sys.executable).parent / "celery"),
        "-A",
        "config",
        "worker",
        "--concurrency=1",
        "--pool=solo",
        "--without-mingle",
        "--without-gossip",
        "--loglevel=WARNING",
    ]
    process = subprocess.Popen(  # noqa: S603 (our own arguments)
        command,
        cwd=ROOT,
        env={**os.environ, **server_env(database_url)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        time.sleep(10)  # start-up: imports, the classifier model
        if process.poll() is not None:
            raise RuntimeError("the Celery worker exited")
        # Complaints routed: each gets one routing suggestion. (The queue's length says
        # less: routing a complaint queues its notifications.)
        first = routed(database_url)
        time.sleep(seconds)
        done = routed(database_url) - first
        return load.rss_mb(process.pid), done / seconds, waiting
    finally:
        process.terminate()
        process.wait(timeout=30)
        broker.delete("celery")


def rows_for(name: str, ours: Measured, peer: Measured | None, *, intake_api: bool) -> list[Row]:
    rows = [
        Row(
            SECTION,
            f"{name}: complaints per second at peak",
            ours.peak.rate,
            "/s",
            peer.peak.rate if peer else None,
            target="≥ 500/s, ≥ 5× peer" if intake_api else "",
            met=(ours.peak.rate >= 500 and (peer is None or ours.peak.rate >= 5 * peer.peak.rate))
            if intake_api
            else None,
            higher_is_better=True,
        ),
        Row(
            SECTION,
            f"{name}: p50 at peak",
            ours.peak.p50_ms,
            "ms",
            peer.peak.p50_ms if peer else None,
        ),
        Row(
            SECTION,
            f"{name}: p99 at peak",
            ours.peak.p99_ms,
            "ms",
            peer.peak.p99_ms if peer else None,
        ),
    ]
    if ours.paced is not None:
        rows.append(
            Row(
                SECTION,
                f"{name}: p99 at 70 % of peak ({ours.paced.rate:,.0f}/s)",
                ours.paced.p99_ms,
                "ms",
                peer.paced.p99_ms if peer and peer.paced else None,
                target="< 100 ms" if intake_api else "",
                met=ours.paced.p99_ms < 100 if intake_api else None,
            )
        )
    rows += [
        Row(
            SECTION,
            f"{name}: accepted but not stored",
            float(ours.lost),
            "",
            float(peer.lost) if peer else None,
            target="0",
            met=ours.lost == 0,
        ),
        Row(
            SECTION,
            f"{name}: stored twice, or stored unanswered beyond the cut-off",
            float((ours.twice or 0) + ours.unexplained),
            "",
            float((peer.twice or 0) + peer.unexplained) if peer else None,
            target="0",
            met=(ours.twice or 0) + ours.unexplained == 0,
        ),
    ]
    return rows


def main(argv: list[str] | None = None) -> list[Row]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--no-peer", action="store_true", help="measure Sutong alone")
    parser.add_argument("--only", choices=["api", "portal"], help="one of the two paths")
    args = parser.parse_args(argv)
    database_url = os.environ.get("BENCH_INTAKE_DATABASE_URL", DEFAULT_URL)
    print(f"Preparing {database_url} …", flush=True)
    token = prepare(database_url)

    def count() -> int:
        return complaint_count(database_url)

    def twice() -> int:
        return stored_twice(database_url)

    results: dict[str, Measured] = {}
    peer_results: dict[str, Measured] = {}
    memory: dict[str, float] = {}
    port = load.free_port()
    with sutong(database_url, port) as server:
        base = f"http://127.0.0.1:{port}"
        if args.only in (None, "api"):
            results["API"] = measure(
                api_target(base, token), count, seconds=args.seconds, paced=True, twice=twice
            )
        if args.only in (None, "portal"):
            results["portal form"] = measure(
                portal_target(base), count, seconds=args.seconds, paced=True, twice=twice
            )
        memory["web"] = web_rss(server)
    memory["celery"], routed, queued = celery_worker(database_url)

    if not args.no_peer:
        from bench import peer

        peer.ensure_installed()
        peer.prepare()
        peer_port = load.free_port()
        with peer.serving(peer_port, gunicorn_args()) as peer_base:
            targets: dict[str, Any] = {}
            if args.only in (None, "api"):
                targets["API"] = peer.api_target(peer_base)
            if args.only in (None, "portal"):
                targets["portal form"] = peer.form_target(peer_base)
            for name, target in targets.items():
                peer.reset()
                peer_results[name] = measure(
                    target, peer.count_tickets, seconds=args.seconds, paced=True
                )

    rows: list[Row] = []
    for name, ours in results.items():
        rows += rows_for(name, ours, peer_results.get(name), intake_api=name == "API")
    rows += [
        Row(
            "memory",
            f"web worker, resident, after the load ({workers()} workers)",
            memory["web"],
            "MiB",
            target="< 150 MiB",
            met=memory["web"] < 150,
        ),
        Row("memory", "Celery worker, resident, while routing", memory["celery"], "MiB"),
        Row(
            "classification",
            f"routing in one Celery worker process ({queued:,} queued by the load)",
            routed,
            "/s",
            higher_is_better=True,
        ),
    ]
    return publish(rows)


if __name__ == "__main__":
    main()

"""End to end: what `make run` starts serves a healthy /healthz, and Ctrl-C stops it all.

These tests start the real web server, Celery worker and beat (``manage.py runall``)
against their own database; they never touch the Django test database.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.processes import ROOT, clean_environment

HEALTHY_WITHIN = 60  # seconds, from starting runall to fresh worker and beat heartbeats
STOPPED_WITHIN = 30  # seconds, from Ctrl-C to runall's exit
MARKER = "SUTONG_E2E_RUN"  # inherited by every process runall starts, so /proc can find them

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not Path("/proc/self/environ").exists(),
        reason="needs /proc to find every process runall started",
    ),
]

# Never through a proxy: the server under test is on 127.0.0.1.
http = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def environment(var_dir: Path, **overrides: str) -> dict[str, str]:
    """The embedded default in ``var_dir``, with a marker to find every process by."""
    return clean_environment(
        var_dir, DEBUG="1", PYTHONUNBUFFERED="1", **{MARKER: secrets.token_hex(8)}, **overrides
    )


def manage(env: dict[str, str], *args: str) -> None:
    result = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, f"manage.py {' '.join(args)}:\n{result.stdout}{result.stderr}"


def marked_processes(marker: str) -> list[int]:
    """Live processes whose environment carries this run's marker."""
    needle = f"{MARKER}={marker}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            environ = (entry / "environ").read_bytes()
        except OSError:  # gone meanwhile, or not ours
            continue
        if needle in environ.split(b"\0"):
            found.append(int(entry.name))
    return found


def describe(pids: list[int]) -> str:
    lines = []
    for pid in pids:
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
        except OSError:
            continue
        lines.append(f"{pid}: {cmdline.decode(errors='replace')}")
    return "\n".join(lines)


def tail(log: Path, lines: int = 60) -> str:
    text = log.read_text(errors="replace") if log.exists() else "(no log)"
    return "\n".join(text.splitlines()[-lines:])


def get(url: str) -> tuple[int, bytes]:
    try:
        with http.open(url, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:  # 503 still carries the JSON report
        return error.code, error.read()


def poll_until_healthy(base_url: str, runall: subprocess.Popen[bytes]) -> dict[str, Any] | str:
    """The last /healthz report: status "ok", or whatever was seen when time ran out."""
    deadline = time.monotonic() + HEALTHY_WITHIN
    last: dict[str, Any] | str = "no answer yet"
    while time.monotonic() < deadline and runall.poll() is None:
        try:
            _, body = get(f"{base_url}/healthz")
            last = json.loads(body)
        except (OSError, ValueError) as exc:  # not listening yet, or not JSON
            last = repr(exc)
        if isinstance(last, dict) and last.get("status") == "ok":
            break
        time.sleep(1)
    return last


def serve_then_interrupt(env: dict[str, str], log: Path) -> dict[str, Any]:
    """Run what `make run` runs; once /healthz is "ok", press Ctrl-C and check all stop.

    Returns the healthy /healthz report for the caller's own assertions.
    """
    manage(env, "migrate", "--noinput")
    # Training the classifier (a minute of CPU) is not what these tests are about.
    manage(env, "seed_demo", "--skip-training")
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    marker = env[MARKER]
    with log.open("wb") as output:
        runall = subprocess.Popen(
            [sys.executable, "manage.py", "runall", "--bind", f"127.0.0.1:{port}"],
            cwd=ROOT,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        report = poll_until_healthy(base_url, runall)
        assert isinstance(report, dict), f"/healthz never answered: {report}\n{tail(log)}"
        assert report["status"] == "ok", f"not healthy in {HEALTHY_WITHIN}s: {report}\n{tail(log)}"
        assert report["worker"]["fresh"] is True
        assert report["beat"]["fresh"] is True
        home_status, _ = get(f"{base_url}/")
        assert home_status == 200, tail(log)
        started = describe(marked_processes(marker))
        for command in ("runall", "gunicorn", "celery -A config worker", "celery -A config beat"):
            assert command in started, f"no {command!r} among:\n{started}"

        runall.send_signal(signal.SIGINT)
        try:
            returncode = runall.wait(timeout=STOPPED_WITHIN)
        except subprocess.TimeoutExpired:
            pytest.fail(f"runall still running {STOPPED_WITHIN}s after Ctrl-C:\n{tail(log)}")

        assert returncode == 0, tail(log)
        output_text = log.read_text(errors="replace")
        assert "Stopped web, worker and beat." in output_text, tail(log)
        assert "killing it" not in output_text, tail(log)
        # runall waited for its three children, and they for their own workers.
        left = marked_processes(marker)
        assert not left, f"still running after Ctrl-C:\n{describe(left)}\n{tail(log)}"
        return report
    finally:
        if runall.poll() is None:
            os.killpg(runall.pid, signal.SIGKILL)
            runall.wait()
        for pid in marked_processes(marker):  # children run in sessions of their own
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


def test_make_run_is_healthy_within_a_minute_and_stops_on_ctrl_c(tmp_path: Path) -> None:
    report = serve_then_interrupt(environment(tmp_path), tmp_path / "runall.log")

    assert report["database"] == {"ok": True, "vendor": "sqlite"}
    assert report["broker"] == {"ok": True, "transport": "filesystem"}
    assert (tmp_path / "db.sqlite3").exists()


@pytest.fixture
def redis_db_13() -> Iterator[str]:
    redis = pytest.importorskip("redis")
    url = "redis://127.0.0.1:6379/13"
    client = redis.Redis.from_url(url, socket_connect_timeout=3)
    try:
        client.ping()
    except redis.exceptions.RedisError as exc:
        pytest.skip(f"Redis is not reachable on 127.0.0.1:6379: {exc}")
    client.flushdb()
    try:
        yield url
    finally:
        client.flushdb()
        client.close()


@pytest.fixture
def throwaway_postgres_database() -> Iterator[str]:
    psycopg2 = pytest.importorskip("psycopg2")
    from psycopg2 import sql

    try:
        admin = psycopg2.connect(
            host="127.0.0.1", port=5432, user="postgres", dbname="postgres", connect_timeout=3
        )
    except psycopg2.OperationalError as exc:
        pytest.skip(f"PostgreSQL is not reachable on 127.0.0.1:5432 as postgres: {exc}")
    admin.autocommit = True
    name = f"sutong_e2e_{secrets.token_hex(4)}"
    try:
        with admin.cursor() as cursor:
            cursor.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        yield f"postgres://postgres@127.0.0.1:5432/{name}"
    finally:
        with admin.cursor() as cursor:
            cursor.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )
        admin.close()


def test_make_run_on_postgresql_and_redis_is_healthy_and_stops_on_ctrl_c(
    tmp_path: Path, redis_db_13: str, throwaway_postgres_database: str
) -> None:
    env = environment(tmp_path, DATABASE_URL=throwaway_postgres_database, REDIS_URL=redis_db_13)

    report = serve_then_interrupt(env, tmp_path / "runall.log")

    assert report["database"] == {"ok": True, "vendor": "postgresql"}
    assert report["broker"] == {"ok": True, "transport": "redis"}
    assert not (tmp_path / "db.sqlite3").exists()

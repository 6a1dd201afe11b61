"""A real Sutong stack for fault-injection tests: its own PostgreSQL database, Redis
database, web server, worker and beat, each a separate process that a test may kill.

Every test gets a fresh database, copied from a template that is migrated and seeded once
per session (``CREATE DATABASE … TEMPLATE``: a fraction of a second instead of a minute).
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg2
import psycopg2.sql
import redis
from psycopg2.sql import SQL, Identifier

from bench import load
from tests.processes import ROOT, celery_worker, clean_environment

# The server the chaos databases live on (a maintenance database on it, not a test's own).
SERVER_URL = os.environ.get("CHAOS_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres")
REDIS_BASE = os.environ.get("CHAOS_REDIS_URL", "redis://127.0.0.1:6379")
# Redis database numbers the chaos tests may empty (the suite and bench use others).
REDIS_DB = int(os.environ.get("CHAOS_REDIS_DB", "12"))
# Two chaos runs at once (say, two checkouts) need their own template and Redis database.
TEMPLATE = os.environ.get("CHAOS_TEMPLATE", "sutong_chaos_template")


def server_dsn(database: str) -> str:
    """``SERVER_URL`` with another database name."""
    base, _, _ = SERVER_URL.rpartition("/")
    return f"{base}/{database}"


def admin_sql(sql: str | psycopg2.sql.Composed, params: tuple[Any, ...] = ()) -> None:
    connection = psycopg2.connect(SERVER_URL)
    connection.autocommit = True
    try:
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
    finally:
        connection.close()


def disconnect_all(name: str) -> None:
    admin_sql(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
        "WHERE datname = %s AND pid <> pg_backend_pid()",
        (name,),
    )


def drop_database(name: str) -> None:
    disconnect_all(name)
    admin_sql(SQL("DROP DATABASE IF EXISTS {}").format(Identifier(name)))


def create_database(name: str, *, template: str | None = None) -> None:
    if template:
        admin_sql(
            SQL("CREATE DATABASE {} TEMPLATE {}").format(Identifier(name), Identifier(template))
        )
    else:
        admin_sql(SQL("CREATE DATABASE {}").format(Identifier(name)))


def query(database_url: str, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Rows of one statement, read directly (not through Django) in autocommit."""
    connection = psycopg2.connect(database_url)
    connection.autocommit = True
    try:
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            return list(cursor.fetchall()) if cursor.description else []
    finally:
        connection.close()


def scalar(database_url: str, sql: str, params: tuple[Any, ...] = ()) -> Any:
    return query(database_url, sql, params)[0][0]


def base_environment(
    var_dir: Path, database_url: str, redis_url: str, static_root: Path
) -> dict[str, str]:
    """What a production-like Sutong process runs with here (DEBUG off, no TLS)."""
    return clean_environment(
        var_dir,
        DATABASE_URL=database_url,
        REDIS_URL=redis_url,
        DEBUG="0",
        SECRET_KEY="chaos-only-" + "k" * 50,
        ALLOWED_HOSTS="127.0.0.1,localhost",
        SECURE_SSL_REDIRECT="0",
        # DEBUG off serves hashed static files: collected once, into the template's folder.
        STATIC_ROOT=str(static_root),
        MEDIA_ROOT=str(var_dir / "media"),
        GUNICORN_ACCESS_LOG="",
        # One address sends everything: per-caller limits would refuse the test's load.
        API_RATE_CLIENT="0",
    )


def manage(env: Mapping[str, str], *args: str, check: bool = True) -> str:
    completed = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=dict(env),
        capture_output=True,
        text=True,
        check=False,
    )
    if check and completed.returncode:
        raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{completed.stderr}")
    return completed.stdout


def make_template(var_dir: Path) -> Path:
    """Migrate and seed the template once (demo organisation, no complaints' deadlines
    running out during a test: they are hours away)."""
    drop_database(TEMPLATE)
    create_database(TEMPLATE)
    static_root = var_dir / "static"
    env = base_environment(var_dir, server_dsn(TEMPLATE), f"{REDIS_BASE}/{REDIS_DB}", static_root)
    manage(env, "migrate", "--noinput")
    manage(env, "seed_demo", "--skip-training")
    manage(env, "collectstatic", "--noinput")
    # Nobody may stay connected to a template, or copying it fails.
    disconnect_all(TEMPLATE)
    return static_root


@dataclass
class Stack:
    """One test's Sutong: a database copied from the template, an empty Redis database,
    a var/ directory of its own, and the processes the test starts."""

    var_dir: Path
    database: str
    redis_url: str
    static_root: Path

    @property
    def database_url(self) -> str:
        return server_dsn(self.database)

    def env(self, **overrides: str) -> dict[str, str]:
        env = base_environment(self.var_dir, self.database_url, self.redis_url, self.static_root)
        return {**env, **overrides}

    def manage(self, *args: str, check: bool = True, **overrides: str) -> str:
        return manage(self.env(**overrides), *args, check=check)

    def channel_token(self, name: str = "chaos") -> str:
        """A new channel client's token (the command prints it as its last line)."""
        return self.manage("create_channel_client", name).strip().splitlines()[-1]

    def query(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        return query(self.database_url, sql, params)

    def scalar(self, sql: str, params: tuple[Any, ...] = ()) -> Any:
        return scalar(self.database_url, sql, params)

    @contextlib.contextmanager
    def web(
        self, *, port: int | None = None, workers: int = 2, **overrides: str
    ) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
        """gunicorn with config/gunicorn.conf.py; yields the process and its base URL."""
        port = port or load.free_port()
        command = [
            str(Path(sys.executable).parent / "gunicorn"),
            "-c",
            "config/gunicorn.conf.py",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(workers),
            "config.wsgi",
        ]
        base = f"http://127.0.0.1:{port}"
        with load.serve(
            command,
            probe_url=f"{base}/healthz",
            env=self.env(**overrides),
            cwd=ROOT,
            log=self.var_dir / f"web-{port}.log",
        ) as process:
            yield process, base

    @contextlib.contextmanager
    def worker(
        self, *, beat: bool = False, name: str = "worker", **overrides: str
    ) -> Iterator[subprocess.Popen[bytes]]:
        """A real Celery worker (solo pool; with ``beat`` the scheduler runs in it too)."""
        with celery_worker(
            self.env(**overrides), self.var_dir / f"{name}.log", beat=beat
        ) as process:
            yield process


def wait_for(
    condition: Any, *, timeout: float = 60.0, interval: float = 0.2, what: str = "condition"
) -> Any:
    """Poll ``condition()`` until it returns something true; fail after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not reached within {timeout:.0f} s")
        time.sleep(interval)


def new_stack(var_dir: Path, static_root: Path) -> Stack:
    database = f"sutong_chaos_{uuid.uuid4().hex[:10]}"
    create_database(database, template=TEMPLATE)
    client = redis.Redis.from_url(f"{REDIS_BASE}/{REDIS_DB}")
    client.flushdb()
    client.close()
    return Stack(
        var_dir=var_dir,
        database=database,
        redis_url=f"{REDIS_BASE}/{REDIS_DB}",
        static_root=static_root,
    )


def call(
    url: str,
    *,
    body: Any = None,
    headers: Mapping[str, str] | None = None,
    method: str | None = None,
    timeout: float = 30.0,
) -> tuple[int, dict[str, str], Any]:
    """One HTTP request (JSON body when ``body`` is given); (status, headers, JSON or text).

    An error status is returned, not raised; a connection failure raises ``OSError``.
    """
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(  # noqa: S310 (the test's own localhost server)
        url, data=data, method=method, headers=dict(headers or {})
    )
    if data is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:  # noqa: S310
            status, answer_headers, raw = answer.status, dict(answer.headers), answer.read()
    except urllib.error.HTTPError as error:
        status, answer_headers, raw = error.code, dict(error.headers), error.read()
    text = raw.decode("utf-8", "replace")
    try:
        return status, answer_headers, json.loads(text)
    except ValueError:
        return status, answer_headers, text

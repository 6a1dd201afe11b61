"""Settings read the environment: each test starts Python afresh with a controlled one."""

from __future__ import annotations

import json
import secrets
import sqlite3
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.processes import ROOT
from tests.processes import clean_environment as environment

# Prints the named settings as JSON; names come after `-c CODE` on the command line.
PRINT_SETTINGS = (
    "import json, sys; from django.conf import settings; "
    "print(json.dumps({name: getattr(settings, name) for name in sys.argv[1:]}, default=str))"
)


def run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def read_settings(env: dict[str, str], *names: str) -> dict[str, Any]:
    result = run(env, "-c", PRINT_SETTINGS, *names)
    assert result.returncode == 0, result.stderr
    values: dict[str, Any] = json.loads(result.stdout)
    return values


def test_the_embedded_default_is_sqlite_and_a_filesystem_broker_under_var_dir(
    tmp_path: Path,
) -> None:
    values = read_settings(environment(tmp_path), "DATABASES", "CELERY_BROKER_URL", "CACHES")

    database = values["DATABASES"]["default"]
    assert database["ENGINE"] == "django.db.backends.sqlite3"
    assert Path(database["NAME"]) == tmp_path / "db.sqlite3"
    assert values["CELERY_BROKER_URL"] == "filesystem://"
    assert values["CACHES"]["default"]["LOCATION"] == str(tmp_path / "cache")
    assert (tmp_path / "broker" / "queue").is_dir()
    assert (tmp_path / "broker" / "control").is_dir()


def test_the_embedded_database_is_in_wal_mode_after_migrate(tmp_path: Path) -> None:
    migrate = run(environment(tmp_path), "manage.py", "migrate", "--noinput")
    assert migrate.returncode == 0, migrate.stdout + migrate.stderr

    # WAL is a property of the database file: any later connection sees it.
    with sqlite3.connect(tmp_path / "db.sqlite3") as database:
        (journal_mode,) = database.execute("PRAGMA journal_mode").fetchone()
    assert journal_mode == "wal"


def test_database_url_and_redis_url_select_postgresql_and_redis(tmp_path: Path) -> None:
    env = environment(tmp_path, DATABASE_URL="postgres://u@h:5432/d", REDIS_URL="redis://h:6379/0")

    values = read_settings(
        env, "DATABASES", "CELERY_BROKER_URL", "CELERY_BROKER_TRANSPORT_OPTIONS", "CACHES"
    )

    database = values["DATABASES"]["default"]
    assert database["ENGINE"] == "django.db.backends.postgresql"
    assert (database["NAME"], database["HOST"], database["PORT"]) == ("d", "h", 5432)
    assert values["CELERY_BROKER_URL"] == "redis://h:6379/0"
    assert values["CELERY_BROKER_TRANSPORT_OPTIONS"]["socket_connect_timeout"] > 0
    assert values["CACHES"]["default"] == {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": "redis://h:6379/0",
        # A dead Redis costs a request seconds (tests/chaos/test_redis_down.py).
        "OPTIONS": {"socket_connect_timeout": 2, "socket_timeout": 2},
    }
    assert not (tmp_path / "broker").exists()


def test_production_settings_pass_the_deployment_checks(tmp_path: Path) -> None:
    env = environment(
        tmp_path,
        DEBUG="0",
        SECRET_KEY=secrets.token_urlsafe(45),  # 60 characters
        ALLOWED_HOSTS="sutong.example.org",
    )

    result = run(env, "manage.py", "check", "--deploy", "--fail-level", "WARNING")

    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def test_debug_must_be_a_boolean(tmp_path: Path) -> None:
    result = run(environment(tmp_path, DEBUG="maybe"), "manage.py", "check")

    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert "DEBUG='maybe' is not a boolean" in result.stderr


def test_without_secret_key_one_is_generated_once_and_kept_private(tmp_path: Path) -> None:
    env = environment(tmp_path)

    first = read_settings(env, "SECRET_KEY")["SECRET_KEY"]
    second = read_settings(env, "SECRET_KEY")["SECRET_KEY"]

    key_file = tmp_path / "secret_key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert key_file.read_text().strip() == first
    assert len(first) >= 50
    assert second == first


def test_an_explicit_secret_key_wins_and_writes_no_file(tmp_path: Path) -> None:
    key = secrets.token_urlsafe(45)

    values = read_settings(environment(tmp_path, SECRET_KEY=key), "SECRET_KEY")

    assert values["SECRET_KEY"] == key
    assert not (tmp_path / "secret_key").exists()

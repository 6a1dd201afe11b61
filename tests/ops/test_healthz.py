"""/healthz: database and broker decide 200 or 503; worker and beat heartbeats decide "ok"."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
import time_machine
from django.conf import settings as django_settings
from django.db import OperationalError, connection, connections
from django.test import Client
from django.utils import timezone
from pytest_django import Settings

from config.celery import app
from ops import health
from ops.beat import HeartbeatScheduler
from ops.models import Heartbeat
from ops.tasks import heartbeat

# Nothing listens on port 1, so a connection is refused at once instead of timing out.
UNREACHABLE_BROKER = "redis://127.0.0.1:1/0"


def get_health(client: Client, *, strict: bool = False) -> tuple[int, dict[str, Any]]:
    response = client.get("/healthz", {"strict": "1"} if strict else {})
    assert response["Content-Type"] == "application/json"
    assert "no-cache" in response["Cache-Control"]
    return response.status_code, response.json()


def beat_both() -> None:
    Heartbeat.beat(Heartbeat.Process.WORKER)
    Heartbeat.beat(Heartbeat.Process.BEAT)


def past_stale_after(settings: Settings) -> time_machine.travel:
    return time_machine.travel(
        timezone.now() + timedelta(seconds=settings.HEARTBEAT_STALE_AFTER + 1), tick=False
    )


@pytest.fixture
def unreachable_broker(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    # Celery prefers this variable over app.conf.broker_url.
    monkeypatch.delenv("CELERY_BROKER_URL", raising=False)
    previous = app.conf.broker_url
    app.conf["broker_url"] = UNREACHABLE_BROKER
    try:
        yield UNREACHABLE_BROKER
    finally:
        app.conf["broker_url"] = previous


def test_healthz_is_200_and_degraded_when_no_heartbeat_was_recorded(
    client: Client, db: None
) -> None:
    status, body = get_health(client)

    assert status == 200
    assert body["status"] == "degraded"
    assert body["database"] == {"ok": True, "vendor": connection.vendor}
    assert body["broker"] == {"ok": True, "transport": app.conf.broker_url.split("://")[0]}
    for process in ("worker", "beat"):
        assert body[process] == {"last_seen": None, "age_seconds": None, "fresh": False}


def test_healthz_is_ok_when_worker_and_beat_are_fresh(client: Client, db: None) -> None:
    beat_both()

    status, body = get_health(client)
    strict_status, strict_body = get_health(client, strict=True)

    assert (status, body["status"]) == (200, "ok")
    assert (strict_status, strict_body["status"]) == (200, "ok")
    for process in ("worker", "beat"):
        assert body[process]["fresh"] is True
        assert body[process]["last_seen"] is not None
        assert 0 <= body[process]["age_seconds"] < 5


def test_stale_heartbeats_give_503_when_strict_and_200_degraded_otherwise(
    client: Client, db: None, settings: Settings
) -> None:
    beat_both()

    with past_stale_after(settings):
        strict_status, strict_body = get_health(client, strict=True)
        status, body = get_health(client)

    assert (strict_status, strict_body["status"]) == (503, "degraded")
    assert (status, body["status"]) == (200, "degraded")
    for process in ("worker", "beat"):
        assert body[process]["fresh"] is False
        assert body[process]["age_seconds"] > settings.HEARTBEAT_STALE_AFTER


def test_healthz_tells_a_stopped_worker_from_a_running_beat(
    client: Client, db: None, settings: Settings
) -> None:
    beat_both()

    with past_stale_after(settings):
        Heartbeat.beat(Heartbeat.Process.BEAT)
        status, body = get_health(client, strict=True)

    assert (status, body["status"]) == (503, "degraded")
    assert body["worker"]["fresh"] is False
    assert body["beat"]["fresh"] is True


def test_heartbeats_are_fresh_up_to_heartbeat_stale_after(
    client: Client, db: None, settings: Settings
) -> None:
    beat_both()
    at_the_limit = timezone.now() + timedelta(seconds=settings.HEARTBEAT_STALE_AFTER - 1)

    with time_machine.travel(at_the_limit, tick=False):
        status, body = get_health(client, strict=True)

    assert (status, body["status"]) == (200, "ok")


def test_healthz_is_503_when_the_broker_is_unreachable(
    client: Client, db: None, unreachable_broker: str
) -> None:
    beat_both()

    started = time.monotonic()
    status, body = get_health(client)
    elapsed = time.monotonic() - started

    assert status == 503
    assert body["status"] == "down"
    assert body["broker"]["ok"] is False
    assert body["broker"]["error"]
    assert body["database"]["ok"] is True
    assert elapsed < 10, f"an unreachable broker held /healthz for {elapsed:.1f}s"


def test_the_broker_check_recovers_once_the_broker_is_back(unreachable_broker: str) -> None:
    assert health.check_broker()["ok"] is False

    app.conf["broker_url"] = django_settings.CELERY_BROKER_URL

    assert health.check_broker()["ok"] is True


def test_healthz_is_503_when_the_database_is_unreachable(
    client: Client, db: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(self: object) -> None:
        raise OperationalError("connection refused")

    # A context, not the fixture's own undo: the test database's teardown needs a cursor.
    with monkeypatch.context() as patch:
        patch.setattr(type(connections["default"]), "cursor", refuse)
        status, body = get_health(client)

    assert status == 503
    assert body["status"] == "down"
    assert body["database"] == {
        "ok": False,
        "vendor": connection.vendor,
        "error": "OperationalError",
    }
    assert body["broker"]["ok"] is True


def test_the_heartbeat_task_records_the_worker(db: None) -> None:
    before = timezone.now()

    result = heartbeat.apply()

    assert result.successful()
    row = Heartbeat.objects.get(process=Heartbeat.Process.WORKER)
    assert row.last_seen >= before
    assert row.pid == os.getpid()
    assert not Heartbeat.objects.filter(process=Heartbeat.Process.BEAT).exists()


def test_a_second_heartbeat_updates_the_row_instead_of_adding_one(db: None) -> None:
    heartbeat()
    first = Heartbeat.objects.get(process=Heartbeat.Process.WORKER).last_seen

    with time_machine.travel(timezone.now() + timedelta(minutes=5), tick=False):
        heartbeat()

    assert Heartbeat.objects.count() == 1
    assert Heartbeat.objects.get().last_seen - first >= timedelta(minutes=5)


def test_the_beat_scheduler_records_its_own_heartbeat(transactional_db: None) -> None:
    """transactional_db: _record() calls close_old_connections(), as beat's process must,
    and that drops a connection left inside the atomic block the ``db`` fixture opens."""
    before = timezone.now()

    HeartbeatScheduler._record()

    row = Heartbeat.objects.get(process=Heartbeat.Process.BEAT)
    assert row.last_seen >= before
    assert row.pid == os.getpid()


@pytest.mark.skipif(
    os.environ.get("DEBUG", "").strip().lower() in {"1", "true", "yes", "on"},
    reason="settings were loaded with DEBUG on, where there is no HTTPS redirect to be exempt from",
)
def test_healthz_is_not_redirected_to_https_when_debug_is_off(
    client: Client, db: None, settings: Settings
) -> None:
    settings.SECURE_SSL_REDIRECT = True

    health_response = client.get("/healthz")
    home_response = client.get("/")

    assert health_response.status_code == 200
    assert home_response.status_code == 301
    assert home_response["Location"].startswith("https://")

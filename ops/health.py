"""What /healthz reports: can we reach the database and broker, are worker and beat alive,
and can the business calendars count every running deadline."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import DatabaseError, connection
from django.utils import timezone


@dataclass(frozen=True)
class HealthReport:
    database: dict[str, Any]
    broker: dict[str, Any]
    heartbeats: dict[str, dict[str, Any]]
    calendars: dict[str, Any]

    @property
    def reachable(self) -> bool:
        return bool(self.database["ok"] and self.broker["ok"])

    @property
    def fresh(self) -> bool:
        return all(beat["fresh"] for beat in self.heartbeats.values()) and self.calendars["ok"]

    def as_dict(self) -> dict[str, Any]:
        status = "ok" if self.reachable and self.fresh else "degraded" if self.reachable else "down"
        return {
            "status": status,
            "database": self.database,
            "broker": self.broker,
            **self.heartbeats,
            "calendars": self.calendars,
        }


def check_database() -> dict[str, Any]:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except DatabaseError as exc:
        return {"ok": False, "vendor": connection.vendor, "error": type(exc).__name__}
    return {"ok": True, "vendor": connection.vendor}


def check_broker() -> dict[str, Any]:
    from config.celery import app

    try:
        with app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, interval_start=0, timeout=3)
            transport = conn.transport_cls
    except Exception as exc:  # kombu raises many kinds; any of them means "unreachable".
        return {"ok": False, "error": type(exc).__name__}
    return {"ok": True, "transport": transport}


def check_heartbeats(now: datetime | None = None) -> dict[str, dict[str, Any]]:
    from ops.models import Heartbeat

    now = now or timezone.now()
    try:
        seen = {beat.process: beat.last_seen for beat in Heartbeat.objects.all()}
    except DatabaseError:
        seen = {}
    report = {}
    for process in Heartbeat.Process:
        last_seen = seen.get(process.value)
        age = (now - last_seen).total_seconds() if last_seen else None
        report[process.value] = {
            "last_seen": last_seen.isoformat() if last_seen else None,
            "age_seconds": round(age, 1) if age is not None else None,
            "fresh": age is not None and age <= settings.HEARTBEAT_STALE_AFTER,
        }
    return report


def check_calendars() -> dict[str, Any]:
    """Deadlines counted without a year's holidays fail it; a year soon unknown warns."""
    from sla.calendars import calendar_problems

    try:
        problems = calendar_problems()
    except DatabaseError:
        return {"ok": False, "error": "DatabaseError"}
    return {"ok": not problems.failing, "problems": problems.failing, "warnings": problems.coming}


def health_report() -> HealthReport:
    database = check_database()
    return HealthReport(
        database=database,
        broker=check_broker(),
        heartbeats=check_heartbeats(),
        calendars=check_calendars() if database["ok"] else {"ok": False},
    )

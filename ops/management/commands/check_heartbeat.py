"""Exit 0 while a process kind's heartbeat is fresh, else 1: a container health check.

``python manage.py check_heartbeat worker`` (or ``beat``) reads the one heartbeat row
that /healthz reads — a database query, no broker round trip — so it is cheap enough to
run every half minute, unlike ``celery inspect ping``. The worker's row says that *some*
worker ran the heartbeat task lately (beat schedules it every ``HEARTBEAT_INTERVAL``
seconds), the beat's row that the scheduler itself is ticking.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from ops.health import check_heartbeats
from ops.models import Heartbeat


class Command(BaseCommand):
    help = "Exit non-zero when the worker's or beat's heartbeat is stale (a health check)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("process", choices=Heartbeat.Process.values)

    def handle(self, *args: Any, **options: Any) -> None:
        process = options["process"]
        # An unreachable database reads as no heartbeat at all: unhealthy, as it should.
        beat = check_heartbeats()[process]
        if beat["age_seconds"] is None:
            raise CommandError(f"{process}: no heartbeat recorded")
        if not beat["fresh"]:
            raise CommandError(f"{process}: last heartbeat {beat['age_seconds']} s ago, stale")
        self.stdout.write(f"{process}: last heartbeat {beat['age_seconds']} s ago")

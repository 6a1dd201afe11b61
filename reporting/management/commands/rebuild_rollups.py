"""``manage.py rebuild_rollups [--since DATE]``: recompute the report rollups."""

from __future__ import annotations

import time
from datetime import date
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from reporting import rollups


class Command(BaseCommand):
    help = "Recompute the daily report rollups from the complaints (all days, or since DATE)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--since",
            help="First received day to recompute (YYYY-MM-DD); default: every day.",
        )

    def handle(self, *args: Any, since: str | None = None, **options: Any) -> None:
        first: date | None = None
        if since:
            try:
                first = date.fromisoformat(since)
            except ValueError as exc:
                raise CommandError(f"--since: not a date (YYYY-MM-DD): {since}") from exc
        started = time.perf_counter()
        result = rollups.rebuild(first)
        self.stdout.write(
            f"Rebuilt {result.days} days, {result.rows} cohort rows "
            f"in {time.perf_counter() - started:.1f} s."
        )

"""``manage.py build_report weekly|monthly [--period-start DATE] [--send]``: back-fill reports."""

from __future__ import annotations

from datetime import date
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from reporting import scheduled
from reporting.models import ReportKind

KINDS = {"weekly": ReportKind.WEEKLY_EXCEPTIONS, "monthly": ReportKind.MONTHLY}


class Command(BaseCommand):
    help = (
        "Build and store a scheduled report: by default for the last complete week or "
        "month; with --period-start for the week or month containing DATE. A period "
        "already stored is left as it is."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("kind", choices=sorted(KINDS))
        parser.add_argument(
            "--period-start",
            help="A day of the week or month to build (YYYY-MM-DD); default: the last one.",
        )
        parser.add_argument(
            "--send",
            action="store_true",
            help="Also tell the subscribers (beat always does; back-filling usually should not).",
        )

    def handle(
        self, *args: Any, kind: str, period_start: str | None = None, send: bool, **options: Any
    ) -> None:
        day: date | None = None
        if period_start:
            try:
                day = date.fromisoformat(period_start)
            except ValueError as exc:
                raise CommandError(
                    f"--period-start: not a date (YYYY-MM-DD): {period_start}"
                ) from exc
        try:
            report, created = scheduled.build(KINDS[kind], day, send=send)
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        state = "built" if created else "already stored"
        period = f"{report.period_start} – {report.period_end}"
        self.stdout.write(f"{report.title}: {state} ({period}, id {report.pk}).")

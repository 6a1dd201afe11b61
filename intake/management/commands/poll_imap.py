"""Poll the configured IMAP mailbox once, now: ``manage.py poll_imap``.

The same work the ``intake.tasks.poll_mailbox`` Celery task does on beat's schedule;
handy for a first test of the settings or after an outage.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from intake.email.imap import poll_mailbox


class Command(BaseCommand):
    help = "Take in the messages waiting in the IMAP mailbox (INTAKE_IMAP_* settings)."

    def handle(self, *args: Any, **options: Any) -> None:
        report = poll_mailbox()
        if not report.configured:
            raise CommandError("No mailbox configured: set INTAKE_IMAP_HOST and friends.")
        if report.locked:
            self.stdout.write("another poll of this mailbox is running; nothing done")
            return
        outcomes = ", ".join(f"{name} {count}" for name, count in sorted(report.outcomes.items()))
        self.stdout.write(
            f"fetched {report.fetched}, removed {report.removed}, left {report.left}"
            + (f" ({outcomes})" if outcomes else "")
        )
        if report.error:
            raise CommandError(f"polling stopped: {report.error}")

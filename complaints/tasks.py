"""Periodic work of closing the loop: unanswered surveys, archiving, retention."""

from __future__ import annotations

import logging

from celery import shared_task

from complaints import retention, services

logger = logging.getLogger(__name__)


@shared_task(name="complaints.tasks.close_the_loop", acks_late=True)
def close_the_loop() -> dict[str, int]:
    """Close complaints whose survey went unanswered, archive old ones, anonymise older ones.

    Idempotent: each step re-checks under the row lock, so overlapping runs (a slow run
    and the next beat) do nothing twice.
    """
    report = {
        "closed": services.close_unanswered_surveys(),
        "archived": services.archive_due(),
        "anonymised": retention.anonymise_due(),
    }
    if any(report.values()):
        logger.info("closing the loop: %s", report)
    return report

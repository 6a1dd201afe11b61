"""Periodic work of closing the loop (unanswered surveys, archiving, retention), and the
malware scan of new attachments."""

from __future__ import annotations

import logging

from celery import shared_task

from complaints import retention, scanning, services
from complaints.clamd import ScannerUnavailable
from ops.retry import ROW_TASK_RETRIES, TRANSIENT_ERRORS

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


@shared_task(
    name="complaints.tasks.scan_attachment",
    acks_late=True,
    **{
        **ROW_TASK_RETRIES,
        # clamd down, as well as the database: 30 s, 1 min, 2 min … up to half an hour,
        # then beat's sweep keeps trying; the file stays pending, not lost.
        "autoretry_for": (ScannerUnavailable, *TRANSIENT_ERRORS),
        "retry_backoff_max": 30 * 60,
        "max_retries": 8,
    },
)
def scan_attachment(attachment_id: int) -> str:
    """Scan one new file (queued after the commit that stored it). Idempotent."""
    return scanning.scan_attachment(attachment_id=attachment_id)


@shared_task(name="complaints.tasks.scan_pending", acks_late=True)
def scan_pending() -> dict[str, int]:
    """Scan files still pending: what a clamd outage or a lost task left behind."""
    report = scanning.scan_pending()
    if report:
        logger.info("pending attachments scanned: %s", report)
    return report

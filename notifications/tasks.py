"""Celery tasks of the outbox: thin, the delivery module does the work.

``deliver_due`` is queued after each commit that stores a message, and run by beat every
``NOTIFY_SWEEP_INTERVAL`` seconds, which sends whatever a broker outage or a crashed
worker left behind. Running it twice at once is safe: rows are claimed, not just read.
"""

from __future__ import annotations

import logging

from celery import shared_task

from notifications import delivery

logger = logging.getLogger(__name__)


@shared_task(name="notifications.tasks.deliver_due", acks_late=True)
def deliver_due(limit: int = 200) -> dict[str, int | bool]:
    """Send up to ``limit`` due messages; queue another run if more are waiting."""
    report = delivery.deliver_due(limit=limit)
    if report.more:
        try:
            deliver_due.delay(limit)
        except Exception:  # the next beat run carries on
            logger.warning("could not queue the next notification delivery", exc_info=True)
    return report.as_dict()

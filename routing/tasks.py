"""Routing's Celery tasks: thin, ids in, the service does the work."""

from __future__ import annotations

import logging

from celery import shared_task

from complaints.models import Complaint
from ops.retry import ROW_TASK_RETRIES
from routing import services

logger = logging.getLogger(__name__)


@shared_task(name="routing.tasks.route_complaint", **ROW_TASK_RETRIES)
def route_complaint(complaint_id: int) -> None:
    """Queued after intake commits; safe to run twice (routing is idempotent).

    Retried a few times while the database is unreachable; a complaint that no longer
    exists is not waited for (``ops.retry``).
    """
    try:
        services.route_complaint(complaint_id)
    except Complaint.DoesNotExist:
        logger.info("complaint %s to route no longer exists; nothing to do", complaint_id)


@shared_task(name="routing.tasks.route_stranded")
def route_stranded() -> int:
    """Beat: route complaints whose task was lost (still received, no suggestion)."""
    ids = services.stranded()
    for complaint_id in ids:
        services.route_complaint(complaint_id)
    return len(ids)


@shared_task(name="routing.tasks.retrain_classifier")
def retrain_classifier(include_corpus: bool = True) -> dict[str, object] | None:
    """Beat (nightly): train a classifier version on confirmed complaints and activate it.

    The same code as ``manage.py train_classifier``. Every process picks the new version
    up by itself (``routing.model_store.active_model``). Two overlapping runs would only
    waste a worker, so a second one, while the first still trains, does nothing.
    """
    import logging

    from django.core.cache import cache

    from routing import model_store

    logger = logging.getLogger(__name__)
    lock = "routing:retrain-classifier"
    if not cache.add(lock, "running", timeout=2 * 60 * 60):
        logger.info("Classifier retraining already running; skipped")
        return None
    try:
        result = model_store.retrain(include_corpus=include_corpus)
    except model_store.NotEnoughData as exc:
        logger.warning("Classifier not retrained: %s", exc)
        return None
    finally:
        cache.delete(lock)
    logger.info(
        "Trained classifier v%s on %s samples (cross-validated category accuracy %.3f)",
        result.version,
        result.samples,
        result.category_accuracy,
    )
    return {
        "version": result.version,
        "samples": result.samples,
        "category_accuracy": result.category_accuracy,
    }

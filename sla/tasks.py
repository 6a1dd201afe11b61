"""SLA's Celery tasks: the sweep and the calendar check, thin over the services."""

from __future__ import annotations

from typing import Any

from celery import shared_task

from sla import calendars, sweep


@shared_task(name="sla.tasks.sweep", acks_late=True)
def sweep_deadlines() -> dict[str, Any]:
    """Beat, every SLA_SWEEP_INTERVAL seconds: due warnings and escalations, once each.

    Safe to run in several workers at once and to run again after a crash (see
    ``sla.sweep``).
    """
    from django.conf import settings

    return sweep.sweep(batch_size=settings.SLA_SWEEP_BATCH).as_dict()


@shared_task(name="sla.tasks.check_calendars")
def check_calendars() -> dict[str, Any]:
    """Beat, daily: count provisional deadlines again once their year is known."""
    return calendars.recount_provisional()

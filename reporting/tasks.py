"""Reporting's Celery tasks: thin, the rollups module does the work."""

from __future__ import annotations

from celery import shared_task

from ops.retry import ROW_TASK_RETRIES
from reporting import rollups


@shared_task(name="reporting.tasks.refresh_rollups")
def refresh_rollups() -> dict[str, int]:
    """Beat (every REPORTING_ROLLUP_INTERVAL): recompute the days marked dirty."""
    result = rollups.refresh_dirty()
    return {"days": result.days, "rows": result.rows, "sla_events": result.sla_events}


@shared_task(name="reporting.tasks.rebuild_recent_rollups")
def rebuild_recent_rollups() -> dict[str, int]:
    """Beat (nightly): rebuild the last REPORTING_REBUILD_DAYS days, marked or not."""
    result = rollups.rebuild_recent()
    return {"days": result.days, "rows": result.rows}


# --- Exports, scheduled reports, sampling audits ------------------------------------------


@shared_task(name="reporting.tasks.run_export", acks_late=True, **ROW_TASK_RETRIES)
def run_export(job_id: int) -> str:
    """Build the file of one export job (queued when it was asked for).

    A job that no longer exists, or is not waiting, is skipped; the database unreachable
    before the job is claimed is retried a few times (``ops.retry``).
    """
    from reporting import exports

    job = exports.run(job_id)
    return job.status if job is not None else "skipped"


@shared_task(name="reporting.tasks.export_housekeeping")
def export_housekeeping() -> dict[str, int]:
    """Beat (hourly): delete export files past EXPORT_KEEP_DAYS, queue stranded jobs again."""
    from reporting import exports

    return exports.housekeeping()


@shared_task(name="reporting.tasks.build_weekly_report", acks_late=True)
def build_weekly_report() -> int:
    """Beat (Mondays 07:00): last week's process-exception report, stored and sent once."""
    from reporting import scheduled
    from reporting.models import ReportKind

    report, _created = scheduled.build(ReportKind.WEEKLY_EXCEPTIONS)
    return report.pk


@shared_task(name="reporting.tasks.build_monthly_report", acks_late=True)
def build_monthly_report() -> int:
    """Beat (the 1st, 07:00): last month's report, stored and sent once."""
    from reporting import scheduled
    from reporting.models import ReportKind

    report, _created = scheduled.build(ReportKind.MONTHLY)
    return report.pk


@shared_task(name="reporting.tasks.draw_audit_samples", acks_late=True)
def draw_audit_samples() -> int:
    """Beat (the 1st): draw last month's sampling audit and hand it out, once."""
    from reporting import audits

    return audits.draw().created


# --- Hotspots and early warning -----------------------------------------------------------


@shared_task(name="reporting.tasks.check_hotspots", acks_late=True)
def check_hotspots() -> int:
    """Beat (every HOTSPOT_CHECK_INTERVAL): tell supervisors about new spikes, once a day each."""
    from reporting.hotspots import alert_supervisors

    return alert_supervisors()

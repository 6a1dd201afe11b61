"""The Celery app and its beat schedule.

Settings come from ``config.settings`` (names prefixed ``CELERY_``): broker, late
acknowledgement, prefetch 1. The schedule is code, not database rows, so it is reviewed
and versioned like everything else.
"""

import os

from celery import Celery
from celery.schedules import crontab

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("sutong")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@app.on_after_configure.connect
def _install_beat_schedule(sender: Celery, **kwargs: object) -> None:
    # Connected to on_after_configure so settings are read once Django's are loaded.
    from django.conf import settings

    schedule: dict[str, dict[str, object]] = {
        "heartbeat": {
            "task": "ops.tasks.heartbeat",
            "schedule": float(settings.HEARTBEAT_INTERVAL),
            # A heartbeat nobody ran in time is worthless: drop it instead of piling up.
            "options": {"expires": float(settings.HEARTBEAT_INTERVAL)},
        },
    }
    schedule["route-stranded"] = {
        "task": "routing.tasks.route_stranded",
        "schedule": float(settings.ROUTING_SWEEP_INTERVAL),
        "options": {"expires": float(settings.ROUTING_SWEEP_INTERVAL)},
    }
    schedule["deliver-notifications"] = {
        "task": "notifications.tasks.deliver_due",
        "schedule": float(settings.NOTIFY_SWEEP_INTERVAL),
        # Sends what the after-commit kick missed (broker down, worker crashed).
        "options": {"expires": float(settings.NOTIFY_SWEEP_INTERVAL)},
    }
    schedule["retrain-classifier"] = {
        "task": "routing.tasks.retrain_classifier",
        "schedule": crontab(hour=3, minute=30),  # nightly, in TIME_ZONE
        # A missed night is made up by the next one; never let runs pile up.
        "options": {"expires": 6 * 60 * 60},
    }
    schedule["sla-sweep"] = {
        "task": "sla.tasks.sweep",
        "schedule": float(settings.SLA_SWEEP_INTERVAL),
        # Overlapping sweeps are safe, but a backlog of them is waste.
        "options": {"expires": float(settings.SLA_SWEEP_INTERVAL)},
    }
    schedule["sla-check-calendars"] = {
        "task": "sla.tasks.check_calendars",
        "schedule": crontab(hour=2, minute=10),
        "options": {"expires": 6 * 60 * 60},
    }
    schedule["close-the-loop"] = {
        "task": "complaints.tasks.close_the_loop",
        "schedule": float(settings.LIFECYCLE_SWEEP_INTERVAL),
        # Close unanswered surveys, archive, anonymise: idempotent, so a missed run waits.
        "options": {"expires": float(settings.LIFECYCLE_SWEEP_INTERVAL)},
    }
    schedule["refresh-rollups"] = {
        "task": "reporting.tasks.refresh_rollups",
        "schedule": float(settings.REPORTING_ROLLUP_INTERVAL),
        # Recomputes whatever is marked when it runs: a skipped run costs nothing.
        "options": {"expires": float(settings.REPORTING_ROLLUP_INTERVAL)},
    }
    schedule["rebuild-rollups"] = {
        "task": "reporting.tasks.rebuild_recent_rollups",
        "schedule": crontab(hour=1, minute=40),  # nightly, in TIME_ZONE
        "options": {"expires": 6 * 60 * 60},
    }
    schedule["export-housekeeping"] = {
        "task": "reporting.tasks.export_housekeeping",
        "schedule": crontab(minute=25),  # hourly
        # Deletes old export files, queues stranded jobs again: a missed run waits.
        "options": {"expires": 60 * 60},
    }
    # Scheduled reports and the sampling audit: each builds its period once, so a task
    # that runs twice (a retry, a restarted beat) changes nothing the second time.
    schedule["weekly-exceptions-report"] = {
        "task": "reporting.tasks.build_weekly_report",
        "schedule": crontab(hour=7, minute=0, day_of_week=1),  # Mondays, in TIME_ZONE
        "options": {"expires": 12 * 60 * 60},
    }
    schedule["monthly-report"] = {
        "task": "reporting.tasks.build_monthly_report",
        "schedule": crontab(hour=7, minute=0, day_of_month=1),
        "options": {"expires": 12 * 60 * 60},
    }
    schedule["audit-samples"] = {
        "task": "reporting.tasks.draw_audit_samples",
        "schedule": crontab(hour=7, minute=10, day_of_month=1),
        "options": {"expires": 12 * 60 * 60},
    }
    schedule["check-hotspots"] = {
        "task": "reporting.tasks.check_hotspots",
        "schedule": float(settings.HOTSPOT_CHECK_INTERVAL),
        # Early warning: each spike is told once a day, so a missed run only waits.
        "options": {"expires": float(settings.HOTSPOT_CHECK_INTERVAL)},
    }
    if settings.CLAMAV_SOCKET:
        schedule["scan-pending-attachments"] = {
            "task": "complaints.tasks.scan_pending",
            "schedule": float(settings.CLAMAV_SWEEP_INTERVAL),
            # Files a clamd outage or a lost task left pending; a missed run only waits.
            "options": {"expires": float(settings.CLAMAV_SWEEP_INTERVAL)},
        }
    if settings.INTAKE_IMAP_HOST:
        schedule["poll-mailbox"] = {
            "task": "intake.tasks.poll_mailbox",
            "schedule": float(settings.INTAKE_IMAP_POLL_INTERVAL),
            "options": {"expires": float(settings.INTAKE_IMAP_POLL_INTERVAL)},
        }
    sender.conf.beat_schedule = schedule

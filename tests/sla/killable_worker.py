"""Sutong's Celery app for a test worker that can be made to hang mid-sweep and killed.

``celery -A tests.sla.killable_worker worker …`` runs the production app
(``config.celery.app``) with its production settings, except:

* ``SUTONG_TEST_QUEUE``: every task the worker sends (the notification deliveries each
  sweep queues) goes to this queue, the one the test's worker consumes, instead of the
  shared default queue nobody in the test listens to;
* ``SUTONG_TEST_VISIBILITY_TIMEOUT``: seconds before Redis hands an unacknowledged message
  to a consumer again (production: an hour), and a check for such messages every second,
  so the killed sweep's own message comes back within the test;
* ``SUTONG_TEST_HANG_AFTER_CLAIM``: a path. The sweep, once it has claimed and advanced a
  batch of deadlines and written their actions and events, writes
  ``<pid> <PostgreSQL backend pid>`` to that file and sleeps, inside the batch's open
  transaction, until the test kills it.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from celery.signals import task_prerun

from config.celery import app

__all__ = ["app"]

HANG_AFTER_CLAIM = os.environ.get("SUTONG_TEST_HANG_AFTER_CLAIM", "")

if queue := os.environ.get("SUTONG_TEST_QUEUE"):
    app.conf.task_default_queue = queue

if timeout := os.environ.get("SUTONG_TEST_VISIBILITY_TIMEOUT"):
    app.conf.broker_transport_options = {
        **(app.conf.broker_transport_options or {}),
        "visibility_timeout": int(timeout),
        "unacked_restore_interval": 1,
        "unacked_restore_throttle": 1,
    }

# No remote-control queue left behind in Redis by a worker killed with SIGKILL.
app.conf.worker_enable_remote_control = False


def _hang(*args: Any, **kwargs: Any) -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        row = cursor.fetchone()
    backend = row[0] if row else 0
    marker = Path(HANG_AFTER_CLAIM)
    written = marker.with_name(f".{marker.name}.{os.getpid()}")
    written.write_text(f"{os.getpid()} {backend}\n")
    written.replace(marker)  # the test never reads half a line
    time.sleep(3600)
    raise RuntimeError("the hanging sweep was not killed")


@task_prerun.connect
def _hang_in_the_sweep(sender: Any = None, **kwargs: Any) -> None:
    # Django is set up by the time a task runs; importing the sweep before would not be.
    if HANG_AFTER_CLAIM and getattr(sender, "name", "") == "sla.tasks.sweep":
        from sla import sweep

        sweep._mark_complaints = _hang

"""How a task that works on one row retries: on a passing database fault, a few times.

A task queued after commit carries a row's id. Two things can go wrong when it runs:

- the database is unreachable for a moment (a failover, a restart, a dropped connection):
  worth waiting out, so the task is retried with a growing, jittered delay — but only
  ``max_retries`` times, never forever;
- the row is gone (deleted, anonymised, merged away, or the task outlived a restore):
  it will not come back, so the task ends quietly instead of retrying or failing. Each
  task handles that itself, since only it knows which rows it reads.

Any other error is a bug that would fail again; it is not retried.
"""

from __future__ import annotations

from typing import Any

from django.db import InterfaceError, OperationalError

TRANSIENT_ERRORS: tuple[type[Exception], ...] = (OperationalError, InterfaceError)

# Spread over about a quarter of an hour: 30 s, 1, 2, 4, 8 min (jittered), then given up.
ROW_TASK_RETRIES: dict[str, Any] = {
    "autoretry_for": TRANSIENT_ERRORS,
    "max_retries": 5,
    "retry_backoff": 30,
    "retry_backoff_max": 600,
    "retry_jitter": True,
}

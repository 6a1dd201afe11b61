"""A beat scheduler that leaves its own heartbeat.

The worker's heartbeat only shows that scheduled tasks arrive; this one shows that beat
itself is alive even while no worker runs, so /healthz can tell the two failures apart.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from celery.beat import PersistentScheduler

logger = logging.getLogger(__name__)


class HeartbeatScheduler(PersistentScheduler):
    _last_heartbeat = 0.0

    def tick(self, *args: Any, **kwargs: Any) -> float:
        from django.conf import settings

        now = time.monotonic()
        if now - self._last_heartbeat >= settings.HEARTBEAT_INTERVAL:
            self._last_heartbeat = now
            self._record()
        interval: float = super().tick(*args, **kwargs)
        return min(interval, float(settings.HEARTBEAT_INTERVAL))

    @staticmethod
    def _record() -> None:
        from django.db import DatabaseError, close_old_connections

        from ops.models import Heartbeat

        try:
            close_old_connections()
            Heartbeat.beat(Heartbeat.Process.BEAT)
        except DatabaseError:
            # Beat must keep scheduling while the database is down; /healthz shows it.
            logger.exception("could not record the beat heartbeat")

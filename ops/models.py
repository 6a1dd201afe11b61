from __future__ import annotations

import os
import socket

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class Heartbeat(models.Model):
    """The last sign of life of a background process (one row per kind of process)."""

    class Process(models.TextChoices):
        WORKER = "worker", _("Celery worker")
        BEAT = "beat", _("Celery beat")

    process = models.CharField(_("process"), max_length=20, choices=Process, primary_key=True)
    last_seen = models.DateTimeField(_("last seen"))
    hostname = models.CharField(_("host"), max_length=255, blank=True)
    pid = models.PositiveIntegerField(_("process id"), null=True)

    class Meta:
        verbose_name = _("heartbeat")
        verbose_name_plural = _("heartbeats")

    def __str__(self) -> str:
        return f"{self.process} @ {self.last_seen:%Y-%m-%d %H:%M:%S}"

    @classmethod
    def beat(cls, process: Process) -> None:
        cls.objects.update_or_create(
            process=process,
            defaults={
                "last_seen": timezone.now(),
                "hostname": socket.gethostname(),
                "pid": os.getpid(),
            },
        )


class Generation(models.Model):
    """A token that changes whenever a piece of rarely changed configuration changes.

    Processes hold such configuration in memory (``ops.snapshot``) and compare this token
    before using their copy. It is written in the transaction of the change itself, so a
    change that is rolled back leaves no stale copy behind either.
    """

    name = models.CharField(_("name"), max_length=50, primary_key=True)
    token = models.CharField(_("token"), max_length=32)

    class Meta:
        verbose_name = _("configuration generation")
        verbose_name_plural = _("configuration generations")

    def __str__(self) -> str:
        return f"{self.name} {self.token}"

"""SMS backends for tests: one that always fails, one that fails a few times first."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from django.conf import settings

from notifications import sms


class FailingBackend(sms.BaseSmsBackend):
    """A gateway that refuses everything."""

    def send(self, phone: str, text: str) -> None:
        raise sms.SmsError("gateway said 503 Service Unavailable")


class FlakyBackend(sms.LocmemBackend):
    """Fails ``failures_left`` times, then delivers to ``sms.outbox``."""

    failures_left = 0

    def send(self, phone: str, text: str) -> None:
        if FlakyBackend.failures_left > 0:
            FlakyBackend.failures_left -= 1
            raise sms.SmsError("gateway timed out")
        super().send(phone, text)


class FlakyFileBackend(sms.FileBackend):
    """For a real worker (another process): the first message fails, later ones are written.

    Remembers the failure in a file beside ``SMS_FILE_PATH``, since a worker process keeps
    no state a test could set.
    """

    def send(self, phone: str, text: str) -> None:
        marker = Path(settings.SMS_FILE_PATH).with_suffix(".failed-once")
        marker.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            super().send(phone, text)
            return
        os.write(fd, json.dumps({"to": phone}).encode())
        os.close(fd)
        raise sms.SmsError("gateway timed out (the first time, on purpose)")


class SlowBackend(sms.LocmemBackend):
    """Takes a little while per message, so concurrent sweeps overlap."""

    def send(self, phone: str, text: str) -> None:
        time.sleep(0.005)
        super().send(phone, text)

"""Text messages through a pluggable gateway, chosen by ``SMS_BACKEND`` (a dotted path).

Like Django's e-mail backends: ``FileBackend`` (the embedded default: one JSON line per
message in ``SMS_FILE_PATH``), ``ConsoleBackend``, ``LocmemBackend`` for tests and
``HttpGatewayBackend`` for a real gateway. A backend raises on any failure; the outbox
then retries the message later.
"""

from __future__ import annotations

import json
import sys
import threading
import urllib.error
import urllib.request
from pathlib import Path
from typing import TextIO

from django.conf import settings
from django.utils.module_loading import import_string

# Seconds to wait for the gateway before the attempt counts as failed (and is retried).
GATEWAY_TIMEOUT = 10


class SmsError(Exception):
    """The gateway did not accept the message."""


class BaseSmsBackend:
    def send(self, phone: str, text: str) -> None:
        """Hand one message to the gateway; raise if it was not accepted."""
        raise NotImplementedError


class ConsoleBackend(BaseSmsBackend):
    """Writes each message to stdout, for development."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stdout

    def send(self, phone: str, text: str) -> None:
        self.stream.write(f"SMS to {phone}:\n{text}\n{'-' * 40}\n")
        self.stream.flush()


class FileBackend(BaseSmsBackend):
    """Appends ``{"to", "text"}`` as one JSON line to ``SMS_FILE_PATH``."""

    _lock = threading.Lock()

    def __init__(self, path: Path | str | None = None) -> None:
        self.path = Path(path or settings.SMS_FILE_PATH)

    def send(self, phone: str, text: str) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        line = json.dumps({"to": phone, "text": text}, ensure_ascii=False) + "\n"
        # One write in append mode: lines from several workers do not interleave.
        with self._lock, self.path.open("a", encoding="utf-8") as file:
            file.write(line)


# What LocmemBackend sent, like django.core.mail.outbox; tests empty it.
outbox: list[dict[str, str]] = []


class LocmemBackend(BaseSmsBackend):
    """Keeps messages in ``notifications.sms.outbox``, for tests."""

    def send(self, phone: str, text: str) -> None:
        outbox.append({"to": phone, "text": text})


class HttpGatewayBackend(BaseSmsBackend):
    """POSTs ``{"to", "text"}`` as JSON to ``SMS_GATEWAY_URL``.

    With ``SMS_GATEWAY_TOKEN`` set, it goes as ``Authorization: Bearer …``. Any answer
    other than 2xx, a timeout or a network error raises, so the message is retried.
    """

    def __init__(self, url: str | None = None, token: str | None = None) -> None:
        self.url = url if url is not None else settings.SMS_GATEWAY_URL
        self.token = token if token is not None else settings.SMS_GATEWAY_TOKEN
        if not self.url.startswith(("http://", "https://")):
            raise SmsError(f"SMS_GATEWAY_URL must be an http(s) URL, not {self.url!r}")

    def send(self, phone: str, text: str) -> None:
        headers = {"Content-Type": "application/json; charset=utf-8"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        request = urllib.request.Request(  # noqa: S310 (the scheme is checked above)
            self.url,
            data=json.dumps({"to": phone, "text": text}, ensure_ascii=False).encode(),
            headers=headers,
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=GATEWAY_TIMEOUT) as response:  # noqa: S310
                status = response.status
        except urllib.error.HTTPError as error:
            raise SmsError(f"SMS gateway answered {error.code} {error.reason}") from error
        except (urllib.error.URLError, TimeoutError, OSError) as error:
            raise SmsError(f"SMS gateway not reachable: {error}") from error
        if not 200 <= status < 300:
            raise SmsError(f"SMS gateway answered {status}")


def get_backend() -> BaseSmsBackend:
    """A new instance of the configured ``SMS_BACKEND``."""
    backend: BaseSmsBackend = import_string(settings.SMS_BACKEND)()
    return backend

"""The container health checks: `check_heartbeat` for worker and beat, `ops.probe` for web."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer
from io import StringIO
from typing import Any

import pytest
import time_machine
from django.core.management import CommandError, call_command
from django.utils import timezone

from ops import probe
from ops.models import Heartbeat


def check(process: str) -> str:
    out = StringIO()
    call_command("check_heartbeat", process, stdout=out)
    return out.getvalue()


@pytest.mark.django_db
@pytest.mark.parametrize("process", ["worker", "beat"])
class TestCheckHeartbeat:
    def test_a_fresh_heartbeat_passes(self, process: str) -> None:
        Heartbeat.beat(Heartbeat.Process(process))
        assert check(process).startswith(f"{process}: last heartbeat")

    def test_no_heartbeat_yet_fails(self, process: str) -> None:
        with pytest.raises(CommandError, match="no heartbeat"):
            check(process)

    def test_a_stale_heartbeat_fails(self, process: str, settings: Any) -> None:
        Heartbeat.beat(Heartbeat.Process(process))
        later = timezone.now() + timedelta(seconds=settings.HEARTBEAT_STALE_AFTER + 1)
        with time_machine.travel(later, tick=False), pytest.raises(CommandError, match="stale"):
            check(process)

    def test_only_its_own_heartbeat_counts(self, process: str) -> None:
        other = "beat" if process == "worker" else "worker"
        Heartbeat.beat(Heartbeat.Process(other))
        with pytest.raises(CommandError):
            check(process)


def test_an_unknown_process_is_refused() -> None:
    with pytest.raises(CommandError):
        check("web")


# --- The web probe ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("allowed", "host"),
    [
        ("sutong.example.gov.cn,localhost", "sutong.example.gov.cn"),
        (".example.org", "example.org"),
        ("*", "localhost"),
        ("", "localhost"),
    ],
)
def test_the_probe_asks_with_an_allowed_host_name(allowed: str, host: str) -> None:
    assert probe.host_header(allowed) == host


class _Healthz(BaseHTTPRequestHandler):
    status = 200
    hosts: list[str] = []

    def do_GET(self) -> None:
        _Healthz.hosts.append(self.headers["Host"])
        self.send_response(self.status if self.path == "/healthz" else 404)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def healthz() -> Iterator[HTTPServer]:
    server = HTTPServer(("127.0.0.1", 0), _Healthz)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        _Healthz.status, _Healthz.hosts = 200, []


@pytest.mark.parametrize(("status", "exit_code"), [(200, 0), (503, 1)])
def test_the_probe_passes_only_on_200(
    healthz: HTTPServer, monkeypatch: pytest.MonkeyPatch, status: int, exit_code: int
) -> None:
    _Healthz.status = status
    monkeypatch.setenv("PROBE_PORT", str(healthz.server_address[1]))
    monkeypatch.setenv("ALLOWED_HOSTS", "sutong.example.gov.cn")
    assert probe.main() == exit_code
    assert _Healthz.hosts == ["sutong.example.gov.cn"]


def test_the_probe_fails_when_nothing_answers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PROBE_PORT", "1")  # nothing listens on port 1
    assert probe.main() == 1

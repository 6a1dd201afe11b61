"""``bench.load``'s pacing: a run asked for a rate offers that rate — not the peak, and
not less by the time the answers take — so "p99 at 70 % of peak" (``bench.intake``,
``make chaos``) is measured at 70 %. Needs Debian's ``wrk``; skipped without it."""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from bench import load

pytestmark = pytest.mark.skipif(
    shutil.which("wrk") is None, reason="needs wrk (apt-get install wrk)"
)


class SlowAnswer(BaseHTTPRequestHandler):
    """Answers every request after 20 ms, as a busy application would."""

    protocol_version = "HTTP/1.1"  # keep-alive, as wrk expects

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        time.sleep(0.02)
        self.send_response(201)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), SlowAnswer)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/intake/"
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_a_paced_run_offers_the_rate_it_was_asked_for(server: str) -> None:
    target = load.Target("paced", "POST", server, body='{"n": "@N@"}', ok=(201,))
    # 8 connections answered in 20 ms each could reach 400/s; asked for 40/s, the old
    # pauses of connections / rate gave ~35/s, and a run not paced at all runs flat out.
    flat_out = load.hammer(target, seconds=2, connections=8)
    trial, paced = load.at_rate(target, rate=40, seconds=4, connections=8)

    assert flat_out.rate > 60, flat_out.rate  # the pacing, not the server, holds it to 40
    for run in (trial, paced):
        assert set(run.statuses) == {201}
        assert 40 * 0.85 <= run.rate <= 40 * 1.1, run.rate
    # Each request is answered in about the server's time: paced, not queued.
    assert paced.p50_ms < 100

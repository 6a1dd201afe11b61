"""SMS backends: the file the embedded default writes, and the HTTP gateway."""

from __future__ import annotations

import io
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from notifications import sms


def test_the_file_backend_appends_one_json_line_per_message(tmp_path: Path) -> None:
    path = tmp_path / "sms" / "outbox.jsonl"
    backend = sms.FileBackend(path)
    backend.send("13812345678", "您的投诉已受理")
    backend.send("13900000001", "second\nline")

    lines = path.read_text(encoding="utf-8").splitlines()
    assert [json.loads(line) for line in lines] == [
        {"to": "13812345678", "text": "您的投诉已受理"},
        {"to": "13900000001", "text": "second\nline"},
    ]


def test_the_file_backend_writes_where_the_settings_say(tmp_path: Path, settings: Any) -> None:
    settings.SMS_FILE_PATH = tmp_path / "out.jsonl"
    settings.SMS_BACKEND = "notifications.sms.FileBackend"
    sms.get_backend().send("1", "x")
    assert (tmp_path / "out.jsonl").exists()


def test_the_console_backend_prints() -> None:
    stream = io.StringIO()
    sms.ConsoleBackend(stream).send("13812345678", "hello")
    assert "SMS to 13812345678:\nhello" in stream.getvalue()


class Gateway(BaseHTTPRequestHandler):
    received: list[dict[str, Any]]
    status = 200

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.received.append(
            {"json": json.loads(body), "authorization": self.headers.get("Authorization")}
        )
        self.send_response(self.status)
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def gateway() -> Iterator[tuple[str, type[Gateway]]]:
    handler = type("TestGateway", (Gateway,), {"received": [], "status": 200})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/send", handler
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY"):
        monkeypatch.delenv(name, raising=False)


def test_the_gateway_gets_json_and_the_bearer_token(gateway: tuple[str, type[Gateway]]) -> None:
    url, handler = gateway
    sms.HttpGatewayBackend(url, "s3cret").send("13812345678", "您好")
    assert handler.received == [
        {"json": {"to": "13812345678", "text": "您好"}, "authorization": "Bearer s3cret"}
    ]


def test_without_a_token_no_authorization_is_sent(gateway: tuple[str, type[Gateway]]) -> None:
    url, handler = gateway
    sms.HttpGatewayBackend(url, "").send("1", "x")
    assert handler.received[0]["authorization"] is None


def test_a_gateway_error_raises_so_the_message_is_retried(
    gateway: tuple[str, type[Gateway]],
) -> None:
    url, handler = gateway
    handler.status = 503
    with pytest.raises(sms.SmsError, match="503"):
        sms.HttpGatewayBackend(url, "").send("1", "x")


def test_an_unreachable_gateway_raises(gateway: tuple[str, type[Gateway]]) -> None:
    url, _ = gateway
    closed = url.rsplit(":", 1)[0] + ":1/send"  # nothing listens on port 1
    with pytest.raises(sms.SmsError, match="not reachable"):
        sms.HttpGatewayBackend(closed, "").send("1", "x")


def test_the_gateway_url_must_be_http(settings: Any) -> None:
    settings.SMS_GATEWAY_URL = "file:///etc/passwd"
    with pytest.raises(sms.SmsError, match="http"):
        sms.HttpGatewayBackend()

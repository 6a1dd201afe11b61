"""A TCP proxy a chaos test can cut: Sutong talks to PostgreSQL or Redis through it.

    with Proxy(5432) as db:                      # listens on 127.0.0.1:<db.port>
        env = {"DATABASE_URL": f"postgres://postgres@127.0.0.1:{db.port}/name"}
        ...
        db.cut()        # existing connections reset, new ones refused
        db.restore()    # new connections forwarded again

``Portal`` is a browser on the citizen portal (cookies and CSRF token), for the tests
that submit through the HTML form as well as through the API.

The machine's own services are never touched: other tests and people use them. A cut
closes the listening socket (so a connect is refused at once, as when the server is down)
and resets every forwarded connection with SO_LINGER 0 (as when it crashed); restoring
listens again on the same port.
"""

from __future__ import annotations

import contextlib
import http.cookiejar
import select
import socket
import struct
import threading
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from types import TracebackType
from typing import Any

from bench import load


def _reset(sock: socket.socket) -> None:
    """Close with a TCP RST, not a polite FIN: the peer sees "connection reset"."""
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    with contextlib.suppress(OSError):
        sock.close()


class Proxy:
    """Forwards 127.0.0.1:``port`` to 127.0.0.1:``target`` until cut."""

    def __init__(self, target: int, *, host: str = "127.0.0.1") -> None:
        self.target = (host, target)
        self.port = load.free_port()
        self._lock = threading.Lock()
        self._pairs: set[tuple[socket.socket, socket.socket]] = set()
        self._listener: socket.socket | None = None
        self._accepting: threading.Thread | None = None
        self.connections = 0  # forwarded since the start, for a test's curiosity

    # --- switching ----------------------------------------------------------------------

    @property
    def up(self) -> bool:
        return self._listener is not None

    def restore(self) -> None:
        """Accept and forward new connections (again)."""
        with self._lock:
            if self._listener is not None:
                return
            listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            listener.bind(("127.0.0.1", self.port))
            listener.listen(128)
            self._listener = listener
        self._accepting = threading.Thread(target=self._accept, args=(listener,), daemon=True)
        self._accepting.start()

    def cut(self) -> None:
        """Refuse new connections and reset every open one."""
        with self._lock:
            listener, self._listener = self._listener, None
            pairs, self._pairs = self._pairs, set()
        if listener is not None:
            # shutdown() wakes the accept() blocked in the other thread.
            with contextlib.suppress(OSError):
                listener.shutdown(socket.SHUT_RDWR)
            listener.close()
        if self._accepting is not None:
            self._accepting.join(timeout=5)
            self._accepting = None
        for client, server in pairs:
            _reset(client)
            _reset(server)

    def __enter__(self) -> Proxy:
        self.restore()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.cut()

    # --- forwarding ---------------------------------------------------------------------

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # cut
            try:
                server = socket.create_connection(self.target, timeout=5)
            except OSError:
                _reset(client)
                continue
            server.settimeout(None)
            with self._lock:
                if self._listener is not listener:  # cut while we connected
                    _reset(client)
                    _reset(server)
                    return
                self._pairs.add((client, server))
                self.connections += 1
            threading.Thread(target=self._pump, args=(client, server), daemon=True).start()

    def _pump(self, client: socket.socket, server: socket.socket) -> None:
        """Copy bytes both ways until either side closes (or the pair is reset)."""
        peers = {client: server, server: client}
        try:
            while True:
                readable, _, _ = select.select(list(peers), [], [], 1.0)
                for sock in readable:
                    data = sock.recv(65536)
                    if not data:
                        return
                    peers[sock].sendall(data)
        except (OSError, ValueError):  # reset by cut(), or closed under us
            return
        finally:
            with self._lock:
                self._pairs.discard((client, server))
            for sock in (client, server):
                with contextlib.suppress(OSError):
                    sock.close()


class Portal:
    """A browser on the citizen portal: keeps cookies, sends the CSRF token, does not
    follow redirects (a submission's answer is its 302, not the page after it)."""

    def __init__(self, base: str, *, language: str = "zh-hans") -> None:
        self.base = base
        self.language = language
        self.cookies = http.cookiejar.CookieJar()

        class NoRedirect(urllib.request.HTTPRedirectHandler):
            def redirect_request(self, *args: Any, **kwargs: Any) -> None:
                return None

        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(self.cookies), NoRedirect()
        )

    def request(
        self, path: str, form: Mapping[str, str] | None = None, *, timeout: float = 30.0
    ) -> tuple[int, dict[str, str], str]:
        """GET (or POST ``form``) ``path``; (status, headers, text). Errors are returned."""
        data = None
        headers = {"Accept-Language": self.language}
        if form is not None:
            data = urllib.parse.urlencode({**form, "csrfmiddlewaretoken": self.csrf}).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        request = urllib.request.Request(self.base + path, data=data, headers=headers)  # noqa: S310
        try:
            with self.opener.open(request, timeout=timeout) as answer:
                return answer.status, dict(answer.headers), answer.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, dict(error.headers), error.read().decode("utf-8", "replace")

    @property
    def csrf(self) -> str:
        for cookie in self.cookies:
            if cookie.name == "csrftoken":
                return cookie.value or ""
        raise LookupError("no CSRF cookie yet: GET a form page first")

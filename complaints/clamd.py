"""A client of ClamAV's daemon, speaking its INSTREAM protocol over a socket.

Pure Python, no library: the protocol is four commands' worth of bytes. A scan sends
``zINSTREAM\\0``, then the file in chunks, each prefixed by its length as a 4-byte
big-endian integer, then a zero length; clamd answers one NUL-terminated line:

    stream: OK
    stream: Eicar-Signature FOUND
    INSTREAM size limit exceeded. ERROR

The address is clamd's unix socket path, or ``tcp://host:port``. Every socket operation
has a timeout, so a hung daemon costs a retry, never a stuck worker.
"""

from __future__ import annotations

import socket
import struct
from collections.abc import Iterable
from dataclasses import dataclass
from enum import Enum
from typing import IO
from urllib.parse import urlsplit

CHUNK = 64 * 1024


class ScannerUnavailable(Exception):
    """clamd could not be reached or stopped answering: try again later."""


class Outcome(Enum):
    CLEAN = "clean"
    INFECTED = "infected"
    ERROR = "error"


@dataclass(frozen=True)
class Verdict:
    outcome: Outcome
    # The signature's name (infected) or clamd's message (error); "" when clean.
    detail: str = ""


def parse_reply(line: str) -> Verdict:
    """clamd's answer to one INSTREAM, as a verdict."""
    text = line.strip().rstrip("\x00").strip()
    if text.endswith(" ERROR"):
        return Verdict(Outcome.ERROR, text[: -len(" ERROR")].strip())
    _, _, result = text.partition(": ")
    if result == "OK":
        return Verdict(Outcome.CLEAN)
    if result.endswith(" FOUND"):
        return Verdict(Outcome.INFECTED, result[: -len(" FOUND")].strip())
    # Anything else is not an answer we understand: never read it as clean.
    return Verdict(Outcome.ERROR, text or "empty answer")


class Clamd:
    def __init__(self, address: str, *, timeout: float = 30.0) -> None:
        self.address = address
        self.timeout = timeout

    def _connect(self) -> socket.socket:
        try:
            if self.address.startswith("tcp://"):
                parts = urlsplit(self.address)
                if not parts.hostname or not parts.port:
                    raise ScannerUnavailable(f"not a host:port address: {self.address}")
                return socket.create_connection((parts.hostname, parts.port), timeout=self.timeout)
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.settimeout(self.timeout)
            try:
                sock.connect(self.address)
            except OSError:
                sock.close()
                raise
            return sock
        except OSError as error:
            raise ScannerUnavailable(f"clamd at {self.address}: {error}") from error

    @staticmethod
    def _read_reply(sock: socket.socket) -> str:
        data = b""
        while not data.endswith(b"\x00"):
            part = sock.recv(4096)
            if not part:
                break
            data += part
        return data.decode("utf-8", "replace")

    def ping(self) -> bool:
        try:
            with self._connect() as sock:
                sock.sendall(b"zPING\x00")
                return self._read_reply(sock).rstrip("\x00") == "PONG"
        except (ScannerUnavailable, OSError):
            return False

    def scan_chunks(self, chunks: Iterable[bytes]) -> Verdict:
        """Stream the bytes to clamd and return its verdict.

        Raises ``ScannerUnavailable`` when clamd cannot be reached, times out or hangs up
        without an answer; a clamd that refuses the stream (too large) answers ERROR.
        """
        with self._connect() as sock:
            try:
                sock.sendall(b"zINSTREAM\x00")
                for chunk in chunks:
                    for start in range(0, len(chunk), CHUNK):
                        piece = chunk[start : start + CHUNK]
                        sock.sendall(struct.pack("!L", len(piece)) + piece)
                sock.sendall(struct.pack("!L", 0))
            except OSError as error:
                # clamd hangs up on a stream over its StreamMaxLength, after saying why.
                reply = self._reply_after_hangup(sock)
                if reply:
                    return parse_reply(reply)
                raise ScannerUnavailable(f"clamd at {self.address}: {error}") from error
            try:
                reply = self._read_reply(sock)
            except OSError as error:
                raise ScannerUnavailable(f"clamd at {self.address}: {error}") from error
        if not reply:
            raise ScannerUnavailable(f"clamd at {self.address} closed without an answer")
        return parse_reply(reply)

    def scan_file(self, file: IO[bytes]) -> Verdict:
        return self.scan_chunks(iter(lambda: file.read(CHUNK), b""))

    def _reply_after_hangup(self, sock: socket.socket) -> str:
        try:
            return self._read_reply(sock)
        except OSError:
            return ""

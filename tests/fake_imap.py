"""A small fake IMAP4rev1 server, in a thread on 127.0.0.1, for tests of e-mail intake.

It speaks just what ``imaplib`` and the poller (intake.email.imap) use: CAPABILITY,
LOGIN, SELECT, UID SEARCH, UID FETCH, UID STORE, UID COPY, EXPUNGE, NOOP and LOGOUT.
``Mailbox.commands`` names every command received, ``Mailbox.log`` adds its arguments,
and ``Mailbox.before`` (if set) is called with each command before it is carried out —
a chaos test holds the poller there to kill it at a chosen moment (and raises ``Hangup``
so that the dead client's command is never carried out).

    with serving(Mailbox()) as (server, port): ...
"""

from __future__ import annotations

import contextlib
import re
import socketserver
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

USER, PASSWORD = "xinfang", "s3cret pass"
INTERNALDATE = "17-Jul-2026 10:44:25 +0800"


class Hangup(Exception):
    """Raised by ``Mailbox.before``: drop the connection without carrying out the command."""


@dataclass
class StoredMessage:
    uid: int
    raw: bytes
    flags: set[str] = field(default_factory=set)


@dataclass
class Mailbox:
    messages: list[StoredMessage] = field(default_factory=list)
    copied: dict[str, list[bytes]] = field(default_factory=dict)
    commands: list[str] = field(default_factory=list)
    log: list[tuple[str, str]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    # Called with (command, arguments) before the command is carried out; may block.
    before: Callable[[str, str], None] | None = None

    def add(self, raw: bytes) -> None:
        uid = max((m.uid for m in self.messages), default=0) + 1
        self.messages.append(StoredMessage(uid, raw))

    def find(self, uid: str) -> tuple[int, StoredMessage] | None:
        for number, message in enumerate(self.messages, start=1):
            if str(message.uid) == uid:
                return number, message
        return None


class FakeImapHandler(socketserver.StreamRequestHandler):
    server: FakeImapServer

    def send(self, line: bytes | str) -> None:
        self.wfile.write((line.encode() if isinstance(line, str) else line) + b"\r\n")

    def handle(self) -> None:
        box = self.server.mailbox
        self.send("* OK [CAPABILITY IMAP4rev1] fake IMAP ready")
        while line := self.rfile.readline():
            tag, _, rest = line.decode("utf-8", "replace").rstrip("\r\n").partition(" ")
            command, _, args = rest.partition(" ")
            command = command.upper()
            if command == "UID":
                command, _, args = args.partition(" ")
                command = "UID " + command.upper()
            if box.before is not None:
                try:
                    box.before(command, args)
                except Hangup:
                    return  # the command is not carried out; the connection closes
            with box.lock:
                box.commands.append(command)
                box.log.append((command, args))
                done = self.dispatch(box, tag, command, args)
            if done:
                return

    def dispatch(self, box: Mailbox, tag: str, command: str, args: str) -> bool:
        if command == "CAPABILITY":
            self.send("* CAPABILITY IMAP4rev1")
        elif command == "NOOP":
            pass
        elif command == "LOGIN":
            user, _, password = args.partition(" ")
            if (user.strip('"'), password.strip('"')) != (USER, PASSWORD):
                self.send(f"{tag} NO [AUTHENTICATIONFAILED] wrong user or password")
                return False
        elif command == "SELECT":
            self.send(f"* {len(box.messages)} EXISTS")
            self.send("* OK [UIDVALIDITY 1] UIDs valid")
            self.send(f"{tag} OK [READ-WRITE] SELECT completed")
            return False
        elif command == "UID SEARCH":
            wanted = [m for m in box.messages if "\\Deleted" not in m.flags]
            self.send("* SEARCH" + "".join(f" {m.uid}" for m in wanted))
        elif command == "UID FETCH":
            uid, _, _items = args.partition(" ")
            if found := box.find(uid):
                number, message = found
                self.send(
                    f'* {number} FETCH (UID {message.uid} INTERNALDATE "{INTERNALDATE}" '
                    f"BODY[] {{{len(message.raw)}}}"
                )
                self.wfile.write(message.raw)
                self.send(")")
        elif command == "UID STORE":
            uid, _, change = args.partition(" ")
            if found := box.find(uid):
                number, message = found
                flags = set(re.findall(r"\\\w+", change))
                message.flags |= flags
                flag_list = " ".join(sorted(message.flags))
                self.send(f"* {number} FETCH (UID {message.uid} FLAGS ({flag_list}))")
        elif command == "UID COPY":
            uid, _, folder = args.partition(" ")
            if found := box.find(uid):
                box.copied.setdefault(folder.strip('"'), []).append(found[1].raw)
        elif command == "EXPUNGE":
            number = 1
            for message in list(box.messages):
                if "\\Deleted" in message.flags:
                    box.messages.remove(message)
                    self.send(f"* {number} EXPUNGE")
                else:
                    number += 1
        elif command == "LOGOUT":
            self.send("* BYE fake IMAP closing")
            self.send(f"{tag} OK LOGOUT completed")
            return True
        else:
            self.send(f"{tag} BAD unknown command {command}")
            return False
        self.send(f"{tag} OK {command} completed")
        return False


class FakeImapServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, mailbox: Mailbox) -> None:
        super().__init__(("127.0.0.1", 0), FakeImapHandler)
        self.mailbox = mailbox


@contextlib.contextmanager
def serving(mailbox: Mailbox) -> Iterator[tuple[FakeImapServer, int]]:
    """The server in a thread for the ``with`` block; yields it and its port."""
    fake = FakeImapServer(mailbox)
    thread = threading.Thread(target=fake.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield fake, fake.server_address[1]
    finally:
        fake.shutdown()
        fake.server_close()
        thread.join(timeout=10)

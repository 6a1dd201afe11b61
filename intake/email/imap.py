"""Polling a mailbox over IMAP (stdlib ``imaplib``) and taking in what it holds.

Each message is fetched by UID, ingested, and only after ``ingest`` has returned — that
is, after its outcome is committed — flagged ``\\Deleted`` (or moved to
``INTAKE_IMAP_PROCESSED_FOLDER``) and expunged. A crash between the commit and the
delete is harmless: the next poll fetches the message again and ingest recognises its
Message-ID. A message ingest could not store (the database is down) stays in the
mailbox for the next poll.

Two overlapping polls of one mailbox are kept apart by a cache lock (``cache.add`` with
a timeout, so a crashed poller cannot hold it for ever). On Redis the lock is atomic; the
file-based cache of the embedded default is only nearly so, and there the Message-ID
check is what keeps a rare double fetch from doing anything twice.

Settings, read when polling so they may be added at any time (defaults in brackets):
``INTAKE_IMAP_HOST`` (none: polling is off), ``INTAKE_IMAP_PORT`` [993 for ssl, else
143], ``INTAKE_IMAP_USER``, ``INTAKE_IMAP_PASSWORD``, ``INTAKE_IMAP_FOLDER`` [INBOX],
``INTAKE_IMAP_SECURITY`` ssl | starttls | none [ssl], ``INTAKE_IMAP_PROCESSED_FOLDER``
[none: delete], ``INTAKE_IMAP_TIMEOUT`` seconds [30], ``INTAKE_IMAP_BATCH`` messages per
poll [100], ``INTAKE_IMAP_LOCK_SECONDS`` [900].
"""

from __future__ import annotations

import base64
import contextlib
import imaplib
import logging
import re
import secrets
import ssl
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ImproperlyConfigured

from intake.email.ingest import RETRY_LATER, ingest

logger = logging.getLogger(__name__)

SECURITY_CHOICES = ("ssl", "starttls", "none")


@dataclass(frozen=True)
class ImapSettings:
    host: str
    port: int
    user: str
    password: str
    folder: str = "INBOX"
    security: str = "ssl"
    processed_folder: str = ""
    timeout: float = 30.0
    batch: int = 100
    lock_seconds: int = 900

    @classmethod
    def from_settings(cls) -> ImapSettings | None:
        """The configured mailbox, or None when ``INTAKE_IMAP_HOST`` is not set."""
        host = str(getattr(settings, "INTAKE_IMAP_HOST", "") or "").strip()
        if not host:
            return None
        security = str(getattr(settings, "INTAKE_IMAP_SECURITY", "ssl") or "ssl").lower()
        if security not in SECURITY_CHOICES:
            raise ImproperlyConfigured(
                f"INTAKE_IMAP_SECURITY={security!r}: use one of {', '.join(SECURITY_CHOICES)}"
            )
        port = int(getattr(settings, "INTAKE_IMAP_PORT", 0) or 0)
        return cls(
            host=host,
            port=port or (993 if security == "ssl" else 143),
            user=str(getattr(settings, "INTAKE_IMAP_USER", "") or ""),
            password=str(getattr(settings, "INTAKE_IMAP_PASSWORD", "") or ""),
            folder=str(getattr(settings, "INTAKE_IMAP_FOLDER", "") or "INBOX"),
            security=security,
            processed_folder=str(getattr(settings, "INTAKE_IMAP_PROCESSED_FOLDER", "") or ""),
            timeout=float(getattr(settings, "INTAKE_IMAP_TIMEOUT", 30) or 30),
            batch=max(1, int(getattr(settings, "INTAKE_IMAP_BATCH", 100) or 100)),
            lock_seconds=max(60, int(getattr(settings, "INTAKE_IMAP_LOCK_SECONDS", 900) or 900)),
        )


@dataclass
class PollReport:
    """What one poll did; ``outcomes`` counts ingest outcomes (``retry_later`` included)."""

    configured: bool = True
    locked: bool = False  # another poll of this mailbox was running; this one did nothing
    fetched: int = 0
    removed: int = 0  # deleted or moved after their outcome was committed
    left: int = 0  # still in the mailbox, for the next poll
    outcomes: Counter[str] = field(default_factory=Counter)
    error: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "configured": self.configured,
            "locked": self.locked,
            "fetched": self.fetched,
            "removed": self.removed,
            "left": self.left,
            "outcomes": dict(self.outcomes),
            "error": self.error,
        }


def poll_mailbox(config: ImapSettings | None = None) -> PollReport:
    """Take in every message waiting in the configured mailbox (at most one batch)."""
    config = config or ImapSettings.from_settings()
    if config is None:
        return PollReport(configured=False)
    key = lock_key(config)
    token = secrets.token_hex(8)
    if not cache.add(key, token, timeout=config.lock_seconds):
        logger.info("Another poll of %s is running; skipping this one", config.host)
        return PollReport(locked=True)
    try:
        return _poll(config)
    finally:
        # Release only our own lock: if it expired and another poll took it, keep theirs.
        if cache.get(key) == token:
            cache.delete(key)


def lock_key(config: ImapSettings) -> str:
    """The cache key that keeps two polls of one mailbox apart."""
    return f"intake:imap-poll:{config.user}@{config.host}:{config.port}/{config.folder}"


def connect(config: ImapSettings) -> imaplib.IMAP4:
    """An IMAP connection, secured as configured, not yet logged in."""
    if config.security == "ssl":
        return imaplib.IMAP4_SSL(
            config.host,
            config.port,
            ssl_context=ssl.create_default_context(),
            timeout=config.timeout,
        )
    client = imaplib.IMAP4(config.host, config.port, timeout=config.timeout)
    if config.security == "starttls":
        client.starttls(ssl_context=ssl.create_default_context())
    return client


def _poll(config: ImapSettings) -> PollReport:
    report = PollReport()
    try:
        client = connect(config)
    except (OSError, imaplib.IMAP4.error) as error:
        logger.warning("Cannot reach the mailbox %s: %s", config.host, error)
        report.error = str(error)
        return report
    try:
        _check(client.login(config.user, config.password), "LOGIN")
        _check(client.select(encode_mailbox(config.folder)), "SELECT")
        uids = _search(client)
        capabilities = {str(c).upper() for c in client.capabilities}
        removed_any = False
        for index, uid in enumerate(uids[: config.batch]):
            raw, received_at = _fetch(client, uid)
            report.fetched += 1
            result = ingest(raw, received_at=received_at) if raw is not None else None
            outcome = result.outcome if result else "unreadable"
            report.outcomes[outcome] += 1
            if result is None or not result.stored:
                # Not stored: leave it (and, if the database is down, everything after it).
                report.left += 1
                if result is not None and result.outcome == RETRY_LATER:
                    report.left += len(uids[index + 1 : config.batch])
                    break
                continue
            _remove(client, uid, config, capabilities)
            report.removed += 1
            removed_any = True
        report.left += max(0, len(uids) - config.batch)
        if removed_any:
            _check(client.expunge(), "EXPUNGE")
    except (OSError, imaplib.IMAP4.error) as error:
        # Whatever was removed so far was committed first; the rest waits for next time.
        logger.warning("Polling %s stopped: %s", config.host, error)
        report.error = str(error)
    finally:
        with contextlib.suppress(OSError, imaplib.IMAP4.error):
            client.logout()
    return report


def _check(response: tuple[str, Any], what: str) -> Any:
    status, data = response
    if status != "OK":
        raise imaplib.IMAP4.error(f"{what} failed: {data!r}")
    return data


def _search(client: imaplib.IMAP4) -> list[str]:
    # UNDELETED: a message flagged by a poll that crashed before expunging was already
    # taken in; the next expunge removes it.
    data = _check(client.uid("SEARCH", "UNDELETED"), "UID SEARCH")
    found: list[str] = []
    for line in data or []:
        if isinstance(line, bytes):
            found += [uid.decode("ascii") for uid in line.split() if uid.isdigit()]
    return sorted(found, key=int)


_INTERNALDATE = re.compile(rb'INTERNALDATE "([^"]+)"')


def _fetch(client: imaplib.IMAP4, uid: str) -> tuple[bytes | None, datetime | None]:
    """The message's bytes (without setting \\Seen) and when the server received it."""
    data = _check(client.uid("FETCH", uid, "(INTERNALDATE BODY.PEEK[])"), "UID FETCH")
    raw: bytes | None = None
    received_at: datetime | None = None
    for item in data or []:
        if isinstance(item, tuple) and len(item) >= 2:
            raw = bytes(item[1])
            received_at = _internal_date(item[0]) or received_at
        elif isinstance(item, bytes):
            received_at = _internal_date(item) or received_at
    return raw, received_at


def _internal_date(response: bytes) -> datetime | None:
    match = _INTERNALDATE.search(response or b"")
    if not match:
        return None
    parsed = imaplib.Internaldate2tuple(b'INTERNALDATE "' + match.group(1) + b'"')
    if parsed is None:
        return None
    return datetime.fromtimestamp(time.mktime(parsed), tz=UTC)


def _remove(client: imaplib.IMAP4, uid: str, config: ImapSettings, capabilities: set[str]) -> None:
    if config.processed_folder:
        target = encode_mailbox(config.processed_folder)
        if "MOVE" in capabilities:
            _check(client.uid("MOVE", uid, target), "UID MOVE")
            return
        _check(client.uid("COPY", uid, target), "UID COPY")
    _check(client.uid("STORE", uid, "+FLAGS", r"(\Deleted)"), "UID STORE")


# --- Mailbox names ----------------------------------------------------------------------


def encode_mailbox(name: str) -> str:
    """A mailbox name as IMAP wants it: modified UTF-7 (RFC 3501 §5.1.3), quoted."""
    out: list[str] = []
    pending: list[str] = []

    def flush() -> None:
        if pending:
            encoded = base64.b64encode("".join(pending).encode("utf-16-be")).decode("ascii")
            out.append("&" + encoded.rstrip("=").replace("/", ",") + "-")
            pending.clear()

    for char in name:
        if 0x20 <= ord(char) <= 0x7E:
            flush()
            out.append("&-" if char == "&" else char)
        else:
            pending.append(char)
    flush()
    text = "".join(out)
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'

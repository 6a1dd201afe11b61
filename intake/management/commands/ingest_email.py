"""Take in one e-mail from standard input: ``manage.py ingest_email < message.eml``.

Meant for an MTA pipe (Postfix ``pipe``/aliases, Exim, …). It prints one line — the
outcome and, when there is one, the complaint's tracking code — and exits 0 whenever the
message is safe: a new complaint, an addition, ignored automatic mail, a duplicate, or a
dead letter kept for an administrator. Only when the database cannot be reached does it
exit 75 (EX_TEMPFAIL), so that the MTA keeps the message and tries again later.
"""

from __future__ import annotations

import sys
from typing import IO, Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from intake.email.ingest import RETRY_LATER, IngestResult, ingest

EX_TEMPFAIL = 75


class Command(BaseCommand):
    help = "Read one e-mail message (RFC 5322 bytes) from standard input and take it in."
    # call_command("ingest_email", stdin=io.BytesIO(raw)) in tests and tools.
    stealth_options = ("stdin",)

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--file", help="read the message from this file instead of standard input"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options.get("file"):
            with open(options["file"], "rb") as handle:
                raw = handle.read()
        else:
            raw = _read_all(options.get("stdin") or sys.stdin)
        result = ingest(raw)
        self.stdout.write(describe(result))
        if result.outcome == RETRY_LATER:
            raise CommandError(
                "database unavailable; the message was not stored", returncode=EX_TEMPFAIL
            )


def _read_all(stream: IO[Any]) -> bytes:
    """Every byte of the stream; a text stream is read through its binary buffer."""
    source = getattr(stream, "buffer", stream)
    data = source.read()
    if isinstance(data, str):  # a text stream without a buffer (e.g. io.StringIO)
        return data.encode("utf-8", "surrogateescape")
    return bytes(data)


def describe(result: IngestResult) -> str:
    """One line for the MTA's log: ``created TS-2026-7KQ3M9XA``, ``duplicate ignored …``."""
    words = ["duplicate"] if result.duplicate else []
    words.append(result.outcome)
    if result.tracking_code:
        words.append(result.tracking_code)
    if result.dead_letter is not None:
        words.append(f"dead-letter#{result.dead_letter.pk}")
    if result.inbound is not None and result.inbound.reason and not result.tracking_code:
        words.append(f"({result.inbound.reason})")
    if result.outcome == RETRY_LATER and result.error:
        words.append(f"({result.error.strip()})")
    # One line, whatever the error text holds.
    return " ".join(" ".join(words).split())

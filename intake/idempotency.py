"""Idempotency keys for channel clients: a retry gets the first answer, never a second complaint.

A key moves through two states. ``begin`` claims it in its own committed transaction
(so a concurrent duplicate sees the claim at once and gets 409); ``finish`` stores the
answer in the same transaction as the complaint, so an answer exists exactly when the
complaint does. A claim whose request died is taken over after ``IN_FLIGHT_TIMEOUT``.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from complaints.models import Complaint
from intake.models import ChannelClient, IdempotencyRecord

IN_FLIGHT_TIMEOUT = timedelta(minutes=2)
MAX_KEY_LENGTH = 255


def fingerprint(data: Any) -> str:
    """A hash of the request's meaning (not its bytes: multipart boundaries differ)."""
    canonical = json.dumps(data, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def valid_key(key: str) -> bool:
    return 0 < len(key) <= MAX_KEY_LENGTH and key.isprintable() and key.isascii()


@dataclass(frozen=True)
class Claim:
    """What ``begin`` found: a fresh claim to work under, or the reason not to."""

    record: IdempotencyRecord | None = None
    replay: IdempotencyRecord | None = None
    conflict: bool = False  # same key, different request
    in_flight: bool = False  # same key, first request still running


def begin(client: ChannelClient, key: str, request_hash: str) -> Claim:
    try:
        with transaction.atomic():
            record = IdempotencyRecord.objects.create(
                client=client, key=key, request_hash=request_hash
            )
        return Claim(record=record)
    except IntegrityError:
        pass
    with transaction.atomic():
        existing = IdempotencyRecord.objects.select_for_update().get(client=client, key=key)
        if existing.request_hash != request_hash:
            return Claim(conflict=True)
        if existing.state == IdempotencyRecord.State.DONE:
            return Claim(replay=existing)
        if timezone.now() - existing.created_at < IN_FLIGHT_TIMEOUT:
            return Claim(in_flight=True)
        # The first request died without an answer (nothing was committed with it).
        existing.created_at = timezone.now()
        existing.save(update_fields=["created_at"])
        return Claim(record=existing)


def finish(
    record: IdempotencyRecord, *, status: int, body: dict[str, Any], complaint: Complaint
) -> None:
    """Store the answer; call inside the transaction that commits the complaint."""
    record.state = IdempotencyRecord.State.DONE
    record.response_status = status
    record.response_body = body
    record.complaint = complaint
    record.save(update_fields=["state", "response_status", "response_body", "complaint"])


def release(record: IdempotencyRecord) -> None:
    """Give the key back after a refused request, so a corrected retry may use it."""
    IdempotencyRecord.objects.filter(pk=record.pk, state=IdempotencyRecord.State.IN_FLIGHT).delete()

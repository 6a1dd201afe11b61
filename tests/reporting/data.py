"""Small hand-built histories for the rollup and KPI tests: every row written directly."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any, cast
from zoneinfo import ZoneInfo

from complaints.models import Complaint, Event, Petitioner, Reply, Survey
from sla.models import Deadline
from tests.factories import ComplaintFactory, PetitionerFactory

SHANGHAI = ZoneInfo("Asia/Shanghai")


def at(day: str, clock: str = "10:00") -> datetime:
    """An aware moment in TIME_ZONE (Asia/Shanghai): ``at("2026-03-02", "09:30")``."""
    return datetime.fromisoformat(f"{day}T{clock}").replace(tzinfo=SHANGHAI)


def person(**fields: Any) -> Petitioner:
    """A petitioner with identifying values of their own unless given."""
    tag = uuid.uuid4().hex[:8]
    fields.setdefault("phone", f"139{int(tag, 16) % 10**8:08d}")
    fields.setdefault("email", f"{tag}@example.com")
    return cast(Petitioner, PetitionerFactory(**fields))


def complaint(received: datetime, **fields: Any) -> Complaint:
    fields.setdefault("petitioner", person())
    return cast(Complaint, ComplaintFactory(received_at=received, **fields))


def event(c: Complaint, kind: str, when: datetime) -> Event:
    return Event.objects.create(complaint=c, kind=kind, created_at=when)


def accepted(c: Complaint, after: timedelta) -> Event:
    return event(c, "complaint.accepted", c.received_at + after)


def replied(c: Complaint, after: timedelta) -> Event:
    return event(c, "complaint.replied", c.received_at + after)


def survey(
    c: Complaint,
    *,
    round: int = 1,
    rating: int | None = None,
    outcome: str = Survey.Outcome.SATISFIED,
) -> Survey:
    sent = c.received_at + timedelta(days=1)
    reply = Reply.objects.create(complaint=c, body="已处理。", sent_at=sent)
    answered = outcome != Survey.Outcome.NO_RESPONSE
    return Survey.objects.create(
        complaint=c,
        round=round,
        reply=reply,
        token_hash=uuid.uuid4().hex,
        sent_at=sent,
        closes_at=sent + timedelta(days=7),
        answered_at=sent + timedelta(hours=2) if answered else None,
        rating=rating,
        resolved=outcome == Survey.Outcome.SATISFIED if answered else None,
        outcome=outcome,
    )


def deadline(
    c: Complaint,
    stage: str,
    state: str,
    *,
    breached: bool = False,
) -> Deadline:
    due = c.received_at + timedelta(days=5)
    closed = state in (Deadline.State.MET, Deadline.State.MISSED, Deadline.State.CANCELLED)
    return Deadline.objects.create(
        complaint=c,
        stage=stage,
        basis="calendar",
        started_at=c.received_at,
        due_at=due,
        state=state,
        breached_at=due if breached or state == Deadline.State.MISSED else None,
        closed_at=due if closed else None,
    )

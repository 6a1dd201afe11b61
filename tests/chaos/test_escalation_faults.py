"""Escalations under faults: a worker killed in the middle of an SLA sweep, two beats and
two workers sweeping and delivering at once. Every due deadline is escalated exactly once —
one ``SlaAction`` per (deadline, level), one timeline event, one outbox row per intended
recipient and channel — and every e-mail of the outbox is sent exactly once.

The deadlines are loaded with the SLA sweep benchmark's loader (``bench.sla_sweep``):
thousands of open complaints of a ``bench`` department, each with a standard-policy
deadline; the test makes them due. Level 1 of the standard chain is at the due time, so
each due deadline escalates to level 1 once, to the department head (in-app and e-mail).
"""

from __future__ import annotations

import email
import email.header
import email.policy
import os
import signal
import time
from collections import Counter
from pathlib import Path
from typing import Any

from tests.chaos.stack import Stack, wait_for

# A sweep in small batches commits often, so a kill lands between batches and inside one.
KILL_ENV = {"SLA_SWEEP_INTERVAL": "2", "SLA_SWEEP_BATCH": "20"}
# Both beats every second: their sweeps and deliveries overlap all the time.
RACE_ENV = {"SLA_SWEEP_INTERVAL": "1", "SLA_SWEEP_BATCH": "50", "NOTIFY_SWEEP_INTERVAL": "1"}

LOAD = """
from bench.sla_sweep import _load, _people
from complaints.models import Complaint
department, _head = _people()
_load(Complaint.objects.count() + {count}, department.pk)
"""


def seed_due(sutong: Stack, count: int, *, in_seconds: float = -60.0) -> list[int]:
    """``count`` new complaints whose deadline falls due ``in_seconds`` from now (past when
    negative); the deadlines' ids. The loader's deadlines are a month away; only those not
    made due before are taken, so a test may call this twice."""
    sutong.manage("shell", "-c", LOAD.format(count=count))
    rows = sutong.query(
        "UPDATE sla_deadline SET due_at = now() + make_interval(secs => %s), warn_at = NULL, "
        "next_check_at = now() + make_interval(secs => %s) "
        "WHERE state = 'open' AND due_at > now() + interval '1 day' AND complaint_id IN "
        "(SELECT id FROM complaints_complaint WHERE tracking_code LIKE 'BN-%%') RETURNING id",
        (in_seconds, in_seconds),
    )
    assert len(rows) == count, f"{len(rows)} deadlines made due, {count} asked for"
    return [pk for (pk,) in rows]


def escalated(sutong: Stack, ids: list[int]) -> int:
    """Deadlines of ``ids`` that have an escalation action (committed)."""
    return int(
        sutong.scalar(
            "SELECT count(DISTINCT deadline_id) FROM sla_slaaction WHERE deadline_id = ANY(%s)",
            (ids,),
        )
    )


def assert_consistent(sutong: Stack, ids: list[int]) -> int:
    """Nothing half-done: a deadline moved to level 1 has its action, its event and its
    notifications, and one that was not moved has none. Returns how many were moved."""
    moved = sutong.scalar(
        "SELECT count(*) FROM sla_deadline WHERE id = ANY(%s) AND escalation_level = 1", (ids,)
    )
    complaints = sutong.scalar(
        "SELECT count(DISTINCT complaint_id) FROM complaints_event WHERE kind = 'sla.escalated' "
        "AND complaint_id IN (SELECT complaint_id FROM sla_deadline WHERE id = ANY(%s))",
        (ids,),
    )
    notified = sutong.scalar(
        "SELECT count(DISTINCT complaint_id) FROM notifications_notification "
        "WHERE kind = 'sla.escalation' "
        "AND complaint_id IN (SELECT complaint_id FROM sla_deadline WHERE id = ANY(%s))",
        (ids,),
    )
    assert escalated(sutong, ids) == moved == complaints == notified, (
        f"actions {escalated(sutong, ids)}, level 1 {moved}, events {complaints}, "
        f"notified {notified}"
    )
    return int(moved)


def assert_exactly_once(sutong: Stack, ids: list[int]) -> None:
    """Every deadline of ``ids`` escalated once: action, event, notifications; none left due."""
    actions = sutong.query(
        "SELECT a.deadline_id, a.kind, a.level, a.round, a.recipients, d.complaint_id "
        "FROM sla_slaaction a JOIN sla_deadline d ON d.id = a.deadline_id "
        "WHERE a.deadline_id = ANY(%s)",
        (ids,),
    )
    per_step = Counter(
        (deadline, kind, level, round_) for deadline, kind, level, round_, *_ in actions
    )
    assert set(per_step.values()) == {1}, "a deadline step acted on twice"
    assert Counter(deadline for deadline, *_ in actions) == Counter(ids), (
        "every due deadline has exactly one action"
    )
    assert {(kind, level) for _, kind, level, *_ in actions} == {("escalation", 1)}

    left = sutong.scalar(
        "SELECT count(*) FROM sla_deadline WHERE id = ANY(%s) "
        "AND (escalation_level <> 1 OR breached_at IS NULL OR next_check_at <= now())",
        (ids,),
    )
    assert left == 0, f"{left} deadlines not escalated, or still due"

    complaints = [complaint for *_, complaint in actions]
    events = Counter(
        complaint
        for (complaint,) in sutong.query(
            "SELECT complaint_id FROM complaints_event "
            "WHERE kind = 'sla.escalated' AND complaint_id = ANY(%s)",
            (complaints,),
        )
    )
    assert events == Counter(complaints), "one timeline event per escalation"

    # Who was meant to hear of it: each recipient the action names, in the app and, with an
    # address, by e-mail (SLA_ESCALATION_CHANNELS' default).
    emails = dict(sutong.query("SELECT id, email FROM accounts_user"))
    intended: Counter[tuple[int, int, str]] = Counter()
    for *_, recipients, complaint in actions:
        assert recipients, "an escalation nobody is told of"
        for user in recipients:
            intended[(complaint, user, "in_app")] += 1
            if emails[user]:
                intended[(complaint, user, "email")] += 1
    stored = Counter(
        (complaint, user, channel)
        for complaint, user, channel in sutong.query(
            "SELECT complaint_id, user_id, channel FROM notifications_notification "
            "WHERE kind = 'sla.escalation' AND complaint_id = ANY(%s)",
            (complaints,),
        )
    )
    assert stored == intended, "one notification per intended recipient and channel"


def test_a_worker_killed_mid_sweep_leaves_every_escalation_done_exactly_once(
    sutong: Stack,
) -> None:
    ids = seed_due(sutong, 3000)
    with sutong.worker(beat=True, name="first", **KILL_ENV) as first:
        wait_for(lambda: escalated(sutong, ids), interval=0.02, timeout=120, what="a sweep")
        # SIGKILL to the whole group: no shutdown, no acknowledgement, an open transaction.
        os.killpg(first.pid, signal.SIGKILL)
        first.wait()
    # The server notices the dead connection and rolls its batch back; until then the
    # batch's rows stay locked (and a later sweep skips them).
    wait_for(
        lambda: (
            not sutong.scalar(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND pid <> pg_backend_pid() AND state LIKE 'idle in transaction%%'"
            )
        ),
        what="the killed sweep's transaction to end",
    )
    done = assert_consistent(sutong, ids)
    assert 0 < done < len(ids), f"the kill did not land mid-sweep ({done} of {len(ids)} done)"

    with sutong.worker(beat=True, name="second", **KILL_ENV):
        wait_for(lambda: escalated(sutong, ids) == len(ids), timeout=240, what="the rest escalated")
        time.sleep(3 * float(KILL_ENV["SLA_SWEEP_INTERVAL"]))  # sweeps that find nothing
    assert_exactly_once(sutong, ids)


def mails(folders: list[Path]) -> Counter[tuple[str, str]]:
    """(recipient, subject) of every message the file e-mail backend wrote in ``folders``."""
    separator = b"\n" + b"-" * 79 + b"\n"
    found: Counter[tuple[str, str]] = Counter()
    for folder in folders:
        for path in folder.glob("*.log") if folder.exists() else ():
            for raw in path.read_bytes().split(separator):
                if not raw.strip():
                    continue
                message = email.message_from_bytes(raw, policy=email.policy.default)
                found[(str(message["To"]), plain(str(message["Subject"])))] += 1
    return found


def plain(subject: str) -> str:
    """A subject with its whitespace as one space each (a long one is folded in the file)."""
    return " ".join(subject.split())


def test_two_beats_and_two_workers_escalate_once_and_send_each_mail_once(
    sutong: Stack, tmp_path: Path
) -> None:
    now = seed_due(sutong, 1000)
    # A second wave falls due while both beats run, so their sweeps race on it too.
    later = seed_due(sutong, 500, in_seconds=8)
    ids = now + later
    var = {name: tmp_path / name for name in ("a", "b")}
    for folder in var.values():
        folder.mkdir()

    def all_sent() -> bool:
        return not sutong.scalar(
            "SELECT count(*) FROM notifications_notification WHERE channel = 'email' "
            "AND status <> 'sent'"
        )

    # Mail the demo data sent before this test is in no folder of its workers.
    sent_before = {
        pk
        for (pk,) in sutong.query(
            "SELECT id FROM notifications_notification WHERE channel = 'email' AND status = 'sent'"
        )
    }
    with (
        sutong.worker(beat=True, name="a", VAR_DIR=str(var["a"]), **RACE_ENV),
        sutong.worker(beat=True, name="b", VAR_DIR=str(var["b"]), **RACE_ENV),
    ):
        wait_for(lambda: escalated(sutong, ids) == len(ids), timeout=240, what="escalations")
        wait_for(all_sent, timeout=240, what="every e-mail sent")
        time.sleep(3)  # a few more sweeps and deliveries, which find nothing
    assert_exactly_once(sutong, ids)

    # Both workers delivered (else this proved nothing about two deliverers) …
    sent = {name: sum(mails([folder / "mail"]).values()) for name, folder in var.items()}
    assert all(sent.values()), f"one worker sent everything: {sent}"
    # … and each outbox e-mail went out exactly once, in one of their mail folders.
    rows: list[tuple[Any, ...]] = sutong.query(
        "SELECT id, address, subject FROM notifications_notification WHERE channel = 'email'"
    )
    outbox = Counter(
        (address, plain(subject)) for pk, address, subject in rows if pk not in sent_before
    )
    assert set(outbox.values()) == {1}, "the check needs a distinct (address, subject) per row"
    assert mails([folder / "mail" for folder in var.values()]) == outbox

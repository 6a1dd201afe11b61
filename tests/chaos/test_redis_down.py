"""Redis (cache and broker) gone for minutes: intake goes on, and afterwards the backlog
— routing, escalations that fell due, messages stored meanwhile — is worked off once.

Everything Sutong keeps is in PostgreSQL: deadlines are rows found by the SLA sweep, the
outbox is rows delivered by ``deliver_due``, unrouted complaints are found by
``route_stranded``. Redis only carries the cache (rate limits fail open,
intake.ratelimit) and the "do it now" tasks, whose publishing after commit logs a dead
broker instead of failing the request. The web server reaches Redis through a proxy the
test cuts (tests/chaos/faults.py); the worker and beat start only once it is back.

CHAOS_OUTAGE_SECONDS sets the outage's length (default 120: minutes, as promised; 10 is
enough while working on the test).
"""

from __future__ import annotations

import email
import email.policy
import json
import os
import time
from collections import Counter
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from tests.chaos import stack
from tests.chaos.faults import Portal, Proxy
from tests.chaos.stack import Stack, call, wait_for
from tests.intake.test_portal import FORM  # the portal form a citizen fills in

OUTAGE_SECONDS = float(os.environ.get("CHAOS_OUTAGE_SECONDS", "120"))
# Sweeps every few seconds, so the test waits seconds, not the production minutes.
FAST = {
    "SLA_SWEEP_INTERVAL": "3",
    "NOTIFY_SWEEP_INTERVAL": "3",
    "ROUTING_SWEEP_INTERVAL": "5",
    "ROUTING_STRANDED_AFTER": "5",
}
BODY = {
    "kind": "complaint",
    "title": "路口信号灯故障",
    "content": "解放路与中山路路口的信号灯全部熄灭，车辆通行混乱。",
    "petitioner": {"name": "周强", "phone": "13600003333"},
}
# A dispatcher grades a complaint critical while Redis is down: the on-call leaders are
# alerted by e-mail and SMS (SLA_EMERGENCY_CHANNELS) — outbox rows nobody can kick.
CRITICAL = (
    "from accounts.models import User; from complaints import services; "
    "from routing.models import Category; "
    "services.classify(complaint_id={id}, category=Category.objects.get(code='facilities'), "
    "priority='critical', actor=User.objects.get(username='dispatcher'))"
)


def api_submit(base: str, token: str, key: str) -> Any:
    return call(
        f"{base}/api/v1/intake/",
        body=BODY,
        headers={"Authorization": f"Token {token}", "Idempotency-Key": key},
    )


def mails(folder: Path) -> Counter[str]:
    """Recipients of every e-mail the file backend wrote (one count per message)."""
    separator = b"\n" + b"-" * 79 + b"\n"
    found: Counter[str] = Counter()
    for path in folder.glob("*.log") if folder.exists() else ():
        for raw in path.read_bytes().split(separator):
            if raw.strip():
                found[str(email.message_from_bytes(raw, policy=email.policy.default)["To"])] += 1
    return found


def texts(path: Path) -> Counter[str]:
    """Recipients of every SMS the file backend wrote."""
    if not path.exists():
        return Counter()
    return Counter(json.loads(line)["to"] for line in path.read_text().splitlines() if line)


def test_intake_goes_on_while_redis_is_down_and_the_backlog_is_worked_off_once(
    sutong: Stack,
) -> None:
    token = sutong.channel_token()
    first_new = sutong.scalar("SELECT coalesce(max(id), 0) FROM complaints_complaint") + 1
    with Proxy(6379) as redis:
        env = {"REDIS_URL": f"redis://127.0.0.1:{redis.port}/{stack.REDIS_DB}", **FAST}
        with sutong.web(**env) as (_, base):  # type: ignore[arg-type]
            portal = Portal(base)
            assert portal.request("/submit/")[0] == 200
            status, _, before = api_submit(base, token, "before-the-outage")
            assert status == 201, before
            # Its deadlines fall due in the middle of the outage.
            due = sutong.query(
                "UPDATE sla_deadline SET warn_at = NULL, due_at = now() + interval '5 seconds', "
                "next_check_at = now() + interval '5 seconds' "
                "WHERE complaint_id = %s AND state = 'open' RETURNING id",
                (before["id"],),
            )
            assert due

            redis.cut()
            started, portal_ok = time.monotonic(), 0
            outage_ids: list[int] = []
            while time.monotonic() - started < OUTAGE_SECONDS or len(outage_ids) < 3:
                asked = time.monotonic()
                status, _, body = api_submit(base, token, f"outage-{len(outage_ids)}")
                assert status == 201, body
                outage_ids.append(body["id"])
                # The private link's look-up is rate-limited in the cache: it fails open.
                status, _, _ = portal.request(urlparse(body["tracking_url"]).path)
                assert status == 302, status
                status, _, page = portal.request("/submit/", FORM)
                assert status == 302, page
                portal_ok += 1
                assert time.monotonic() - asked < 15, "a dead Redis must not stall requests"
                time.sleep(3)
            sutong.manage("shell", "-c", CRITICAL.format(id=outage_ids[0]), **env)  # type: ignore[arg-type]
            status, _, health = call(f"{base}/healthz")
            assert status == 503
            assert health["broker"]["ok"] is False
            assert health["database"]["ok"] is True

            # Nothing has happened in the background yet: no broker, no worker.
            assert not sutong.scalar(
                "SELECT count(*) FROM sla_slaaction WHERE deadline_id = ANY(%s)",
                ([pk for (pk,) in due],),
            )
            outbox = sutong.query(
                "SELECT id, channel, address FROM notifications_notification "
                "WHERE complaint_id = %s AND channel IN ('email', 'sms') AND status = 'pending'",
                (outage_ids[0],),
            )
            assert {channel for _, channel, _ in outbox} == {"email", "sms"}

            redis.restore()
            with sutong.worker(beat=True, **env):
                unrouted = (
                    "SELECT count(*) FROM complaints_complaint c WHERE c.id >= %s "
                    "AND c.status = 'received' AND NOT EXISTS "
                    "(SELECT 1 FROM routing_suggestion s WHERE s.complaint_id = c.id)"
                )
                wait_for(
                    lambda: sutong.scalar(unrouted, (first_new,)) == 0,
                    timeout=90,
                    what="routing of the complaints taken in during the outage",
                )
                wait_for(
                    lambda: (
                        sutong.scalar(
                            "SELECT count(DISTINCT deadline_id) FROM sla_slaaction "
                            "WHERE deadline_id = ANY(%s)",
                            ([pk for (pk,) in due],),
                        )
                        == len(due)
                    ),
                    timeout=60,
                    what="the escalations that fell due during the outage",
                )
                pending = (
                    "SELECT count(*) FROM notifications_notification "
                    "WHERE channel IN ('email', 'sms') AND status <> 'sent'"
                )
                wait_for(lambda: sutong.scalar(pending) == 0, timeout=60, what="the outbox")
                time.sleep(10)  # more sweeps, which must find nothing left to do twice

    # Every submission of the outage was stored, whole.
    assert len(outage_ids) >= 3
    assert (
        sutong.scalar(
            "SELECT count(*) FROM complaints_complaint WHERE id >= %s AND channel = 'web'",
            (first_new,),
        )
        == portal_ok
    )
    for complaint_id in outage_ids:
        assert sutong.scalar(
            "SELECT count(*) FROM sla_deadline WHERE complaint_id = %s", (complaint_id,)
        )
    # Each escalation once: one action per deadline and level, one event per action.
    actions = sutong.query(
        "SELECT deadline_id, level, count(*) FROM sla_slaaction WHERE deadline_id = ANY(%s) "
        "GROUP BY deadline_id, level",
        ([pk for (pk,) in due],),
    )
    assert actions
    assert {count for _, _, count in actions} == {1}
    # Every message of the outbox delivered once: as many mails and texts as rows.
    sent = sutong.query(
        "SELECT channel, address FROM notifications_notification "
        "WHERE channel IN ('email', 'sms') AND status = 'sent'"
    )
    assert sutong.scalar(
        "SELECT count(*) FROM notifications_notification WHERE id = ANY(%s) AND status = 'sent'",
        ([pk for pk, _, _ in outbox],),
    ) == len(outbox)
    assert sum(mails(sutong.var_dir / "mail").values()) == sum(1 for c, _ in sent if c == "email")
    assert texts(sutong.var_dir / "sms" / "outbox.jsonl") == Counter(
        address for channel, address in sent if channel == "sms"
    )

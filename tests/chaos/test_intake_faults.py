"""Channel intake under duplicate storms and crashes: one Idempotency-Key, one complaint.

``POST /api/v1/intake/`` claims the key in a committed row first (a concurrent duplicate
sees it and gets 409 ``idempotency_in_flight``), and stores the answer in the same
transaction as the complaint (intake.idempotency), so a retry after any crash gets the
first answer or does the work — never a second complaint.
"""

from __future__ import annotations

import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from tests.chaos.stack import Stack, call

BODY = {
    "kind": "complaint",
    "title": "公交站台顶棚漏雨",
    "content": "人民路公交站的顶棚漏雨，等车的人都淋湿了。",
    "petitioner": {"name": "赵敏", "phone": "13900001111"},
}


def submit(base: str, token: str, key: str) -> tuple[int, dict[str, str], Any]:
    return call(
        f"{base}/api/v1/intake/",
        body=BODY,
        headers={"Authorization": f"Token {token}", "Idempotency-Key": key},
    )


def complaints_with_key(sutong: Stack, key: str) -> list[int]:
    # external_ref is "client-<id>:<key>" (api/intake.py)
    rows = sutong.query(
        "SELECT id FROM complaints_complaint WHERE external_ref LIKE %s", (f"client-%:{key}",)
    )
    return [row[0] for row in rows]


def footprint(sutong: Stack, complaint_id: int) -> tuple[Counter[str], Counter[str]]:
    """How many events of each kind and deadlines of each stage a complaint has."""
    events = sutong.query(
        "SELECT kind FROM complaints_event WHERE complaint_id = %s", (complaint_id,)
    )
    deadlines = sutong.query(
        "SELECT stage FROM sla_deadline WHERE complaint_id = %s", (complaint_id,)
    )
    return Counter(kind for (kind,) in events), Counter(stage for (stage,) in deadlines)


def test_fifty_concurrent_sends_of_one_key_make_one_complaint(sutong: Stack) -> None:
    token = sutong.channel_token()
    key = "chaos-fifty-times"
    seen: list[int] = []  # every status any attempt got

    def send_until_answered(_: int) -> tuple[int, dict[str, str], Any]:
        deadline = time.monotonic() + 60
        while True:
            status, headers, body = submit(base, token, key)
            seen.append(status)
            if status != 409 or time.monotonic() > deadline:
                return status, headers, body
            # "Still being processed; retry shortly" is the only refusal allowed.
            assert body["code"] == "idempotency_in_flight", body
            time.sleep(0.1)

    with sutong.web(workers=4) as (_, base), ThreadPoolExecutor(50) as pool:
        answers = list(pool.map(send_until_answered, range(50)))

    assert set(seen) <= {201, 409}, Counter(seen)
    assert [status for status, _, _ in answers] == [201] * 50
    assert len({body["id"] for _, _, body in answers}) == 1
    assert len({body["tracking_code"] for _, _, body in answers}) == 1
    # One request did the work; every other one was answered with its result.
    fresh = [headers for _, headers, _ in answers if headers.get("Idempotent-Replayed") != "true"]
    assert len(fresh) == 1
    assert complaints_with_key(sutong, key) == [answers[0][2]["id"]]
    events, deadlines = footprint(sutong, answers[0][2]["id"])
    assert events["complaint.received"] == 1
    assert deadlines
    assert set(deadlines.values()) == {1}


def test_a_web_process_killed_after_commit_answers_the_retry_with_the_same_complaint(
    sutong: Stack,
) -> None:
    token = sutong.channel_token()
    # The worker dies right after the commit, before writing its answer (ops.faults; the
    # point fires once, so the worker gunicorn starts in its place serves the retry).
    with sutong.web(workers=2, SUTONG_FAULT="exit-after-commit:intake") as (process, base):
        with pytest.raises(ConnectionError):  # closed without an answer
            submit(base, token, "chaos-killed")
        stored = complaints_with_key(sutong, "chaos-killed")
        assert len(stored) == 1  # committed, though the client never heard

        status, headers, body = submit(base, token, "chaos-killed")
        assert status == 201, body
        assert headers.get("Idempotent-Replayed") == "true"
        assert body["id"] == stored[0]
        assert body["tracking_code"] == sutong.scalar(
            "SELECT tracking_code FROM complaints_complaint WHERE id = %s", (stored[0],)
        )
        # A second retry, and a new submission for comparison, by the same master process.
        assert submit(base, token, "chaos-killed")[2]["id"] == stored[0]
        status, _, control = submit(base, token, "chaos-control")
        assert status == 201
        assert process.poll() is None

    assert complaints_with_key(sutong, "chaos-killed") == stored
    # Exactly the events and deadlines of a submission that was never interrupted.
    assert footprint(sutong, stored[0]) == footprint(sutong, control["id"])
    events, deadlines = footprint(sutong, stored[0])
    assert events["complaint.received"] == 1
    assert deadlines
    assert set(deadlines.values()) == {1}

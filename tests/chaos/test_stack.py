"""The chaos stack itself: a fresh database per test, a web server and a worker that work."""

from __future__ import annotations

from tests.chaos.stack import Stack, call, wait_for

BODY = {
    "kind": "complaint",
    "title": "路灯不亮",
    "content": "幸福路 12 号的路灯坏了三天。",
    "petitioner": {"name": "王芳", "phone": "13987654321"},
}


def test_a_submission_through_the_real_stack_is_stored_and_routed(sutong: Stack) -> None:
    token = sutong.channel_token()
    before = sutong.scalar("SELECT count(*) FROM complaints_complaint")
    with sutong.web() as (_, base), sutong.worker():
        status, _, body = call(
            f"{base}/api/v1/intake/",
            body=BODY,
            headers={"Authorization": f"Token {token}", "Idempotency-Key": "chaos-stack-1"},
        )
        assert status == 201, body
        assert body["status"] == "received"
        wait_for(
            lambda: sutong.scalar(
                "SELECT count(*) FROM routing_suggestion WHERE complaint_id = %s", (body["id"],)
            ),
            what="routing by the worker",
        )
    assert sutong.scalar("SELECT count(*) FROM complaints_complaint") == before + 1

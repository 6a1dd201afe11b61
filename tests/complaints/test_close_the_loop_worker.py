"""End to end: a real Celery worker delivers a reply and closes an unanswered survey.

Two complaints are prepared in a fresh SQLite database of the embedded default before any
worker runs: one answered by e-mail (its delivery task, queued at commit, waits in the
filesystem broker), one replied on the tracking page only, whose survey window has
passed. ``complaints.tasks.close_the_loop`` is queued as beat would queue it. The worker
then sends the e-mail — the reply counts as delivered once the outbox has handed it over
— and closes the second complaint as "no response". Nothing here touches the Django test
database.
"""

from __future__ import annotations

import contextlib
import sqlite3
import time
from pathlib import Path
from typing import Any

import pytest

from tests.notifications.test_worker import manage, tail
from tests.processes import celery_worker, clean_environment

pytestmark = pytest.mark.slow

DONE_WITHIN = 60  # seconds, from starting the worker

PREPARE = """
from datetime import timedelta

from django.contrib.auth.models import Group
from django.utils import timezone

from accounts.models import User
from accounts.roles import Role
from complaints import services
from complaints.models import Complaint, Survey
from complaints.tasks import close_the_loop
from routing.models import Department

urban = Department.objects.create(code="urban", name_zh="城市管理局", name_en="Urban")
handler = User.objects.create_user(username="handler", department=urban)
handler.groups.add(Group.objects.get(name=Role.HANDLER.value))
handler = User.objects.get(pk=handler.pk)


def replied(title, body, **details):
    complaint = services.submit_complaint(
        title=title,
        content=title,
        channel=details.pop("channel"),
        petitioner=services.PetitionerDetails(name="张伟", email="zhangwei@example.com"),
        details=details,
    ).complaint
    Complaint.objects.filter(pk=complaint.pk).update(
        status="in_progress", department=urban, assignee=handler
    )
    services.draft_reply(complaint_id=complaint.pk, body=body, actor=handler)
    services.send_reply(complaint_id=complaint.pk, actor=handler)
    return complaint


mailed = replied(
    "幸福路路灯坏了",
    "您好，路灯已修复。",
    channel="email",
    channel_data={
        "message_id": "<abc@example.com>",
        "sender": "张伟 <zhangwei@example.com>",
        "subject": "幸福路路灯坏了",
    },
)
silent = replied("井盖丢失", "井盖已补装。", channel="web", contact_preference="none")
Survey.objects.filter(complaint=silent).update(closes_at=timezone.now() - timedelta(minutes=1))
close_the_loop.delay()
print("ids", mailed.pk, silent.pk)
"""


def read(database: Path, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    with contextlib.closing(sqlite3.connect(database, timeout=10)) as db:
        return db.execute(sql, params).fetchall()


def test_a_real_worker_delivers_the_reply_and_closes_the_unanswered_survey(
    tmp_path: Path,
) -> None:
    database = tmp_path / "db.sqlite3"
    env = clean_environment(
        tmp_path,
        DATABASE_URL=f"sqlite:///{database}",
        SITE_URL="https://sutong.example.gov.cn",
        PYTHONUNBUFFERED="1",
    )
    manage(env, "migrate", "--noinput")
    output = manage(env, "shell", "-c", PREPARE)
    mailed, silent = (int(n) for n in output.split("ids", 1)[1].split())
    assert read(database, "SELECT status FROM notifications_notification") == [("pending",)]

    def delivered_at() -> Any:
        return read(
            database, "SELECT delivered_at FROM complaints_reply WHERE complaint_id = ?", mailed
        )[0][0]

    def state_of_silent() -> tuple[str, str]:
        [(status, reason)] = read(
            database,
            "SELECT status, close_reason FROM complaints_complaint WHERE id = ?",
            silent,
        )
        return status, reason

    log = tmp_path / "worker.log"
    with celery_worker(env, log) as worker:
        deadline = time.monotonic() + DONE_WITHIN
        while time.monotonic() < deadline and worker.poll() is None:
            if delivered_at() is not None and state_of_silent()[0] == "closed":
                break
            time.sleep(0.5)
        assert delivered_at() is not None, tail(log)
        assert state_of_silent() == ("closed", "no_response"), tail(log)

    assert read(database, "SELECT status FROM notifications_notification") == [("sent",)]
    [(sent_at,)] = read(database, "SELECT sent_at FROM notifications_notification")
    assert delivered_at() == sent_at
    events = read(
        database, "SELECT complaint_id, kind FROM complaints_event WHERE kind LIKE 'reply.deliv%'"
    )
    assert events == [(mailed, "reply.delivered")]
    assert read(
        database,
        "SELECT outcome FROM complaints_survey WHERE complaint_id = ?",
        silent,
    ) == [("no_response",)]
    kinds = [
        kind
        for (kind,) in read(
            database, "SELECT kind FROM complaints_event WHERE complaint_id = ? ORDER BY id", silent
        )
    ]
    assert kinds[-2:] == ["survey.expired", "complaint.closed"]
    [(mailed_status,)] = read(
        database, "SELECT status FROM complaints_complaint WHERE id = ?", mailed
    )
    assert mailed_status == "replied"  # its survey is still open
    assert "close_the_loop" in log.read_text(errors="replace")

    [mail] = list((tmp_path / "mail").iterdir())
    message = mail.read_text(encoding="utf-8")
    assert "To: zhangwei@example.com" in message
    assert "In-Reply-To: <abc@example.com>" in message
    assert "References: <abc@example.com>" in message
    assert "https://sutong.example.gov.cn/survey/" in message

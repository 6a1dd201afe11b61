"""End to end: a complaint changes, and a real Celery worker POSTs the signed webhook.

The change is made in a ``manage.py shell`` of its own, before any worker runs, so the
delivery task queued at commit waits in the filesystem broker. The receiver is an HTTP
server in this process on 127.0.0.1, allowed by ``WEBHOOK_ALLOWED_HOSTS``. Nothing here
touches the Django test database.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import time
from pathlib import Path

import pytest

from notifications.webhooks import verify_signature
from tests.notifications.test_webhooks import http_receiver
from tests.notifications.test_worker import manage, tail
from tests.processes import celery_worker, clean_environment

pytestmark = pytest.mark.slow

DELIVERED_WITHIN = 60  # seconds, from starting the worker

CHANGE = """
import os

from accounts.models import User
from complaints import services
from notifications.models import WebhookSubscription
from routing.models import Category, Department

root = User.objects.create_superuser(username="root", password="pw", email="root@example.com")
urban, _ = Department.objects.get_or_create(
    code="urban_management", defaults={"name_zh": "城市管理局", "name_en": "Urban Management"}
)
facilities, _ = Category.objects.get_or_create(
    code="facilities",
    defaults={"name_zh": "设施设备", "name_en": "Facilities", "default_department": urban},
)
hook = WebhookSubscription(
    name="CRM", url=os.environ["HOOK_URL"], events=["complaint.status_changed"]
)
secret = hook.issue_secret()
hook.full_clean()
hook.save()
complaint = services.submit_complaint(
    title="路灯损坏",
    content="幸福路88号门口的路灯坏了。",
    channel="web",
    petitioner=services.PetitionerDetails(name="张伟", phone="13812345678"),
).complaint
services.classify(complaint_id=complaint.pk, category=facilities, priority="normal", actor=root)
print("secret", secret)
print("code", complaint.tracking_code)
"""


def deliveries(database: Path) -> list[tuple[str, str, int | None]]:
    """(kind, status, response_status) of the webhook rows, read straight from the database."""
    with contextlib.closing(sqlite3.connect(database, timeout=10)) as db:
        return db.execute(
            "SELECT kind, status, response_status FROM notifications_notification "
            "WHERE channel = 'webhook'"
        ).fetchall()


def test_a_real_worker_posts_a_signed_webhook_when_a_complaint_changes(tmp_path: Path) -> None:
    database = tmp_path / "db.sqlite3"
    with http_receiver() as receiver:
        env = clean_environment(
            tmp_path,
            DATABASE_URL=f"sqlite:///{database}",
            WEBHOOK_ALLOWED_HOSTS="127.0.0.1",
            WEBHOOK_ALLOW_HTTP="1",
            HOOK_URL=receiver.url,
            NOTIFY_SWEEP_INTERVAL="1",
            NOTIFY_RETRY_DELAY="1",
            PYTHONUNBUFFERED="1",
        )
        manage(env, "migrate", "--noinput")
        output = manage(env, "shell", "-c", CHANGE).splitlines()
        printed = dict(
            line.split(" ", 1) for line in output if line.startswith(("secret ", "code "))
        )
        assert deliveries(database) == [("complaint.status_changed", "pending", None)]
        assert receiver.requests == []

        log = tmp_path / "worker.log"
        with celery_worker(env, log, beat=True) as worker:
            deadline = time.monotonic() + DELIVERED_WITHIN
            while time.monotonic() < deadline and worker.poll() is None:
                if deliveries(database)[0][1] == "sent":
                    break
                time.sleep(0.5)
            rows = deliveries(database)
            assert rows == [("complaint.status_changed", "sent", 200)], tail(log)

    [request] = receiver.requests
    assert request.headers["Sutong-Event"] == "complaint.status_changed"
    assert verify_signature(printed["secret"], request.headers["Sutong-Signature"], request.body)
    payload = json.loads(request.body)
    assert payload["complaint"]["tracking_code"] == printed["code"]
    assert (payload["complaint"]["previous_status"], payload["complaint"]["status"]) == (
        "received",
        "classified",
    )

"""End to end: a real Celery worker (with beat) delivers the outbox of the embedded default.

The messages are stored before any worker runs, so the task queued at commit waits in
the filesystem broker. The SMS gateway fails the first time; beat's sweep sends the
message on a later run. Nothing here touches the Django test database.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.processes import ROOT, celery_worker, clean_environment

pytestmark = pytest.mark.slow

DELIVERED_WITHIN = 60  # seconds, from starting the worker

STORE = """
from accounts.models import User
from notifications.services import Recipient, notify

wang = User.objects.create_user(username="wang", email="wang@example.gov.cn")
stored = notify(
    [wang, Recipient(name="张伟", phone="13812345678")],
    kind="sla.warning",
    compose=lambda recipient: ("Deadline near: SZ-1", "Reply to SZ-1 within two hours."),
    key="sla.warning:1",
    channels=["email", "sms", "in_app"],
    url="/console/notifications/",
)
print("stored", stored)
"""


def manage(env: dict[str, str], *args: str) -> str:
    result = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, f"manage.py {' '.join(args)}:\n{result.stdout}{result.stderr}"
    return result.stdout


def outbox(database: Path) -> dict[str, tuple[str, int, str]]:
    """channel → (status, attempts, last_error), read straight from the database."""
    with contextlib.closing(sqlite3.connect(database, timeout=10)) as db:
        rows = db.execute(
            "SELECT channel, status, attempts, last_error FROM notifications_notification"
        ).fetchall()
    return {channel: (status, attempts, error) for channel, status, attempts, error in rows}


def tail(log: Path, lines: int = 60) -> str:
    text = log.read_text(errors="replace") if log.exists() else "(no log)"
    return "\n".join(text.splitlines()[-lines:])


def test_a_real_worker_delivers_the_outbox_and_retries_a_failed_sms(tmp_path: Path) -> None:
    database = tmp_path / "db.sqlite3"
    env = clean_environment(
        tmp_path,
        DATABASE_URL=f"sqlite:///{database}",
        SMS_BACKEND="tests.notifications.backends.FlakyFileBackend",
        SITE_URL="https://sutong.example.gov.cn",
        NOTIFY_SWEEP_INTERVAL="1",
        NOTIFY_RETRY_DELAY="1",
        PYTHONUNBUFFERED="1",
    )
    manage(env, "migrate", "--noinput")
    # wang gets e-mail and in-app (no phone), 张伟 an SMS.
    assert "stored 3" in manage(env, "shell", "-c", STORE)
    assert outbox(database)["sms"][0] == "pending"

    log = tmp_path / "worker.log"
    with celery_worker(env, log, beat=True) as worker:
        deadline = time.monotonic() + DELIVERED_WITHIN
        while time.monotonic() < deadline and worker.poll() is None:
            if {status for status, _, _ in outbox(database).values()} == {"sent"}:
                break
            time.sleep(0.5)
        rows = outbox(database)
        assert {status for status, _, _ in rows.values()} == {"sent"}, f"{rows}\n{tail(log)}"

    _, attempts, error = rows["sms"]
    assert attempts == 2, tail(log)
    assert "on purpose" in error  # the first attempt's error stays for the record
    assert (tmp_path / "sms" / "outbox.failed-once").exists()
    lines = (tmp_path / "sms" / "outbox.jsonl").read_text(encoding="utf-8").splitlines()
    assert [json.loads(line)["to"] for line in lines] == ["13812345678"]
    assert rows["email"][:2] == ("sent", 1)
    [mail] = list((tmp_path / "mail").iterdir())
    message = mail.read_text(encoding="utf-8")
    assert "To: wang@example.gov.cn" in message
    assert "Subject: Deadline near: SZ-1" in message
    assert "https://sutong.example.gov.cn/console/notifications/" in message
    assert "failed on attempt 1" in log.read_text(errors="replace")

"""A real Celery worker killed in the middle of a sweep, on PostgreSQL and Redis.

Issue 5: "a worker process really killed in the middle of a sweep and restarted still
produces exactly one". The worker is ``celery -A tests.sla.killable_worker``: production's
app and settings, its sweep made to hang once it has claimed and advanced a batch of
deadlines and written their actions and events (see that module). The test

1. commits 50 overdue deadlines and sends ``sla.tasks.sweep`` to the worker's own queue;
2. once the sweep hangs, checks that another sweep skips the claimed rows, then SIGKILLs
   the worker's process group and waits for PostgreSQL to end its session;
3. checks that nothing of the half-done batch survived, and that the killed task's
   message was never acknowledged (``acks_late``: Redis still holds it);
4. starts a worker again and, as beat would, sends a fresh sweep. The killed sweep's
   message comes back too (the test worker's visibility timeout is seconds, not an
   hour) and is run again: between them each deadline is escalated once;
5. sends one more sweep, which finds nothing, and counts: one ``SlaAction``, one
   timeline event and one message per recipient and channel per deadline, each e-mail
   written once.

It needs ``DATABASE_URL=postgres://…`` and ``REDIS_URL=redis://…`` and uses Redis
database 12 of that server (``tests/ops`` flushes 13), with a queue of its own.
"""

from __future__ import annotations

import ast
import contextlib
import json
import os
import re
import secrets
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest
from celery import Celery
from django.db import connection
from django.utils import timezone

from accounts.models import User
from complaints.models import Complaint, Event, Supervision
from notifications.models import Notification
from routing.models import Department
from sla.models import Deadline, PolicyVersion, SlaAction
from sla.sweep import sweep
from tests.processes import ROOT, clean_environment
from tests.sla.test_sweep_races import (  # noqa: F401 (fixtures)
    ESCALATION,
    HEAD_EMAIL,
    actions,
    backend_alive,
    due_deadlines,
    escalation_events,
    escalation_messages,
    mails_to,
    people,
    standard,
    url_of_test_database,
)

DEADLINES = 50
WITHIN = 60  # seconds for each thing a worker is waited for
REDIS_DB = 12
VISIBILITY_TIMEOUT = 10  # seconds before Redis hands the killed sweep's message out again
CELERY = Path(sys.executable).with_name("celery")
TASK_LINE = re.compile(r"Task sla\.tasks\.sweep\[(?P<id>[0-9a-f-]+)\] (?P<what>received|succeeded)")


def redis_url() -> str:
    """REDIS_URL of the suite's environment, on database ``REDIS_DB``; skip without one."""
    url = os.environ.get("REDIS_URL")
    if not url:
        pytest.skip("needs Redis (set REDIS_URL=redis://…)")
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{REDIS_DB}"))


class Workers:
    """Test workers on one queue: started, logged to files, killed."""

    def __init__(self, tmp_path: Path, env: dict[str, str], queue: str) -> None:
        self.tmp_path, self.env, self.queue = tmp_path, env, queue
        self.started: list[tuple[subprocess.Popen[bytes], Path]] = []

    def start(self, **variables: str) -> tuple[subprocess.Popen[bytes], Path]:
        number = len(self.started) + 1
        log = self.tmp_path / f"worker-{number}.log"
        command = [str(CELERY), "-A", "tests.sla.killable_worker", "worker"]
        command += ["--pool", "solo", "--concurrency", "1", "-Q", self.queue]
        command += ["--without-heartbeat", "--without-gossip", "--without-mingle"]
        command += ["--loglevel", "INFO", "--hostname", f"{self.queue}-{number}@%h"]
        with log.open("wb") as output:
            process = subprocess.Popen(
                command,
                cwd=ROOT,
                env={**self.env, **variables},
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.started.append((process, log))
        return process, log

    def stop_all(self) -> None:
        for process, _ in self.started:
            if process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGTERM)
                try:
                    process.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    with contextlib.suppress(ProcessLookupError):
                        os.killpg(process.pid, signal.SIGKILL)
                    process.wait(timeout=10)

    def logs(self) -> str:
        return "\n".join(
            f"===== {log.name} (exit {process.poll()}) =====\n"
            + (log.read_text(errors="replace") if log.exists() else "")
            for process, log in self.started
        )


def sweeps_in(log: Path) -> tuple[list[str], dict[str, dict[str, Any]]]:
    """The sweep task ids ``log``'s worker received, and what each finished one returned."""
    received: list[str] = []
    finished: dict[str, dict[str, Any]] = {}
    text = log.read_text(errors="replace") if log.exists() else ""
    for line in text.splitlines():
        if not (match := TASK_LINE.search(line)):
            continue
        if match["what"] == "received":
            received.append(match["id"])
        elif " succeeded in " in line:
            finished[match["id"]] = ast.literal_eval(line.split("s: ", 1)[1])
    return received, finished


def wait_until(check: Callable[[], bool], what: str, timeout: float = WITHIN) -> None:
    until = time.monotonic() + timeout
    while time.monotonic() < until:
        if check():
            return
        time.sleep(0.2)
    raise AssertionError(f"{what}: not within {timeout}s")


@contextlib.contextmanager
def sender(broker: str) -> Iterator[Celery]:
    """A Celery app that only sends, to ``broker`` (the suite's own app runs tasks eagerly)."""
    app = Celery("sla-kill-test", broker=broker, set_as_current=False)
    app.conf.broker_connection_retry_on_startup = True
    try:
        yield app
    finally:
        app.close()


def unacked_sweeps(client: Any, queue: str) -> list[str]:
    """Ids of the sweep tasks Redis holds delivered to ``queue`` but unacknowledged."""
    ids = []
    for payload in client.hvals("unacked"):
        message, _exchange, routing_key = json.loads(payload)
        headers = message.get("headers") or {}
        if routing_key == queue and headers.get("task") == "sla.tasks.sweep":
            ids.append(headers["id"])
    return ids


def forget_queue(client: Any, queue: str) -> None:
    """Remove what this test left in Redis: its queue, bindings and unacked messages."""
    for key in list(client.scan_iter(match=f"*{queue}*")):
        client.delete(key)
    for tag, payload in client.hgetall("unacked").items():
        _message, _exchange, routing_key = json.loads(payload)
        if routing_key == queue:
            client.hdel("unacked", tag)
            client.zrem("unacked_index", tag)


def other_sessions() -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> pg_backend_pid()"
        )
        row = cursor.fetchone()
    return int(row[0]) if row else 0


@pytest.mark.postgres
@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_mid_sweep_and_restarted_escalates_each_deadline_once(
    tmp_path: Path,
    standard: PolicyVersion,  # noqa: F811 (the fixture imported above)
    urban: Department,
    people: dict[str, User],  # noqa: F811
) -> None:
    import redis

    broker = redis_url()
    client = redis.Redis.from_url(broker, socket_connect_timeout=3, decode_responses=True)
    queue = f"sla-kill-{secrets.token_hex(4)}"
    # Overdue by minutes: level 1 (the head) has come, level 2 is a working day away.
    due = timezone.now() - timedelta(minutes=10)
    deadlines = due_deadlines(
        urban, standard, [due - timedelta(seconds=i) for i in range(DEADLINES)]
    )
    assert len(deadlines) == DEADLINES
    complaint_of = {d.pk: d.complaint_id for d in deadlines}
    marker = tmp_path / "hanging"
    env = clean_environment(
        tmp_path,
        DATABASE_URL=url_of_test_database(),
        REDIS_URL=broker,
        PYTHONPATH=str(ROOT),
        PYTHONUNBUFFERED="1",
        SUTONG_TEST_QUEUE=queue,
        SUTONG_TEST_VISIBILITY_TIMEOUT=str(VISIBILITY_TIMEOUT),
    )
    workers = Workers(tmp_path, env, queue)
    try:
        with sender(broker) as app:
            # 1. A worker whose sweep hangs mid-batch.
            doomed, _ = workers.start(SUTONG_TEST_HANG_AFTER_CLAIM=str(marker))
            killed = app.send_task("sla.tasks.sweep", queue=queue).id
            wait_until(lambda: marker.exists() or doomed.poll() is not None, "sweep hangs")
            assert doomed.poll() is None, "the worker died before its sweep hung"
            worker_pid, backend = map(int, marker.read_text().split())
            assert worker_pid == doomed.pid  # solo pool: the sweep runs in the worker itself

            # 2. Meanwhile another sweep skips the claimed rows instead of waiting or doubling.
            meanwhile = sweep()
            assert (meanwhile.deadlines, meanwhile.escalations) == (0, 0)

            os.killpg(doomed.pid, signal.SIGKILL)
            assert doomed.wait(timeout=10) == -signal.SIGKILL
            wait_until(lambda: not backend_alive(backend), "the killed session ends", 10)

            # 3. Nothing of the half-done batch survived; its message is still in Redis.
            assert not SlaAction.objects.exists()
            assert not Event.objects.filter(kind__startswith="sla.").exists()
            assert not Notification.objects.exists()
            assert set(Deadline.objects.values_list("escalation_level", flat=True)) == {0}
            assert set(Deadline.objects.values_list("breached_at", flat=True)) == {None}
            assert not Complaint.objects.exclude(supervision=Supervision.NONE).exists()
            assert not Complaint.objects.filter(overdue_since__isnull=False).exists()
            assert unacked_sweeps(client, queue) == [killed]

            # 4. Restarted, with beat's next sweep; the killed one's message comes back.
            _, log = workers.start()
            fresh = app.send_task("sla.tasks.sweep", queue=queue).id

            def escalated_once() -> bool:
                return SlaAction.objects.filter(kind=ESCALATION, level=1).count() >= DEADLINES

            wait_until(escalated_once, "every deadline escalated")
            wait_until(lambda: {killed, fresh} <= set(sweeps_in(log)[1]), "both sweeps done")
            assert not unacked_sweeps(client, queue)

            # 5. One more, as beat would, then let the deliveries it all queued run.
            last = app.send_task("sla.tasks.sweep", queue=queue).id
            wait_until(lambda: last in sweeps_in(log)[1], "the last sweep done")
            wait_until(
                lambda: not Notification.objects.exclude(status=Notification.Status.SENT).exists(),
                "every message sent",
            )
            received, finished = sweeps_in(log)
            assert Counter(received) == {killed: 1, fresh: 1, last: 1}
            again = [finished[killed], finished[fresh]]
            assert sum(r["deadlines"] for r in again) == DEADLINES, again
            assert sum(r["escalations"] for r in again) == DEADLINES, again
            assert sum(r["warnings"] for r in again) == 0, again
            assert finished[last] | {"seconds": 0} == {
                "deadlines": 0,
                "warnings": 0,
                "escalations": 0,
                "skipped": 0,
                "seconds": 0,
            }
            assert "Traceback" not in workers.logs()

            # One action, one event, one message per recipient and channel, per deadline.
            assert actions() == {(pk, ESCALATION, 1, 0): 1 for pk in complaint_of}
            assert escalation_events() == {(c, 1): 1 for c in complaint_of.values()}
            assert escalation_messages() == {
                (pk, 1, people["head"].pk, channel): 1
                for pk in complaint_of
                for channel in (Notification.Channel.IN_APP, Notification.Channel.EMAIL)
            }
            assert mails_to(tmp_path / "mail", HEAD_EMAIL) == DEADLINES
            assert set(Deadline.objects.values_list("escalation_level", flat=True)) == {1}
            assert Counter(Complaint.objects.values_list("supervision", flat=True)) == {
                Supervision.YELLOW: DEADLINES
            }
            assert not Complaint.objects.filter(overdue_since__isnull=True).exists()
    except BaseException:
        print(workers.logs())
        raise
    finally:
        workers.stop_all()
        with contextlib.suppress(AssertionError):
            # The test database is dropped at the end of the session: no session may remain.
            wait_until(lambda: not other_sessions(), "the workers' sessions end", 10)
        with contextlib.suppress(redis.RedisError):
            forget_queue(client, queue)
        client.close()

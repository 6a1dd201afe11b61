"""The SLA sweep escalates each deadline level exactly once — in threads, after a crash, in
a real worker.

* Several sweeps at once (PostgreSQL): ``SELECT … FOR UPDATE SKIP LOCKED`` hands each
  thread other rows, and between them they write one ``SlaAction``, one timeline event and
  one message per recipient and channel for every level that fell due.
* SQLite has no row locks to race on in one test database; there the guarded ``UPDATE``
  decides alone. The tests below run a second sweep over the same rows and replay a
  loser's stale read, on every database.
* A sweep killed half-way (a real process, SIGKILL, PostgreSQL) leaves nothing behind and
  holds no lock: the next sweep does the whole batch at once.
* End to end on the embedded default: a real Celery worker runs ``sla.tasks.sweep`` and the
  e-mail it queues reaches the department head once, even when the sweep runs again.

Two bugs these tests found are fixed and stay covered: the supervision colour of a
complaint escalated on two deadlines in one batch, and a deadlock between the sweep and a
service acting on the same complaint (the sweep now skips complaints a service holds).
"""

from __future__ import annotations

import ast
import contextlib
import os
import queue
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import IO, Any, TypeVar
from urllib.parse import quote
from zoneinfo import ZoneInfo

import pytest
from django.apps import apps as django_apps
from django.db import DatabaseError, IntegrityError, connection, transaction

from accounts.models import User
from complaints import services
from complaints.models import Complaint, Event, Supervision
from notifications.models import Notification
from routing.models import Department
from sla import defaults
from sla import sweep as sweep_module
from sla.models import Basis, BusinessCalendar, Deadline, PolicyVersion, SlaAction, Stage
from sla.recipients import Directory
from sla.sweep import SweepResult, _advance, _due_steps, _handle, sweep
from tests.factories import PetitionerFactory, complaint_in
from tests.processes import ROOT, clean_environment

SH = ZoneInfo("Asia/Shanghai")
# A Tuesday morning, a working day: every time below is fixed, whatever today is.
NOW = datetime(2026, 3, 10, 10, 0, tzinfo=SH)
# Due a week ago: level 1 (heads, at the due time) and level 2 (supervisors, one working
# day later) have both come.
WEEK_AGO = NOW - timedelta(days=7)
# Due half an hour ago: level 1 has come, level 2 not before Wednesday evening.
HALF_HOUR_AGO = NOW - timedelta(minutes=30)
ESCALATION = SlaAction.Kind.ESCALATION
WARNING = SlaAction.Kind.WARNING
HEAD_EMAIL = "head@example.gov.cn"
SUPERVISOR_EMAIL = "supervisor@example.gov.cn"

T = TypeVar("T")


# --- Fixtures and helpers ---------------------------------------------------------------


@pytest.fixture
def standard(db: None) -> PolicyVersion:
    """The default "standard" policy version.

    A transactional test empties every table when it ends, data migrations' rows too, so
    the defaults are installed again here (idempotent) rather than assumed.
    """
    defaults.install(django_apps)
    return PolicyVersion.objects.get(policy__code="standard")


@pytest.fixture
def people(head: User, supervisor: User) -> dict[str, User]:
    """The urban department's head and a supervisor, both with an e-mail address."""
    User.objects.filter(pk=head.pk).update(email=HEAD_EMAIL)
    User.objects.filter(pk=supervisor.pk).update(email=SUPERVISOR_EMAIL)
    return {"head": head, "supervisor": supervisor}


def new_deadline(
    complaint: Complaint,
    version: PolicyVersion,
    due_at: datetime,
    *,
    stage: str = Stage.ACCEPT,
    warn_at: datetime | None = None,
) -> Deadline:
    """An open ``stage`` deadline, unsaved; ``next_check_at`` as ``schedule`` sets it."""
    return Deadline(
        complaint=complaint,
        stage=stage,
        policy_version=version,
        calendar=BusinessCalendar.objects.get(is_default=True),
        basis=Basis.CALENDAR,
        started_at=due_at - timedelta(hours=24),
        warn_at=warn_at,
        due_at=due_at,
        next_check_at=warn_at or due_at,
    )


def due_deadlines(
    department: Department,
    version: PolicyVersion,
    due: list[datetime],
    *,
    warn_at: datetime | None = None,
) -> list[Deadline]:
    """One complaint assigned to ``department`` per due time, each with one deadline."""
    petitioner = PetitionerFactory()
    return Deadline.objects.bulk_create(
        new_deadline(
            complaint_in(Complaint.Status.ASSIGNED, department=department, petitioner=petitioner),
            version,
            due_at,
            warn_at=warn_at,
        )
        for due_at in due
    )


def levels_due(deadline: Deadline) -> list[int]:
    return [1, 2] if deadline.due_at == WEEK_AGO else [1]


def actions() -> Counter[tuple[int, str, int, int]]:
    return Counter(
        SlaAction.objects.values_list("deadline_id", "kind", "level", "round").iterator()
    )


def escalation_events() -> Counter[tuple[int, int]]:
    return Counter(
        (event.complaint_id, event.payload["level"])
        for event in Event.objects.filter(kind="sla.escalated").iterator()
    )


def escalation_messages() -> Counter[tuple[int, int, int | None, str]]:
    """(deadline, level, user, channel) of each stored escalation message."""
    found: Counter[tuple[int, int, int | None, str]] = Counter()
    for key, user_id, channel in Notification.objects.filter(kind="sla.escalation").values_list(
        "dedupe_key", "user_id", "channel"
    ):
        # sla.escalation:<deadline>:<round>:<level>:user<pk>:<channel>
        _, deadline_id, _round, level, *_ = key.split(":")
        found[(int(deadline_id), int(level), user_id, channel)] += 1
    return found


def race(threads: int, call: Callable[[], T]) -> list[T | BaseException]:
    """Run ``call`` in ``threads`` threads released together, each on its own connection."""
    barrier = threading.Barrier(threads)
    results: list[T | BaseException] = [RuntimeError("did not finish")] * threads

    def run(index: int) -> None:
        try:
            barrier.wait(timeout=30)
            results[index] = call()
        except BaseException as error:  # reported by the test, not lost in the thread
            results[index] = error
        finally:
            connection.close()

    started = [threading.Thread(target=run, args=(i,), daemon=True) for i in range(threads)]
    for thread in started:
        thread.start()
    for thread in started:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in started), "a sweep thread hung"
    return results


# --- Several sweeps at once (PostgreSQL) ------------------------------------------------


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("threads", [2, 4])
def test_sweeps_racing_over_the_same_due_deadlines_escalate_each_level_once(
    threads: int,
    standard: PolicyVersion,
    urban: Department,
    people: dict[str, User],
    mailoutbox: list[Any],
) -> None:
    due = [WEEK_AGO, HALF_HOUR_AGO] * 150
    deadlines = due_deadlines(urban, standard, due)
    expected = {(d.pk, level) for d in deadlines for level in levels_due(d)}
    assert len(deadlines) == 300
    assert len(expected) == 450

    # Small batches: each thread claims many times, so the claims interleave.
    results = race(threads, lambda: sweep(now=NOW, batch_size=20))

    errors = [r for r in results if not isinstance(r, SweepResult)]
    assert not errors, errors
    done = [r for r in results if isinstance(r, SweepResult)]
    # Each deadline was handled by one sweep, and no sweep lost a row to another.
    assert sum(r.deadlines for r in done) == 300
    assert sum(r.skipped for r in done) == 0
    assert sum(r.escalations for r in done) == 450
    assert sum(r.warnings for r in done) == 0

    # One SlaAction per deadline and level: none twice, none missing.
    recorded = actions()
    assert set(recorded.values()) == {1}
    assert {(pk, level) for pk, kind, level, _ in recorded if kind == ESCALATION} == expected
    assert SlaAction.objects.filter(kind=ESCALATION).count() == 450

    # One timeline event per deadline (one per complaint here) and level.
    complaint_of = {d.pk: d.complaint_id for d in deadlines}
    events = escalation_events()
    assert set(events.values()) == {1}
    assert set(events) == {(complaint_of[pk], level) for pk, level in expected}

    # One message per deadline, level, recipient and channel: heads at level 1,
    # supervisors at level 2, in the console and by e-mail.
    who = {1: people["head"].pk, 2: people["supervisor"].pk}
    messages = escalation_messages()
    assert set(messages.values()) == {1}
    assert set(messages) == {
        (pk, level, who[level], channel)
        for pk, level in expected
        for channel in (Notification.Channel.IN_APP, Notification.Channel.EMAIL)
    }
    # And each e-mail went out once, though every thread's commit kicked a delivery.
    assert set(
        Notification.objects.filter(kind="sla.escalation", channel="email").values_list(
            "status", flat=True
        )
    ) == {Notification.Status.SENT}
    sent = Counter((tuple(m.to), m.subject) for m in mailoutbox)
    assert len(sent) == 450
    assert set(sent.values()) == {1}
    assert Counter(to for (to,), _ in sent) == {HEAD_EMAIL: 300, SUPERVISOR_EMAIL: 150}

    # The deadlines moved past what was done; the complaints carry the marks.
    for deadline in Deadline.objects.filter(pk__in=complaint_of):
        assert deadline.escalation_level == max(levels_due(deadline))
        assert deadline.breached_at == deadline.due_at
        assert deadline.next_check_at is None or deadline.next_check_at > NOW
    marks = Counter(Complaint.objects.values_list("supervision", flat=True))
    assert marks == {Supervision.RED: 150, Supervision.YELLOW: 150}
    assert not Complaint.objects.filter(overdue_since__isnull=True).exists()


# --- Running again, and a loser's stale read (every database) ---------------------------


@pytest.mark.django_db
def test_a_second_sweep_over_the_same_rows_does_nothing(
    standard: PolicyVersion, urban: Department, people: dict[str, User]
) -> None:
    escalated = due_deadlines(urban, standard, [WEEK_AGO, HALF_HOUR_AGO])
    # Due on Thursday; its warning time has come.
    [warned] = due_deadlines(
        urban, standard, [NOW + timedelta(days=2)], warn_at=NOW - timedelta(hours=1)
    )

    first = sweep(now=NOW)
    before = (actions(), escalation_events(), escalation_messages(), Notification.objects.count())
    again = sweep(now=NOW)
    later_the_same_minute = sweep(now=NOW + timedelta(seconds=30))

    assert (first.deadlines, first.escalations, first.warnings) == (3, 3, 1)
    for result in (again, later_the_same_minute):
        assert result.as_dict() | {"seconds": 0} == {
            "deadlines": 0,
            "warnings": 0,
            "escalations": 0,
            "skipped": 0,
            "seconds": 0,
        }
    assert (
        actions(),
        escalation_events(),
        escalation_messages(),
        Notification.objects.count(),
    ) == before
    assert before[0] == {
        (escalated[0].pk, ESCALATION, 1, 0): 1,
        (escalated[0].pk, ESCALATION, 2, 0): 1,
        (escalated[1].pk, ESCALATION, 1, 0): 1,
        (warned.pk, WARNING, 0, 0): 1,
    }

    # Wednesday evening level 2 of the half-hour one comes: only that level is done, not
    # the earlier ones again (and the warned one is not due yet).
    wednesday = sweep(now=NOW + timedelta(days=1, hours=9))
    assert (wednesday.deadlines, wednesday.escalations, wednesday.warnings) == (1, 1, 0)
    assert dict(wednesday.levels) == {2: 1}
    recorded = actions()
    assert set(recorded.values()) == {1}
    assert set(recorded) - set(before[0]) == {(escalated[1].pk, ESCALATION, 2, 0)}


@pytest.mark.django_db
def test_a_sweep_that_read_a_deadline_before_another_moved_it_changes_nothing(
    standard: PolicyVersion, urban: Department, people: dict[str, User]
) -> None:
    [due] = due_deadlines(urban, standard, [WEEK_AGO])
    # What a losing sweep read before the winner committed (SQLite's case: no row locks).
    stale, stale_too = (
        Deadline.objects.select_related("policy_version", "calendar").get(pk=due.pk)
        for _ in range(2)
    )

    winner = sweep(now=NOW)
    assert (winner.deadlines, winner.escalations) == (1, 2)
    moved = Deadline.objects.get(pk=due.pk)
    recorded = (actions(), escalation_events(), escalation_messages())

    # From its stale read the loser would escalate both levels again …
    steps = _due_steps(stale, NOW, Directory(), urban.pk, None)
    assert [(s.kind, s.level) for s in steps] == [(ESCALATION, 1), (ESCALATION, 2)]
    # … but the guarded UPDATE finds the row no longer at level 0 and changes nothing.
    with transaction.atomic():
        assert _advance(stale, NOW, steps) is False
    after = Deadline.objects.get(pk=due.pk)
    assert (after.escalation_level, after.next_check_at, after.breached_at) == (
        moved.escalation_level,
        moved.next_check_at,
        moved.breached_at,
    )

    # The whole batch step with the stale row: skipped, nothing written.
    loser = SweepResult()
    with transaction.atomic():
        _handle([stale_too], NOW, Directory(), loser)
    assert (loser.deadlines, loser.skipped, loser.escalations) == (0, 1, 0)
    assert (actions(), escalation_events(), escalation_messages()) == recorded

    # Were the guard bypassed, the database itself refuses a second record of a level.
    with pytest.raises(IntegrityError), transaction.atomic():
        SlaAction.objects.create(deadline=moved, kind=ESCALATION, level=1, round=0)


# --- Found while writing these (production bugs, see the reasons) ----------------------


@pytest.mark.django_db
def test_a_level_2_escalation_makes_the_complaint_red_whatever_escalates_with_it(
    standard: PolicyVersion, urban: Department, people: dict[str, User]
) -> None:
    complaint = complaint_in(Complaint.Status.ASSIGNED, department=urban)
    # Handling never started a week ago (levels 1 and 2); no plan for half an hour (level 1).
    # The sweep claims them in ``next_check_at`` order, the week-old one first.
    Deadline.objects.bulk_create(
        [
            new_deadline(complaint, standard, WEEK_AGO, stage=Stage.ACCEPT),
            new_deadline(complaint, standard, HALF_HOUR_AGO, stage=Stage.PLAN),
        ]
    )

    result = sweep(now=NOW)

    assert dict(result.levels) == {1: 2, 2: 1}
    complaint.refresh_from_db()
    assert complaint.supervision == Supervision.RED


def someone_waits_for_a_lock(
    timeout: float = 10, *, or_ends: threading.Thread | None = None
) -> bool:
    """Whether another session of this database waits for a lock within ``timeout`` (or
    the thread ``or_ends`` ended meanwhile)."""
    until = time.monotonic() + timeout
    while time.monotonic() < until:
        if or_ends is not None and not or_ends.is_alive():
            return True
        with connection.cursor() as cursor:
            # Inside a transaction the activity view is a snapshot unless cleared.
            cursor.execute("SELECT pg_stat_clear_snapshot()")
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()"
            )
            row = cursor.fetchone()
        if row and row[0]:
            return True
        time.sleep(0.05)
    return False


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("first", ["service", "sweep"])
def test_a_service_acting_on_a_complaint_while_the_sweep_escalates_it_does_not_deadlock(
    first: str,
    monkeypatch: pytest.MonkeyPatch,
    standard: PolicyVersion,
    urban: Department,
    people: dict[str, User],
    handler: User,
) -> None:
    """A handler accepts a complaint at the moment its overdue deadline is escalated.

    ``first="service"``: the service locks the complaint, then the sweep claims the
    deadline. ``first="sweep"``: the sweep claims the deadline, then the service locks
    the complaint. Either way each then needs the row the other holds.
    """
    complaint = complaint_in(Complaint.Status.ASSIGNED, department=urban, assignee=handler)
    Deadline.objects.bulk_create([new_deadline(complaint, standard, WEEK_AGO)])
    swept: list[SweepResult | BaseException] = []
    claimed = threading.Event()

    if first == "sweep":
        write_event = sweep_module._event

        def event_once_the_service_waits(step: Any, now: datetime) -> Event:
            # The deadline is claimed and advanced; go on once the service waits for it.
            if not claimed.is_set():
                claimed.set()
                someone_waits_for_a_lock()
            return write_event(step, now)

        monkeypatch.setattr(sweep_module, "_event", event_once_the_service_waits)

    def run_sweep() -> None:
        try:
            swept.append(sweep(now=NOW))
        except BaseException as error:
            swept.append(error)
        finally:
            connection.close()

    rival = threading.Thread(target=run_sweep, daemon=True)
    service_error: DatabaseError | None = None
    try:
        with transaction.atomic():
            if first == "sweep":
                rival.start()
                assert claimed.wait(timeout=30), "the sweep did not claim the deadline"
            else:
                # The service's first step (complaints.services._lock), widened.
                Complaint.objects.select_for_update().get(pk=complaint.pk)
                rival.start()
                # The sweep claims the deadline, then waits for the complaint (or leaves it).
                assert someone_waits_for_a_lock(or_ends=rival), "the sweep is stuck"
            # Accepting closes the accept deadline: the row the sweep holds.
            services.accept(complaint_id=complaint.pk, actor=handler)
    except DatabaseError as error:
        service_error = error
    rival.join(timeout=30)

    assert service_error is None, service_error
    assert len(swept) == 1
    assert isinstance(swept[0], SweepResult), swept[0]


# --- A sweep killed half-way (a real process, PostgreSQL) -------------------------------

STALLED_SWEEP = """
import sys
import time
from datetime import datetime

import django

django.setup()

from django.db import connection

from sla import sweep


def stall(*args, **kwargs):
    # Rows claimed, actions and events written, nothing committed: stop here.
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        backend = cursor.fetchone()[0]
    print(f"CLAIMED {backend}", flush=True)
    time.sleep(60)
    print("NOT KILLED", flush=True)
    sys.exit(3)


sweep._mark_complaints = stall
sweep.sweep(now=datetime.fromisoformat(sys.argv[1]))
print("FINISHED", flush=True)
"""


def url_of_test_database() -> str:
    """A URL another process can open the test database with."""
    settings = connection.settings_dict
    user = quote(settings["USER"] or "", safe="")
    password = quote(settings["PASSWORD"] or "", safe="")
    credentials = f"{user}:{password}@" if password else (f"{user}@" if user else "")
    host = settings["HOST"] or "127.0.0.1"
    port = settings["PORT"] or "5432"
    return f"postgres://{credentials}{host}:{port}/{quote(settings['NAME'], safe='')}"


def read_lines(stream: IO[str]) -> queue.Queue[str]:
    """The lines ``stream`` prints, as they come (read by a daemon thread)."""
    lines: queue.Queue[str] = queue.Queue()

    def pump() -> None:
        for line in stream:
            lines.put(line.rstrip("\n"))

    threading.Thread(target=pump, daemon=True).start()
    return lines


def wait_for_line(lines: queue.Queue[str], prefix: str, timeout: float) -> str:
    seen: list[str] = []
    until = time.monotonic() + timeout
    while (left := until - time.monotonic()) > 0:
        try:
            line = lines.get(timeout=left)
        except queue.Empty:
            break
        if line.startswith(prefix):
            return line
        seen.append(line)
    raise AssertionError(f"no {prefix!r} within {timeout}s; printed: {seen}")


def backend_alive(pid: int) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE pid = %s", [pid])
        row = cursor.fetchone()
    return bool(row and row[0])


@pytest.mark.postgres
@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_sweep_killed_mid_batch_leaves_nothing_and_the_next_does_it_all_once(
    tmp_path: Path, standard: PolicyVersion, urban: Department, people: dict[str, User]
) -> None:
    deadlines = due_deadlines(urban, standard, [WEEK_AGO, HALF_HOUR_AGO] * 10)
    expected = {(d.pk, level) for d in deadlines for level in levels_due(d)}
    env = clean_environment(tmp_path, DATABASE_URL=url_of_test_database(), PYTHONUNBUFFERED="1")
    stderr_log = tmp_path / "sweep.stderr"
    with stderr_log.open("w") as stderr:
        process = subprocess.Popen(
            [sys.executable, "-c", STALLED_SWEEP, NOW.isoformat()],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
            start_new_session=True,
        )
    try:
        assert process.stdout is not None
        lines = read_lines(process.stdout)
        try:
            claimed = wait_for_line(lines, "CLAIMED", timeout=60)
        except AssertionError as error:
            raise AssertionError(f"{error}\n{stderr_log.read_text()}") from None
        backend = int(claimed.split()[1])

        # Meanwhile another sweep skips the locked rows instead of waiting or doubling.
        meanwhile = sweep(now=NOW)
        assert (meanwhile.deadlines, meanwhile.skipped, meanwhile.escalations) == (0, 0, 0)

        os.killpg(process.pid, signal.SIGKILL)
        assert process.wait(timeout=10) == -signal.SIGKILL
        # PostgreSQL ends the dead client's session, rolling back its transaction.
        until = time.monotonic() + 10
        while backend_alive(backend) and time.monotonic() < until:
            time.sleep(0.05)
        assert not backend_alive(backend), "the killed sweep's session is still open"
    finally:
        if process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)

    # Nothing of the killed sweep's batch survived.
    assert not SlaAction.objects.exists()
    assert not Event.objects.filter(kind__startswith="sla.").exists()
    assert not Notification.objects.exists()
    assert set(Deadline.objects.values_list("escalation_level", flat=True)) == {0}
    assert not Complaint.objects.exclude(supervision=Supervision.NONE).exists()

    # The next sweep takes every row at once: no lock is left to skip or wait for.
    started = time.monotonic()
    after = sweep(now=NOW)
    assert time.monotonic() - started < 10
    assert (after.deadlines, after.skipped, after.escalations) == (20, 0, 30)
    recorded = actions()
    assert set(recorded.values()) == {1}
    assert {(pk, level) for pk, _, level, _ in recorded} == expected
    complaint_of = {d.pk: d.complaint_id for d in deadlines}
    events = escalation_events()
    assert set(events.values()) == {1}
    assert set(events) == {(complaint_of[pk], level) for pk, level in expected}
    messages = escalation_messages()
    assert set(messages.values()) == {1}
    assert len(messages) == 2 * len(expected)


# --- A real worker, end to end, on the embedded default ---------------------------------

WORKER_WITHIN = 60  # seconds for the worker to escalate and deliver

SETUP = f"""
from datetime import timedelta

from django.contrib.auth.models import Group
from django.utils import timezone

from accounts.models import User
from accounts.roles import Role
from complaints import services
from routing.models import Category, Department
from sla.models import Deadline, Stage

urban = Department.objects.create(
    code="urban_management", name_zh="城市管理局", name_en="Urban Management Bureau"
)
category = Category.objects.create(
    code="facilities", name_zh="设施设备", name_en="Facilities", default_department=urban
)
head = User.objects.create_user(
    username="head", password="pw", department=urban, email="{HEAD_EMAIL}"
)
head.groups.add(Group.objects.get(name=Role.DEPARTMENT_HEAD.value))
dispatcher = User.objects.create_user(username="dispatcher", password="pw")
dispatcher.groups.add(Group.objects.get(name=Role.DISPATCHER.value))
dispatcher = User.objects.get(pk=dispatcher.pk)

complaint = services.submit_complaint(
    title="路灯不亮", content="幸福路的路灯坏了两周。", channel="web"
).complaint
services.classify(
    complaint_id=complaint.pk, category=category, priority="normal", actor=dispatcher
)
services.assign(complaint_id=complaint.pk, department=urban, actor=dispatcher)
# Nobody started handling it, and the limit passed five minutes ago.
due = timezone.now() - timedelta(minutes=5)
moved = Deadline.objects.filter(
    complaint=complaint, stage=Stage.ACCEPT, state=Deadline.State.OPEN
).update(due_at=due, warn_at=None, next_check_at=due)
assert moved == 1, moved
print("COMPLAINT", complaint.tracking_code)
"""

# One process that runs one task at a time: the sweep, then the delivery it queues.
WORKER = ["-A", "config", "worker", "--pool", "solo", "--loglevel", "INFO"]
WORKER += ["--hostname", "sla-race@%h", "--without-gossip", "--without-mingle"]
SEND_SWEEP = "from sla.tasks import sweep_deadlines; sweep_deadlines.delay()"


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
    assert result.returncode == 0, f"manage.py {args[0]}:\n{result.stdout}{result.stderr}"
    return result.stdout


def query(database: Path, sql: str) -> list[tuple[Any, ...]]:
    """Read the worker's database (SQLite in WAL mode: readers never block its writer)."""
    with contextlib.closing(sqlite3.connect(database, timeout=20)) as db:
        return db.execute(sql).fetchall()


def mails_to(mail_dir: Path, address: str) -> int:
    """Messages the file e-mail backend wrote to ``address``."""
    if not mail_dir.exists():
        return 0
    return sum(
        path.read_text(errors="replace").count(f"To: {address}\n")
        for path in mail_dir.iterdir()
        if path.is_file()
    )


def finished_sweeps(log: Path) -> list[dict[str, Any]]:
    """What each ``sla.tasks.sweep`` the worker finished returned, in order."""
    text = log.read_text(errors="replace") if log.exists() else ""
    found = []
    for line in text.splitlines():
        if "Task sla.tasks.sweep[" in line and " succeeded in " in line:
            found.append(ast.literal_eval(line.split("s: ", 1)[1]))
    return found


def wait_until(check: Callable[[], bool], timeout: float, what: str, log: Path) -> None:
    until = time.monotonic() + timeout
    while time.monotonic() < until:
        if check():
            return
        time.sleep(0.25)
    tail = "\n".join(log.read_text(errors="replace").splitlines()[-60:]) if log.exists() else ""
    raise AssertionError(f"{what}: not within {timeout}s. Worker log:\n{tail}")


@pytest.mark.slow
def test_a_real_worker_escalates_and_delivers_once(tmp_path: Path) -> None:
    env = clean_environment(
        tmp_path,
        DATABASE_URL=f"sqlite:///{tmp_path}/db.sqlite3",
        EMAIL_BACKEND="django.core.mail.backends.filebased.EmailBackend",
        PYTHONUNBUFFERED="1",
    )
    database, mail_dir, log = tmp_path / "db.sqlite3", tmp_path / "mail", tmp_path / "worker.log"
    manage(env, "migrate", "--noinput")
    assert "COMPLAINT" in manage(env, "shell", "-c", SETUP)

    with log.open("wb") as output:
        worker = subprocess.Popen(
            [sys.executable, "-m", "celery", *WORKER],
            cwd=ROOT,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        manage(env, "shell", "-c", SEND_SWEEP)

        def escalated_and_delivered() -> bool:
            return bool(
                query(database, "SELECT count(*) FROM sla_slaaction")[0][0]
                and mails_to(mail_dir, HEAD_EMAIL)
            )

        wait_until(escalated_and_delivered, WORKER_WITHIN, "escalation e-mail to the head", log)
        assert worker.poll() is None, "the worker died"

        # The beat would send the sweep again and again: it finds nothing more to do.
        manage(env, "shell", "-c", SEND_SWEEP)
        wait_until(lambda: len(finished_sweeps(log)) >= 2, WORKER_WITHIN, "second sweep", log)
        first, second = finished_sweeps(log)[:2]
        assert (first["deadlines"], first["escalations"]) == (1, 1), first
        assert (second["deadlines"], second["escalations"], second["skipped"]) == (0, 0, 0)
        # Let any delivery queued meanwhile run, then count.
        wait_until(
            lambda: (
                not query(
                    database,
                    "SELECT count(*) FROM notifications_notification WHERE status != 'sent'",
                )[0][0]
            ),
            WORKER_WITHIN,
            "every message sent",
            log,
        )
    finally:
        if worker.poll() is None:
            os.killpg(worker.pid, signal.SIGTERM)
            try:
                worker.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(worker.pid, signal.SIGKILL)
                worker.wait(timeout=10)

    assert query(database, "SELECT kind, level, round FROM sla_slaaction") == [("escalation", 1, 0)]
    assert query(
        database, "SELECT count(*) FROM complaints_event WHERE kind = 'sla.escalated'"
    ) == [(1,)]
    assert sorted(
        query(
            database,
            "SELECT channel, address, status FROM notifications_notification "
            "WHERE kind = 'sla.escalation'",
        )
    ) == [("email", HEAD_EMAIL, "sent"), ("in_app", "", "sent")]
    assert mails_to(mail_dir, HEAD_EMAIL) == 1

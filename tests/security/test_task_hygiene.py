"""Background work is queued only for what was committed, and a task never waits forever.

- Every service that queues a task does so after commit: if the surrounding transaction
  rolls back, nothing is published. The suite runs tasks inline (``_tasks_run_inline``),
  so these tests watch the producer itself — every ``apply_async``/``send_task`` — and
  run in real transactions (``transaction=True``), committed or rolled back for real.
- A task given the id of a row that does not exist finishes quietly: no error, no retry.
- A task that meets a passing database fault is retried, a bounded number of times.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from celery import Task
from celery.exceptions import Retry
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import OperationalError, transaction

from accounts.models import User
from complaints import services
from complaints.models import Attachment, Complaint
from complaints.tasks import scan_attachment
from config.celery import app
from intake import services as intake_services
from intake.submission import Submission
from notifications.models import WebhookSubscription
from ops.retry import ROW_TASK_RETRIES
from reporting import exports
from reporting.models import ExportJob
from reporting.tasks import run_export
from routing.models import Category, Department
from routing.tasks import route_complaint
from tests.complaints.loop import handling
from tests.factories import approved_draft, complaint_in

S = Complaint.Status
MISSING = 987_654_321


class Abort(Exception):
    """Raised after the service's work, inside the caller's transaction."""


@pytest.fixture
def published(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Names of the tasks handed to the broker, seen at the producer: every ``delay`` and
    ``apply_async`` (``Task.apply_async``) and every ``send_task`` of the app. The calls go
    through unchanged (in tests, inline)."""
    names: list[str] = []
    apply_async = Task.apply_async
    send_task = app.send_task

    def watched_apply_async(self: Task, *args: Any, **kwargs: Any) -> Any:
        names.append(self.name)
        return apply_async(self, *args, **kwargs)

    def watched_send_task(name: str, *args: Any, **kwargs: Any) -> Any:
        names.append(name)
        return send_task(name, *args, **kwargs)

    monkeypatch.setattr(Task, "apply_async", watched_apply_async)
    monkeypatch.setattr(app, "send_task", watched_send_task)
    return names


def subscribe() -> WebhookSubscription:
    """A webhook subscription to every event (its address is never called here: the
    delivery task's run is not what these tests are about)."""
    subscription = WebhookSubscription(
        name="CRM",
        url="https://hooks.example.com/sutong",
        events=["complaint.created", "complaint.status_changed", "complaint.replied"],
    )
    subscription.issue_secret()
    subscription.save()
    return subscription


# --- Services that queue work after commit ----------------------------------------------
# Each case prepares what the service needs and returns the service call, and names the
# task the call queues when it commits.

Case = Callable[..., Callable[[], object]]


def submission(**_: Any) -> Callable[[], object]:
    return lambda: intake_services.submit(
        Submission(
            channel="web",
            title="路灯不亮",
            content="幸福路 12 号的路灯坏了三天。",
            name="王芳",
            phone="13987654321",
            email="wangfang@example.com",
            privacy_consent=True,
        )
    )


def assignment(
    dispatcher: User, urban: Department, handler: User, **_: Any
) -> Callable[[], object]:
    complaint = complaint_in(S.CLASSIFIED, category=Category.objects.get(code="facilities"))
    subscribe()
    return lambda: services.assign(
        complaint_id=complaint.pk, department=urban, assignee=handler, actor=dispatcher
    )


def reply(urban: Department, handler: User, **_: Any) -> Callable[[], object]:
    complaint = handling(urban, handler)
    approved_draft(complaint)
    return lambda: services.send_reply(complaint_id=complaint.pk, actor=handler, delivery="email")


def webhook(dispatcher: User, **_: Any) -> Callable[[], object]:
    complaint = complaint_in(S.RECEIVED)
    subscribe()
    category = Category.objects.get(code="facilities")
    return lambda: services.classify(
        complaint_id=complaint.pk, category=category, priority="normal", actor=dispatcher
    )


def attachment(
    urban: Department, handler: User, settings: Any, tmp_path: Path, **_: Any
) -> Callable[[], object]:
    # A scanner configured: a new file waits as pending and its scan is queued. (Nothing
    # listens at this address; the scan itself is not what these tests are about.)
    settings.CLAMAV_SOCKET = "tcp://127.0.0.1:9"
    settings.MEDIA_ROOT = tmp_path
    complaint = handling(urban, handler)
    upload = SimpleUploadedFile("现场.png", b"png", content_type="image/png")
    return lambda: services.add_attachment(complaint_id=complaint.pk, upload=upload, actor=handler)


def export(head: User, urban: Department, settings: Any, **_: Any) -> Callable[[], object]:
    settings.EXPORT_SYNC_LIMIT = 1  # two rows: a job for a worker, not an answer at once
    for _n in range(2):
        complaint_in(S.ASSIGNED, department=urban)
    return lambda: exports.start(
        owner=head, kind="complaints", file_format="csv", filters={"q": ["department"]}
    )


CASES: dict[str, tuple[Case, str]] = {
    "complaint submission": (submission, "routing.tasks.route_complaint"),
    "assignment": (assignment, "notifications.tasks.deliver_due"),
    "reply delivery": (reply, "notifications.tasks.deliver_due"),
    "webhooks": (webhook, "notifications.tasks.deliver_due"),
    "attachment scanning": (attachment, "complaints.tasks.scan_attachment"),
    "exports": (export, "reporting.tasks.run_export"),
}


@pytest.fixture
def people(
    dispatcher: User, handler: User, head: User, urban: Department, facilities: Category
) -> dict[str, Any]:
    return {"dispatcher": dispatcher, "handler": handler, "head": head, "urban": urban}


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("name", list(CASES))
def test_a_committed_service_queues_its_task(
    name: str, people: dict[str, Any], settings: Any, tmp_path: Path, published: list[str]
) -> None:
    prepare, task = CASES[name]
    work = prepare(settings=settings, tmp_path=tmp_path, **people)
    published.clear()

    with transaction.atomic():
        work()

    assert task in published


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("name", list(CASES))
def test_a_rolled_back_service_queues_nothing(
    name: str, people: dict[str, Any], settings: Any, tmp_path: Path, published: list[str]
) -> None:
    prepare, _task = CASES[name]
    work = prepare(settings=settings, tmp_path=tmp_path, **people)
    published.clear()
    complaints = Complaint.objects.count()
    jobs = ExportJob.objects.count()
    files = Attachment.objects.count()

    def work_then_fail() -> None:
        with transaction.atomic():
            work()
            raise Abort

    with pytest.raises(Abort):
        work_then_fail()

    assert published == []
    assert (Complaint.objects.count(), ExportJob.objects.count(), Attachment.objects.count()) == (
        complaints,
        jobs,
        files,
    )


# --- Tasks for rows that do not exist ---------------------------------------------------

ROW_TASKS: list[tuple[Task, Callable[[Any], bool]]] = [
    (route_complaint, lambda result: result is None),
    (run_export, lambda result: result == "skipped"),
    (scan_attachment, lambda result: result == "missing"),
]


@pytest.mark.django_db
@pytest.mark.parametrize(("task", "outcome"), ROW_TASKS, ids=lambda t: getattr(t, "name", ""))
def test_a_task_for_a_missing_row_ends_quietly_without_a_retry(
    task: Task, outcome: Callable[[Any], bool], published: list[str]
) -> None:
    result = task.apply(args=(MISSING,))

    assert result.successful(), result.traceback
    assert outcome(result.result)
    # No retry scheduled: a retry is one more publish of the task (or a Retry raised).
    assert published == []
    assert not isinstance(result.result, Retry)


def test_every_task_that_takes_a_row_id_is_covered() -> None:
    """A new task with an id argument must join ROW_TASKS (and handle a missing row)."""
    import inspect

    app.loader.import_default_modules()  # every app's tasks.py, as a worker loads them
    assert "sla.tasks.sweep" in app.tasks
    with_ids = {
        name
        for name, task in app.tasks.items()
        if not name.startswith("celery.")
        and any(p.endswith("_id") for p in inspect.signature(task.run).parameters)
    }
    assert with_ids == {task.name for task, _ in ROW_TASKS}


@pytest.fixture
def errors_recorded() -> Iterator[None]:
    """Tasks' errors recorded in their result, as a worker does, instead of raised: the
    suite's inline mode would raise the first Retry rather than run the retries."""
    before = app.conf.task_eager_propagates
    app.conf.task_eager_propagates = False
    yield
    app.conf.task_eager_propagates = before


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("task", "service"),
    [(route_complaint, "routing.services.route_complaint"), (run_export, "reporting.exports.run")],
    ids=["route_complaint", "run_export"],
)
def test_a_task_that_meets_an_unreachable_database_retries_a_bounded_number_of_times(
    task: Task, service: str, monkeypatch: pytest.MonkeyPatch, errors_recorded: None
) -> None:
    attempts: list[int] = []

    def unreachable(row_id: int, **_: Any) -> None:
        attempts.append(row_id)
        raise OperationalError("could not connect to server: Connection refused")

    module, _, function = service.rpartition(".")
    monkeypatch.setattr(f"{module}.{function}", unreachable)

    result = task.apply(args=(MISSING,))

    assert task.max_retries == ROW_TASK_RETRIES["max_retries"] == 5
    assert OperationalError in task.autoretry_for  # type: ignore[attr-defined]
    # The first run and each retry, then it gives up with the error.
    assert attempts == [MISSING] * (1 + 5)
    assert result.failed()
    assert isinstance(result.result, OperationalError)


@pytest.mark.django_db
def test_a_bug_is_not_retried(monkeypatch: pytest.MonkeyPatch, errors_recorded: None) -> None:
    attempts: list[int] = []

    def broken(complaint_id: int, **_: Any) -> None:
        attempts.append(complaint_id)
        raise ValueError("a bug")

    monkeypatch.setattr("routing.services.route_complaint", broken)

    result = route_complaint.apply(args=(MISSING,))

    assert attempts == [MISSING]
    assert result.failed()

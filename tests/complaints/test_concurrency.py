"""Two people acting on one complaint at once: one wins, the other is told, nothing is lost.

These run on PostgreSQL, where each thread has its own database connection and the
services' row lock (SELECT … FOR UPDATE) is real.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection, transaction
from django.utils import translation

from complaints import services
from complaints.errors import Conflict, DomainError, InvalidTransition
from complaints.models import Complaint, Event
from tests.factories import complaint_in

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]
S = Complaint.Status


def race(*calls: Callable[[], Any]) -> list[Any]:
    """Run the calls at the same moment, each in its own thread and connection."""
    barrier = threading.Barrier(len(calls))
    results: list[Any] = [None] * len(calls)

    def run(index: int, call: Callable[[], Any]) -> None:
        try:
            barrier.wait()
            # A new thread starts in the default language; messages are compared in English.
            with translation.override("en"):
                results[index] = call()
        except DomainError as error:
            results[index] = error
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return results


def test_two_dispatchers_acting_at_once_one_wins_one_gets_a_conflict(
    dispatcher: Any, supervisor: Any, urban: Any
) -> None:
    complaint = complaint_in(S.CLASSIFIED)
    results = race(
        lambda: services.assign(
            complaint_id=complaint.pk, department=urban, actor=dispatcher, expected_version=1
        ),
        lambda: services.reject(
            complaint_id=complaint.pk, reason="不受理", actor=supervisor, expected_version=1
        ),
    )
    winners = [r for r in results if isinstance(r, Complaint)]
    losers = [r for r in results if isinstance(r, Conflict)]
    assert len(winners) == 1, results
    assert len(losers) == 1, results
    complaint.refresh_from_db()
    assert complaint.status == winners[0].status
    assert complaint.version == 2
    assert Event.objects.filter(complaint=complaint).count() == 1


def test_without_a_version_the_loser_is_told_the_new_state(handler: Any, urban: Any) -> None:
    complaint = complaint_in(S.ASSIGNED, department=urban, assignee=handler)
    results = race(
        lambda: services.accept(complaint_id=complaint.pk, actor=handler),
        lambda: services.accept(complaint_id=complaint.pk, actor=handler),
    )
    assert sum(isinstance(r, Complaint) for r in results) == 1
    [loser] = [r for r in results if isinstance(r, InvalidTransition)]
    with translation.override("en"):
        assert loser.state_label == str(Complaint.Status.IN_PROGRESS.label)
    assert Event.objects.filter(complaint=complaint, kind="complaint.accepted").count() == 1


def test_a_second_actor_waits_for_the_lock_then_sees_the_change(
    dispatcher: Any, supervisor: Any, facilities: Any
) -> None:
    """Deterministic: hold the row lock, start the rival, then commit a change."""
    complaint = complaint_in(S.RECEIVED)
    outcome: list[Any] = []
    started = threading.Event()

    def rival() -> None:
        try:
            started.set()
            services.reject(
                complaint_id=complaint.pk, reason="广告", actor=supervisor, expected_version=1
            )
            outcome.append("won")
        except DomainError as error:
            outcome.append(error)
        finally:
            connection.close()

    with transaction.atomic():
        Complaint.objects.select_for_update().get(pk=complaint.pk)
        thread = threading.Thread(target=rival)
        thread.start()
        started.wait(5)
        thread.join(timeout=1)
        assert thread.is_alive(), "the rival must wait for the row lock"
        services.classify(
            complaint_id=complaint.pk, category=facilities, priority="normal", actor=dispatcher
        )
    thread.join(timeout=30)
    assert len(outcome) == 1
    assert isinstance(outcome[0], Conflict)
    complaint.refresh_from_db()
    assert complaint.status == S.CLASSIFIED


def test_many_retries_of_one_submission_create_one_complaint(db: None) -> None:
    def submit() -> services.Submission:
        return services.submit_complaint(
            title="重复提交",
            content="同一个请求重试了八次。",
            channel=Complaint.Channel.API,
            external_ref="idem-key-1",
        )

    results = race(*[submit] * 8)
    assert all(isinstance(r, services.Submission) for r in results), results
    assert len({r.complaint.pk for r in results}) == 1
    assert sum(r.created for r in results) == 1
    assert Complaint.objects.count() == 1

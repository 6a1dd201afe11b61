"""Workers sweeping the outbox at the same moment never send one message twice.

These run on PostgreSQL, where each thread has its own connection and
SELECT … FOR UPDATE SKIP LOCKED is real. (The guarded UPDATE that also protects SQLite
is tested on its own in test_delivery.py.)
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection, transaction

from notifications import delivery, services, sms
from notifications.models import Notification
from notifications.services import Recipient
from tests.notifications.helpers import SMS, store

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _no_delivery_on_commit(monkeypatch: pytest.MonkeyPatch) -> None:
    # Outside a test transaction every notify commits at once, and its kick would deliver
    # (inline) before the race begins.
    monkeypatch.setattr(services, "kick", lambda: None)


def race(*calls: Callable[[], Any]) -> list[Any]:
    """Run the calls at the same moment, each in its own thread and connection."""
    barrier = threading.Barrier(len(calls))
    results: list[Any] = [None] * len(calls)

    def run(index: int, call: Callable[[], Any]) -> None:
        try:
            barrier.wait()
            results[index] = call()
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results


def phones(count: int) -> list[str]:
    return [f"138{i:08d}" for i in range(count)]


def test_sweeps_running_at_once_send_every_message_exactly_once(settings: Any) -> None:
    settings.SMS_BACKEND = "tests.notifications.backends.SlowBackend"
    store([Recipient(phone=phone) for phone in phones(80)], channels=(SMS,))

    reports = race(*[delivery.deliver_due] * 4)

    assert sorted(message["to"] for message in sms.outbox) == phones(80)
    assert sum(report.sent for report in reports) == 80
    assert sum(1 for report in reports if report.sent) >= 2, "the sweeps did not overlap"
    assert set(Notification.objects.values_list("status", "attempts")) == {
        (Notification.Status.SENT, 1)
    }


def test_concurrent_claims_take_disjoint_rows(db: None) -> None:
    store([Recipient(phone=phone) for phone in phones(50)], channels=(SMS,))

    claims = race(*[lambda: delivery.claim(20)] * 4)

    taken = [row.pk for claim in claims for row in claim]
    assert len(taken) == len(set(taken)) == 50


def test_rows_locked_by_another_sweep_are_skipped_without_waiting(db: None) -> None:
    store([Recipient(phone=phone) for phone in phones(5)], channels=(SMS,))
    ids = sorted(Notification.objects.values_list("pk", flat=True))
    result: list[list[int]] = []

    def other_worker() -> None:
        try:
            result.append([row.pk for row in delivery.claim(10)])
        finally:
            connection.close()

    with transaction.atomic():
        # This "sweep" holds the first two rows, as a claim in progress would.
        list(Notification.objects.filter(pk__in=ids[:2]).select_for_update())
        thread = threading.Thread(target=other_worker)
        thread.start()
        thread.join(timeout=10)
        assert not thread.is_alive(), "the other worker waited for the locked rows"
    assert result == [ids[2:]]

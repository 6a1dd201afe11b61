"""Delivering the outbox: claims, sending, retries with backoff, and giving up."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from accounts.models import User
from notifications import delivery, services, sms, tasks
from notifications.delivery import LEASE, backoff, deliver_due
from notifications.models import Notification
from notifications.services import Recipient, notify
from tests.notifications.backends import FlakyBackend
from tests.notifications.helpers import EMAIL, IN_APP, SMS, store

pytestmark = pytest.mark.django_db
Status = Notification.Status


@pytest.fixture
def frozen(time_machine: Any) -> Any:
    """Time stands still unless the test moves it (``frozen.shift(seconds)``)."""
    time_machine.move_to(timezone.now(), tick=False)
    return time_machine


def test_a_due_email_is_sent_with_an_absolute_link(
    staff: User, mailoutbox: list[Any], settings: Any
) -> None:
    store([staff], channels=(EMAIL,))

    report = deliver_due()

    assert report.as_dict() == {"sent": 1, "retrying": 0, "failed": 0, "more": False}
    [message] = mailoutbox
    assert message.to == ["wang@example.gov.cn"]
    assert message.from_email == settings.DEFAULT_FROM_EMAIL
    assert message.subject == "Deadline near: SZ-1"
    assert message.body == (
        "Reply to SZ-1 within two hours.\n\nhttps://sutong.example.gov.cn/console/complaints/1/"
    )
    assert message.extra_headers["Auto-Submitted"] == "auto-generated"
    row = Notification.objects.get()
    assert (row.status, row.attempts, row.lease_until) == (Status.SENT, 1, None)
    assert row.sent_at is not None


def test_an_sms_goes_through_the_configured_backend(petitioner: Recipient) -> None:
    store([petitioner], channels=(SMS,), url="")

    deliver_due()

    assert sms.outbox == [
        {"to": "13812345678", "text": "Deadline near: SZ-1\nReply to SZ-1 within two hours."}
    ]
    assert Notification.objects.get().status == Status.SENT


def test_a_long_sms_is_cut_and_keeps_its_link(petitioner: Recipient) -> None:
    notify(
        [petitioner],
        kind="complaint.replied",
        compose=lambda r: ("您的投诉已答复", "答复内容" * 200),
        key="reply:1",
        channels=[SMS],
        url="https://sutong.example.gov.cn/track/SZ-1",
    )

    deliver_due()

    [message] = sms.outbox
    assert len(message["text"]) == delivery.SMS_MAX_CHARS
    assert message["text"].startswith("您的投诉已答复\n答复内容")
    assert message["text"].endswith("…\nhttps://sutong.example.gov.cn/track/SZ-1")


def test_in_app_rows_are_never_claimed(staff: User) -> None:
    store([staff], channels=(IN_APP,))
    assert deliver_due().handled == 0
    assert delivery.claim(10) == []


def test_backoff_grows_fourfold_up_to_an_hour() -> None:
    assert [backoff(n).total_seconds() for n in range(1, 7)] == [
        30,
        120,
        480,
        1920,
        3600,
        3600,
    ]


def test_a_transient_failure_is_retried_after_a_backoff_then_succeeds(
    petitioner: Recipient, settings: Any, frozen: Any, caplog: pytest.LogCaptureFixture
) -> None:
    settings.SMS_BACKEND = "tests.notifications.backends.FlakyBackend"
    FlakyBackend.failures_left = 2
    store([petitioner], channels=(SMS,))
    started = timezone.now()

    assert deliver_due().retrying == 1
    row = Notification.objects.get()
    assert (row.status, row.attempts) == (Status.PENDING, 1)
    assert row.next_attempt_at == started + timedelta(seconds=30)
    assert row.last_error == "SmsError: gateway timed out"
    assert "failed on attempt 1" in caplog.text
    assert "13812345678" not in caplog.text  # no personal data in the logs

    frozen.shift(29)
    assert deliver_due().handled == 0  # not due yet
    frozen.shift(1)
    assert deliver_due().retrying == 1
    row.refresh_from_db()
    assert row.next_attempt_at == started + timedelta(seconds=30 + 120)

    frozen.shift(120)
    assert deliver_due().sent == 1
    row.refresh_from_db()
    assert (row.status, row.attempts) == (Status.SENT, 3)
    assert [m["to"] for m in sms.outbox] == ["13812345678"]


def test_a_permanent_failure_ends_failed_and_a_retry_sends_it(
    petitioner: Recipient, settings: Any, frozen: Any, caplog: pytest.LogCaptureFixture
) -> None:
    settings.SMS_BACKEND = "tests.notifications.backends.FailingBackend"
    store([petitioner], channels=(SMS,))

    outcomes = []
    for _ in range(10):
        report = deliver_due()
        outcomes.append((report.retrying, report.failed))
        frozen.shift(3600)

    assert outcomes == [(1, 0)] * 5 + [(0, 1)] + [(0, 0)] * 4
    row = Notification.objects.get()
    assert (row.status, row.attempts, row.next_attempt_at) == (Status.FAILED, 6, None)
    assert row.last_error == "SmsError: gateway said 503 Service Unavailable"
    assert "failed for good after 6 attempts" in caplog.text

    settings.SMS_BACKEND = "notifications.sms.LocmemBackend"  # the gateway is fixed
    assert services.retry([row.pk]) == 1
    assert deliver_due().sent == 1
    row.refresh_from_db()
    assert (row.status, row.attempts) == (Status.SENT, 1)
    assert len(sms.outbox) == 1


def test_a_claim_whose_worker_died_is_taken_again(petitioner: Recipient) -> None:
    store([petitioner], channels=(EMAIL, SMS))
    now = timezone.now()
    Notification.objects.filter(channel=SMS).update(
        status=Status.SENDING, attempts=1, lease_until=now - timedelta(seconds=1)
    )
    Notification.objects.filter(channel=EMAIL).update(
        status=Status.SENDING, attempts=1, lease_until=now + timedelta(minutes=5)
    )

    assert deliver_due().sent == 1

    expired = Notification.objects.get(channel=SMS)
    assert (expired.status, expired.attempts) == (Status.SENT, 2)
    assert len(sms.outbox) == 1
    # A live claim belongs to its worker, still sending it.
    assert Notification.objects.get(channel=EMAIL).status == Status.SENDING


def test_a_row_whose_worker_died_on_its_last_attempt_fails(
    petitioner: Recipient, caplog: pytest.LogCaptureFixture
) -> None:
    store([petitioner], channels=(SMS,))
    Notification.objects.update(
        status=Status.SENDING, attempts=6, lease_until=timezone.now() - timedelta(seconds=1)
    )

    deliver_due()

    row = Notification.objects.get()
    assert row.status == Status.FAILED
    assert "stopped while sending" in row.last_error
    assert sms.outbox == []


def test_rows_another_worker_claimed_meanwhile_are_not_taken(petitioner: Recipient) -> None:
    """The guarded UPDATE: two workers read the same candidates, one gets them."""
    store([petitioner], channels=(EMAIL, SMS))
    now = timezone.now()
    seen_by_first = delivery.candidates(10, now)
    seen_by_second = delivery.candidates(10, now)
    assert seen_by_first == seen_by_second

    taken = delivery.take(seen_by_second, now)
    assert [row.pk for row in taken] == sorted(seen_by_second)
    assert delivery.take(seen_by_first, now) == []

    rows = Notification.objects.all()
    assert {(row.status, row.attempts, row.lease_until) for row in rows} == {
        (Status.SENDING, 1, now + LEASE)
    }


def test_a_run_stops_at_its_limit_and_the_task_carries_on(db: None) -> None:
    store([Recipient(phone=f"1380000000{i}") for i in range(5)], channels=(SMS,))

    report = deliver_due(limit=2)
    assert (report.sent, report.more) == (2, True)

    tasks.deliver_due(limit=2)  # re-queues itself (run inline here) while rows are due

    assert set(Notification.objects.values_list("status", flat=True)) == {Status.SENT}
    assert len(sms.outbox) == 5


def test_sending_that_outlasts_the_lease_hands_the_rest_back(
    db: None, settings: Any, frozen: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    store([Recipient(phone=f"1380000000{i}") for i in range(3)], channels=(SMS,))

    def slow_send(self: Any, phone: str, text: str) -> None:
        sms.outbox.append({"to": phone, "text": text})
        frozen.shift(LEASE)  # this one message took the whole lease

    monkeypatch.setattr(sms.LocmemBackend, "send", slow_send)

    report = deliver_due()

    assert (report.sent, report.more) == (1, True)
    statuses = sorted(Notification.objects.values_list("status", "attempts"))
    assert statuses == [(Status.PENDING, 0), (Status.PENDING, 0), (Status.SENT, 1)]


def test_beat_runs_the_delivery_sweep(settings: Any) -> None:
    from config.celery import app

    entry = app.conf.beat_schedule["deliver-notifications"]
    assert entry["task"] == "notifications.tasks.deliver_due"
    assert entry["schedule"] == float(settings.NOTIFY_SWEEP_INTERVAL)
    assert entry["options"]["expires"] == float(settings.NOTIFY_SWEEP_INTERVAL)

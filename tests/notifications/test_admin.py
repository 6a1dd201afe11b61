"""The back-office outbox: failed deliveries are easy to find and to retry."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from accounts.models import User
from notifications.models import Notification
from notifications.services import Recipient
from tests.notifications.helpers import EMAIL, SMS, store

pytestmark = pytest.mark.django_db
Status = Notification.Status


@pytest.fixture
def client(admin_user: User) -> Client:
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(admin_user)
    return client


@pytest.fixture
def failed(staff: User, petitioner: Recipient) -> Notification:
    store([staff, petitioner], channels=(EMAIL, SMS))
    row = Notification.objects.get(channel=SMS, user=None)
    Notification.objects.filter(pk=row.pk).update(
        status=Status.FAILED, attempts=6, last_error="SmsError: gateway said 401 Unauthorized"
    )
    row.refresh_from_db()
    return row


def test_the_list_points_at_failed_deliveries(client: Client, failed: Notification) -> None:
    page = client.get("/admin/notifications/notification/").content.decode()
    assert "1 notification could not be delivered." in page
    assert 'href="?status__exact=failed"' in page

    only_failed = client.get("/admin/notifications/notification/?status__exact=failed")
    text = only_failed.content.decode()
    assert only_failed.status_code == 200
    assert "SmsError: gateway said 401 Unauthorized" in text
    assert "13812345678" in text  # the recipient
    assert "wang@example.gov.cn" not in text
    assert "could not be delivered" not in text


def test_a_notification_is_read_only(client: Client, failed: Notification) -> None:
    page = client.get(f"/admin/notifications/notification/{failed.pk}/change/")
    assert page.status_code == 200
    assert "gateway said 401 Unauthorized" in page.content.decode()
    assert client.get("/admin/notifications/notification/add/").status_code == 403
    deleted = client.post(f"/admin/notifications/notification/{failed.pk}/delete/", {"post": "yes"})
    assert deleted.status_code == 403
    assert Notification.objects.filter(pk=failed.pk).exists()


def test_retry_now_sends_failed_rows_again(
    client: Client, failed: Notification, django_capture_on_commit_callbacks: Any
) -> None:
    pending = Notification.objects.filter(status=Status.PENDING).values_list("pk", flat=True)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            "/admin/notifications/notification/",
            {"action": "retry_now", "_selected_action": [failed.pk, *pending]},
            follow=True,
        )

    assert "1 notification will be sent again." in response.content.decode()
    failed.refresh_from_db()
    # Queued after commit and, in tests, delivered at once.
    assert (failed.status, failed.attempts) == (Status.SENT, 1)


def test_retry_now_on_rows_that_did_not_fail_says_so(client: Client, staff: User) -> None:
    store([staff], channels=(EMAIL,))
    response = client.post(
        "/admin/notifications/notification/",
        {"action": "retry_now", "_selected_action": [Notification.objects.get().pk]},
        follow=True,
    )
    assert "None of them had failed." in response.content.decode()

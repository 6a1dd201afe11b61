"""The citizen's tracking page costs the same number of queries however long its story."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from complaints.models import Complaint, Event, Reply
from intake import services
from intake.submission import Submission

pytestmark = pytest.mark.django_db


def queries(client: Client, url: str) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200
    return len(captured)


def more_of_the_story(complaint: Complaint) -> None:
    """A question answered, and a reply sent: lines the petitioner sees."""
    Event.objects.create(
        complaint=complaint, kind="complaint.info_requested", payload={"question": "哪个路口？"}
    )
    Event.objects.create(
        complaint=complaint, kind="complaint.info_supplied", payload={"details": "人民路口。"}
    )
    Event.objects.create(complaint=complaint, kind="complaint.note_added", payload={"body": "内部"})
    Reply.objects.create(
        complaint=complaint, body="已修复。", sent_at=timezone.now(), delivery="portal"
    )


def test_the_tracking_page_costs_the_same_for_5_steps_as_for_30() -> None:
    receipt = services.submit(
        Submission(
            channel="web", title="路灯坏了", content="人民路的路灯坏了。", phone="13800000000"
        )
    )
    complaint = receipt.complaint
    browser = Client(HTTP_ACCEPT_LANGUAGE="en")
    url = f"/track/{complaint.tracking_code}/"
    assert browser.get(f"{url}{receipt.secret}/").status_code == 302  # opens the session
    for _ in range(5):
        more_of_the_story(complaint)
    queries(browser, url)
    few = queries(browser, url)
    for _ in range(25):
        more_of_the_story(complaint)
    assert queries(browser, url) == few

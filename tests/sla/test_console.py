"""The console's deadline board shows late and due-soon limits within the user's reach."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from accounts.models import User
from complaints import services
from complaints.models import Complaint
from routing.models import Category, Department
from sla import services as sla_services
from sla.models import Deadline, Stage
from sla.sweep import sweep

pytestmark = pytest.mark.django_db


@pytest.fixture
def late(
    facilities: Category, dispatcher: User, urban: Department, handler: User, head: User
) -> Complaint:
    complaint = services.submit_complaint(
        title="积水严重", content="解放路下雨积水", channel="web"
    ).complaint
    services.classify(
        complaint_id=complaint.pk, category=facilities, priority="urgent", actor=dispatcher
    )
    services.assign(complaint_id=complaint.pk, department=urban, assignee=handler, actor=dispatcher)
    sweep(now=timezone.now() + timedelta(hours=3))  # accept (2 h) passed: level 1
    return complaint


def test_the_head_sees_the_late_limit_marked_supervised(
    late: Complaint, head: User, client: Client
) -> None:
    client.force_login(head)

    page = client.get("/console/deadlines/", HTTP_ACCEPT_LANGUAGE="en")

    html = page.content.decode()
    assert page.status_code == 200
    assert late.tracking_code in html
    assert "Start handling" in html
    assert 'class="supervision yellow"' in html


def test_another_department_does_not_see_it(
    late: Complaint, market_handler: User, client: Client
) -> None:
    client.force_login(market_handler)

    html = client.get("/console/deadlines/", HTTP_ACCEPT_LANGUAGE="en").content.decode()

    assert late.tracking_code not in html
    assert "Nothing is late" in html


def test_the_head_sees_extension_requests_to_decide(
    late: Complaint, handler: User, head: User, client: Client
) -> None:
    cycle = Deadline.objects.get(complaint=late, stage=Stage.CYCLE)
    sla_services.request_extension(
        deadline_id=cycle.pk,
        until=cycle.due_at + timedelta(days=2),
        reason="等施工队",
        actor=handler,
    )
    client.force_login(head)

    html = client.get("/console/deadlines/", HTTP_ACCEPT_LANGUAGE="en").content.decode()

    assert "Extensions waiting for your decision" in html
    assert "等施工队" in html


def test_the_board_needs_a_login(client: Client) -> None:
    response = client.get("/console/deadlines/")
    assert response.status_code == 302
    assert "/console/login/" in response["Location"]


def test_limits_far_from_their_warning_point_are_not_listed(
    facilities: Category,
    dispatcher: User,
    urban: Department,
    handler: User,
    head: User,
    client: Client,
) -> None:
    complaint = services.submit_complaint(
        title="长椅损坏", content="公园长椅坏了", channel="web"
    ).complaint
    services.classify(
        complaint_id=complaint.pk, category=facilities, priority="normal", actor=dispatcher
    )
    services.assign(complaint_id=complaint.pk, department=urban, assignee=handler, actor=dispatcher)
    client.force_login(head)

    html = client.get("/console/deadlines/", HTTP_ACCEPT_LANGUAGE="en").content.decode()

    # Accept within 24 h, plan within 24 h, cycle in 5 working days: none needs attention.
    assert complaint.tracking_code not in html

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
from sla.models import Deadline, ExtensionRequest, Stage
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


def test_a_handler_asks_for_more_time_and_the_head_approves_in_the_console(
    late: Complaint, handler: User, head: User, client: Client
) -> None:
    cycle = Deadline.objects.get(complaint=late, stage=Stage.CYCLE)
    client.force_login(handler)
    board = client.get("/console/deadlines/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert f"/console/deadlines/{cycle.pk}/extend/" not in board  # not late: not listed
    until = timezone.localtime(cycle.due_at + timedelta(days=3)).strftime("%Y-%m-%dT%H:%M")

    refused = client.post(
        f"/console/deadlines/{cycle.pk}/extend/",
        {"until": until, "reason": ""},
        HTTP_ACCEPT_LANGUAGE="en",
    )
    asked = client.post(
        f"/console/deadlines/{cycle.pk}/extend/",
        {"until": until, "reason": "等施工队进场"},
        HTTP_ACCEPT_LANGUAGE="en",
    )

    assert refused.status_code == 200
    assert "This field is required." in refused.content.decode()
    assert asked.status_code == 302
    request = ExtensionRequest.objects.get()
    client.force_login(head)
    page = client.get(f"/console/extensions/{request.pk}/", HTTP_ACCEPT_LANGUAGE="en")
    assert "等施工队进场" in page.content.decode()
    no_reason = client.post(
        f"/console/extensions/{request.pk}/", {"decision": "refuse"}, HTTP_ACCEPT_LANGUAGE="en"
    )
    assert "Say why the extension is refused." in no_reason.content.decode()
    done = client.post(
        f"/console/extensions/{request.pk}/",
        {"decision": "approve", "note": "同意"},
        HTTP_ACCEPT_LANGUAGE="en",
    )
    assert done.status_code == 302
    request.refresh_from_db()
    assert request.state == ExtensionRequest.State.APPROVED
    cycle.refresh_from_db()
    assert timezone.localtime(cycle.due_at).strftime("%Y-%m-%dT%H:%M") == until


def test_the_late_accept_limit_offers_more_time_to_its_handler_only(
    late: Complaint, handler: User, colleague: User, client: Client
) -> None:
    accept = Deadline.objects.get(complaint=late, stage=Stage.ACCEPT)
    client.force_login(handler)
    assert (
        f"/console/deadlines/{accept.pk}/extend/"
        in client.get("/console/deadlines/").content.decode()
    )

    client.force_login(colleague)  # same department, not the handler: out of reach
    assert client.get(f"/console/deadlines/{accept.pk}/extend/").status_code == 404


def test_extension_pages_check_the_role(
    late: Complaint, market_head: User, head: User, handler: User, client: Client
) -> None:
    cycle = Deadline.objects.get(complaint=late, stage=Stage.CYCLE)
    request = sla_services.request_extension(
        deadline_id=cycle.pk, until=cycle.due_at + timedelta(days=1), reason="x", actor=handler
    )
    client.force_login(market_head)
    assert client.get(f"/console/extensions/{request.pk}/").status_code == 404
    client.force_login(handler)
    assert client.get(f"/console/extensions/{request.pk}/").status_code == 403

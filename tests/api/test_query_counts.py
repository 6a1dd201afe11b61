"""Lists cost the same number of queries for 2 rows as for 20: no query per row (N+1)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.models import User
from complaints import services
from intake.models import ChannelClient, ClientSubmission
from routing.models import Category, Department
from tests.api.conftest import Api
from tests.factories import complaint_in


def queries(api: Api, url: str) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = api.get(url)
    assert response.status_code == 200, response.content
    return len(captured)


def same_cost(api: Api, url: str, add: Callable[[], Any]) -> None:
    """``url`` with 2 rows and with 20 rows takes the same number of queries."""
    for _ in range(2):
        add()
    queries(api, url)  # the first call also notes the token's use (once a minute)
    few = queries(api, url)
    for _ in range(18):
        add()
    assert queries(api, url) == few


def test_the_staff_list(
    api: Api, supervisor: User, urban: Department, facilities: Category, handler: User
) -> None:
    api.as_staff(supervisor)
    same_cost(
        api,
        "/api/v1/complaints/?page_size=50",
        lambda: complaint_in("assigned", department=urban, assignee=handler, category=facilities),
    )


def test_a_channels_list(api: Api) -> None:
    client = api.as_client(scopes=[ChannelClient.Scope.READ_OWN])
    same_cost(
        api,
        "/api/v1/submissions/?page_size=50",
        lambda: ClientSubmission.objects.create(client=client, complaint=complaint_in("received")),
    )


def test_the_timeline(api: Api, supervisor: User) -> None:
    complaint = complaint_in("received")
    api.as_staff(supervisor)
    same_cost(
        api,
        f"/api/v1/complaints/{complaint.pk}/events/?page_size=50",
        lambda: services.add_note(complaint_id=complaint.pk, body="已电话联系。", actor=supervisor),
    )


@pytest.mark.parametrize("query", ["张伟", "13812345678"])
def test_the_petitioner_look_up(api: Api, supervisor: User, query: str) -> None:
    api.as_staff(supervisor)
    same_cost(api, f"/api/v1/petitioners/?q={query}&page_size=50", lambda: complaint_in("received"))


def _submit(api: Api, n: int) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = api.post(
            "/api/v1/intake/",
            {
                "title": f"路灯不亮 {n}",
                "content": "小区门口的路灯坏了一个多星期，晚上一片漆黑。",
                "petitioner": {"name": "张三", "phone": f"1380013{n:04d}"},
                "location": f"幸福路 {n} 号",
            },
            format="json",
            HTTP_IDEMPOTENCY_KEY=f"query-count-{n}",
        )
    assert response.status_code == 201, response.content
    return len(captured)


def test_a_channel_submission_reads_the_configuration_once(api: Api) -> None:
    """The busiest write of all: SLA policies, calendars, categories, departments and
    webhook subscriptions are held per process, not read for every complaint."""
    api.as_client(scopes=[ChannelClient.Scope.INTAKE])
    _submit(api, 0)  # builds what the process holds, notes the token's use
    steady = _submit(api, 1)

    for n in range(10):
        Department.objects.create(code=f"extra{n}", name_zh=f"部门{n}", name_en=f"Dept {n}")
        Category.objects.create(code=f"extra{n}", name_zh=f"类别{n}", name_en=f"Category {n}")
    rebuilt = _submit(api, 2)  # the configuration changed: read again, once

    assert rebuilt > steady
    assert _submit(api, 3) == steady
    # Authentication, idempotency claim and answer, petitioner, complaint, its channel
    # client, event and deadlines, the configuration's generation tokens, transactions.
    assert steady <= 22

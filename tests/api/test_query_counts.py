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

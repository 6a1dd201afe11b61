"""The /reports/ page costs the same number of queries however much history it sums."""

from __future__ import annotations

import itertools
from datetime import timedelta

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import User
from reporting import rollups
from routing.models import Category, Department
from sla.models import Deadline
from tests.reporting.data import accepted, complaint, deadline, replied

pytestmark = pytest.mark.django_db
_numbers = itertools.count()


def a_year(departments: int) -> None:
    """Complaints over the past weeks in ``departments`` new departments and categories."""
    now = timezone.now()
    for _ in range(departments):
        n = next(_numbers)
        department = Department.objects.create(code=f"d{n}", name_zh=f"部门{n}", name_en=f"D{n}")
        category = Category.objects.create(
            code=f"c{n}", name_zh=f"类别{n}", name_en=f"C{n}", default_department=department
        )
        for weeks in range(3):
            c = complaint(
                now - timedelta(weeks=weeks, days=1),
                department=department,
                category=category,
                channel=["hotline", "web", "wechat"][n % 3],
            )
            accepted(c, timedelta(hours=2))
            replied(c, timedelta(hours=30))
            deadline(c, "cycle", Deadline.State.MET if n % 2 else Deadline.State.MISSED)
    rollups.rebuild(timezone.localdate() - timedelta(days=1))


def queries(client: Client, url: str) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url, headers={"Accept-Language": "en"})
    assert response.status_code == 200
    return len(captured)


@pytest.mark.parametrize("period", ["", "?period=this_quarter"])
def test_the_report_page_costs_the_same_for_5_departments_as_for_30(
    period: str, supervisor: User, client: Client
) -> None:
    client.force_login(supervisor)
    a_year(5)
    queries(client, "/reports/" + period)  # the first request of a session fills caches
    few = queries(client, "/reports/" + period)
    a_year(25)
    assert queries(client, "/reports/" + period) == few

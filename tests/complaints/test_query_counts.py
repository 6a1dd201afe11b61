"""The console's pages cost the same number of queries for 5 rows as for 30: no N+1.

Each test fills a page with a few rows, counts the queries of one request, adds many more
rows and counts again. A query per row (a relation read in a loop or a template) makes
the second count larger; a page that reads a bounded set of queries keeps it equal.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import User
from complaints import services
from complaints.models import Complaint, Event, Reply, Supervision
from routing.models import Category, Department
from sla.models import Deadline
from tests.factories import approved_draft, complaint_in

pytestmark = pytest.mark.django_db
FEW, MANY = 5, 30


def queries(client: Client, url: str) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url, headers={"Accept-Language": "en"})
    assert response.status_code == 200, response.content[:500]
    return len(captured)


def same_cost(client: Client, url: str, add: Callable[[], Any]) -> int:
    """``url`` with FEW rows and with MANY rows takes the same number of queries."""
    for _ in range(FEW):
        add()
    queries(client, url)  # the first request of a session fills its caches
    few = queries(client, url)
    for _ in range(MANY - FEW):
        add()
    assert queries(client, url) == few
    return few


def running(complaint: Complaint, hours: int = 24) -> Complaint:
    """``complaint`` with a running time limit, as the queue's due order reads them."""
    now = timezone.now()
    Deadline.objects.create(
        complaint=complaint,
        stage="cycle",
        basis="calendar",
        started_at=now,
        warn_at=now + timedelta(hours=hours // 2),
        due_at=now + timedelta(hours=hours),
    )
    return complaint


# --- Queues -----------------------------------------------------------------------------


@pytest.fixture
def rows(urban: Department, facilities: Category, handler: User) -> dict[str, Callable[[], Any]]:
    """For each queue, how to add one complaint that shows in it."""
    ours = {"department": urban, "category": facilities}

    def waiting_for_approval() -> Complaint:
        complaint = running(complaint_in("in_progress", assignee=handler, **ours))
        Reply.objects.create(complaint=complaint, body="已处理。", required_levels=1)
        return complaint

    return {
        "mine": lambda: running(complaint_in("in_progress", assignee=handler, **ours)),
        "department": lambda: running(complaint_in("assigned", assignee=handler, **ours)),
        "inbox": lambda: running(complaint_in("received")),
        "approval": waiting_for_approval,
        "overdue": lambda: running(
            complaint_in(
                "in_progress",
                assignee=handler,
                overdue_since=timezone.now(),
                supervision=Supervision.YELLOW,
                **ours,
            )
        ),
        "all": lambda: running(complaint_in("replied", assignee=handler, **ours)),
    }


@pytest.mark.parametrize(
    ("queue", "persona"),
    [
        ("mine", "handler"),
        ("department", "head"),
        ("department", "handler"),
        ("inbox", "dispatcher"),
        ("approval", "head"),
        ("overdue", "supervisor"),
        ("all", "supervisor"),
    ],
)
@pytest.mark.parametrize("sort", ["due", "newest"])
def test_a_queue_costs_the_same_however_many_rows_it_shows(
    queue: str,
    persona: str,
    sort: str,
    rows: dict[str, Callable[[], Any]],
    client: Client,
    request: pytest.FixtureRequest,
) -> None:
    client.force_login(request.getfixturevalue(persona))
    same_cost(client, f"/console/queue/?q={queue}&sort={sort}", rows[queue])


@pytest.mark.parametrize("text", ["路灯", "lamp post", "13812345678", "45678"])
def test_a_search_costs_the_same_however_many_complaints_it_finds(
    text: str, supervisor: User, rows: dict[str, Callable[[], Any]], client: Client
) -> None:
    client.force_login(supervisor)
    same_cost(client, f"/console/queue/?q=all&text={text}", rows["all"])


def test_a_later_page_costs_what_the_first_costs(
    head: User, rows: dict[str, Callable[[], Any]], client: Client
) -> None:
    client.force_login(head)
    for _ in range(60):  # more than a page
        rows["department"]()
    first = client.get("/console/queue/?q=department", headers={"Accept-Language": "en"})
    later = first.context["next_url"]
    assert later
    # One more at most: the page where complaints with a running limit run out reads the
    # first of those without one too.
    assert queries(client, "/console/queue/" + later) <= 1 + queries(
        client, "/console/queue/?q=department"
    )


# --- The complaint page -----------------------------------------------------------------


@pytest.fixture
def in_progress(urban: Department, facilities: Category, handler: User) -> Complaint:
    return running(
        complaint_in("in_progress", department=urban, category=facilities, assignee=handler)
    )


def a_step(
    complaint: Complaint, actor: User, urban: Department, handler: User
) -> Callable[[], Any]:
    """Add one line to the timeline, with an actor and names to look up, and a reply."""

    def add() -> None:
        services.add_note(complaint_id=complaint.pk, body="已电话联系。", actor=actor)
        Event.objects.create(
            complaint=complaint,
            kind="complaint.transferred",
            actor=actor,
            payload={
                "department": urban.code,
                "assignee": handler.username,
                "category": "facilities",
                "reason": "转回本部门。",
            },
        )
        Reply.objects.create(
            complaint=complaint, body="已回复。", sent_at=timezone.now(), delivery="portal"
        )

    return add


@pytest.mark.parametrize("persona", ["handler", "head", "supervisor"])
def test_the_complaint_page_costs_the_same_however_long_its_timeline(
    persona: str,
    in_progress: Complaint,
    urban: Department,
    handler: User,
    client: Client,
    request: pytest.FixtureRequest,
) -> None:
    user = request.getfixturevalue(persona)
    client.force_login(user)
    same_cost(
        client,
        f"/console/complaints/{in_progress.pk}/",
        a_step(in_progress, user, urban, handler),
    )


def test_the_complaint_page_costs_the_same_however_many_replies_are_suggested(
    in_progress: Complaint, facilities: Category, urban: Department, handler: User, client: Client
) -> None:
    """The handler's page offers well-rated replies to similar complaints: read at once."""
    from django.core.cache import cache

    from complaints.models import Survey

    cache.clear()  # the candidates are kept a few minutes: none from another test

    def rated() -> None:
        other = complaint_in("closed", department=urban, category=facilities)
        reply = approved_draft(other, sent_at=timezone.now())
        Survey.objects.create(
            complaint=other,
            reply=reply,
            round=1,
            token_hash=f"{other.pk:064x}",
            closes_at=timezone.now(),
            answered_at=timezone.now(),
            rating=5,
            resolved=True,
        )

    client.force_login(handler)
    same_cost(client, f"/console/complaints/{in_progress.pk}/", rated)


def test_the_console_home_costs_the_same_however_much_work_is_waiting(
    head: User, rows: dict[str, Callable[[], Any]], client: Client
) -> None:
    client.force_login(head)
    same_cost(client, "/console/", rows["department"])

"""Staff of one department reach nothing of another — and every refusal is in the audit log.

The world: a handler and a head of urban management, and a complaint of market
regulation with an attachment, notes, a sent reply (by letter, so it has a PDF), a
deadline with a request for more time, and a co-handling task. Every door that takes that
complaint's id — console pages and actions, downloads, the REST API — answers 404 to the
urban staff (out of reach, it does not exist for them; a role without the permission at
all gets 403), and writes ``access.denied`` naming the complaint and the door. Every list
— queues, search, exports, the API list — leaves it out. The deliberate exceptions still
work: a co-handling department while its task is open, and the wide roles.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import AccessToken, AuditEntry, User
from complaints import permissions, queues, services
from complaints.console import page
from complaints.models import Attachment, CoHandlingTask, Complaint, Event
from routing.models import Category, Department
from sla.models import Deadline, ExtensionRequest, Stage
from tests.factories import complaint_in

pytestmark = pytest.mark.django_db

DENIED = "access.denied"


@pytest.fixture(autouse=True)
def _setup(settings: Any, tmp_path: Path) -> None:
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.API_RATE_STAFF = 0  # throttling is not what these tests are about


@dataclass
class Market:
    """Market regulation's complaint and everything hanging off it."""

    complaint: Complaint
    attachment: Attachment
    reply_pk: int
    deadline: Deadline
    extension: ExtensionRequest
    task: CoHandlingTask


@pytest.fixture
def theirs(
    dispatcher: User, market_handler: User, market: Department, facilities: Category
) -> Market:
    tax = Department.objects.create(code="tax", name_zh="税务局", name_en="Tax Bureau")
    complaint = services.submit_complaint(
        title="市场乱收费",
        content="农贸市场向摊主乱收管理费。",
        channel="letter",
        petitioner=services.PetitionerDetails(
            name="赵敏", phone="13700002222", address="菜市街 3 号"
        ),
        attachments=[SimpleUploadedFile("receipt.png", b"\x89PNG\r\n\x1a\n" + b"\0" * 64)],
    ).complaint
    services.classify(
        complaint_id=complaint.pk, category=facilities, priority="normal", actor=dispatcher
    )
    services.assign(
        complaint_id=complaint.pk, department=market, assignee=market_handler, actor=dispatcher
    )
    services.accept(complaint_id=complaint.pk, actor=market_handler)
    services.add_note(complaint_id=complaint.pk, body="摊主王某提供了收据。", actor=market_handler)
    services.draft_reply(complaint_id=complaint.pk, body="已责令退还。", actor=market_handler)
    services.send_reply(complaint_id=complaint.pk, actor=market_handler)
    now = timezone.now()
    deadline = Deadline.objects.create(
        complaint=complaint,
        stage=Stage.CYCLE,
        basis="business",
        started_at=now,
        due_at=now + timedelta(days=5),
    )
    extension = ExtensionRequest.objects.create(
        deadline=deadline,
        reason="等待检测报告",
        previous_due_at=deadline.due_at,
        requested_due_at=deadline.due_at + timedelta(days=2),
        requested_by=market_handler,
    )
    task = CoHandlingTask.objects.create(
        complaint=complaint,
        department=tax,
        task="核查发票",
        due_at=now + timedelta(days=2),
        requested_by=market_handler,
    )
    complaint.refresh_from_db()
    return Market(
        complaint=complaint,
        attachment=complaint.attachments.get(),
        reply_pk=complaint.replies.get().pk,
        deadline=deadline,
        extension=extension,
        task=task,
    )


@pytest.fixture
def ours(urban: Department, handler: User) -> Complaint:
    return complaint_in("in_progress", department=urban, assignee=handler, title="路灯不亮")


def console(user: User) -> Client:
    client = Client(HTTP_ACCEPT_LANGUAGE="en", REMOTE_ADDR="192.0.2.44")
    client.force_login(user)
    return client


def api_as(user: User) -> tuple[APIClient, AccessToken]:
    token, raw = AccessToken.create_with_token(
        user=user, name="probe", scope=AccessToken.Scope.WRITE
    )
    client = APIClient(REMOTE_ADDR="192.0.2.45")
    client.credentials(HTTP_AUTHORIZATION=f"Token {raw}")
    return client, token


def unchanged(market: Market) -> tuple[Any, ...]:
    complaint = Complaint.objects.get(pk=market.complaint.pk)
    return (
        complaint.status,
        complaint.version,
        complaint.department_id,
        complaint.assignee_id,
        Event.objects.filter(complaint=complaint).count(),
        complaint.attachments.count(),
        complaint.replies.count(),
        CoHandlingTask.objects.filter(complaint=complaint).count(),
        ExtensionRequest.objects.get(pk=market.extension.pk).state,
        Deadline.objects.get(pk=market.deadline.pk).due_at,
    )


# --- The console ----------------------------------------------------------------------


def console_doors(market: Market) -> list[tuple[str, str, str, dict[str, Any]]]:
    """(method, url, URL name written as ``via``, body) of every console page and action
    that takes the complaint (or its file, letter, deadline, extension)."""
    pk = market.complaint.pk
    doors: list[tuple[str, str, str, dict[str, Any]]] = [
        ("get", f"/console/complaints/{pk}/", "console:complaint", {}),
        ("get", f"/console/complaints/{pk}/reveal/", "console:reveal", {}),
        ("post", f"/console/complaints/{pk}/reveal/", "console:reveal", {"reason": "核实"}),
        (
            "get",
            f"/console/complaints/{pk}/replies/{market.reply_pk}/letter.pdf",
            "console:reply_letter",
            {},
        ),
        ("get", f"/console/attachments/{market.attachment.pk}/", "console:attachment", {}),
        (
            "post",
            f"/console/deadlines/{market.deadline.pk}/extend/",
            "console:request_extension",
            {"until": "2099-01-01T00:00", "reason": "x"},
        ),
        (
            "post",
            f"/console/extensions/{market.extension.pk}/",
            "console:decide_extension",
            {"decision": "approve"},
        ),
    ]
    actions = [*services.SERVICE_FOR_ACTION, *page.SIDE_FORMS, "approve"]
    for action in sorted(set(actions)):
        doors.append(
            (
                "post",
                f"/console/complaints/{pk}/do/{action}/",
                "console:complaint_act",
                {"version": market.complaint.version, f"{action}-body": "x", "body": "x"},
            )
        )
    return doors


@pytest.mark.parametrize("persona", ["handler", "head"])
def test_the_console_does_not_show_or_act_on_another_departments_complaint(
    persona: str, theirs: Market, request: pytest.FixtureRequest
) -> None:
    user: User = request.getfixturevalue(persona)
    client = console(user)
    before = unchanged(theirs)

    for method, url, via, body in console_doors(theirs):
        entries = AuditEntry.objects.filter(action=DENIED).count()
        response = getattr(client, method)(url, body)
        assert response.status_code == 404, (method, url, response.status_code)
        assert b"\xe5\xb8\x82\xe5\x9c\xba\xe4\xb9\xb1\xe6\x94\xb6\xe8\xb4\xb9" not in (
            response.content
        )  # the title, 市场乱收费
        # One entry per refusal: who, what, through which door, from where.
        denied = AuditEntry.objects.filter(action=DENIED).order_by("pk")
        assert denied.count() == entries + 1, url
        entry = denied.last()
        assert entry is not None
        assert (entry.actor, entry.target, entry.detail["via"], entry.ip) == (
            user,
            f"complaint:{theirs.complaint.pk}",
            via,
            "192.0.2.44",
        )

    assert unchanged(theirs) == before


def test_the_data_request_pages_are_closed_to_department_staff(
    handler: User, head: User, theirs: Market
) -> None:
    # A role without the permission is refused outright (403), whatever the object.
    for user in (handler, head):
        client = console(user)
        for url in ("/console/data-requests/", "/console/data-requests/new/"):
            assert client.get(url).status_code == 403
        response = client.post(
            "/console/data-requests/new/",
            {"tracking_code": theirs.complaint.tracking_code, "kind": "export"},
        )
        assert response.status_code == 403


def test_no_queue_or_search_lists_another_departments_complaint(
    handler: User, head: User, market: Department, theirs: Market, ours: Complaint
) -> None:
    code = theirs.complaint.tracking_code
    for user in (handler, head):
        client = console(user)
        usable = [queue.name for queue in queues.queues_for(user)]
        assert "department" in usable
        searches: list[dict[str, Any]] = [
            {},
            {"department": market.pk},
            {"text": "乱收费"},
            {"text": code},
            {"status": "replied"},
        ]
        for name in queues.QUEUES:
            for filters in searches:
                response = client.get("/console/queue/", {"q": name, **filters})
                assert response.status_code in (200, 404), (name, filters)
                # The page repeats the search text; the complaint's row is what must not show.
                html = response.content.decode()
                assert f"/console/complaints/{theirs.complaint.pk}/" not in html, (name, filters)
                assert "市场乱收费" not in html, (user, name, filters)
        department = client.get("/console/queue/", {"q": "department"}).content.decode()
        assert ours.tracking_code in department  # the page does list what is theirs


def test_bulk_actions_skip_another_departments_complaint_and_log_it(
    head: User, urban: Department, theirs: Market
) -> None:
    before = unchanged(theirs)
    response = console(head).post(
        "/console/queue/bulk/",
        {
            "pick": [f"{theirs.complaint.pk}:{theirs.complaint.version}"],
            "bulk-department": urban.pk,
            "bulk-reason": "归口城管",
        },
    )
    assert response.status_code == 302
    assert unchanged(theirs) == before
    entry = AuditEntry.objects.get(action=DENIED)
    assert (entry.actor, entry.target, entry.detail["via"]) == (
        head,
        f"complaint:{theirs.complaint.pk}",
        "console:queue_bulk",
    )


def read_csv(content: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(content.decode("utf-8-sig"), newline="")))


def test_exports_of_complaint_lists_leave_out_another_departments_rows(
    handler: User, head: User, market: Department, theirs: Market, ours: Complaint
) -> None:
    for user in (handler, head):
        client = console(user)
        usable = {queue.name for queue in queues.queues_for(user)}
        for name in queues.QUEUES:
            for extra in ("", f"&department={market.pk}", "&text=乱收费"):
                response = client.post(
                    "/reports/exports/",
                    {"export": "complaints", "query": f"q={name}{extra}", "format": "csv"},
                )
                if name not in usable:
                    assert response.status_code == 404
                    continue
                assert response.status_code == 200, (name, response.status_code)
                assert response["Content-Disposition"].startswith("attachment")
                rows = read_csv(response.content)
                codes = [row[rows[0].index("Tracking code")] for row in rows[1:]]
                assert theirs.complaint.tracking_code not in codes
        # Not vacuous: the department's own export has its own complaint.
        rows = read_csv(
            client.post(
                "/reports/exports/",
                {"export": "complaints", "query": "q=department", "format": "csv"},
            ).content
        )
        assert ours.tracking_code in [row[rows[0].index("Tracking code")] for row in rows]


# --- The API ----------------------------------------------------------------------------


def api_doors(market: Market) -> list[tuple[str, str]]:
    """Every API address that takes the complaint (or its file, task, deadline,
    extension), from the URL configuration itself: a new endpoint is covered at once."""
    from api import urls

    values = {
        "pk": market.complaint.pk,
        "deadline_id": market.deadline.pk,
        "task_id": market.task.pk,
    }
    doors = []
    for pattern in urls.urlpatterns:
        route = str(pattern.pattern)
        if route.startswith("complaints/<id:pk>/"):
            doors.append((pattern.name or "", "/api/v1/" + fill(route, values)))
    doors += [
        ("attachment-download", f"/api/v1/attachments/{market.attachment.pk}/download/"),
        ("co-handling-complete", f"/api/v1/co-handling/{market.task.pk}/complete/"),
        ("extension-decide", f"/api/v1/extensions/{market.extension.pk}/decide/"),
    ]
    return doors


def fill(route: str, values: dict[str, int]) -> str:
    for name, value in values.items():
        route = route.replace(f"<id:{name}>", str(value))
    assert "<" not in route, route
    return route


@pytest.mark.parametrize("persona", ["handler", "head"])
def test_no_api_endpoint_reaches_another_departments_complaint(
    persona: str, theirs: Market, request: pytest.FixtureRequest
) -> None:
    user: User = request.getfixturevalue(persona)
    client, token = api_as(user)
    before = unchanged(theirs)
    doors = api_doors(theirs)
    assert len(doors) > 30  # every action, the timeline, files, replies, survey …

    for name, url in doors:
        statuses = set()
        for method in ("get", "post", "put"):
            entries = AuditEntry.objects.filter(action=DENIED).count()
            response = getattr(client, method)(url, {}, format="json")
            statuses.add(response.status_code)
            # 403/405: a method the endpoint does not offer, refused before any look-up.
            assert response.status_code in (403, 404, 405), (method, url, response.status_code)
            assert "市场乱收费" not in response.content.decode()
            if response.status_code == 404:
                entry = AuditEntry.objects.filter(action=DENIED).order_by("pk").last()
                assert AuditEntry.objects.filter(action=DENIED).count() == entries + 1, url
                assert entry is not None
                assert entry.target == f"complaint:{theirs.complaint.pk}"
                assert entry.actor == user
                assert entry.detail == {"via": f"api:{name}", "token": f"accesstoken:{token.pk}"}
        assert 404 in statuses, (url, statuses)  # the method it offers: not found
    assert unchanged(theirs) == before


def test_api_lists_and_searches_leave_out_another_departments_complaint(
    head: User, market: Department, theirs: Market, ours: Complaint
) -> None:
    client, _token = api_as(head)
    for query in (
        {},
        {"department": market.code},
        {"text": "乱收费"},
        {"text": theirs.complaint.tracking_code},
        *({"queue": name} for name in queues.QUEUES),
    ):
        response = client.get("/api/v1/complaints/", query)
        assert response.status_code in (200, 400), query
        assert theirs.complaint.tracking_code not in response.content.decode(), query
    assert ours.tracking_code in client.get("/api/v1/complaints/").content.decode()

    # The petitioner look-up: by name, and by id.
    found = client.get("/api/v1/petitioners/", {"q": "赵敏"})
    assert found.status_code == 200
    assert found.json()["results"] == []
    petitioner = theirs.complaint.petitioner_id
    assert client.get(f"/api/v1/petitioners/{petitioner}/").status_code == 404
    entry = AuditEntry.objects.filter(action=DENIED).order_by("pk").last()
    assert entry is not None
    assert entry.target == f"petitioner:{petitioner}"
    assert entry.detail["via"] == "api:petitioner"


# --- What is not logged, and what it costs ----------------------------------------------


def test_an_id_that_does_not_exist_is_not_found_and_not_logged(handler: User) -> None:
    assert console(handler).get("/console/complaints/999999/").status_code == 404
    client, _token = api_as(handler)
    assert client.get("/api/v1/complaints/999999/").status_code == 404
    assert not AuditEntry.objects.filter(action=DENIED).exists()


def test_the_allowed_path_costs_one_query_and_logs_nothing(
    handler: User, ours: Complaint, django_assert_num_queries: Any
) -> None:
    handler.has_perm("complaints.view_complaint")  # the permission cache, as in a request
    with django_assert_num_queries(1):
        found = permissions.complaint_or_404(handler, ours.pk)
    assert found == ours
    assert console(handler).get(f"/console/complaints/{ours.pk}/").status_code == 200
    assert not AuditEntry.objects.filter(action=DENIED).exists()


# --- The deliberate exceptions ------------------------------------------------------------


def test_a_co_handling_department_reaches_the_complaint_while_its_task_is_open(
    handler: User, urban: Department, theirs: Market
) -> None:
    task = CoHandlingTask.objects.create(
        complaint=theirs.complaint,
        department=urban,
        task="核查摊位占道",
        due_at=timezone.now() + timedelta(days=1),
    )
    client, _token = api_as(handler)
    browser = console(handler)
    pk = theirs.complaint.pk

    assert browser.get(f"/console/complaints/{pk}/").status_code == 200
    assert client.get(f"/api/v1/complaints/{pk}/").status_code == 200
    assert client.get(f"/api/v1/complaints/{pk}/events/").status_code == 200
    assert browser.get(f"/console/attachments/{theirs.attachment.pk}/").status_code == 200
    listed = client.get("/api/v1/complaints/").json()["results"]
    assert pk in [row["id"] for row in listed]
    assert not AuditEntry.objects.filter(action=DENIED).exists()

    task.status = CoHandlingTask.Status.DONE
    task.save(update_fields=["status"])
    assert browser.get(f"/console/complaints/{pk}/").status_code == 404
    assert client.get(f"/api/v1/complaints/{pk}/").status_code == 404
    assert AuditEntry.objects.filter(action=DENIED).count() == 2


@pytest.mark.parametrize("persona", ["supervisor", "dispatcher"])
def test_wider_roles_reach_every_department(
    persona: str, theirs: Market, request: pytest.FixtureRequest
) -> None:
    user: User = request.getfixturevalue(persona)
    pk = theirs.complaint.pk
    browser = console(user)
    client, _token = api_as(user)

    assert browser.get(f"/console/complaints/{pk}/").status_code == 200
    assert browser.get(f"/console/attachments/{theirs.attachment.pk}/").status_code == 200
    assert client.get(f"/api/v1/complaints/{pk}/").status_code == 200
    assert client.get(f"/api/v1/complaints/{pk}/events/").status_code == 200
    assert client.get(f"/api/v1/complaints/{pk}/attachments/").status_code == 200
    assert not AuditEntry.objects.filter(action=DENIED).exists()

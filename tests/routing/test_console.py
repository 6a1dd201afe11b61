"""The dispatcher's inbox: what routing was unsure of, triaged with its suggestion preselected."""

from __future__ import annotations

import pytest
from django.test import Client

from accounts.models import User
from complaints.models import Complaint
from intake import services as intake
from intake.submission import Submission
from routing import services
from routing.decide import Decision
from routing.models import Category, Department, DuplicateCandidate

pytestmark = pytest.mark.django_db
LAMP = "幸福路88号小区南门外的三盏路灯已经坏了两周，晚上漆黑一片，请尽快维修。"


def submit(content: str = LAMP, phone: str = "13812345678") -> Complaint:
    return intake.submit(
        Submission(channel="web", title="路灯", content=content, phone=phone)
    ).complaint


@pytest.fixture
def unsure(monkeypatch: pytest.MonkeyPatch, facilities: Category) -> Decision:
    decision = Decision(category="facilities", priority="urgent", confidence=0.55, sensitive=False)
    monkeypatch.setattr(services, "decide", lambda text: decision)
    return decision


@pytest.fixture
def desk(client: Client, dispatcher: User) -> Client:
    client.force_login(dispatcher)
    return client


def test_the_inbox_lists_what_routing_left_with_its_suggestion(
    unsure: Decision, desk: Client
) -> None:
    complaint = submit()
    services.route_complaint(complaint.pk)

    html = desk.get("/console/inbox/", HTTP_ACCEPT_LANGUAGE="en").content.decode()

    assert complaint.tracking_code in html
    assert "Facilities · Urgent" in html
    assert "confidence 55%" in html


def test_triage_preselects_the_suggestion_and_classifies_and_assigns_in_one_go(
    unsure: Decision, desk: Client, urban: Department, handler: User
) -> None:
    complaint = submit()
    services.route_complaint(complaint.pk)
    page = desk.get(f"/console/inbox/{complaint.pk}/", HTTP_ACCEPT_LANGUAGE="en")
    form = page.context["form"]
    assert form.initial["category"].code == "facilities"
    assert form.initial["priority"] == "urgent"
    assert form.initial["department"] == urban  # the category's default department

    response = desk.post(
        f"/console/inbox/{complaint.pk}/",
        {
            "action": "classify",
            "category": form.initial["category"].pk,
            "priority": "urgent",
            "department": urban.pk,
            "version": complaint.version,
        },
    )

    assert response.status_code == 302
    complaint.refresh_from_db()
    assert complaint.status == Complaint.Status.ASSIGNED
    assert (complaint.priority, complaint.department, complaint.assignee) == (
        "urgent",
        urban,
        None,  # the department assigns manually: its head picks the handler
    )


def test_a_stale_form_is_a_conflict_not_an_overwrite(
    unsure: Decision, desk: Client, facilities: Category, dispatcher: User
) -> None:
    complaint = submit()
    services.route_complaint(complaint.pk)
    stale = complaint.version
    from complaints import services as complaint_services

    complaint_services.request_info(complaint_id=complaint.pk, question="?", actor=dispatcher)
    complaint_services.supply_info(complaint_id=complaint.pk, details="南门", actor=None)

    response = desk.post(
        f"/console/inbox/{complaint.pk}/",
        {"action": "classify", "category": facilities.pk, "priority": "normal", "version": stale},
        HTTP_ACCEPT_LANGUAGE="en",
        follow=True,
    )

    assert "changed by someone else" in response.content.decode()
    complaint.refresh_from_db()
    assert complaint.status == Complaint.Status.RECEIVED


def test_a_handler_of_another_department_is_refused(
    unsure: Decision, desk: Client, urban: Department, market_handler: User
) -> None:
    complaint = submit()
    services.route_complaint(complaint.pk)
    category = Category.objects.get(code="facilities")

    page = desk.post(
        f"/console/inbox/{complaint.pk}/",
        {
            "action": "classify",
            "category": category.pk,
            "priority": "normal",
            "department": urban.pk,
            "assignee": market_handler.pk,
        },
        HTTP_ACCEPT_LANGUAGE="en",
    )

    assert "Choose a handler of the chosen department." in page.content.decode()
    complaint.refresh_from_db()
    assert complaint.status == Complaint.Status.RECEIVED


def test_a_probable_repeat_is_merged_or_dismissed_from_the_triage_page(desk: Client) -> None:
    first = submit()
    again = submit("南门外三盏路灯坏了两周，晚上漆黑一片，尽快维修！")
    third = submit("南门外三盏路灯还是不亮，坏了两周了，请维修。")
    for complaint in (first, again, third):
        services.route_complaint(complaint.pk)
    [merge] = DuplicateCandidate.objects.filter(complaint=again)
    dismiss = DuplicateCandidate.objects.filter(complaint=third).first()
    assert dismiss is not None
    page = desk.get(f"/console/inbox/{again.pk}/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert first.tracking_code in page
    assert "% similar" in page

    desk.post(f"/console/inbox/{again.pk}/", {"action": "merge", "candidate": merge.pk})
    desk.post(f"/console/inbox/{third.pk}/", {"action": "dismiss", "candidate": dismiss.pk})

    again.refresh_from_db()
    assert again.status == Complaint.Status.MERGED
    assert again.merged_into_id == first.pk
    dismiss.refresh_from_db()
    assert dismiss.status == DuplicateCandidate.Status.DISMISSED


def test_reject_and_ask_for_details_need_their_text(unsure: Decision, desk: Client) -> None:
    complaint = submit()
    services.route_complaint(complaint.pk)

    empty = desk.post(
        f"/console/inbox/{complaint.pk}/",
        {"action": "reject", "reject-reason": ""},
        HTTP_ACCEPT_LANGUAGE="en",
    )
    assert "This field is required." in empty.content.decode()
    desk.post(f"/console/inbox/{complaint.pk}/", {"action": "reject", "reject-reason": "广告"})

    complaint.refresh_from_db()
    assert complaint.status == Complaint.Status.REJECTED


def test_only_dispatchers_reach_the_inbox(client: Client, handler: User) -> None:
    client.force_login(handler)
    assert client.get("/console/inbox/").status_code == 403


def test_nothing_waiting(desk: Client) -> None:
    html = desk.get("/console/inbox/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Nothing waits for a dispatcher." in html

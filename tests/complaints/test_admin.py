"""The back-office: complaints are read-only records whose buttons call the services."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from complaints.models import Complaint, Event
from tests.factories import complaint_in

S = Complaint.Status


@pytest.fixture
def admin_client_en(admin_user: Any) -> Client:
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(admin_user)
    return client


def change_url(complaint: Complaint) -> str:
    return reverse("admin:complaints_complaint_change", args=[complaint.pk])


def transition_url(complaint: Complaint, name: str) -> str:
    return reverse("admin:complaints_complaint_transition", args=[complaint.pk, name])


def test_the_change_page_offers_the_transitions_possible_now(admin_client_en: Client) -> None:
    complaint = complaint_in(S.RECEIVED)
    page = admin_client_en.get(change_url(complaint)).content.decode()
    for label in ("Classify", "Ask for details", "Reject", "Merge as duplicate", "Withdraw"):
        assert label in page
    assert "Archive" not in page


def test_a_transition_with_a_form_runs_the_service(
    admin_client_en: Client, admin_user: Any, facilities: Any
) -> None:
    complaint = complaint_in(S.RECEIVED)
    response = admin_client_en.post(
        transition_url(complaint, "classify"),
        {"category": facilities.pk, "priority": "urgent", "kind": ""},
    )
    assert response.status_code == 302
    complaint.refresh_from_db()
    assert (complaint.status, complaint.priority) == (S.CLASSIFIED, "urgent")
    event = Event.objects.get(complaint=complaint)
    assert (event.kind, event.actor) == ("complaint.classified", admin_user)


def test_a_transition_without_a_form_runs_from_the_change_page(admin_client_en: Client) -> None:
    complaint = complaint_in(S.CLOSED)
    # What the browser posts: the button's name plus the (empty) read-only inline forms.
    inlines = {
        f"{prefix}-{field}": "0"
        for prefix in ("deadlines", "replies", "surveys", "co_handling", "attachments", "events")
        for field in ("TOTAL_FORMS", "INITIAL_FORMS")
    }
    response = admin_client_en.post(
        change_url(complaint), {"_fsm_transition_to": "archive", **inlines}
    )
    assert response.status_code == 302
    complaint.refresh_from_db()
    assert complaint.status == S.ARCHIVED


def test_a_refused_guard_is_shown_and_changes_nothing(admin_client_en: Client) -> None:
    original = complaint_in(S.CLOSED)
    complaint = complaint_in(S.RECEIVED)
    response = admin_client_en.post(
        transition_url(complaint, "merge"), {"into": original.tracking_code}, follow=True
    )
    assert "already finished" in response.content.decode()
    complaint.refresh_from_db()
    assert complaint.status == S.RECEIVED


def test_a_form_error_is_shown_in_the_users_language(admin_user: Any) -> None:
    client = Client(HTTP_ACCEPT_LANGUAGE="zh-hans")
    client.force_login(admin_user)
    complaint = complaint_in(S.RECEIVED)
    response = client.post(transition_url(complaint, "merge"), {"into": "TS-2026-XXXXXXXX"})
    assert "未找到与该查询码对应的诉求" in response.content.decode()


def test_complaints_cannot_be_added_or_deleted_in_the_back_office(
    admin_client_en: Client,
) -> None:
    complaint = complaint_in(S.RECEIVED)
    assert admin_client_en.get(reverse("admin:complaints_complaint_add")).status_code == 403
    delete = reverse("admin:complaints_complaint_delete", args=[complaint.pk])
    assert admin_client_en.post(delete, {"post": "yes"}).status_code == 403
    assert Complaint.objects.filter(pk=complaint.pk).exists()


def test_the_audit_log_is_read_only(admin_client_en: Client) -> None:
    complaint = complaint_in(S.RECEIVED)
    event = Event.objects.create(complaint=complaint, kind="complaint.note_added")
    url = reverse("admin:complaints_event_change", args=[event.pk])
    admin_client_en.post(url, {"kind": "forged"})
    assert Event.objects.get(pk=event.pk).kind == "complaint.note_added"

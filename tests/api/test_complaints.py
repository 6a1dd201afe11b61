"""Complaints through the API: the same services, rules and scope as the console."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.cache import cache

from accounts.models import AccessToken, User
from complaints.models import Complaint, Event
from routing.models import Category, Department
from tests.api.conftest import Api
from tests.factories import approved_draft, complaint_in


@pytest.fixture(autouse=True)
def _no_throttling(settings: Any) -> None:
    settings.API_RATE_STAFF = 0
    cache.clear()


def as_user(user: User, scope: str = "write") -> Api:
    _, raw = AccessToken.create_with_token(user=user, name=f"t-{user.pk}-{scope}", scope=scope)
    client = Api()
    client.credentials(HTTP_AUTHORIZATION=f"Token {raw}", HTTP_ACCEPT_LANGUAGE="en")
    return client


def url(complaint: Complaint, action: str = "") -> str:
    return f"/api/v1/complaints/{complaint.pk}/" + (f"{action}/" if action else "")


class TestReading:
    def test_a_handler_lists_only_what_the_console_shows_them(
        self, handler: User, urban: Department, market: Department
    ) -> None:
        mine = complaint_in("assigned", department=urban, assignee=handler)
        complaint_in("assigned", department=market)
        codes = [
            c["tracking_code"]
            for c in as_user(handler).get("/api/v1/complaints/").json()["results"]
        ]
        assert codes == [mine.tracking_code]

    def test_another_departments_complaint_does_not_exist_for_them(
        self, handler: User, market: Department
    ) -> None:
        theirs = complaint_in("assigned", department=market)
        response = as_user(handler).get(url(theirs))
        assert response.status_code == 404
        assert response.json()["code"] == "not_found"

    def test_filters_are_the_consoles(self, supervisor: User, facilities: Category) -> None:
        urgent = complaint_in("classified", priority="urgent", category=facilities)
        complaint_in("classified", priority="normal", category=facilities)
        complaint_in("received")
        api = as_user(supervisor)
        found = api.get("/api/v1/complaints/", {"priority": "urgent", "status": "classified"})
        assert [c["id"] for c in found.json()["results"]] == [urgent.pk]
        by_category = api.get("/api/v1/complaints/", {"category": "facilities"}).json()
        assert len(by_category["results"]) == 2

    def test_a_bad_filter_names_its_field(self, supervisor: User) -> None:
        response = as_user(supervisor).get("/api/v1/complaints/", {"priority": "whenever"})
        assert response.status_code == 400
        assert [e["field"] for e in response.json()["errors"]] == ["priority"]

    def test_pages_follow_a_cursor_without_repeats(self, supervisor: User) -> None:
        made = {complaint_in("received").pk for _ in range(5)}
        api = as_user(supervisor)
        seen: list[int] = []
        page = api.get("/api/v1/complaints/", {"page_size": 2}).json()
        while True:
            seen += [c["id"] for c in page["results"]]
            if not page["next"]:
                break
            page = api.get(page["next"]).json()
        assert sorted(seen) == sorted(made)
        assert len(seen) == len(set(seen))

    def test_the_detail_masks_personal_data_and_lists_allowed_actions(
        self, dispatcher: User
    ) -> None:
        complaint = complaint_in("received")
        response = as_user(dispatcher).get(url(complaint))
        body = response.json()
        assert body["petitioner"]["phone"] != "13812345678"
        assert body["petitioner"]["masked"] is True
        assert "classify" in body["allowed_actions"]
        assert response["ETag"] == f'"{complaint.version}"'

    def test_revealing_personal_data_needs_a_reason_and_is_logged(self, supervisor: User) -> None:
        complaint = complaint_in("received")
        api = as_user(supervisor)
        refused = api.post(url(complaint, "personal-data"), {}, format="json")
        assert refused.status_code == 400
        assert refused.json()["errors"][0]["field"] == "reason"
        shown = api.post(url(complaint, "personal-data"), {"reason": "回电"}, format="json")
        assert shown.status_code == 200
        assert shown.json()["phone"] == "13812345678"
        assert shown["Cache-Control"] == "no-store"
        assert Event.objects.filter(complaint=complaint, kind="personal_data.viewed").count() == 1

    def test_roles_without_the_permission_cannot_reveal(self, auditor: User) -> None:
        complaint = complaint_in("received")
        response = as_user(auditor).post(url(complaint, "personal-data"), {"reason": "x"})
        assert response.status_code == 403


class TestActing:
    def test_the_whole_dispatch_by_api(
        self, dispatcher: User, handler: User, urban: Department, facilities: Category
    ) -> None:
        complaint = complaint_in("received")
        api = as_user(dispatcher)
        classified = api.post(
            url(complaint, "classify"), {"category": "facilities", "priority": "urgent"}
        )
        assert classified.status_code == 200, classified.json()
        assert classified.json()["status"] == "classified"
        assigned = api.post(
            url(complaint, "assign"),
            {"department": "urban_management", "assignee": handler.username},
        )
        assert assigned.json()["status"] == "assigned"
        assert assigned.json()["assignee"]["username"] == handler.username
        accepted = as_user(handler).post(url(complaint, "accept"), {})
        assert accepted.json()["status"] == "in_progress"
        kinds = list(complaint.events.values_list("kind", flat=True))
        assert kinds[-3:] == ["complaint.classified", "complaint.assigned", "complaint.accepted"]

    def test_an_impossible_action_is_409_with_the_allowed_actions(self, dispatcher: User) -> None:
        complaint = complaint_in("received")
        response = as_user(dispatcher).post(url(complaint, "accept"), {})
        assert response.status_code == 409
        body = response.json()
        assert body["code"] == "invalid_transition"
        assert "classify" in body["allowed_actions"]
        assert "accept" not in body["allowed_actions"]

    def test_a_role_without_the_permission_is_403(self, auditor: User) -> None:
        complaint = complaint_in("received")
        response = as_user(auditor).post(url(complaint, "reject"), {"reason": "spam"})
        assert response.status_code == 403
        assert complaint.events.count() == 0

    def test_a_stale_version_is_a_conflict_not_an_overwrite(self, dispatcher: User) -> None:
        complaint = complaint_in("received", version=3)
        api = as_user(dispatcher)
        response = api.post(url(complaint, "reject"), {"reason": "spam", "version": 2})
        assert response.status_code == 409
        assert response.json()["code"] == "conflict"
        by_header = api.post(url(complaint, "reject"), {"reason": "spam"}, HTTP_IF_MATCH='"2"')
        assert by_header.status_code == 409
        current = api.post(url(complaint, "reject"), {"reason": "spam"}, HTTP_IF_MATCH='"3"')
        assert current.json()["status"] == "rejected"

    def test_missing_arguments_are_field_errors(self, dispatcher: User) -> None:
        complaint = complaint_in("received")
        response = as_user(dispatcher).post(url(complaint, "classify"), {"priority": "soon"})
        assert response.status_code == 400
        fields = {e["field"] for e in response.json()["errors"]}
        assert fields == {"category", "priority"}

    def test_merge_takes_a_tracking_code(self, dispatcher: User) -> None:
        first, second = complaint_in("received"), complaint_in("received")
        api = as_user(dispatcher)
        unknown = api.post(url(second, "merge"), {"into": "XS-NOPE"})
        assert unknown.json()["errors"][0]["field"] == "into"
        merged = api.post(url(second, "merge"), {"into": first.tracking_code})
        assert merged.json()["status"] == "merged"
        assert merged.json()["merged_into"] == first.tracking_code

    def test_send_the_approved_reply(self, handler: User, urban: Department) -> None:
        complaint = complaint_in("in_progress", department=urban, assignee=handler)
        approved_draft(complaint)
        response = as_user(handler).post(url(complaint, "reply"), {"delivery": "email"})
        assert response.status_code == 200, response.json()
        assert response.json()["status"] == "replied"


class TestRegistration:
    BODY = {
        "channel": "hotline",
        "content": "人民路的路灯不亮。",
        "petitioner": {"name": "李雷", "phone": "13900001111"},
        "external_ref": "call-778",
    }

    def test_a_clerk_registers_a_call_once_whatever_the_retries(self, clerk: User) -> None:
        api = as_user(clerk)
        first = api.post("/api/v1/complaints/", self.BODY, format="json")
        assert first.status_code == 201, first.json()
        assert first.json()["created"] is True
        again = api.post("/api/v1/complaints/", self.BODY, format="json")
        assert again.status_code == 200
        assert again.json()["id"] == first.json()["id"]
        assert Complaint.objects.count() == 1
        assert Complaint.objects.get().channel == "hotline"

    def test_a_handler_may_not_register(self, handler: User) -> None:
        response = as_user(handler).post("/api/v1/complaints/", self.BODY, format="json")
        assert response.status_code == 403

    def test_an_invalid_phone_names_the_nested_field(self, clerk: User) -> None:
        body = {**self.BODY, "petitioner": {"phone": "abc"}}
        response = as_user(clerk).post("/api/v1/complaints/", body, format="json")
        assert response.status_code == 400
        assert response.json()["errors"][0]["field"] == "petitioner.phone"

"""Working on a complaint through the API: the complaint page's side of things, same rules."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from accounts.models import AccessToken, User
from complaints import services
from complaints.models import Attachment, CoHandlingTask, Complaint, Event
from routing.models import Department
from sla.models import Deadline, ExtensionRequest, Stage
from tests.api.conftest import Api
from tests.complaints.loop import handling, replied, reply_to
from tests.factories import complaint_in

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32
PHONE = "13812345678"  # the factory petitioner's


@pytest.fixture(autouse=True)
def _media(settings: Any, tmp_path: Path) -> None:
    settings.MEDIA_ROOT = tmp_path


def url(complaint: Complaint, part: str) -> str:
    return f"/api/v1/complaints/{complaint.pk}/{part}/"


def png(name: str = "photo.png") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, PNG, content_type="image/png")


def refused(response: Any, status: int, code: str = "") -> dict[str, Any]:
    """The answer is a refusal in the one error format; its body."""
    assert response.status_code == status, response.content
    body: dict[str, Any] = response.json()
    assert {"code", "message", "errors"} <= set(body)
    assert body["message"]
    if code:
        assert body["code"] == code
    return body


def fields(response: Any) -> set[str]:
    return {error["field"] for error in refused(response, 400, "invalid")["errors"]}


def every_page(api: Api, address: str, **query: Any) -> list[dict[str, Any]]:
    page = api.get(address, query).json()
    rows = list(page["results"])
    while page["next"]:
        page = api.get(page["next"]).json()
        rows += page["results"]
    return rows


# --- The timeline -----------------------------------------------------------------------


class TestTimeline:
    def test_it_is_the_audit_trail_oldest_first(
        self, api: Api, handler: User, urban: Department
    ) -> None:
        complaint = handling(urban, handler)
        services.add_note(complaint_id=complaint.pk, body="先打电话", actor=handler)
        services.record_event(
            complaint_id=complaint.pk, kind="sla.warned", actor_label="system", payload={}
        )
        api.as_staff(handler, scope=AccessToken.Scope.READ)

        events = api.get(url(complaint, "events"), HTTP_ACCEPT_LANGUAGE="en").json()["results"]

        assert [e["kind"] for e in events] == ["complaint.note_added", "sla.warned"]
        assert events[0]["actor"] == handler.username
        assert events[0]["kind_label"] == "Note"
        assert events[0]["payload"] == {"body": "先打电话"}
        assert events[1]["actor"] == "system"

    def test_it_pages_with_a_cursor_without_repeats(
        self, api: Api, handler: User, urban: Department
    ) -> None:
        complaint = handling(urban, handler)
        for number in range(5):
            services.add_note(complaint_id=complaint.pk, body=f"note {number}", actor=handler)
        api.as_staff(handler)

        rows = every_page(api, url(complaint, "events"), page_size=2)

        assert [r["payload"]["body"] for r in rows] == [f"note {n}" for n in range(5)]

    def test_another_departments_complaint_does_not_exist_for_them(
        self, api: Api, market_handler: User, urban: Department, handler: User
    ) -> None:
        complaint = handling(urban, handler)
        api.as_staff(market_handler)
        refused(api.get(url(complaint, "events")), 404, "not_found")

    def test_channel_clients_and_strangers_are_kept_out(
        self, api: Api, urban: Department, handler: User
    ) -> None:
        complaint = handling(urban, handler)
        api.as_client()
        refused(api.get(url(complaint, "events")), 403)
        api.anonymous()
        refused(api.get(url(complaint, "events")), 401)

    def test_personal_data_stays_masked_for_roles_without_the_permission(
        self, api: Api, auditor: User, head: User, urban: Department, handler: User
    ) -> None:
        complaint = handling(urban, handler)
        services.reveal_personal_data(complaint_id=complaint.pk, reason="回电", actor=head)
        api.as_staff(auditor)

        response = api.get(url(complaint, "events"))

        viewed = response.json()["results"][-1]
        assert viewed["kind"] == "personal_data.viewed"
        assert viewed["payload"]["fields"] == ["phone", "email"]
        assert PHONE not in response.content.decode()


# --- Notes, plan, contacts --------------------------------------------------------------


class TestNotes:
    def test_a_handler_adds_a_note_and_reads_the_notes(
        self, api: Api, handler: User, urban: Department
    ) -> None:
        complaint = handling(urban, handler)
        services.record_plan(complaint_id=complaint.pk, plan="现场查看", actor=handler)
        api.as_staff(handler)

        added = api.post(url(complaint, "notes"), {"body": "等待检测报告"}, format="json")

        assert added.status_code == 201, added.content
        assert added.json()["body"] == "等待检测报告"
        assert added.json()["author"]["username"] == handler.username
        notes = api.get(url(complaint, "notes")).json()["results"]
        assert [n["body"] for n in notes] == ["等待检测报告"]

    def test_an_empty_note_is_a_field_error(
        self, api: Api, handler: User, urban: Department
    ) -> None:
        complaint = handling(urban, handler)
        api.as_staff(handler)
        assert fields(api.post(url(complaint, "notes"), {"body": " "}, format="json")) == {"body"}

    def test_an_auditor_reads_the_notes_but_cannot_write_one(
        self, api: Api, auditor: User, handler: User, urban: Department
    ) -> None:
        complaint = handling(urban, handler)
        api.as_staff(auditor)
        assert api.get(url(complaint, "notes")).status_code == 200
        response = api.post(url(complaint, "notes"), {"body": "看过"}, format="json")
        refused(response, 403, "permission_denied")
        assert not complaint.events.exists()

    def test_a_read_only_token_cannot_write(
        self, api: Api, handler: User, urban: Department
    ) -> None:
        complaint = handling(urban, handler)
        api.as_staff(handler, scope=AccessToken.Scope.READ)
        refused(api.post(url(complaint, "notes"), {"body": "x"}, format="json"), 403)
        refused(api.post(url(complaint, "plan"), {"plan": "x"}, format="json"), 403)
        assert not complaint.events.exists()


class TestPlanAndContact:
    def test_the_plan_and_a_contact_go_on_the_record(
        self, api: Api, handler: User, urban: Department
    ) -> None:
        complaint = handling(urban, handler)
        api.as_staff(handler)

        plan = api.post(url(complaint, "plan"), {"plan": "明天现场查看"}, format="json")
        contact = api.post(url(complaint, "contact"), {"note": "电话联系，约定周三"}, format="json")

        assert plan.status_code == 201, plan.content
        assert plan.json()["kind"] == "complaint.plan_recorded"
        assert plan.json()["payload"] == {"plan": "明天现场查看"}
        assert contact.status_code == 201, contact.content
        assert contact.json()["kind"] == "complaint.petitioner_contacted"

    def test_a_plan_after_the_reply_is_409_with_the_allowed_actions(
        self, api: Api, handler: User, urban: Department
    ) -> None:
        complaint = replied(urban, handler)
        api.as_staff(handler)
        body = refused(
            api.post(url(complaint, "plan"), {"plan": "再看看"}, format="json"),
            409,
            "invalid_transition",
        )
        assert "close" in body["allowed_actions"]

    def test_a_missing_contact_note_is_a_field_error(
        self, api: Api, handler: User, urban: Department
    ) -> None:
        complaint = handling(urban, handler)
        api.as_staff(handler)
        assert fields(api.post(url(complaint, "contact"), {}, format="json")) == {"note"}


# --- Files ------------------------------------------------------------------------------


class TestFiles:
    def test_files_are_added_listed_and_downloaded(
        self, api: Api, handler: User, urban: Department
    ) -> None:
        complaint = handling(urban, handler)
        api.as_staff(handler)

        added = api.post(
            url(complaint, "attachments"),
            {"file": [png("现场.png"), png("second.png")]},
            format="multipart",
        )

        assert added.status_code == 201, added.content
        assert [a["name"] for a in added.json()] == ["现场.png", "second.png"]
        listed = api.get(url(complaint, "attachments")).json()["results"]
        assert [a["name"] for a in listed] == ["现场.png", "second.png"]
        first = listed[0]
        assert (first["content_type"], first["size"], first["reply"]) == ("image/png", 40, None)
        assert first["uploaded_by"] == handler.get_full_name()
        download = api.get(first["download_url"])
        assert download.status_code == 200
        assert download.getvalue() == PNG
        assert download["Content-Disposition"].startswith("attachment;")
        assert download["X-Content-Type-Options"] == "nosniff"
        assert download["Content-Type"] == "application/octet-stream"
        assert complaint.events.filter(kind="attachment.added").count() == 2

    def test_a_file_that_is_not_what_it_claims_is_refused_on_file(
        self, api: Api, handler: User, urban: Department
    ) -> None:
        complaint = handling(urban, handler)
        api.as_staff(handler)
        page = SimpleUploadedFile("photo.png", b"<html><script>x</script></html>", "image/png")

        response = api.post(
            url(complaint, "attachments"), {"file": [png(), page]}, format="multipart"
        )

        assert fields(response) == {"file"}
        assert not Attachment.objects.exists()

    def test_the_consoles_limit_on_the_number_of_files_holds(
        self, api: Api, handler: User, urban: Department, settings: Any
    ) -> None:
        settings.ATTACHMENT_MAX_COUNT = 1
        complaint = handling(urban, handler)
        api.as_staff(handler)
        files = {"file": [png("a.png"), png("b.png")]}
        assert fields(api.post(url(complaint, "attachments"), files, format="multipart")) == {
            "file"
        }
        assert not Attachment.objects.exists()

    def test_no_file_is_a_field_error(self, api: Api, handler: User, urban: Department) -> None:
        complaint = handling(urban, handler)
        api.as_staff(handler)
        assert fields(api.post(url(complaint, "attachments"), {}, format="multipart")) == {"file"}

    def test_downloads_need_the_complaint_within_reach(
        self, api: Api, handler: User, market_handler: User, urban: Department
    ) -> None:
        complaint = handling(urban, handler)
        api.as_staff(handler)
        api.post(url(complaint, "attachments"), {"file": [png()]}, format="multipart")
        address = f"/api/v1/attachments/{Attachment.objects.get().pk}/download/"
        nobody = User.objects.create_user(username="nobody", password="pw")

        api.as_staff(market_handler)
        refused(api.get(address), 404, "not_found")
        api.as_staff(nobody)
        refused(api.get(address), 404, "not_found")
        api.as_client()
        refused(api.get(address), 403)
        api.anonymous()
        refused(api.get(address), 401)
        refused(api.get("/api/v1/attachments/999999/download/"), 401)


# --- The reply --------------------------------------------------------------------------


class TestReply:
    def test_a_draft_that_needs_no_approval_is_ready_to_send(
        self, api: Api, handler: User, urban: Department
    ) -> None:
        complaint = handling(urban, handler)
        api.as_staff(handler)

        response = api.put(url(complaint, "reply-draft"), {"body": "路灯已修复。"}, format="json")

        assert response.status_code == 200, response.content
        draft = response.json()
        assert (draft["status"], draft["required_levels"]) == ("approved", 0)
        assert draft["author"]["username"] == handler.username
        assert [r["id"] for r in api.get(url(complaint, "replies")).json()] == [draft["id"]]

    def test_an_urgent_reply_waits_for_the_head_who_approves_or_returns_it(
        self, api: Api, handler: User, head: User, urban: Department
    ) -> None:
        complaint = handling(urban, handler, priority="urgent")
        api.as_staff(handler)
        drafted = api.put(url(complaint, "reply-draft"), {"body": "已修复。"}, format="json")
        assert (drafted.json()["status"], drafted.json()["required_levels"]) == (
            "awaiting_approval",
            1,
        )
        refused(api.post(url(complaint, "reply-draft/approve"), {}), 403, "permission_denied")

        api.as_staff(head)
        returned = api.post(
            url(complaint, "reply-draft/return"), {"comment": "写明修复时间"}, format="json"
        )
        assert returned.json()["status"] == "returned"
        assert returned.json()["returned_comment"] == "写明修复时间"

        api.as_staff(handler)
        api.put(url(complaint, "reply-draft"), {"body": "已于周三修复。"}, format="json")
        api.as_staff(head)
        approved = api.post(url(complaint, "reply-draft/approve"), {}, format="json")
        assert approved.status_code == 200, approved.content
        assert (approved.json()["status"], approved.json()["approved_level"]) == ("approved", 1)

    def test_a_return_needs_a_comment(
        self, api: Api, handler: User, head: User, urban: Department
    ) -> None:
        complaint = handling(urban, handler, priority="urgent")
        services.draft_reply(complaint_id=complaint.pk, body="已修复。", actor=handler)
        api.as_staff(head)
        assert fields(api.post(url(complaint, "reply-draft/return"), {})) == {"comment"}

    def test_a_stale_version_is_a_conflict(
        self, api: Api, handler: User, urban: Department
    ) -> None:
        complaint = handling(urban, handler, version=4)
        api.as_staff(handler)
        response = api.put(
            url(complaint, "reply-draft"), {"body": "已修复。", "version": 3}, format="json"
        )
        refused(response, 409, "conflict")
        by_header = api.put(
            url(complaint, "reply-draft"), {"body": "已修复。"}, format="json", HTTP_IF_MATCH='"4"'
        )
        assert by_header.status_code == 200

    def test_drafting_before_accepting_is_409_with_the_allowed_actions(
        self, api: Api, handler: User, urban: Department
    ) -> None:
        complaint = complaint_in("assigned", department=urban, assignee=handler)
        api.as_staff(handler)
        body = refused(
            api.put(url(complaint, "reply-draft"), {"body": "x"}, format="json"),
            409,
            "invalid_transition",
        )
        assert "accept" in body["allowed_actions"]

    def test_files_go_with_the_draft_and_are_checked(
        self, api: Api, handler: User, urban: Department
    ) -> None:
        complaint = handling(urban, handler)
        api.as_staff(handler)
        bad = SimpleUploadedFile("x.pdf", b"MZ\x90\x00\x03", "application/pdf")
        refusal = api.put(
            url(complaint, "reply-draft"),
            {"body": "见附件。", "attachments": [bad]},
            format="multipart",
        )
        assert fields(refusal) == {"attachments"}

        response = api.put(
            url(complaint, "reply-draft"),
            {"body": "见附件。", "attachments": [png("回复.png")]},
            format="multipart",
        )

        assert response.status_code == 200, response.content
        assert [a["name"] for a in response.json()["attachments"]] == ["回复.png"]
        assert response.json()["attachments"][0]["reply"] == response.json()["id"]

    def test_a_letter_or_an_oral_reply_is_recorded_as_delivered(
        self, api: Api, handler: User, urban: Department
    ) -> None:
        complaint = handling(urban, handler)
        reply_to(complaint, handler, delivery="oral")
        api.as_staff(handler)
        assert fields(api.post(url(complaint, "delivery"), {}, format="json")) == {"note"}

        response = api.post(url(complaint, "delivery"), {"note": "电话告知"}, format="json")

        assert response.status_code == 200, response.content
        assert response.json()["status"] == "sent"
        assert response.json()["delivered_at"] is not None
        assert response.json()["delivery_note"] == "电话告知"
        again = api.post(url(complaint, "delivery"), {"note": "再次"}, format="json")
        refused(again, 400, "guard_failed")


# --- The survey -------------------------------------------------------------------------


class TestSurvey:
    def test_staff_enter_the_answer_the_petitioner_gave_by_phone(
        self, api: Api, handler: User, urban: Department
    ) -> None:
        complaint = replied(urban, handler)
        api.as_staff(handler)
        assert [s["outcome"] for s in api.get(url(complaint, "survey")).json()] == [""]

        response = api.post(
            url(complaint, "survey"), {"resolved": True, "rating": 5}, format="json"
        )

        assert response.status_code == 200, response.content
        survey = response.json()
        assert (survey["via"], survey["outcome"], survey["rating"]) == ("phone", "satisfied", 5)
        assert survey["entered_by"]["username"] == handler.username
        complaint.refresh_from_db()
        assert complaint.status == Complaint.Status.CLOSED

    def test_without_an_open_survey_it_is_refused(
        self, api: Api, handler: User, urban: Department
    ) -> None:
        complaint = handling(urban, handler)
        api.as_staff(handler)
        response = api.post(url(complaint, "survey"), {"resolved": True, "rating": 5})
        refused(response, 400, "guard_failed")

    def test_a_role_without_the_permission_cannot_enter_it(
        self, api: Api, auditor: User, handler: User, urban: Department
    ) -> None:
        complaint = replied(urban, handler)
        api.as_staff(auditor)
        response = api.post(url(complaint, "survey"), {"resolved": True, "rating": 5})
        refused(response, 403, "permission_denied")

    def test_the_answer_is_checked(self, api: Api, handler: User, urban: Department) -> None:
        complaint = replied(urban, handler)
        api.as_staff(handler)
        response = api.post(url(complaint, "survey"), {"rating": 6}, format="json")
        assert fields(response) == {"resolved", "rating"}
        form = api.post(url(complaint, "survey"), {"rating": "3"}, format="multipart")
        assert fields(form) == {"resolved"}  # a missing yes/no is not a "no"


# --- Co-handling ------------------------------------------------------------------------


class TestCoHandling:
    def ask(self, api: Api, complaint: Complaint, department: str = "market_regulation") -> Any:
        due = (timezone.now() + timedelta(days=2)).isoformat()
        return api.post(
            url(complaint, "co-handling"),
            {"department": department, "task": "核查商户资质", "due_at": due},
            format="json",
        )

    def test_another_department_is_asked_and_reports_its_part_done(
        self, api: Api, handler: User, market_handler: User, urban: Department
    ) -> None:
        complaint = handling(urban, handler)
        api.as_staff(handler)

        asked = self.ask(api, complaint)

        assert asked.status_code == 201, asked.content
        task = asked.json()
        assert (task["department"]["code"], task["status"]) == ("market_regulation", "open")
        assert [t["id"] for t in api.get(url(complaint, "co-handling")).json()] == [task["id"]]

        api.as_staff(market_handler)
        done = api.post(
            f"/api/v1/co-handling/{task['id']}/complete/", {"result": "资质齐全"}, format="json"
        )
        assert done.status_code == 200, done.content
        assert (done.json()["status"], done.json()["result"]) == ("done", "资质齐全")
        assert done.json()["completed_at"] is not None

    def test_only_the_co_handling_department_reports_its_part(
        self, api: Api, handler: User, urban: Department, market: Department
    ) -> None:
        complaint = handling(urban, handler)
        api.as_staff(handler)
        task = self.ask(api, complaint).json()
        response = api.post(f"/api/v1/co-handling/{task['id']}/complete/", {"result": "好了"})
        refused(response, 403, "permission_denied")
        assert CoHandlingTask.objects.get().status == "open"

    def test_the_request_is_checked(
        self, api: Api, handler: User, urban: Department, market: Department
    ) -> None:
        complaint = handling(urban, handler)
        api.as_staff(handler)
        assert fields(self.ask(api, complaint, "nowhere")) == {"department"}
        refused(self.ask(api, complaint, "urban_management"), 400, "guard_failed")
        replied_one = replied(urban, handler)
        refused(self.ask(api, replied_one), 409, "invalid_transition")

    def test_an_unknown_task_is_404(self, api: Api, handler: User) -> None:
        api.as_staff(handler)
        refused(api.post("/api/v1/co-handling/999999/complete/", {"result": "x"}), 404)


# --- More time --------------------------------------------------------------------------


def running_cycle(complaint: Complaint) -> Deadline:
    now = timezone.now()
    return Deadline.objects.create(
        complaint=complaint,
        stage=Stage.CYCLE,
        basis="calendar",
        started_at=now,
        due_at=now + timedelta(days=2),
    )


class TestExtensions:
    def ask(self, api: Api, complaint: Complaint, deadline: Deadline) -> Any:
        until = (deadline.due_at + timedelta(days=3)).isoformat()
        return api.post(
            url(complaint, f"deadlines/{deadline.pk}/extension"),
            {"until": until, "reason": "等待检测报告"},
            format="json",
        )

    def test_a_handler_asks_and_the_head_approves(
        self, api: Api, handler: User, head: User, urban: Department
    ) -> None:
        complaint = handling(urban, handler)
        cycle = running_cycle(complaint)
        api.as_staff(handler)

        asked = self.ask(api, complaint, cycle)

        assert asked.status_code == 201, asked.content
        request = asked.json()
        assert (request["state"], request["stage"], request["deadline"]) == (
            "pending",
            "cycle",
            cycle.pk,
        )
        refused(
            api.post(f"/api/v1/extensions/{request['id']}/decide/", {"approve": True}),
            403,
            "permission_denied",
        )

        api.as_staff(head)
        decided = api.post(
            f"/api/v1/extensions/{request['id']}/decide/", {"approve": True}, format="json"
        )

        assert decided.status_code == 200, decided.content
        assert decided.json()["state"] == "approved"
        assert decided.json()["decided_by"]["username"] == head.username
        cycle.refresh_from_db()
        assert cycle.due_at == ExtensionRequest.objects.get().requested_due_at

    def test_a_refusal_needs_a_reason(
        self, api: Api, handler: User, head: User, urban: Department
    ) -> None:
        complaint = handling(urban, handler)
        api.as_staff(handler)
        request = self.ask(api, complaint, running_cycle(complaint)).json()
        api.as_staff(head)
        address = f"/api/v1/extensions/{request['id']}/decide/"
        refused(api.post(address, {"approve": False}, format="json"), 400, "guard_failed")
        assert fields(api.post(address, {"note": "不行"}, format="json")) == {"approve"}
        refusal = api.post(address, {"approve": False, "note": "先按期办理"}, format="json")
        assert refusal.json()["state"] == "refused"

    def test_a_deadline_of_another_complaint_is_404(
        self, api: Api, handler: User, urban: Department
    ) -> None:
        complaint, other = handling(urban, handler), handling(urban, handler)
        api.as_staff(handler)
        refused(self.ask(api, complaint, running_cycle(other)), 404, "not_found")

    def test_out_of_reach_is_404(
        self, api: Api, handler: User, market_handler: User, urban: Department
    ) -> None:
        complaint = handling(urban, handler)
        cycle = running_cycle(complaint)
        api.as_staff(handler)
        request = self.ask(api, complaint, cycle).json()
        api.as_staff(market_handler)
        refused(self.ask(api, complaint, cycle), 404, "not_found")
        decide = api.post(f"/api/v1/extensions/{request['id']}/decide/", {"approve": True})
        refused(decide, 404, "not_found")
        assert not Event.objects.filter(kind="sla.extension_approved").exists()

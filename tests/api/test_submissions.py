"""A channel client's own complaints: read as the petitioner sees them, acted on for them."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from accounts.models import User
from complaints.models import Attachment, Complaint, Survey
from intake.models import ChannelClient, ClientSubmission
from routing.models import Department
from tests.api.conftest import Api
from tests.complaints.loop import replied
from tests.factories import complaint_in

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32
PHONE = "13812345678"  # the factory petitioner's
READ, ACT = ChannelClient.Scope.READ_OWN, ChannelClient.Scope.ACT_OWN


@pytest.fixture(autouse=True)
def _media(settings: Any, tmp_path: Path) -> None:
    settings.MEDIA_ROOT = tmp_path


@pytest.fixture
def wechat(api: Api) -> ChannelClient:
    """The calling client, holding both scopes."""
    return api.as_client(scopes=[READ, ACT], name="wechat", channel="wechat")


def sent_by(client: ChannelClient, complaint: Complaint) -> Complaint:
    ClientSubmission.objects.create(client=client, complaint=complaint)
    return complaint


def mine(client: ChannelClient, status: str = "received", **fields: Any) -> Complaint:
    return sent_by(client, complaint_in(status, **fields))


def url(complaint: Complaint, action: str = "") -> str:
    return f"/api/v1/submissions/{complaint.pk}/" + (f"{action}/" if action else "")


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


# --- Reading ----------------------------------------------------------------------------


class TestReading:
    def test_a_client_lists_only_its_own_complaints_newest_first(
        self, api: Api, wechat: ChannelClient
    ) -> None:
        older, newer = mine(wechat), mine(wechat)
        complaint_in("received")  # nobody's
        sent_by(ChannelClient.create_with_token(name="app")[0], complaint_in("received"))

        found = api.get("/api/v1/submissions/").json()["results"]

        assert [c["id"] for c in found] == [newer.pk, older.pk]

    def test_the_list_pages_with_a_cursor(self, api: Api, wechat: ChannelClient) -> None:
        made = [mine(wechat).pk for _ in range(3)]
        first = api.get("/api/v1/submissions/", {"page_size": 2}).json()
        second = api.get(first["next"]).json()
        seen = [c["id"] for c in first["results"] + second["results"]]
        assert seen == made[::-1]
        assert second["next"] is None

    def test_the_list_filters_by_status_and_tracking_code(
        self, api: Api, wechat: ChannelClient
    ) -> None:
        waiting = mine(wechat, "needs_info")
        mine(wechat, "closed")

        by_status = api.get("/api/v1/submissions/", {"status": "needs_info"}).json()
        typed = waiting.tracking_code.lower().replace("-", " ")
        by_code = api.get("/api/v1/submissions/", {"tracking_code": typed}).json()

        assert [c["id"] for c in by_status["results"]] == [waiting.pk]
        assert [c["id"] for c in by_code["results"]] == [waiting.pk]
        assert fields(api.get("/api/v1/submissions/", {"status": "lost"})) == {"status"}

    def test_a_client_reads_its_complaint_as_the_petitioner_sees_it(
        self, api: Api, wechat: ChannelClient
    ) -> None:
        complaint = mine(wechat, "needs_info")
        response = api.get(url(complaint))
        assert response.status_code == 200
        body = response.json()
        assert (body["tracking_code"], body["status"]) == (complaint.tracking_code, "needs_info")
        assert PHONE not in response.content.decode()  # no personal data, no staff data

    def test_other_complaints_do_not_exist_for_it(self, api: Api, wechat: ChannelClient) -> None:
        nobodys = complaint_in("received")
        theirs = sent_by(ChannelClient.create_with_token(name="app")[0], complaint_in("received"))
        for complaint in (nobodys, theirs):
            refused(api.get(url(complaint)), 404, "not_found")
            refused(api.post(url(complaint, "withdraw"), {}, format="json"), 404, "not_found")
        assert not Complaint.objects.filter(status="withdrawn").exists()

    def test_reading_needs_the_read_scope(self, api: Api) -> None:
        client = api.as_client(scopes=[ChannelClient.Scope.INTAKE, ACT])
        complaint = mine(client)
        refused(api.get("/api/v1/submissions/"), 403)
        refused(api.get(url(complaint)), 403)

    def test_staff_and_strangers_are_kept_out(self, api: Api, supervisor: User) -> None:
        api.as_staff(supervisor)
        refused(api.get("/api/v1/submissions/"), 403)
        api.anonymous()
        refused(api.get("/api/v1/submissions/"), 401)


# --- Acting for the petitioner ----------------------------------------------------------


class TestSupplement:
    def test_details_and_files_in_json_resume_a_complaint_waiting_for_them(
        self, api: Api, wechat: ChannelClient
    ) -> None:
        complaint = mine(wechat, "needs_info")
        body = {
            "text": "路灯在3号楼门口。",
            "attachments": [
                {
                    "name": "门口.png",
                    "content_type": "image/png",
                    "content_base64": base64.b64encode(PNG).decode(),
                }
            ],
        }

        response = api.post(url(complaint, "supplement"), body, format="json")

        assert response.status_code == 200, response.content
        assert response.json()["status"] == "received"
        event = complaint.events.get(kind="complaint.info_supplied")
        assert (event.actor, event.actor_label) == (None, "channel:wechat")
        assert event.payload["attachments"] == ["门口.png"]
        assert Attachment.objects.get(complaint=complaint).uploaded_by is None

    def test_files_as_multipart_parts(self, api: Api, wechat: ChannelClient) -> None:
        complaint = mine(wechat, "in_progress")
        photo = SimpleUploadedFile("照片.png", PNG, content_type="image/png")

        response = api.post(
            url(complaint, "supplement"), {"attachments": [photo]}, format="multipart"
        )

        assert response.status_code == 200, response.content
        assert response.json()["status"] == "in_progress"
        assert complaint.events.get(kind="complaint.supplemented").payload["attachments"] == [
            "照片.png"
        ]

    def test_bad_input_is_refused_and_nothing_is_kept(
        self, api: Api, wechat: ChannelClient
    ) -> None:
        complaint = mine(wechat, "needs_info")
        page = {"name": "x.png", "content_base64": base64.b64encode(b"<html></html>").decode()}
        not_base64 = {"name": "x.png", "content_base64": "%%%"}

        assert fields(
            api.post(url(complaint, "supplement"), {"attachments": [page]}, format="json")
        ) == {"attachments"}
        assert fields(
            api.post(url(complaint, "supplement"), {"attachments": [not_base64]}, format="json")
        ) == {"attachments.0.content_base64"}
        empty = api.post(url(complaint, "supplement"), {"text": " "}, format="json")
        refused(empty, 400, "guard_failed")
        assert not complaint.events.exists()
        assert not Attachment.objects.exists()

    def test_acting_needs_the_act_scope(self, api: Api) -> None:
        client = api.as_client(scopes=[READ])
        complaint = mine(client, "needs_info")
        refused(api.post(url(complaint, "supplement"), {"text": "x"}, format="json"), 403)
        refused(api.post(url(complaint, "withdraw"), {}, format="json"), 403)
        refused(api.post(url(complaint, "survey"), {}, format="json"), 403)
        assert not complaint.events.exists()


class TestWithdraw:
    def test_an_open_complaint_is_withdrawn_for_the_petitioner(
        self, api: Api, wechat: ChannelClient
    ) -> None:
        complaint = mine(wechat, "classified")

        response = api.post(url(complaint, "withdraw"), {"reason": "已自行解决"}, format="json")

        assert response.status_code == 200, response.content
        assert response.json()["status"] == "withdrawn"
        event = complaint.events.get(kind="complaint.withdrawn")
        assert (event.actor, event.actor_label) == (None, "channel:wechat")
        assert event.payload == {"reason": "已自行解决"}

    def test_a_finished_complaint_is_409_with_what_the_client_may_do(
        self, api: Api, wechat: ChannelClient
    ) -> None:
        complaint = mine(wechat, "closed")
        body = refused(
            api.post(url(complaint, "withdraw"), {}, format="json"), 409, "invalid_transition"
        )
        # The client's own verbs, not the staff's ("archive", "reopen", …).
        assert body["allowed_actions"] == ["supplement"]


class TestSurvey:
    def test_the_petitioner_answers_through_the_channel(
        self, api: Api, wechat: ChannelClient, urban: Department, handler: User
    ) -> None:
        complaint = sent_by(wechat, replied(urban, handler))
        assert api.get(url(complaint)).json()["survey_open"] is True

        response = api.post(
            url(complaint, "survey"), {"resolved": True, "rating": 4, "comment": "很好"}
        )

        assert response.status_code == 200, response.content
        assert (response.json()["status"], response.json()["survey_open"]) == ("closed", False)
        survey = Survey.objects.get(complaint=complaint)
        assert (survey.via, survey.entered_by, survey.rating) == ("link", None, 4)
        event = complaint.events.get(kind="survey.answered")
        assert (event.actor, event.actor_label) == (None, "channel:wechat")

    def test_without_an_open_survey_it_is_refused(self, api: Api, wechat: ChannelClient) -> None:
        complaint = mine(wechat, "in_progress")
        response = api.post(url(complaint, "survey"), {"resolved": True, "rating": 4})
        refused(response, 400, "guard_failed")

    def test_the_answer_is_checked(
        self, api: Api, wechat: ChannelClient, urban: Department, handler: User
    ) -> None:
        complaint = sent_by(wechat, replied(urban, handler))
        response = api.post(url(complaint, "survey"), {"resolved": "maybe", "rating": 0})
        assert fields(response) == {"resolved", "rating"}
        assert Survey.objects.get(complaint=complaint).outcome == ""

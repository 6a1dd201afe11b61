"""Console pages for personal data requests: who may list, record, decide and download."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import cast

import pytest
from django.test import Client
from django.utils import timezone

from accounts.models import User
from accounts.roles import Role
from complaints import rights
from complaints.models import Complaint, DataRequest, Petitioner
from tests.conftest import make_user
from tests.factories import PetitionerFactory, complaint_in

pytestmark = pytest.mark.django_db
EN = {"Accept-Language": "en"}
S = Complaint.Status


@pytest.fixture
def administrator(db: None) -> User:
    return make_user("administrator", Role.ADMINISTRATOR)


@pytest.fixture
def petitioner(db: None) -> Petitioner:
    return cast(
        Petitioner,
        PetitionerFactory(name="张伟", phone="13812345678", email="zhangwei@example.com"),
    )


@pytest.fixture
def closed(petitioner: Petitioner) -> Complaint:
    return complaint_in(S.CLOSED, petitioner=petitioner, closed_at=timezone.now())


def _request(complaint: Complaint, kind: str = "export") -> DataRequest:
    return rights.record_data_request(
        complaint_id=complaint.pk, kind=kind, verified_by="身份证原件"
    )


class TestList:
    def test_roles_without_the_permission_are_refused(self, client: Client, handler: User) -> None:
        client.force_login(handler)
        assert client.get("/console/data-requests/").status_code == 403

    def test_open_requests_come_first_with_the_petitioner_masked(
        self, client: Client, clerk: User, closed: Complaint
    ) -> None:
        older = _request(closed, "erasure")
        done = _request(closed, "export")
        DataRequest.objects.filter(pk=done.pk).update(
            status="done", received_at=timezone.now() + timedelta(minutes=1)
        )
        client.force_login(clerk)
        response = client.get("/console/data-requests/", headers=EN)
        page = response.content.decode()
        assert response.status_code == 200
        assert "no-store" in response["Cache-Control"]
        assert page.index(f'"/console/data-requests/{older.pk}/"') < page.index(
            f'"/console/data-requests/{done.pk}/"'
        )
        assert "138****5678" in page
        assert "13812345678" not in page
        assert "zhangwei@example.com" not in page
        assert "Data requests" in page  # the navigation links here

    def test_the_name_of_a_petitioner_who_stays_anonymous_is_not_shown(
        self, client: Client, clerk: User, petitioner: Petitioner
    ) -> None:
        secret = complaint_in(S.CLOSED, petitioner=petitioner, is_anonymous=True)
        _request(secret)
        client.force_login(clerk)
        page = client.get("/console/data-requests/", headers=EN).content.decode()
        assert "张伟" not in page
        assert "Anonymous" in page


class TestRecord:
    def test_a_clerk_records_by_tracking_code(
        self, client: Client, clerk: User, closed: Complaint
    ) -> None:
        client.force_login(clerk)
        response = client.post(
            "/console/data-requests/new/",
            {
                "tracking_code": closed.tracking_code.lower().replace("-", " "),
                "kind": "erasure",
                "verified_by": "ID card seen at the window",
            },
        )
        created = DataRequest.objects.get()
        assert response["Location"] == f"/console/data-requests/{created.pk}/"
        assert (created.kind, created.received_by) == ("erasure", clerk)
        assert closed.events.filter(kind="data_request.received").count() == 1

    def test_an_unknown_code_is_a_form_error(self, client: Client, clerk: User) -> None:
        client.force_login(clerk)
        response = client.post(
            "/console/data-requests/new/",
            {"tracking_code": "TS-2026-ZZZZZZZZ", "kind": "export", "verified_by": "ID"},
            headers=EN,
        )
        assert response.status_code == 400
        assert "No complaint with this tracking code." in response.content.decode()
        assert not DataRequest.objects.exists()

    def test_handlers_may_not_record(self, client: Client, handler: User) -> None:
        client.force_login(handler)
        assert client.get("/console/data-requests/new/").status_code == 403


class TestDecide:
    def test_a_clerk_sees_the_request_but_cannot_decide(
        self, client: Client, clerk: User, closed: Complaint
    ) -> None:
        request = _request(closed)
        client.force_login(clerk)
        page = client.get(f"/console/data-requests/{request.pk}/", headers=EN)
        assert page.status_code == 200
        assert closed.tracking_code in page.content.decode()
        assert 'name="decision"' not in page.content.decode()
        assert (
            client.post(
                f"/console/data-requests/{request.pk}/", {"decision": "approve"}
            ).status_code
            == 403
        )
        assert DataRequest.objects.get(pk=request.pk).status == "open"

    def test_refusing_without_a_reason_is_sent_back(
        self, client: Client, administrator: User, closed: Complaint
    ) -> None:
        request = _request(closed)
        client.force_login(administrator)
        response = client.post(
            f"/console/data-requests/{request.pk}/", {"decision": "refuse"}, headers=EN
        )
        assert response.status_code == 400
        assert DataRequest.objects.get(pk=request.pk).status == "open"

    def test_erasure_with_an_open_matter_is_explained_not_done(
        self, client: Client, administrator: User, closed: Complaint, petitioner: Petitioner
    ) -> None:
        still_open = complaint_in(S.IN_PROGRESS, petitioner=petitioner)
        request = _request(closed, "erasure")
        client.force_login(administrator)
        page = client.get(f"/console/data-requests/{request.pk}/", headers=EN).content.decode()
        assert "still being handled" in page
        response = client.post(
            f"/console/data-requests/{request.pk}/", {"decision": "approve"}, headers=EN
        )
        assert response.status_code == 400
        assert still_open.tracking_code in response.content.decode()
        assert DataRequest.objects.get(pk=request.pk).status == "open"

    def test_an_approved_copy_is_downloaded_as_json_and_pdf(
        self, client: Client, administrator: User, closed: Complaint
    ) -> None:
        request = _request(closed)
        client.force_login(administrator)
        response = client.post(f"/console/data-requests/{request.pk}/", {"decision": "approve"})
        assert response.status_code == 302
        page = client.get(f"/console/data-requests/{request.pk}/").content.decode()
        assert f"/console/data-requests/{request.pk}/copy.pdf" in page

        as_json = client.get(f"/console/data-requests/{request.pk}/copy.json")
        assert as_json.status_code == 200
        assert "no-store" in as_json["Cache-Control"]
        assert as_json["Content-Disposition"] == (
            f'attachment; filename="personal-data-{request.pk}.json"'
        )
        data = json.loads(as_json.content)
        assert data["petitioner"]["phone"] == "13812345678"
        assert [c["tracking_code"] for c in data["complaints"]] == [closed.tracking_code]

        as_pdf = client.get(f"/console/data-requests/{request.pk}/copy.pdf")
        assert as_pdf["Content-Type"] == "application/pdf"
        assert as_pdf.content.startswith(b"%PDF-")
        events = closed.events.filter(kind="personal_data.exported")
        assert [e.payload["format"] for e in events] == ["json", "pdf"]
        assert {e.actor for e in events} == {administrator}

    def test_no_download_before_approval_nor_for_those_who_do_not_decide(
        self, client: Client, administrator: User, clerk: User, closed: Complaint
    ) -> None:
        request = _request(closed)
        client.force_login(administrator)
        assert client.get(f"/console/data-requests/{request.pk}/copy.json").status_code == 404
        rights.decide_data_request(request.pk, approve=True, actor=administrator)
        assert client.get(f"/console/data-requests/{request.pk}/copy.xml").status_code == 404
        client.force_login(clerk)
        assert client.get(f"/console/data-requests/{request.pk}/copy.json").status_code == 403
        assert not closed.events.filter(kind="personal_data.exported").exists()

    def test_an_unknown_request_is_not_found(self, client: Client, administrator: User) -> None:
        client.force_login(administrator)
        assert client.get("/console/data-requests/999/").status_code == 404


class TestBackOffice:
    def test_requests_are_listed_searchable_and_read_only_but_for_the_note(
        self, client: Client, admin_user: User, closed: Complaint
    ) -> None:
        request = _request(closed)
        client.force_login(admin_user)
        listing = client.get("/admin/complaints/datarequest/?q=张伟", headers=EN)
        assert listing.status_code == 200
        assert "138****5678" in listing.content.decode()
        assert client.get("/admin/complaints/datarequest/add/").status_code == 403
        change = f"/admin/complaints/datarequest/{request.pk}/change/"
        assert client.get(change).status_code == 200
        client.post(change, {"note": "复印件已交本人", "status": "refused", "verified_by": "x"})
        request.refresh_from_db()
        assert (request.note, request.status, request.verified_by) == (
            "复印件已交本人",
            "open",
            "身份证原件",
        )

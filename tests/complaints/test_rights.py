"""A petitioner's rights: which complaints are theirs, the copy, and requests to decide."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any, cast

import pytest
from django.contrib.auth.models import Permission
from django.utils import timezone

from accounts.models import User
from accounts.roles import Role
from complaints import rights
from complaints.errors import GuardFailed, NotFound, PermissionDenied
from complaints.models import (
    Attachment,
    Complaint,
    DataRequest,
    Event,
    Petitioner,
    Reply,
    Survey,
)
from routing.models import Category, Department
from tests.conftest import make_user
from tests.factories import PetitionerFactory, complaint_in

pytestmark = pytest.mark.django_db
S = Complaint.Status


def person(**fields: Any) -> Petitioner:
    values = {"name": "张伟", "phone": "13812345678", "email": "zhangwei@example.com", **fields}
    return cast(Petitioner, PetitionerFactory(**values))


@pytest.fixture
def administrator(db: None) -> User:
    return make_user("administrator", Role.ADMINISTRATOR)


class TestWhoseComplaints:
    def test_rows_with_the_same_phone_email_or_id_number_are_the_same_person(self) -> None:
        me = person(phone="+86 138-1234-5678", id_number="11010119900307123X")
        by_phone = person(email="", name="Zhang Wei")
        by_email = person(phone="", email="ZhangWei@Example.com")
        by_id = person(phone="", email="", id_number="11010119900307123x")
        assert set(rights.matching_petitioners(me)) == {me, by_phone, by_email, by_id}

    def test_a_name_or_an_address_alone_is_not_enough(self) -> None:
        me = person(address="幸福路88号")
        namesake = person(phone="13900000000", email="", address="幸福路88号")
        assert list(rights.matching_petitioners(me)) == [me]
        assert namesake not in rights.matching_petitioners(me)

    def test_a_different_id_number_is_somebody_else_even_on_a_shared_phone(self) -> None:
        me = person(id_number="11010119900307123X", email="")
        spouse = person(name="李娜", id_number="110101199205061234", email="")
        assert list(rights.matching_petitioners(me)) == [me]
        assert spouse not in rights.matching_petitioners(me)

    def test_matching_is_one_step_not_a_chain(self) -> None:
        me = person(email="")
        same_phone = person(email="other@example.com")
        only_via_that_email = person(phone="13900000000", email="other@example.com")
        matched = set(rights.matching_petitioners(me))
        assert same_phone in matched
        assert only_via_that_email not in matched

    def test_anonymised_complaints_are_no_longer_anyones(self) -> None:
        me = person()
        live = complaint_in(S.CLOSED, petitioner=me)
        complaint_in(S.CLOSED, petitioner=me, anonymised_at=timezone.now())
        assert list(rights.complaints_of(me)) == [live]


@pytest.fixture
def history(handler: User, urban: Department, facilities: Category) -> dict[str, Any]:
    """Two complaints of one person (two rows), one replied and surveyed, with a note."""
    me = person(address="幸福路88号", id_number="11010119900307123X")
    first = complaint_in(
        S.CLOSED,
        petitioner=me,
        title="路灯坏了",
        content="小区门口的路灯坏了两周。",
        location="幸福路口",
        category=facilities,
        department=urban,
        assignee=handler,
        received_at=timezone.now() - timedelta(days=10),
        closed_at=timezone.now(),
    )
    reply = Reply.objects.create(
        complaint=first, body="路灯已修好。", author=handler, sent_at=timezone.now()
    )
    Reply.objects.create(complaint=first, body="未发出的草稿", author=handler)
    Attachment.objects.create(
        complaint=first,
        original_name="照片.jpg",
        content_type="image/jpeg",
        size=3,
        sha256="a" * 64,
        file="attachments/x.jpg",
    )
    Survey.objects.create(
        complaint=first,
        round=1,
        reply=reply,
        token_hash="t" * 64,
        closes_at=timezone.now(),
        answered_at=timezone.now(),
        resolved=True,
        rating=5,
        comment="很好",
        outcome="satisfied",
    )
    Event.objects.create(complaint=first, kind="complaint.received", payload={})
    Event.objects.create(
        complaint=first, kind="complaint.note_added", actor=handler, payload={"body": "内部备注"}
    )
    Event.objects.create(
        complaint=first, kind="complaint.replied", actor=handler, payload={"body": reply.body}
    )
    second = complaint_in(S.IN_PROGRESS, petitioner=person(email="", id_number=""))
    return {"me": me, "first": first, "second": second}


COMPLAINT_KEYS = {
    "tracking_code",
    "received_at",
    "occurred_at",
    "replied_at",
    "closed_at",
    "kind",
    "channel",
    "category",
    "department",
    "status",
    "title",
    "content",
    "location",
    "latitude",
    "longitude",
    "anonymous",
    "contact_preference",
    "petitioner",
    "replies",
    "surveys",
    "attachments",
    "timeline",
}


class TestExport:
    def test_the_copy_has_exactly_these_keys(self, history: dict[str, Any]) -> None:
        data = rights.export_data(history["me"])
        assert set(data) == {"generated_at", "organisation", "petitioner", "complaints"}
        assert set(data["petitioner"]) == {
            "type",
            "name",
            "organisation",
            "phone",
            "email",
            "id_number",
            "address",
            "language",
        }
        assert [set(c) for c in data["complaints"]] == [COMPLAINT_KEYS, COMPLAINT_KEYS]
        first = data["complaints"][0]
        assert [set(r) for r in first["replies"]] == [{"sent_at", "body", "attachments"}]
        assert [set(s) for s in first["surveys"]] == [
            {"round", "sent_at", "answered_at", "resolved", "rating", "comment", "outcome"}
        ]
        assert {key for entry in first["timeline"] for key in entry} == {
            "at",
            "event",
            "text",
            "attachments",
        }

    def test_the_copy_holds_the_persons_data_and_matters(self, history: dict[str, Any]) -> None:
        data = rights.export_data(history["me"])
        assert data["petitioner"]["id_number"] == "11010119900307123X"
        assert data["petitioner"]["address"] == "幸福路88号"
        codes = [c["tracking_code"] for c in data["complaints"]]
        assert codes == [history["first"].tracking_code, history["second"].tracking_code]
        first = data["complaints"][0]
        assert (first["title"], first["content"], first["location"]) == (
            "路灯坏了",
            "小区门口的路灯坏了两周。",
            "幸福路口",
        )
        assert first["replies"][0]["body"] == "路灯已修好。"
        assert first["surveys"][0]["comment"] == "很好"
        assert first["attachments"] == ["照片.jpg"]
        assert first["department"] == str(history["first"].department)
        assert json.loads(json.dumps(data)) == data  # serialisable as it is

    def test_internal_notes_drafts_and_staff_names_are_not_in_it(
        self, history: dict[str, Any], handler: User
    ) -> None:
        text = json.dumps(rights.export_data(history["me"]), ensure_ascii=False)
        assert "内部备注" not in text
        assert "未发出的草稿" not in text
        assert handler.get_username() not in text

    def test_each_complaint_records_the_export(
        self, history: dict[str, Any], administrator: User
    ) -> None:
        rights.export_data(history["me"], actor=administrator, request_id=7, file_format="pdf")
        for complaint in (history["first"], history["second"]):
            event = complaint.events.get(kind="personal_data.exported")
            assert event.actor == administrator
            assert event.payload == {"format": "pdf", "request_id": 7}

    def test_the_tracking_page_copy_covers_only_its_complaint(
        self, history: dict[str, Any]
    ) -> None:
        data = rights.export_complaint(history["first"])
        assert [c["tracking_code"] for c in data["complaints"]] == [history["first"].tracking_code]
        event = history["first"].events.get(kind="personal_data.exported")
        assert (event.actor_label, event.payload["via"]) == ("petitioner", "tracking_page")
        assert not history["second"].events.filter(kind="personal_data.exported").exists()


class TestRecording:
    def test_a_clerk_records_a_request_and_every_matter_shows_it(
        self, history: dict[str, Any], clerk: User
    ) -> None:
        request = rights.record_data_request(
            complaint_id=history["first"].pk,
            kind=DataRequest.Kind.EXPORT,
            verified_by="身份证原件",
            actor=clerk,
        )
        assert (request.status, request.petitioner, request.received_by) == (
            "open",
            history["me"],
            clerk,
        )
        for complaint in (history["first"], history["second"]):
            event = complaint.events.get(kind="data_request.received")
            assert event.payload == {"request_id": request.pk, "kind": "export"}

    def test_a_handler_may_not_record_one(self, history: dict[str, Any], handler: User) -> None:
        with pytest.raises(PermissionDenied):
            rights.record_data_request(
                complaint_id=history["first"].pk, kind="export", verified_by="ID", actor=handler
            )
        assert not DataRequest.objects.exists()

    def test_a_complaint_out_of_reach_does_not_exist(
        self, history: dict[str, Any], market_handler: User
    ) -> None:
        market_handler.user_permissions.add(Permission.objects.get(codename="add_datarequest"))
        outsider = User.objects.get(pk=market_handler.pk)
        with pytest.raises(NotFound):
            rights.record_data_request(
                complaint_id=history["first"].pk, kind="export", verified_by="ID", actor=outsider
            )

    def test_identity_check_and_kind_are_needed(self, history: dict[str, Any]) -> None:
        with pytest.raises(GuardFailed):
            rights.record_data_request(
                complaint_id=history["first"].pk, kind="export", verified_by=" "
            )
        with pytest.raises(GuardFailed):
            rights.record_data_request(
                complaint_id=history["first"].pk, kind="all", verified_by="ID"
            )

    def test_a_second_open_request_of_the_same_kind_is_refused(
        self, history: dict[str, Any]
    ) -> None:
        first = rights.record_data_request(
            complaint_id=history["first"].pk, kind="erasure", verified_by="code"
        )
        with pytest.raises(GuardFailed, match=str(first.pk)):
            rights.record_data_request(
                complaint_id=history["first"].pk, kind="erasure", verified_by="code"
            )
        assert DataRequest.objects.count() == 1

    def test_a_complaint_without_a_petitioner_has_nothing_to_request(self) -> None:
        complaint = complaint_in(S.CLOSED, petitioner=None)
        with pytest.raises(GuardFailed):
            rights.record_data_request(complaint_id=complaint.pk, kind="export", verified_by="ID")


class TestDeciding:
    def _request(self, history: dict[str, Any], kind: str) -> DataRequest:
        return rights.record_data_request(
            complaint_id=history["first"].pk, kind=kind, verified_by="身份证原件"
        )

    def test_only_holders_of_the_decide_permission_decide(
        self, history: dict[str, Any], clerk: User
    ) -> None:
        request = self._request(history, "export")
        with pytest.raises(PermissionDenied):
            rights.decide_data_request(request.pk, approve=True, actor=clerk)
        assert DataRequest.objects.get(pk=request.pk).status == "open"

    def test_approving_a_copy_makes_it_done(
        self, history: dict[str, Any], administrator: User
    ) -> None:
        request = self._request(history, "export")
        decided = rights.decide_data_request(request.pk, approve=True, actor=administrator)
        assert (decided.status, decided.decided_by) == ("done", administrator)
        assert decided.decided_at is not None
        event = history["second"].events.get(kind="data_request.decided")
        assert event.payload == {"request_id": request.pk, "kind": "export", "decision": "done"}
        with pytest.raises(GuardFailed):
            rights.decide_data_request(
                request.pk, approve=False, refusal_reason="x", actor=administrator
            )

    def test_a_refusal_needs_and_keeps_its_reason(
        self, history: dict[str, Any], administrator: User
    ) -> None:
        request = self._request(history, "erasure")
        with pytest.raises(GuardFailed):
            rights.decide_data_request(request.pk, approve=False, actor=administrator)
        refused = rights.decide_data_request(
            request.pk, approve=False, refusal_reason="依法须保存档案", actor=administrator
        )
        assert (refused.status, refused.refusal_reason) == ("refused", "依法须保存档案")
        event = history["first"].events.get(kind="data_request.decided")
        assert event.payload["reason"] == "依法须保存档案"
        assert Complaint.objects.get(pk=history["first"].pk).anonymised_at is None

    def test_erasure_is_refused_while_a_matter_is_open(
        self, history: dict[str, Any], administrator: User
    ) -> None:
        request = self._request(history, "erasure")
        with pytest.raises(GuardFailed, match=history["second"].tracking_code):
            rights.decide_data_request(request.pk, approve=True, actor=administrator)
        assert DataRequest.objects.get(pk=request.pk).status == "open"
        assert not Complaint.objects.filter(anonymised_at__isnull=False).exists()

    def test_approved_erasure_anonymises_every_matter(
        self,
        history: dict[str, Any],
        administrator: User,
        django_capture_on_commit_callbacks: Any,
    ) -> None:
        request = self._request(history, "erasure")
        Complaint.objects.filter(pk=history["second"].pk).update(
            status=S.WITHDRAWN, closed_at=timezone.now()
        )
        with django_capture_on_commit_callbacks(execute=True):
            rights.decide_data_request(request.pk, approve=True, actor=administrator)
        for complaint in Complaint.objects.filter(
            pk__in=[history["first"].pk, history["second"].pk]
        ):
            assert complaint.anonymised_at is not None
            kinds = list(complaint.events.values_list("kind", flat=True))
            assert kinds[-2:] == ["data_request.decided", "personal_data.anonymised"]
            anonymised = complaint.events.get(kind="personal_data.anonymised")
            assert anonymised.payload["reason"] == f"data_request:{request.pk}"
        history["me"].refresh_from_db()
        assert (history["me"].name, history["me"].id_number) == ("", "")
        assert DataRequest.objects.get(pk=request.pk).status == "done"
        assert list(rights.complaints_of(history["me"])) == []

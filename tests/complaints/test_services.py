"""Each service: its effect, its Event, its guards and the errors people see."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import translation

from complaints import services, tracking
from complaints.errors import Conflict, GuardFailed, InvalidTransition, NotFound
from complaints.models import Complaint, Event, Reply
from complaints.signals import complaint_changed
from tests.factories import approved_draft, complaint_in

S = Complaint.Status


def submit(**overrides: Any) -> services.Submission:
    fields: dict[str, Any] = {
        "title": "路灯损坏",
        "content": "幸福路88号门口的路灯坏了。",
        "channel": Complaint.Channel.WEB,
        "petitioner": services.PetitionerDetails(name="张伟", phone="13812345678"),
    }
    return services.submit_complaint(**(fields | overrides))


class TestSubmitComplaint:
    def test_creates_a_received_complaint_with_a_readable_code_and_a_secret(self, db: None) -> None:
        submission = submit()
        complaint = submission.complaint
        assert complaint.status == S.RECEIVED
        assert tracking.normalize_tracking_code(complaint.tracking_code) == complaint.tracking_code
        assert submission.secret
        assert tracking.secret_matches(submission.secret, complaint.secret_hash)
        assert submission.secret not in complaint.secret_hash
        assert complaint.petitioner is not None
        assert complaint.petitioner.phone == "13812345678"

    def test_writes_the_received_event(self, db: None) -> None:
        complaint = submit().complaint
        event = complaint.events.get()
        assert event.kind == "complaint.received"
        assert event.to_state == S.RECEIVED
        assert event.actor is None
        assert event.actor_label == "channel:web"

    def test_by_staff_records_who_registered_it(self, clerk: Any) -> None:
        complaint = submit(channel=Complaint.Channel.HOTLINE, actor=clerk).complaint
        assert complaint.events.get().actor == clerk

    def test_by_staff_without_the_register_permission_is_refused(self, auditor: Any) -> None:
        with pytest.raises(services.PermissionDenied):
            submit(actor=auditor)
        assert not Complaint.objects.exists()

    def test_a_retry_with_the_same_reference_returns_the_first_complaint(self, db: None) -> None:
        first = submit(channel=Complaint.Channel.EMAIL, external_ref="<abc@mail>")
        again = submit(channel=Complaint.Channel.EMAIL, external_ref="<abc@mail>")
        assert again.complaint.pk == first.complaint.pk
        assert (first.created, again.created) == (True, False)
        assert again.secret is None
        assert Complaint.objects.count() == 1
        assert Event.objects.count() == 1

    def test_the_same_reference_on_another_channel_is_another_complaint(self, db: None) -> None:
        submit(channel=Complaint.Channel.EMAIL, external_ref="42")
        submit(channel=Complaint.Channel.LETTER, external_ref="42")
        assert Complaint.objects.count() == 2

    def test_empty_content_is_kept_for_intake_to_ask_about(self, db: None) -> None:
        # Issue 3: nothing is thrown away; intake puts such a complaint in needs_info.
        complaint = submit(title="", content="   ").complaint
        assert (complaint.content, complaint.title) == ("", "—")

    def test_a_missing_title_is_taken_from_the_first_line(self, db: None) -> None:
        complaint = submit(title="", content="井盖丢失\n就在路口").complaint
        assert complaint.title == "井盖丢失"

    def test_unknown_channel_is_refused(self, db: None) -> None:
        with pytest.raises(GuardFailed):
            submit(channel="pigeon")

    def test_attachments_are_stored_with_size_and_checksum(
        self, db: None, settings: Any, tmp_path: Any
    ) -> None:
        settings.MEDIA_ROOT = tmp_path
        upload = SimpleUploadedFile("照片.jpg", b"\xff\xd8fake-jpeg", content_type="image/jpeg")
        submission = submit(attachments=[upload])
        attachment = submission.complaint.attachments.get()
        assert attachment.original_name == "照片.jpg"
        assert attachment.size == len(b"\xff\xd8fake-jpeg")
        assert len(attachment.sha256) == 64
        assert "照片" not in str(attachment.file.name)  # stored under a random name
        assert attachment.file.read() == b"\xff\xd8fake-jpeg"

    def test_each_complaint_gets_its_own_code(self, db: None) -> None:
        codes = {submit().complaint.tracking_code for _ in range(20)}
        assert len(codes) == 20


class TestEveryServiceWritesItsEvent:
    def test_classify(self, dispatcher: Any, facilities: Any) -> None:
        complaint = complaint_in(S.RECEIVED)
        services.classify(
            complaint_id=complaint.pk, category=facilities, priority="urgent", actor=dispatcher
        )
        complaint.refresh_from_db()
        assert (complaint.category, complaint.priority) == (facilities, "urgent")
        # The category's default department is proposed for assignment.
        assert complaint.department == facilities.default_department
        event = complaint.events.latest("id")
        assert event.kind == "complaint.classified"
        assert event.payload == {"category": "facilities", "priority": "urgent"}
        assert event.actor == dispatcher

    def test_assign(self, dispatcher: Any, urban: Any, handler: Any) -> None:
        complaint = complaint_in(S.CLASSIFIED)
        services.assign(
            complaint_id=complaint.pk, department=urban, assignee=handler, actor=dispatcher
        )
        event = Event.objects.latest("id")
        assert event.kind == "complaint.assigned"
        assert event.payload == {"department": "urban_management", "assignee": "handler"}

    def test_accept_takes_an_unassigned_complaint_for_the_acceptor(
        self, handler: Any, urban: Any
    ) -> None:
        complaint = complaint_in(S.ASSIGNED, department=urban)
        services.accept(complaint_id=complaint.pk, actor=handler)
        complaint.refresh_from_db()
        assert complaint.assignee == handler
        assert Event.objects.latest("id").kind == "complaint.accepted"

    def test_transfer(self, head: Any, urban: Any, market: Any, handler: Any) -> None:
        complaint = complaint_in(S.IN_PROGRESS, department=urban, assignee=handler)
        services.transfer(
            complaint_id=complaint.pk, department=market, reason="属于市场监管", actor=head
        )
        complaint.refresh_from_db()
        assert (complaint.status, complaint.department, complaint.assignee) == (
            S.ASSIGNED,
            market,
            None,
        )
        event = Event.objects.latest("id")
        assert event.kind == "complaint.transferred"
        assert event.payload["reason"] == "属于市场监管"

    def test_send_back_clears_the_department(self, handler: Any, urban: Any) -> None:
        complaint = complaint_in(S.ASSIGNED, department=urban, assignee=handler)
        services.send_back(complaint_id=complaint.pk, reason="不归我们管", actor=handler)
        complaint.refresh_from_db()
        assert (complaint.status, complaint.department) == (S.CLASSIFIED, None)
        assert Event.objects.latest("id").kind == "complaint.returned"

    def test_request_and_supply_info(self, clerk: Any) -> None:
        complaint = complaint_in(S.RECEIVED)
        services.request_info(complaint_id=complaint.pk, question="请提供地址", actor=clerk)
        services.supply_info(
            complaint_id=complaint.pk, details="幸福路88号", actor=None, actor_label="petitioner"
        )
        kinds = list(complaint.events.values_list("kind", "actor_label"))
        assert kinds == [
            ("complaint.info_requested", ""),
            ("complaint.info_supplied", "petitioner"),
        ]

    def test_draft_approve_send_close(self, handler: Any, head: Any, urban: Any) -> None:
        complaint = complaint_in(
            S.IN_PROGRESS, department=urban, assignee=handler, priority="urgent"
        )
        services.draft_reply(complaint_id=complaint.pk, body="已修复。", actor=handler)
        services.approve_reply(complaint_id=complaint.pk, actor=head)
        services.send_reply(complaint_id=complaint.pk, actor=handler)
        services.close(complaint_id=complaint.pk, actor=handler)
        assert list(complaint.events.values_list("kind", flat=True)) == [
            "reply.drafted",
            "reply.approved",
            "complaint.replied",
            "complaint.closed",
        ]
        reply = Reply.objects.get()
        assert reply.sent_at is not None
        assert reply.approved_by == head
        complaint.refresh_from_db()
        assert complaint.replied_at
        assert complaint.closed_at

    def test_reopen(self, supervisor: Any) -> None:
        complaint = complaint_in(S.REPLIED)
        services.reopen(complaint_id=complaint.pk, reason="没修好", actor=supervisor)
        assert Event.objects.latest("id").payload == {"reason": "没修好"}

    def test_reject(self, dispatcher: Any) -> None:
        complaint = complaint_in(S.RECEIVED)
        services.reject(complaint_id=complaint.pk, reason="广告", actor=dispatcher)
        assert Event.objects.latest("id").kind == "complaint.rejected"

    def test_merge_writes_on_both_complaints(self, dispatcher: Any) -> None:
        original, duplicate = complaint_in(S.RECEIVED), complaint_in(S.RECEIVED)
        services.merge(complaint_id=duplicate.pk, into_id=original.pk, actor=dispatcher)
        duplicate.refresh_from_db()
        assert duplicate.merged_into == original
        assert duplicate.events.get().payload == {"into": original.tracking_code}
        assert original.events.get().kind == "complaint.duplicate_merged"

    def test_withdraw(self, clerk: Any) -> None:
        complaint = complaint_in(S.ASSIGNED)
        services.withdraw(complaint_id=complaint.pk, reason="已解决", actor=clerk)
        assert Event.objects.latest("id").kind == "complaint.withdrawn"

    def test_archive(self, dispatcher: Any) -> None:
        complaint = complaint_in(S.CLOSED)
        services.archive(complaint_id=complaint.pk, actor=dispatcher)
        assert Event.objects.latest("id").kind == "complaint.archived"

    def test_add_note(self, handler: Any, urban: Any) -> None:
        complaint = complaint_in(S.IN_PROGRESS, department=urban, assignee=handler)
        services.add_note(complaint_id=complaint.pk, body="已电话联系", actor=handler)
        assert Event.objects.latest("id").kind == "complaint.note_added"

    def test_add_attachment(self, handler: Any, urban: Any, settings: Any, tmp_path: Any) -> None:
        settings.MEDIA_ROOT = tmp_path
        complaint = complaint_in(S.IN_PROGRESS, department=urban, assignee=handler)
        upload = SimpleUploadedFile("现场.png", b"png", content_type="image/png")
        services.add_attachment(complaint_id=complaint.pk, upload=upload, actor=handler)
        assert Event.objects.latest("id").payload["name"] == "现场.png"


class TestGuards:
    def test_a_reply_needs_a_body(self, handler: Any, urban: Any) -> None:
        complaint = complaint_in(S.IN_PROGRESS, department=urban, assignee=handler)
        with pytest.raises(GuardFailed):
            services.send_reply(complaint_id=complaint.pk, actor=handler)
        with pytest.raises(GuardFailed):
            services.draft_reply(complaint_id=complaint.pk, body="  ", actor=handler)

    def test_an_urgent_reply_needs_approval_first(self, handler: Any, urban: Any) -> None:
        complaint = complaint_in(
            S.IN_PROGRESS, department=urban, assignee=handler, priority="urgent"
        )
        services.draft_reply(complaint_id=complaint.pk, body="已处理。", actor=handler)
        with translation.override("en"), pytest.raises(GuardFailed, match="approved"):
            services.send_reply(complaint_id=complaint.pk, actor=handler)
        complaint.refresh_from_db()
        assert complaint.status == S.IN_PROGRESS

    def test_a_normal_reply_needs_no_approval(self, handler: Any, urban: Any) -> None:
        complaint = complaint_in(S.IN_PROGRESS, department=urban, assignee=handler)
        services.draft_reply(complaint_id=complaint.pk, body="已处理。", actor=handler)
        services.send_reply(complaint_id=complaint.pk, actor=handler)
        complaint.refresh_from_db()
        assert complaint.status == S.REPLIED

    def test_rewriting_an_approved_draft_voids_the_approval(
        self, handler: Any, head: Any, urban: Any
    ) -> None:
        complaint = complaint_in(
            S.IN_PROGRESS, department=urban, assignee=handler, priority="urgent"
        )
        services.draft_reply(complaint_id=complaint.pk, body="第一稿", actor=handler)
        services.approve_reply(complaint_id=complaint.pk, actor=head)
        services.draft_reply(complaint_id=complaint.pk, body="改过的稿", actor=handler)
        assert Reply.objects.get().approved_at is None
        with pytest.raises(GuardFailed):
            services.send_reply(complaint_id=complaint.pk, actor=handler)

    def test_a_handler_cannot_approve(self, handler: Any, urban: Any) -> None:
        complaint = complaint_in(
            S.IN_PROGRESS, department=urban, assignee=handler, priority="urgent"
        )
        services.draft_reply(complaint_id=complaint.pk, body="稿", actor=handler)
        with pytest.raises(services.PermissionDenied):
            services.approve_reply(complaint_id=complaint.pk, actor=handler)

    def test_classify_needs_a_category(self, dispatcher: Any) -> None:
        complaint = complaint_in(S.RECEIVED)
        with pytest.raises(GuardFailed):
            services.classify(
                complaint_id=complaint.pk, category=None, priority="normal", actor=dispatcher
            )

    def test_an_inactive_category_cannot_be_chosen(self, dispatcher: Any, facilities: Any) -> None:
        facilities.is_active = False
        facilities.save()
        complaint = complaint_in(S.RECEIVED)
        with pytest.raises(GuardFailed):
            services.classify(
                complaint_id=complaint.pk, category=facilities, priority="normal", actor=dispatcher
            )

    def test_the_assignee_must_belong_to_the_department(
        self, dispatcher: Any, market: Any, handler: Any
    ) -> None:
        complaint = complaint_in(S.CLASSIFIED)
        with pytest.raises(GuardFailed):
            services.assign(
                complaint_id=complaint.pk, department=market, assignee=handler, actor=dispatcher
            )

    def test_a_transfer_must_go_somewhere_else(self, head: Any, urban: Any, handler: Any) -> None:
        complaint = complaint_in(S.IN_PROGRESS, department=urban, assignee=handler)
        with pytest.raises(GuardFailed):
            services.transfer(complaint_id=complaint.pk, department=urban, reason="x", actor=head)

    def test_a_transfer_needs_a_reason(self, head: Any, market: Any, urban: Any) -> None:
        complaint = complaint_in(S.IN_PROGRESS, department=urban)
        with pytest.raises(GuardFailed):
            services.transfer(complaint_id=complaint.pk, department=market, reason=" ", actor=head)

    @pytest.mark.parametrize("service", [services.reject, services.send_back, services.reopen])
    def test_reasons_are_required(self, service: Any, supervisor: Any) -> None:
        state = {services.reject: S.RECEIVED, services.send_back: S.ASSIGNED}.get(
            service, S.REPLIED
        )
        complaint = complaint_in(state)
        with pytest.raises(GuardFailed):
            service(complaint_id=complaint.pk, reason="", actor=supervisor)
        complaint.refresh_from_db()
        assert complaint.status == state

    def test_cannot_merge_into_itself(self, dispatcher: Any) -> None:
        complaint = complaint_in(S.RECEIVED)
        with pytest.raises(GuardFailed):
            services.merge(complaint_id=complaint.pk, into_id=complaint.pk, actor=dispatcher)

    def test_cannot_merge_into_a_finished_complaint(self, dispatcher: Any) -> None:
        closed, complaint = complaint_in(S.CLOSED), complaint_in(S.RECEIVED)
        with pytest.raises(GuardFailed):
            services.merge(complaint_id=complaint.pk, into_id=closed.pk, actor=dispatcher)

    def test_unknown_complaint(self, dispatcher: Any) -> None:
        with pytest.raises(NotFound):
            services.archive(complaint_id=999999, actor=dispatcher)

    def test_a_failed_guard_changes_nothing(self, dispatcher: Any) -> None:
        complaint = complaint_in(S.RECEIVED)
        with pytest.raises(GuardFailed):
            services.reject(complaint_id=complaint.pk, reason="", actor=dispatcher)
        complaint.refresh_from_db()
        assert (complaint.status, complaint.version, complaint.events.count()) == (S.RECEIVED, 1, 0)


class TestErrorsPeopleSee:
    def test_an_invalid_transition_names_the_state_and_what_is_allowed(
        self, dispatcher: Any
    ) -> None:
        complaint = complaint_in(S.RECEIVED)
        with translation.override("en"), pytest.raises(InvalidTransition) as caught:
            services.archive(complaint_id=complaint.pk, actor=dispatcher)
        message = str(caught.value)
        assert "“Received”" in message
        assert "“Archive”" in message
        assert (
            "Allowed now: Classify, Ask for details, Reject, Merge as duplicate, Withdraw."
            in message
        )

    def test_the_allowed_actions_are_those_of_the_actor(self, clerk: Any) -> None:
        complaint = complaint_in(S.RECEIVED)
        with translation.override("en"), pytest.raises(InvalidTransition) as caught:
            services.archive(complaint_id=complaint.pk, actor=clerk)
        assert str(caught.value).endswith("Allowed now: Ask for details, Withdraw.")

    def test_the_message_is_in_chinese_for_chinese_users(self, dispatcher: Any) -> None:
        complaint = complaint_in(S.RECEIVED)
        with translation.override("zh-hans"), pytest.raises(InvalidTransition) as caught:
            services.archive(complaint_id=complaint.pk, actor=dispatcher)
        message = str(caught.value)
        assert "已受理" in message
        assert "归档" in message
        assert "、" in message

    def test_a_stale_version_is_a_conflict(self, dispatcher: Any, facilities: Any) -> None:
        complaint = complaint_in(S.RECEIVED)
        services.classify(
            complaint_id=complaint.pk, category=facilities, priority="normal", actor=dispatcher
        )
        with translation.override("en"), pytest.raises(Conflict, match="changed by someone else"):
            services.reject(
                complaint_id=complaint.pk, reason="重复", actor=dispatcher, expected_version=1
            )
        complaint.refresh_from_db()
        assert complaint.status == S.CLASSIFIED

    def test_the_current_version_goes_through(self, dispatcher: Any) -> None:
        complaint = complaint_in(S.RECEIVED)
        services.reject(
            complaint_id=complaint.pk, reason="重复", actor=dispatcher, expected_version=1
        )
        complaint.refresh_from_db()
        assert (complaint.status, complaint.version) == (S.REJECTED, 2)


class TestSideEffectsWaitForCommit:
    def test_complaint_changed_is_sent_only_after_commit(
        self, dispatcher: Any, django_capture_on_commit_callbacks: Any
    ) -> None:
        received: list[dict[str, Any]] = []

        def listener(**kwargs: Any) -> None:
            received.append(kwargs)

        complaint_changed.connect(listener)
        try:
            complaint = complaint_in(S.RECEIVED)
            with django_capture_on_commit_callbacks(execute=False) as callbacks:
                services.reject(complaint_id=complaint.pk, reason="广告", actor=dispatcher)
            assert received == []  # not before commit
            for callback in callbacks:
                callback()
        finally:
            complaint_changed.disconnect(listener)
        assert [r["kind"] for r in received] == ["complaint.rejected"]
        assert received[0]["complaint_id"] == complaint.pk

    def test_nothing_is_announced_when_the_service_fails(
        self, dispatcher: Any, django_capture_on_commit_callbacks: Any
    ) -> None:
        complaint = complaint_in(S.CLOSED)
        with django_capture_on_commit_callbacks() as callbacks, pytest.raises(InvalidTransition):
            services.reject(complaint_id=complaint.pk, reason="x", actor=dispatcher)
        assert callbacks == []


def test_approved_draft_factory_is_sendable(handler: Any, urban: Any) -> None:
    complaint = complaint_in(S.IN_PROGRESS, department=urban, assignee=handler, priority="urgent")
    approved_draft(complaint)
    services.send_reply(complaint_id=complaint.pk, actor=handler)
    complaint.refresh_from_db()
    assert complaint.status == S.REPLIED

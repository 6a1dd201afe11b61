"""Replies that need approval: how many levels, who may give each, and what voids them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from accounts.models import User
from accounts.roles import Role
from complaints import approvals, queues, services
from complaints.errors import GuardFailed, PermissionDenied
from complaints.models import ApprovalRule, Complaint, Event, Reply, ReplyApproval
from routing.models import Category, Department
from tests.complaints.loop import handling, told
from tests.conftest import make_user
from tests.factories import complaint_in

pytestmark = pytest.mark.django_db
S = Complaint.Status


@pytest.fixture
def roads(urban: Department) -> Category:
    return Category.objects.create(
        code="roads", name_zh="道路", name_en="Roads", default_department=urban
    )


@pytest.fixture
def potholes(roads: Category) -> Category:
    return Category.objects.create(
        code="potholes", name_zh="坑洼", name_en="Potholes", parent=roads
    )


@pytest.fixture
def second_supervisor(db: None) -> User:
    return make_user("supervisor2", Role.SUPERVISOR)


def levels_of(**fields: object) -> int:
    return approvals.required_levels(complaint_in(S.IN_PROGRESS, **fields))


def draft(complaint: Complaint, author: User, body: str = "拟答复：路灯已修复。") -> Reply:
    return services.draft_reply(complaint_id=complaint.pk, body=body, actor=author)


def approve(complaint: Complaint, approver: User) -> Reply:
    return services.approve_reply(complaint_id=complaint.pk, actor=approver)


def send(complaint: Complaint, sender: User) -> Complaint:
    return services.send_reply(complaint_id=complaint.pk, actor=sender)


def current_draft(complaint: Complaint) -> Reply:
    return complaint.replies.get(sent_at__isnull=True)


# --- How many levels --------------------------------------------------------------------


class TestRequiredLevels:
    def test_a_normal_complaint_without_rules_needs_none(self) -> None:
        assert levels_of() == 0

    @pytest.mark.parametrize(
        "fields",
        [{"priority": "urgent"}, {"priority": "critical"}, {"is_sensitive": True}],
        ids=["urgent", "critical", "sensitive"],
    )
    def test_urgent_critical_and_sensitive_need_the_department_head(
        self, fields: dict[str, object]
    ) -> None:
        assert levels_of(**fields) == 1

    def test_a_rule_on_a_parent_category_covers_its_children(
        self, roads: Category, potholes: Category
    ) -> None:
        ApprovalRule.objects.create(name="道路类两级审批", category=roads, levels=2)

        assert levels_of(category=potholes) == 2
        assert levels_of(category=roads) == 2

    def test_a_rule_on_a_child_category_does_not_cover_its_parent(
        self, roads: Category, potholes: Category, facilities: Category
    ) -> None:
        ApprovalRule.objects.create(name="坑洼", category=potholes, levels=1)

        assert levels_of(category=roads) == 0
        assert levels_of(category=facilities) == 0
        assert levels_of(category=potholes) == 1

    def test_a_rule_may_name_a_kind(self) -> None:
        ApprovalRule.objects.create(name="举报", kind=Complaint.Kind.REPORT, levels=2)

        assert levels_of(kind=Complaint.Kind.REPORT) == 2
        assert levels_of(kind=Complaint.Kind.COMPLAINT) == 0

    def test_a_rule_may_name_a_priority(self) -> None:
        ApprovalRule.objects.create(name="紧急件两级", priority=Complaint.Priority.URGENT, levels=2)

        assert levels_of(priority="urgent") == 2
        assert levels_of(priority="critical") == 1  # the built-in rule only
        assert levels_of(priority="normal") == 0

    def test_every_condition_of_a_rule_must_hold(self, roads: Category) -> None:
        ApprovalRule.objects.create(
            name="道路举报", category=roads, kind=Complaint.Kind.REPORT, levels=1
        )

        assert levels_of(category=roads, kind=Complaint.Kind.REPORT) == 1
        assert levels_of(category=roads, kind=Complaint.Kind.COMPLAINT) == 0
        assert levels_of(kind=Complaint.Kind.REPORT) == 0

    def test_the_most_levels_of_all_matching_rules_apply(self, roads: Category) -> None:
        ApprovalRule.objects.create(name="全部", levels=1)
        ApprovalRule.objects.create(name="道路", category=roads, levels=2)

        assert levels_of() == 1
        assert levels_of(category=roads) == 2

    def test_inactive_rules_are_ignored(self, roads: Category) -> None:
        ApprovalRule.objects.create(name="停用", category=roads, levels=2, is_active=False)

        assert levels_of(category=roads) == 0
        assert levels_of(category=roads, priority="urgent") == 1


# --- One level: the department head -----------------------------------------------------


class TestOneLevel:
    def test_the_head_approves_and_the_author_hears_it(
        self, urban: Department, handler: User, head: User
    ) -> None:
        complaint = handling(urban, handler, priority="urgent")
        reply = draft(complaint, handler)
        assert reply.required_levels == 1
        assert told(head, "reply.approval_requested")

        with pytest.raises(GuardFailed, match="must be approved"):
            send(complaint, handler)
        approved = approve(complaint, head)

        assert (approved.approved_level, approved.approved_by) == (1, head)
        assert approved.approved_at is not None
        [decision] = ReplyApproval.objects.filter(reply=approved)
        assert (decision.level, decision.decision, decision.actor) == (1, "approved", head)
        assert decision.body_sha256 == approvals.text_digest(approved.body)
        assert Event.objects.filter(kind="reply.approved").get().payload == {
            "reply_id": approved.pk,
            "level": 1,
            "of": 1,
        }
        assert told(handler, "reply.approved")
        send(complaint, handler)
        complaint.refresh_from_db()
        assert complaint.status == S.REPLIED

    def test_the_author_cannot_approve_their_own_draft(self, urban: Department, head: User) -> None:
        complaint = handling(urban, head, priority="urgent")
        draft(complaint, head)

        with pytest.raises(GuardFailed, match="someone else must approve"):
            approve(complaint, head)
        assert current_draft(complaint).approved_level == 0
        assert not ReplyApproval.objects.exists()

    def test_a_handler_may_not_approve(
        self, urban: Department, handler: User, colleague: User
    ) -> None:
        complaint = handling(urban, handler, priority="urgent")
        draft(complaint, handler)

        with pytest.raises(PermissionDenied):
            approve(complaint, colleague)

    def test_the_head_of_another_department_may_not_approve(
        self, urban: Department, handler: User, market_head: User
    ) -> None:
        complaint = handling(urban, handler, priority="urgent")
        draft(complaint, handler)

        with pytest.raises(PermissionDenied):
            approve(complaint, market_head)

    def test_a_reply_that_needs_no_approval_cannot_be_approved(
        self, urban: Department, handler: User, head: User
    ) -> None:
        complaint = handling(urban, handler)
        draft(complaint, handler)

        with pytest.raises(GuardFailed, match="no further approval"):
            approve(complaint, head)

    def test_approving_twice_is_refused(self, urban: Department, handler: User, head: User) -> None:
        complaint = handling(urban, handler, priority="urgent")
        draft(complaint, handler)
        approve(complaint, head)

        with pytest.raises(GuardFailed, match="no further approval"):
            approve(complaint, head)


# --- Two levels: the head, then a supervisor --------------------------------------------


@pytest.fixture
def two_levels(roads: Category) -> ApprovalRule:
    return ApprovalRule.objects.create(name="道路类两级审批", category=roads, levels=2)


@pytest.mark.usefixtures("two_levels")
class TestTwoLevels:
    def test_the_head_then_a_supervisor_then_it_can_be_sent(
        self, urban: Department, roads: Category, handler: User, head: User, supervisor: User
    ) -> None:
        complaint = handling(urban, handler, category=roads)
        reply = draft(complaint, handler)
        assert reply.required_levels == 2
        assert approvals.waiting_label(reply) == "Waiting for the department head's approval"
        assert told(head, "reply.approval_requested")
        assert not told(supervisor, "reply.approval_requested")

        first = approve(complaint, head)
        assert (first.approved_level, first.approved_at, first.approved_by) == (1, None, None)
        assert approvals.waiting_label(first) == "Waiting for a supervisor's approval"
        assert told(supervisor, "reply.approval_requested")
        assert not told(handler, "reply.approved")
        with pytest.raises(GuardFailed, match="must be approved"):
            send(complaint, handler)

        second = approve(complaint, supervisor)
        assert (second.approved_level, second.approved_by) == (2, supervisor)
        assert second.approved_at is not None
        assert approvals.waiting_label(second) == "Approved"
        assert list(
            ReplyApproval.objects.filter(reply=second).values_list("level", "actor__username")
        ) == [(1, "head"), (2, "supervisor")]
        assert told(handler, "reply.approved")

        send(complaint, handler)
        complaint.refresh_from_db()
        assert complaint.status == S.REPLIED

    def test_a_head_cannot_give_the_second_level(
        self, urban: Department, roads: Category, handler: User, head: User
    ) -> None:
        other_head = make_user("head2", Role.DEPARTMENT_HEAD, urban)
        complaint = handling(urban, handler, category=roads)
        draft(complaint, handler)
        approve(complaint, head)

        for approver in (other_head, head):
            with pytest.raises(PermissionDenied, match="supervisor"):
                approve(complaint, approver)
        assert current_draft(complaint).approved_level == 1

    def test_the_same_supervisor_cannot_give_both_levels(
        self,
        urban: Department,
        roads: Category,
        handler: User,
        supervisor: User,
        second_supervisor: User,
    ) -> None:
        complaint = handling(urban, handler, category=roads)
        draft(complaint, handler)
        approve(complaint, supervisor)  # a supervisor may give the first level too

        with pytest.raises(GuardFailed, match="someone else"):
            approve(complaint, supervisor)
        assert current_draft(complaint).approved_level == 1
        approve(complaint, second_supervisor)
        assert current_draft(complaint).approved_level == 2

    def test_the_second_level_asks_only_supervisors_who_can_give_it(
        self,
        urban: Department,
        roads: Category,
        handler: User,
        supervisor: User,
        second_supervisor: User,
    ) -> None:
        complaint = handling(urban, handler, category=roads)
        draft(complaint, handler)  # no head in the department: supervisors are asked
        asked = {
            u: len(told(u, "reply.approval_requested")) for u in (supervisor, second_supervisor)
        }
        assert asked == {supervisor: 1, second_supervisor: 1}

        approve(complaint, supervisor)

        # The one who gave the first level cannot give the second: only the other is asked.
        assert len(told(second_supervisor, "reply.approval_requested")) == 2
        assert len(told(supervisor, "reply.approval_requested")) == 1

    def test_the_approval_queue_shows_the_second_level_to_supervisors_only(
        self,
        client: Client,
        urban: Department,
        roads: Category,
        handler: User,
        head: User,
        supervisor: User,
    ) -> None:
        complaint = handling(urban, handler, category=roads)
        draft(complaint, handler)

        def in_queue(user: User) -> bool:
            return queues.base_queryset(user, "approval").filter(pk=complaint.pk).exists()

        assert in_queue(head)
        assert in_queue(supervisor)

        approve(complaint, head)

        assert not in_queue(head)
        assert in_queue(supervisor)
        client.force_login(supervisor)
        page = client.get("/console/queue/", {"q": "approval"}, HTTP_ACCEPT_LANGUAGE="en")
        assert complaint.tracking_code in page.content.decode()
        client.force_login(head)
        page = client.get("/console/queue/", {"q": "approval"}, HTTP_ACCEPT_LANGUAGE="en")
        assert page.status_code == 200
        assert complaint.tracking_code not in page.content.decode()

        approve(complaint, supervisor)
        assert not in_queue(supervisor)


# --- What voids approvals ---------------------------------------------------------------


class TestSendingBack:
    def test_a_comment_is_required(self, urban: Department, handler: User, head: User) -> None:
        complaint = handling(urban, handler, priority="urgent")
        draft(complaint, handler)

        with pytest.raises(GuardFailed, match="what should change"):
            services.return_reply(complaint_id=complaint.pk, comment="  ", actor=head)
        assert current_draft(complaint).returned_comment == ""

    def test_returning_resets_approvals_keeps_the_comment_and_tells_the_author(
        self, urban: Department, roads: Category, handler: User, head: User, supervisor: User
    ) -> None:
        ApprovalRule.objects.create(name="道路", category=roads, levels=2)
        complaint = handling(urban, handler, category=roads)
        draft(complaint, handler)
        approve(complaint, head)

        returned = services.return_reply(
            complaint_id=complaint.pk, comment="请写明修复日期。", actor=supervisor
        )

        assert (returned.approved_level, returned.approved_at) == (0, None)
        assert returned.returned_comment == "请写明修复日期。"
        assert approvals.waiting_label(returned) == "Sent back for changes"
        decision = ReplyApproval.objects.latest("id")
        assert (decision.decision, decision.level, decision.comment, decision.actor) == (
            "returned",
            2,
            "请写明修复日期。",
            supervisor,
        )
        event = Event.objects.latest("id")
        assert (event.kind, event.payload["comment"]) == ("reply.returned", "请写明修复日期。")
        [notice] = told(handler, "reply.returned")
        assert notice.body == "请写明修复日期。"
        assert complaint.tracking_code in notice.subject
        # Not waiting for anyone any more: out of both approval queues.
        assert not queues.base_queryset(head, "approval").filter(pk=complaint.pk).exists()
        assert not queues.base_queryset(supervisor, "approval").filter(pk=complaint.pk).exists()
        # The head's earlier approval does not count for the returned text.
        with pytest.raises(GuardFailed, match="must be approved"):
            send(complaint, handler)

    def test_rewriting_clears_the_comment_and_asks_again(
        self, urban: Department, handler: User, head: User
    ) -> None:
        complaint = handling(urban, handler, priority="urgent")
        draft(complaint, handler)
        services.return_reply(complaint_id=complaint.pk, comment="语气太生硬。", actor=head)

        rewritten = draft(complaint, handler, body="您好，路灯已于昨日修复。")

        assert rewritten.returned_comment == ""
        assert len(told(head, "reply.approval_requested")) == 2
        assert queues.base_queryset(head, "approval").filter(pk=complaint.pk).exists()
        approve(complaint, head)
        send(complaint, handler)

    def test_the_author_cannot_send_back_their_own_draft(
        self, urban: Department, head: User
    ) -> None:
        complaint = handling(urban, head, priority="urgent")
        draft(complaint, head)

        with pytest.raises(GuardFailed, match="rewrite it"):
            services.return_reply(complaint_id=complaint.pk, comment="改", actor=head)

    def test_a_handler_cannot_send_back(
        self, urban: Department, handler: User, colleague: User
    ) -> None:
        complaint = handling(urban, handler, priority="urgent")
        draft(complaint, handler)

        with pytest.raises(PermissionDenied):
            services.return_reply(complaint_id=complaint.pk, comment="改", actor=colleague)


class TestRewritingAndRules:
    def test_rewriting_an_approved_draft_voids_its_approval(
        self, urban: Department, handler: User, head: User
    ) -> None:
        complaint = handling(urban, handler, priority="urgent")
        draft(complaint, handler)
        approve(complaint, head)

        rewritten = draft(complaint, handler, body="改过的答复。")

        assert (rewritten.approved_level, rewritten.approved_at, rewritten.approved_by) == (
            0,
            None,
            None,
        )
        with pytest.raises(GuardFailed, match="must be approved"):
            send(complaint, handler)

    def test_saving_the_same_text_again_keeps_the_approval(
        self, urban: Department, handler: User, head: User
    ) -> None:
        complaint = handling(urban, handler, priority="urgent")
        draft(complaint, handler)
        approve(complaint, head)

        again = draft(complaint, handler)

        assert again.approved_level == 1
        send(complaint, handler)

    def test_attaching_a_file_to_an_approved_draft_voids_its_approval(
        self, urban: Department, handler: User, head: User, settings: Any, tmp_path: Path
    ) -> None:
        settings.MEDIA_ROOT = tmp_path
        complaint = handling(urban, handler, priority="urgent")
        draft(complaint, handler)
        approve(complaint, head)
        asked = len(told(head, "reply.approval_requested"))

        with_file = services.draft_reply(
            complaint_id=complaint.pk,
            body="拟答复：路灯已修复。",  # the same text, plus a file
            actor=handler,
            attachments=[SimpleUploadedFile("照片.jpg", b"\xff\xd8jpeg", "image/jpeg")],
        )

        assert with_file.approved_level == 0
        assert len(told(head, "reply.approval_requested")) == asked + 1
        with pytest.raises(GuardFailed, match="must be approved"):
            send(complaint, handler)
        approve(complaint, head)
        send(complaint, handler)

    def test_another_person_saving_the_draft_voids_the_approval(
        self, urban: Department, handler: User, colleague: User, head: User
    ) -> None:
        complaint = complaint_in(S.IN_PROGRESS, department=urban, priority="urgent")
        draft(complaint, handler)
        approve(complaint, head)

        taken_over = draft(complaint, colleague)

        assert (taken_over.author, taken_over.approved_level) == (colleague, 0)

    def test_lowering_the_priority_before_sending_lifts_the_need(
        self, urban: Department, handler: User
    ) -> None:
        complaint = handling(urban, handler, priority="urgent")
        draft(complaint, handler)
        Complaint.objects.filter(pk=complaint.pk).update(priority="normal")

        send(complaint, handler)

        sent = complaint.replies.get()
        assert (sent.required_levels, sent.approved_level) == (0, 0)
        assert sent.sent_at is not None

    def test_raising_the_priority_before_sending_asks_for_approval(
        self, urban: Department, handler: User, head: User
    ) -> None:
        complaint = handling(urban, handler)
        assert draft(complaint, handler).required_levels == 0
        Complaint.objects.filter(pk=complaint.pk).update(priority="critical")

        with pytest.raises(GuardFailed, match="must be approved"):
            send(complaint, handler)
        approve(complaint, head)
        send(complaint, handler)

    def test_a_rule_added_after_the_first_level_asks_for_a_second(
        self, urban: Department, roads: Category, handler: User, head: User, supervisor: User
    ) -> None:
        complaint = handling(urban, handler, category=roads, priority="urgent")
        draft(complaint, handler)
        approve(complaint, head)
        ApprovalRule.objects.create(name="道路", category=roads, levels=2)

        with pytest.raises(GuardFailed, match="must be approved"):
            send(complaint, handler)
        approve(complaint, supervisor)
        send(complaint, handler)
        assert complaint.replies.get().approved_level == 2

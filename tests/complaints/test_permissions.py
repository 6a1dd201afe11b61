"""Role and scope: who may do what, on which complaint."""

from __future__ import annotations

from typing import Any

import pytest

from complaints import permissions, services
from complaints.errors import PermissionDenied
from complaints.models import Complaint
from tests.factories import complaint_in

S = Complaint.Status


def test_a_handler_cannot_classify(handler: Any, facilities: Any) -> None:
    complaint = complaint_in(S.RECEIVED)
    with pytest.raises(PermissionDenied):
        services.classify(
            complaint_id=complaint.pk, category=facilities, priority="normal", actor=handler
        )
    complaint.refresh_from_db()
    assert complaint.status == S.RECEIVED


def test_an_auditor_can_change_nothing(auditor: Any) -> None:
    complaint = complaint_in(S.RECEIVED)
    with pytest.raises(PermissionDenied):
        services.withdraw(complaint_id=complaint.pk, actor=auditor)
    with pytest.raises(PermissionDenied):
        services.add_note(complaint_id=complaint.pk, body="看过了", actor=auditor)


def test_a_dispatcher_cannot_handle(dispatcher: Any, urban: Any) -> None:
    complaint = complaint_in(S.ASSIGNED, department=urban)
    with pytest.raises(PermissionDenied):
        services.accept(complaint_id=complaint.pk, actor=dispatcher)


def test_a_handler_cannot_touch_another_departments_complaint(
    market_handler: Any, urban: Any
) -> None:
    complaint = complaint_in(S.ASSIGNED, department=urban)
    with pytest.raises(PermissionDenied):
        services.accept(complaint_id=complaint.pk, actor=market_handler)


def test_a_handler_cannot_take_a_colleagues_complaint(
    colleague: Any, handler: Any, urban: Any
) -> None:
    complaint = complaint_in(S.ASSIGNED, department=urban, assignee=handler)
    with pytest.raises(PermissionDenied):
        services.accept(complaint_id=complaint.pk, actor=colleague)


def test_a_handler_may_take_an_unassigned_complaint_of_the_department(
    colleague: Any, urban: Any
) -> None:
    complaint = complaint_in(S.ASSIGNED, department=urban)
    services.accept(complaint_id=complaint.pk, actor=colleague)
    complaint.refresh_from_db()
    assert complaint.assignee == colleague


def test_a_head_acts_on_any_complaint_of_the_department_only(
    head: Any, handler: Any, urban: Any, market: Any
) -> None:
    mine = complaint_in(S.IN_PROGRESS, department=urban, assignee=handler)
    services.transfer(complaint_id=mine.pk, department=market, reason="职责", actor=head)
    theirs = complaint_in(S.IN_PROGRESS, department=market)
    with pytest.raises(PermissionDenied):
        services.transfer(complaint_id=theirs.pk, department=urban, reason="职责", actor=head)


def test_an_inactive_user_can_do_nothing(supervisor: Any) -> None:
    supervisor.is_active = False
    supervisor.save()
    complaint = complaint_in(S.CLOSED)
    with pytest.raises(PermissionDenied):
        services.archive(complaint_id=complaint.pk, actor=supervisor)


def test_the_refusal_names_the_action_and_the_complaint(handler: Any, facilities: Any) -> None:
    from django.utils import translation

    complaint = complaint_in(S.RECEIVED)
    with translation.override("en"), pytest.raises(PermissionDenied) as caught:
        services.classify(
            complaint_id=complaint.pk, category=facilities, priority="normal", actor=handler
        )
    assert str(caught.value) == (
        f"You are not allowed to do “Classify” on {complaint.tracking_code}."
    )


# The role matrix: which role may start which transition (scope permitting).
ROLE_MATRIX = {
    "clerk": {"request_info", "supply_info", "withdraw", "reopen"},
    "dispatcher": {
        "classify", "assign", "transfer", "reject", "merge", "request_info", "supply_info",
        "withdraw", "reopen", "close", "archive",
    },
    "handler": {"accept", "transfer", "send_back", "request_info", "supply_info", "reply", "close"},
    "head": {
        "accept", "assign", "transfer", "send_back", "request_info", "supply_info", "reply",
        "close",
    },
    "supervisor": set(services.EVENT_KIND),
    "auditor": set(),
}  # fmt: skip


@pytest.mark.parametrize("persona", sorted(ROLE_MATRIX))
def test_role_matrix(persona: str, request: pytest.FixtureRequest, urban: Any) -> None:
    user = request.getfixturevalue(persona)
    complaint = complaint_in(S.RECEIVED, department=urban)
    allowed = {
        action for action in services.EVENT_KIND if permissions.can_act(user, complaint, action)
    }
    assert allowed == ROLE_MATRIX[persona]


def test_visible_complaints_follow_the_scope(
    handler: Any, colleague: Any, head: Any, dispatcher: Any, auditor: Any, urban: Any, market: Any
) -> None:
    unassigned = complaint_in(S.ASSIGNED, department=urban)
    own = complaint_in(S.IN_PROGRESS, department=urban, assignee=handler)
    colleagues = complaint_in(S.IN_PROGRESS, department=urban, assignee=colleague)
    elsewhere = complaint_in(S.ASSIGNED, department=market)
    everything = Complaint.objects.all()

    def seen(user: Any) -> set[int]:
        return set(permissions.visible_to(everything, user).values_list("pk", flat=True))

    assert seen(handler) == {unassigned.pk, own.pk}
    assert seen(head) == {unassigned.pk, own.pk, colleagues.pk}
    assert seen(dispatcher) == seen(auditor) == {c.pk for c in everything}
    assert elsewhere.pk not in seen(head)


def test_personal_data_only_for_roles_that_need_it(
    handler: Any, auditor: Any, market_handler: Any, urban: Any
) -> None:
    complaint = complaint_in(S.IN_PROGRESS, department=urban, assignee=handler)
    assert permissions.can_view_personal_data(handler, complaint)
    assert not permissions.can_view_personal_data(auditor, complaint)
    assert not permissions.can_view_personal_data(market_handler, complaint)


def test_allowed_actions_are_what_the_user_may_do_now(handler: Any, urban: Any) -> None:
    complaint = complaint_in(S.ASSIGNED, department=urban, assignee=handler)
    names = [t.name for t in services.allowed_actions(complaint, handler)]
    assert names == ["request_info", "transfer", "send_back", "accept"]

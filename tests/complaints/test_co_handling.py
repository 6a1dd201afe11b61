"""Co-handling (协办): a lead department and helpers, each with a task and a deadline."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from accounts.roles import Role
from complaints import permissions, services
from complaints.errors import GuardFailed, InvalidTransition, PermissionDenied
from complaints.models import CoHandlingTask, Complaint
from tests.conftest import make_user
from tests.factories import complaint_in

S = Complaint.Status


def soon() -> Any:
    return timezone.now() + timedelta(days=2)


@pytest.fixture
def handled(urban: Any, handler: Any) -> Complaint:
    return complaint_in(S.IN_PROGRESS, department=urban, assignee=handler)


def test_the_lead_asks_another_department_and_it_answers(
    handled: Complaint, head: Any, market: Any, market_handler: Any
) -> None:
    task = services.request_co_handling(
        complaint_id=handled.pk,
        department=market,
        task="核查该商户的营业执照",
        due_at=soon(),
        actor=head,
    )
    assert permissions.in_scope(market_handler, handled)  # the helper can now reach it
    services.complete_co_handling(
        task_id=task.pk, result="执照有效，已责令整改。", actor=market_handler
    )
    task.refresh_from_db()
    assert task.status == CoHandlingTask.Status.DONE
    assert task.completed_by == market_handler
    assert list(handled.events.values_list("kind", flat=True)) == [
        "cohandling.requested",
        "cohandling.completed",
    ]
    assert not permissions.in_scope(market_handler, handled)  # done: out of reach again


def test_co_handled_complaints_appear_in_the_helpers_list(
    handled: Complaint, head: Any, market: Any, market_handler: Any
) -> None:
    services.request_co_handling(
        complaint_id=handled.pk, department=market, task="核查", due_at=soon(), actor=head
    )
    seen = permissions.visible_to(Complaint.objects.all(), market_handler)
    assert list(seen) == [handled]


def test_only_the_helper_department_completes_its_task(
    handled: Complaint, head: Any, market: Any, handler: Any
) -> None:
    task = services.request_co_handling(
        complaint_id=handled.pk, department=market, task="核查", due_at=soon(), actor=head
    )
    with pytest.raises(PermissionDenied):
        services.complete_co_handling(task_id=task.pk, result="好了", actor=handler)


@pytest.mark.parametrize(
    ("task", "days", "message"),
    [("", 2, "task"), ("核查", -1, "future")],
)
def test_a_task_needs_words_and_a_future_deadline(
    handled: Complaint, head: Any, market: Any, task: str, days: int, message: str
) -> None:
    with pytest.raises(GuardFailed):
        services.request_co_handling(
            complaint_id=handled.pk,
            department=market,
            task=task,
            due_at=timezone.now() + timedelta(days=days),
            actor=head,
        )


def test_one_open_task_per_department(handled: Complaint, head: Any, market: Any) -> None:
    services.request_co_handling(
        complaint_id=handled.pk, department=market, task="a", due_at=soon(), actor=head
    )
    with pytest.raises(GuardFailed):
        services.request_co_handling(
            complaint_id=handled.pk, department=market, task="b", due_at=soon(), actor=head
        )


def test_the_lead_department_cannot_co_handle_itself(
    handled: Complaint, head: Any, urban: Any
) -> None:
    with pytest.raises(GuardFailed):
        services.request_co_handling(
            complaint_id=handled.pk, department=urban, task="a", due_at=soon(), actor=head
        )


def test_co_handling_only_while_handling(head: Any, market: Any, urban: Any) -> None:
    complaint = complaint_in(S.RECEIVED, department=urban)
    with pytest.raises(InvalidTransition):
        services.request_co_handling(
            complaint_id=complaint.pk, department=market, task="a", due_at=soon(), actor=head
        )


def test_a_handler_of_another_department_cannot_request(handled: Complaint, market: Any) -> None:
    outsider = make_user("outsider", Role.DEPARTMENT_HEAD, market)
    with pytest.raises(PermissionDenied):
        services.request_co_handling(
            complaint_id=handled.pk, department=market, task="a", due_at=soon(), actor=outsider
        )

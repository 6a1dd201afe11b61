"""The whole lifecycle graph of DESIGN.md, as one table: every state × every action."""

from __future__ import annotations

from typing import Any

import pytest

from complaints import services
from complaints.errors import InvalidTransition
from complaints.models import Complaint, Event
from tests.factories import approved_draft, complaint_in

S = Complaint.Status
ACTIONS = [
    "classify",
    "request_info",
    "supply_info",
    "assign",
    "transfer",
    "send_back",
    "accept",
    "reply",
    "close",
    "reopen",
    "reject",
    "merge",
    "withdraw",
    "archive",
]

# state -> {action: resulting state}; every pair not listed must be refused.
GRAPH: dict[str, dict[str, str]] = {
    S.RECEIVED: {
        "classify": S.CLASSIFIED,
        "request_info": S.NEEDS_INFO,
        "reject": S.REJECTED,
        "merge": S.MERGED,
        "withdraw": S.WITHDRAWN,
    },
    S.NEEDS_INFO: {"supply_info": S.RECEIVED, "withdraw": S.WITHDRAWN},
    S.CLASSIFIED: {
        "assign": S.ASSIGNED,
        "request_info": S.NEEDS_INFO,
        "reject": S.REJECTED,
        "merge": S.MERGED,
        "withdraw": S.WITHDRAWN,
    },
    S.ASSIGNED: {
        "accept": S.IN_PROGRESS,
        "transfer": S.ASSIGNED,
        "send_back": S.CLASSIFIED,
        "request_info": S.NEEDS_INFO,
        "withdraw": S.WITHDRAWN,
    },
    S.IN_PROGRESS: {
        "reply": S.REPLIED,
        "transfer": S.ASSIGNED,
        "request_info": S.NEEDS_INFO,
        "withdraw": S.WITHDRAWN,
    },
    S.REPLIED: {"close": S.CLOSED, "reopen": S.REOPENED},
    S.CLOSED: {"archive": S.ARCHIVED},
    S.REOPENED: {"accept": S.IN_PROGRESS, "request_info": S.NEEDS_INFO, "withdraw": S.WITHDRAWN},
    S.REJECTED: {"archive": S.ARCHIVED},
    S.MERGED: {"archive": S.ARCHIVED},
    S.WITHDRAWN: {"archive": S.ARCHIVED},
    S.ARCHIVED: {},
}

CASES = [
    pytest.param(state, action, GRAPH[state].get(action), id=f"{state}-{action}")
    for state in S.values
    for action in ACTIONS
]


def test_the_table_covers_every_state() -> None:
    assert set(GRAPH) == set(S.values)


def valid_arguments(action: str, complaint: Complaint, fx: dict[str, Any]) -> dict[str, Any]:
    """Arguments that satisfy every guard, so only the state decides."""
    if action == "reply":
        approved_draft(complaint)
    return {
        "classify": {"category": fx["facilities"], "priority": "normal"},
        "request_info": {"question": "请补充地址。"},
        "supply_info": {"details": "地址是幸福路88号。"},
        "assign": {"department": fx["urban"], "assignee": fx["handler"]},
        "transfer": {"department": fx["market"], "reason": "属于市场监管职责。"},
        "send_back": {"reason": "不属于本部门。"},
        "reopen": {"reason": "问题没有解决。"},
        "reject": {"reason": "不属于受理范围。"},
        "merge": {"into_id": complaint_in(S.RECEIVED).pk},
        "withdraw": {"reason": "已解决。"},
    }.get(action, {})


@pytest.mark.parametrize(("state", "action", "target"), CASES)
def test_transition_graph(
    state: str,
    action: str,
    target: str | None,
    admin_user: Any,
    urban: Any,
    market: Any,
    facilities: Any,
    handler: Any,
) -> None:
    fixtures = {"urban": urban, "market": market, "facilities": facilities, "handler": handler}
    complaint = complaint_in(state, department=urban, assignee=handler, category=facilities)
    arguments = valid_arguments(action, complaint, fixtures)
    service = services.SERVICE_FOR_ACTION[action]
    events_before = Event.objects.filter(complaint=complaint).count()

    if target is None:
        with pytest.raises(InvalidTransition):
            service(complaint_id=complaint.pk, actor=admin_user, **arguments)
        complaint.refresh_from_db()
        assert complaint.status == state
        assert complaint.version == 1
        assert Event.objects.filter(complaint=complaint).count() == events_before
    else:
        service(complaint_id=complaint.pk, actor=admin_user, **arguments)
        complaint.refresh_from_db()
        assert complaint.status == target
        assert complaint.version == 2
        event = Event.objects.filter(complaint=complaint).latest("id")
        assert event.kind == services.EVENT_KIND[action]
        assert (event.from_state, event.to_state) == (state, target)
        assert event.actor == admin_user


@pytest.mark.parametrize("resume", [S.RECEIVED, S.CLASSIFIED, S.ASSIGNED, S.IN_PROGRESS])
def test_supplied_details_return_the_complaint_to_where_it_was(
    resume: str, admin_user: Any, urban: Any, handler: Any
) -> None:
    complaint = complaint_in(resume, department=urban, assignee=handler)
    services.request_info(complaint_id=complaint.pk, question="哪一栋楼？", actor=admin_user)
    services.supply_info(complaint_id=complaint.pk, details="3号楼。", actor=admin_user)
    complaint.refresh_from_db()
    assert complaint.status == resume
    assert complaint.resume_status == ""


def test_status_cannot_be_assigned_directly(db: None) -> None:
    complaint = complaint_in(S.RECEIVED)
    with pytest.raises(AttributeError):
        complaint.status = S.CLOSED

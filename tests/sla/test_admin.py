"""The back-office: calendars, policy versions (frozen once in force), deadlines, extensions."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from accounts.models import User
from complaints import services
from complaints.models import Complaint
from routing.models import Category, Department
from sla import services as sla_services
from sla.models import Deadline, ExtensionRequest, PolicyVersion, Stage

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff(admin_user: User, client: Client) -> Client:
    client.force_login(admin_user)
    return client


def test_the_sla_pages_render(staff: Client) -> None:
    complaint = services.submit_complaint(title="噪音", content="工地夜间施工", channel="web")
    for url in (
        "/admin/sla/businesscalendar/",
        "/admin/sla/businesscalendar/1/change/",
        "/admin/sla/policy/",
        f"/admin/sla/policy/{PolicyVersion.objects.first().policy_id}/change/",  # type: ignore[union-attr]
        "/admin/sla/policyversion/",
        "/admin/sla/deadline/",
        "/admin/sla/slaaction/",
        "/admin/sla/extensionrequest/",
        f"/admin/complaints/complaint/{complaint.complaint.pk}/change/",
    ):
        response = staff.get(url)
        assert response.status_code == 200, url
    page = staff.get(f"/admin/complaints/complaint/{complaint.complaint.pk}/change/")
    assert "Classify and grade" in page.content.decode() or "分类定级" in page.content.decode()


def test_a_version_in_force_is_read_only_and_drafting_copies_it(staff: Client) -> None:
    v10 = PolicyVersion.objects.get(policy__code="standard")
    page = staff.get(f"/admin/sla/policyversion/{v10.pk}/change/").content.decode()
    assert 'name="label"' not in page  # frozen

    staff.post(
        "/admin/sla/policyversion/",
        {"action": "draft_next_version", "_selected_action": [v10.pk]},
    )

    v11 = PolicyVersion.objects.get(policy=v10.policy, label="V1.1")
    assert v11.effective_from > timezone.now()
    assert v11.targets.count() == v10.targets.count()
    assert v11.escalation_steps.count() == v10.escalation_steps.count()
    page = staff.get(f"/admin/sla/policyversion/{v11.pk}/change/").content.decode()
    assert 'name="label"' in page  # editable until it takes effect


def test_a_department_head_decides_an_extension_in_the_back_office(
    facilities: Category,
    dispatcher: User,
    urban: Department,
    handler: User,
    head: User,
    client: Client,
) -> None:
    complaint: Complaint = services.submit_complaint(
        title="路面塌陷", content="人民路有坑", channel="web"
    ).complaint
    services.classify(
        complaint_id=complaint.pk, category=facilities, priority="normal", actor=dispatcher
    )
    services.assign(complaint_id=complaint.pk, department=urban, assignee=handler, actor=dispatcher)
    cycle = Deadline.objects.get(complaint=complaint, stage=Stage.CYCLE)
    until = cycle.due_at + timedelta(days=3)
    request = sla_services.request_extension(
        deadline_id=cycle.pk, until=until, reason="等检测", actor=handler
    )
    head.is_staff = True
    head.save()
    from django.contrib.auth.models import Permission

    head.user_permissions.add(
        *Permission.objects.filter(
            codename__in=["view_extensionrequest", "change_extensionrequest"]
        )
    )
    client.force_login(head)

    response = client.post(
        f"/admin/sla/extensionrequest/{request.pk}/change/",
        {"decision": "approve", "decision_note": "同意"},
    )

    assert response.status_code == 302
    request.refresh_from_db()
    assert request.state == ExtensionRequest.State.APPROVED
    cycle.refresh_from_db()
    assert cycle.due_at == until

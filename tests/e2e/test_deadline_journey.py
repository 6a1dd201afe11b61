"""A handler late on a limit asks for more time; the department head approves it."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from accounts.models import User
from complaints import services
from routing.models import Category, Department
from sla.models import Deadline, ExtensionRequest, Stage
from sla.sweep import sweep

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def log_in(page: Any, url: str, username: str) -> None:
    page.context.clear_cookies()
    page.goto(f"{url}/console/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", "pw")
    page.click("button[type=submit]")


def test_more_time_is_asked_for_and_granted_in_the_console(
    desktop: Any,
    live_server: Any,
    dispatcher: User,
    facilities: Category,
    urban: Department,
    handler: User,
    head: User,
) -> None:
    complaint = services.submit_complaint(
        title="路面塌陷", content="人民路中段塌了一个坑", channel="web"
    ).complaint
    services.classify(
        complaint_id=complaint.pk, category=facilities, priority="normal", actor=dispatcher
    )
    services.assign(complaint_id=complaint.pk, department=urban, assignee=handler, actor=dispatcher)
    accept = Deadline.objects.get(complaint=complaint, stage=Stage.ACCEPT)
    past = timezone.now() - timedelta(minutes=5)
    Deadline.objects.filter(pk=accept.pk).update(due_at=past, warn_at=None, next_check_at=past)
    assert sweep().escalations == 1  # the head hears of it; the complaint is supervised

    log_in(desktop, live_server.url, "handler")
    desktop.goto(f"{live_server.url}/console/deadlines/")
    row = desktop.locator("table.deadlines tr", has_text=complaint.tracking_code)
    assert "supervised (yellow)" in row.inner_text()
    row.get_by_role("link", name="Ask for more time").click()
    until = timezone.localtime(timezone.now() + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")
    desktop.fill("#id_until", until)
    desktop.fill("#id_reason", "需要封路施工，已联系交警。")
    desktop.get_by_role("button", name="Send to the department head").click()
    assert "went to the department head" in desktop.locator(".messages").inner_text()

    log_in(desktop, live_server.url, "head")
    desktop.goto(f"{live_server.url}/console/deadlines/")
    desktop.get_by_role("link", name="Decide").click()
    assert "需要封路施工" in desktop.locator("dl.facts").inner_text()
    desktop.get_by_label("Approve").check()
    desktop.get_by_role("button", name="Record the decision").click()
    assert "Extension approved" in desktop.locator(".messages").inner_text()

    assert ExtensionRequest.objects.get().state == ExtensionRequest.State.APPROVED
    accept.refresh_from_db()
    assert timezone.localtime(accept.due_at).strftime("%Y-%m-%dT%H:%M") == until

"""The main journey, end to end in a browser: from a citizen's phone to the reply on it.

A citizen submits on the portal (phone, Chinese); routing is not sure, so a dispatcher
classifies and assigns it in the inbox; the handler accepts it, records a plan and drafts
the reply, which, the matter being urgent, the department head approves before the
handler sends it; the citizen reads the reply through the private link.

Each step leaves a full-page screenshot in ``ARTIFACTS`` to look at after a run.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import suppress
from pathlib import Path
from typing import Any

import pytest

from accounts.models import User
from complaints.models import Complaint
from routing import services as routing_services
from routing.decide import Decision
from routing.models import Category, Department, Suggestion
from sla.models import Deadline, Stage
from tests.e2e.helpers import swap

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS_ROOT = Path(os.environ.get("SUTONG_TEST_ARTIFACTS", ROOT / "var" / "test-artifacts"))
ARTIFACTS = ARTIFACTS_ROOT / "main-journey"

TITLE = "小区门口路灯损坏"
CONTENT = "幸福路88号南门外的路灯坏了两周，晚上路过的老人差点摔倒。"
PLAN = "Send the lighting crew tonight; replace the lamp and check the wiring of the row."
# Written for the petitioner, in their language.
REPLY = "幸福路88号南门外的路灯已于今日更换，并检查了整排线路。感谢您的反映！"


def shot(page: Any, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


@pytest.fixture
def artifacts(request: pytest.FixtureRequest, phone: Any, desktop: Any) -> Iterator[Path]:
    """This run's screenshots only; when the journey fails, both pages as they were then."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for old in ARTIFACTS.glob("*.png"):
        old.unlink()
    failed = request.session.testsfailed
    yield ARTIFACTS
    # The call's report is counted before teardown: more failures now means this one.
    if request.session.testsfailed > failed:
        for name, page in (("phone", phone), ("desktop", desktop)):
            with suppress(Exception):
                shot(page, f"failed-{name}")


def log_in(page: Any, url: str, username: str) -> None:
    page.context.clear_cookies()
    page.goto(f"{url}/console/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", "pw")
    page.click("button[type=submit]")
    assert "/console/login/" not in page.url, f"{username} could not log in"


def message(page: Any) -> str:
    return str(page.locator(".messages").inner_text())


def events(complaint: Complaint) -> list[str]:
    return list(complaint.events.order_by("created_at", "id").values_list("kind", flat=True))


def stages(complaint: Complaint) -> dict[str, str]:
    """Each stage's latest limit and its state."""
    return dict(
        Deadline.objects.filter(complaint=complaint)
        .order_by("created_at", "id")
        .values_list("stage", "state")
    )


def not_sure(text: str) -> Decision:
    """Routing's answer for every text: facilities, urgent, and not sure (a dispatcher)."""
    return Decision(category="facilities", priority="urgent", confidence=0.5, sensitive=False)


def test_a_complaint_goes_from_a_phone_to_a_reply_on_it(
    phone: Any,
    desktop: Any,
    live_server: Any,
    monkeypatch: pytest.MonkeyPatch,
    facilities: Category,
    urban: Department,
    dispatcher: User,
    handler: User,
    colleague: User,  # a second handler in the department: the dispatcher must choose
    head: User,
    artifacts: Path,
) -> None:
    url = live_server.url
    # The live server runs in this process: its routing (after commit) answers this way too.
    monkeypatch.setattr(routing_services, "decide", not_sure)

    # 1. A citizen submits on a phone, in Chinese, and keeps the code and the private link.
    phone.goto(f"{url}/")
    phone.click("a.card.primary")
    phone.fill("#id_title", TITLE)
    phone.fill("#id_content", CONTENT)
    phone.fill("#id_name", "张伟")
    phone.fill("#id_phone", "138 1234 5678")
    phone.check("#id_privacy_consent")
    phone.click("button.big")
    code = phone.locator("#tracking-code").inner_text()
    link = phone.locator("#private-link").get_attribute("href")
    assert link is not None
    assert link.startswith(f"{url}/track/{code}/")
    assert phone.locator("html").get_attribute("lang") == "zh-hans"
    shot(phone, "01-portal-submitted")

    complaint = Complaint.objects.get(tracking_code=code)
    assert complaint.status == Complaint.Status.RECEIVED
    assert complaint.channel == Complaint.Channel.WEB
    assert events(complaint)[0] == "complaint.received"
    assert stages(complaint) == {"classify": "open", "cycle": "open"}

    # 2. Routing ran after the commit (Celery is eager here); if not, run it now.
    if not Suggestion.objects.filter(complaint=complaint).exists():
        routing_services.route_complaint(complaint.pk)
    suggestion = Suggestion.objects.get(complaint=complaint)
    assert (suggestion.category, suggestion.priority) == (facilities, "urgent")
    assert not suggestion.applied
    complaint.refresh_from_db()
    assert complaint.status == Complaint.Status.RECEIVED  # not sure: a dispatcher decides

    # 3. The dispatcher finds it in the inbox, keeps the suggestion and picks the handler.
    log_in(desktop, url, "dispatcher")
    desktop.locator("nav.mainnav").get_by_role("link", name="Inbox").click()
    assert desktop.url == f"{url}/console/inbox/"
    desktop.get_by_role("link", name=code).click()
    assert desktop.url == f"{url}/console/inbox/{complaint.pk}/"
    assert desktop.locator("#id_category option:checked").inner_text() == "Facilities"
    assert desktop.locator("#id_priority option:checked").inner_text() == "Urgent"
    department = desktop.locator("#id_department option:checked").inner_text()
    assert department == "Urban Management Bureau"
    assert "50%" in desktop.locator("aside.lookup").inner_text()
    desktop.select_option("#id_assignee", label="handler (Urban Management Bureau)")
    shot(desktop, "02-dispatcher-triage")
    desktop.get_by_role("button", name="Classify", exact=True).click()
    assert desktop.url == f"{url}/console/inbox/"
    assert f"{code} classified and assigned to Urban Management Bureau" in message(desktop)
    assert not desktop.get_by_role("link", name=code).count()  # no longer waits
    shot(desktop, "03-dispatcher-classified")

    complaint.refresh_from_db()
    assert complaint.status == Complaint.Status.ASSIGNED
    assert (complaint.category, complaint.priority) == (facilities, "urgent")
    assert (complaint.department, complaint.assignee) == (urban, handler)
    assert events(complaint)[-2:] == ["complaint.classified", "complaint.assigned"]
    assert complaint.events.get(kind="complaint.classified").actor == dispatcher
    assert stages(complaint) == {
        "classify": "met",
        "cycle": "open",
        "assign": "met",
        "accept": "open",
        "plan": "open",
    }

    # 4. The handler accepts it, records a plan, drafts the reply; sending is refused.
    log_in(desktop, url, "handler")
    desktop.locator("nav.mainnav").get_by_role("link", name="Complaints").click()
    assert desktop.locator(".queue-tabs a.current").inner_text() == "Mine"
    desktop.get_by_role("link", name=code).click()
    assert desktop.url == f"{url}/console/complaints/{complaint.pk}/"
    desktop.get_by_role("button", name="Accept", exact=True).click()
    assert "Accept: done." in message(desktop)
    assert desktop.locator(".tag.status").inner_text() == "In progress"
    complaint.refresh_from_db()
    assert complaint.status == Complaint.Status.IN_PROGRESS
    assert events(complaint)[-1] == "complaint.accepted"
    assert stages(complaint)["accept"] == "met"

    # The plan is recorded in place (htmx); the draft after it must not see a conflict.
    desktop.fill("#id_plan-plan", PLAN)
    with swap(desktop):
        desktop.get_by_role("button", name="Record plan").click()
    assert "Handling plan recorded." in desktop.locator("#side-plan .done").inner_text()
    assert PLAN in desktop.locator("ol.events").inner_text()
    assert events(complaint)[-1] == "complaint.plan_recorded"
    assert stages(complaint)["plan"] == "met"
    assert stages(complaint)["reply"] == "open"

    desktop.fill("#id_draft-body", REPLY)
    desktop.get_by_role("button", name="Save draft").click()
    assert "Reply saved as a draft." in message(desktop)
    drafted = desktop.locator("article.reply.draft").inner_text()
    assert "Waiting for the department head's approval" in drafted
    shot(desktop, "04-handler-draft-saved")
    draft = complaint.replies.get()
    assert (draft.body, draft.author, draft.approved_at) == (REPLY, handler, None)

    # An urgent reply goes out only once the head approved it: not offered before.
    assert desktop.get_by_role("button", name="Send reply", exact=True).count() == 0
    shot(desktop, "05-handler-waits-for-approval")
    complaint.refresh_from_db()
    assert complaint.status == Complaint.Status.IN_PROGRESS
    assert "complaint.replied" not in events(complaint)

    # 5. The department head finds it in the department's queue and approves the draft.
    log_in(desktop, url, "head")
    desktop.locator("nav.mainnav").get_by_role("link", name="Complaints").click()
    desktop.locator(".queue-tabs").get_by_role("link", name="My department").click()
    assert desktop.locator(".queue-tabs a.current").inner_text() == "My department"
    desktop.get_by_role("link", name=code).click()
    assert REPLY in desktop.locator("article.reply.draft").inner_text()
    desktop.get_by_role("button", name="Approve this reply").click()
    assert "Reply approved: it can be sent." in message(desktop)
    approved = desktop.locator("article.reply.draft").inner_text()
    assert "Approved" in approved
    assert "approved" in desktop.locator("ul.decisions").inner_text()
    assert not desktop.get_by_role("button", name="Approve this reply").count()
    shot(desktop, "06-head-approved")
    draft.refresh_from_db()
    assert draft.approved_by == head
    assert draft.approved_at is not None
    assert draft.sent_at is None
    assert events(complaint)[-1] == "reply.approved"

    # 6. The handler sends the approved reply.
    log_in(desktop, url, "handler")
    desktop.goto(f"{url}/console/complaints/{complaint.pk}/")
    actions = desktop.locator("section.actions")
    actions.locator("summary", has_text="Send reply").click()
    # Registered on the web with a phone only: the reply goes by text message.
    assert actions.get_by_label("Text message with a link").is_checked()
    actions.get_by_role("button", name="Send reply").click()
    assert "Send reply: done." in message(desktop)
    assert desktop.locator(".tag.status").inner_text() == "Replied"
    assert REPLY in desktop.locator("article.reply.sent").inner_text()
    shot(desktop, "07-handler-replied")

    complaint.refresh_from_db()
    assert complaint.status == Complaint.Status.REPLIED
    assert complaint.replied_at is not None
    draft.refresh_from_db()
    assert draft.sent_at == complaint.replied_at
    # The worker hands the text message to the gateway; the reply counts as delivered.
    for _ in range(100):
        draft.refresh_from_db()
        if draft.delivered_at is not None:
            break
        time.sleep(0.1)
    assert draft.delivery == "sms"
    assert draft.delivered_at is not None
    replied = complaint.events.get(kind="complaint.replied")
    assert (replied.actor, replied.payload["body"]) == (handler, REPLY)
    assert events(complaint) == [
        "complaint.received",
        "complaint.classified",
        "complaint.assigned",
        "complaint.accepted",
        "complaint.plan_recorded",
        "reply.drafted",
        "reply.approved",
        "complaint.replied",
        "reply.delivered",
    ]
    limits = Deadline.objects.filter(complaint=complaint)
    assert set(limits.values_list("stage", "state")) == {
        (Stage.CLASSIFY, "met"),
        (Stage.ASSIGN, "met"),
        (Stage.ACCEPT, "met"),
        (Stage.PLAN, "met"),
        (Stage.REPLY, "met"),
        (Stage.CYCLE, "met"),
        (Stage.FOLLOW_UP, "open"),
    }
    assert limits.get(stage=Stage.REPLY).closed_at == replied.created_at

    # 7. The citizen opens the private link on the phone and reads the reply, in Chinese.
    phone.context.clear_cookies()  # only the link proves access now
    phone.goto(link)
    assert phone.url == f"{url}/track/{code}/"  # the secret left the address bar
    assert phone.locator("h1").inner_text() == TITLE
    assert phone.locator("p.status").inner_text() == "已答复"
    assert REPLY in phone.locator("section.reply .body").inner_text()
    shot(phone, "08-portal-reply-read")

    # 8. The citizen answers the satisfaction survey on the same page; the matter closes.
    survey = phone.locator("section#survey")
    assert survey.locator("h2").inner_text() == "请评价我们的工作"
    survey.get_by_label("是").check()
    survey.get_by_label("5 — 非常满意").check()
    survey.get_by_label("您还有什么想告诉我们的吗？").fill("处理很及时，谢谢！")
    shot(phone, "09-portal-survey-filled")
    survey.get_by_role("button", name="提交评价").click()
    assert "感谢您的评价" in phone.locator(".messages").inner_text()
    assert phone.locator("p.status").inner_text() == "已办结"
    assert not phone.locator("section#survey").count()
    shot(phone, "10-portal-survey-answered")
    complaint.refresh_from_db()
    assert (complaint.status, complaint.close_reason) == (Complaint.Status.CLOSED, "survey")
    answer = complaint.surveys.get()
    assert (answer.resolved, answer.rating, answer.via) == (True, 5, "link")
    assert answer.comment == "处理很及时，谢谢！"
    assert events(complaint)[-2:] == ["survey.answered", "complaint.closed"]
    assert Deadline.objects.get(complaint=complaint, stage=Stage.FOLLOW_UP).state == "met"

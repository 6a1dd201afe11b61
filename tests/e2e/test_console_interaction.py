"""The staff console in a browser: htmx where it helps, plain forms without JavaScript, phones.

Queues filter and page in place and keep their address in the history; side notes go in
place and leave the page's versions current; the same flows work with JavaScript off; a
phone sees the queues as cards, never wider than its screen.

Screenshots go to ``ARTIFACTS`` to look at after a run.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from accounts.models import User
from complaints import queues, services
from complaints.models import Complaint
from routing.models import Category, Department
from tests.e2e.helpers import SETTLE_COUNTER, mark_document, same_document, swap

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS_ROOT = Path(os.environ.get("SUTONG_TEST_ARTIFACTS", ROOT / "var" / "test-artifacts"))
ARTIFACTS = ARTIFACTS_ROOT / "console-interaction"

NOTE = "已联系市政公司，明早到场。"
PLAN = "明天上午补装井盖，并检查周边井盖。"


@pytest.fixture(scope="module", autouse=True)
def _fresh_artifacts() -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for old in ARTIFACTS.glob("*.png"):
        old.unlink()


def shot(page: Any, name: str, *, full_page: bool = True) -> None:
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=full_page)


def log_in(page: Any, url: str, username: str) -> None:
    page.context.clear_cookies()
    page.goto(f"{url}/console/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", "pw")
    page.click("main button[type=submit]")  # without JavaScript, the language form has one
    assert "/console/login/" not in page.url, f"{username} could not log in"


def history(page: Any, direction: str) -> None:
    """Back or forward, and wait for the page at that address to load.

    The console keeps no snapshots of earlier pages: htmx loads them afresh.
    """
    with page.expect_event("load"):
        page.go_back() if direction == "back" else page.go_forward()


def codes_listed(page: Any) -> set[str]:
    return set(page.locator("table.queue a.code").all_inner_texts())


@pytest.fixture
def assigned_to(
    dispatcher: User, facilities: Category, urban: Department
) -> Callable[..., Complaint]:
    """A complaint assigned to ``handler``, of the given priority."""

    def make(handler: User, title: str, priority: str = "normal") -> Complaint:
        complaint = services.submit_complaint(
            title=title, content=f"{title}，请尽快处理。", channel="web"
        ).complaint
        services.classify(
            complaint_id=complaint.pk, category=facilities, priority=priority, actor=dispatcher
        )
        return services.assign(
            complaint_id=complaint.pk, department=urban, assignee=handler, actor=dispatcher
        )

    return make


@pytest.fixture
def no_script(chromium: Any) -> Iterator[Any]:
    """A desktop page with JavaScript turned off: only links and forms."""
    context = chromium.new_context(
        locale="en-US", viewport={"width": 1280, "height": 900}, java_script_enabled=False
    )
    yield context.new_page()
    context.close()


@pytest.fixture
def small_phone(chromium: Any) -> Iterator[Any]:
    """375 × 812, the narrowest phone the console is made for, in Chinese."""
    context = chromium.new_context(
        locale="zh-CN", viewport={"width": 375, "height": 812}, is_mobile=True, has_touch=True
    )
    context.add_init_script(SETTLE_COUNTER)
    yield context.new_page()
    context.close()


def test_a_queue_filters_and_pages_in_place_and_the_back_button_returns(
    desktop: Any,
    live_server: Any,
    handler: User,
    assigned_to: Callable[..., Complaint],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    urgent = assigned_to(handler, "燃气管道漏气", "urgent")
    normal = [assigned_to(handler, f"路灯损坏 {n}") for n in (1, 2)]
    everything = {urgent.tracking_code, *(c.tracking_code for c in normal)}
    # Two rows a page, so that three complaints need a second one.
    page_after = queues.page_after
    monkeypatch.setattr(queues, "page_after", lambda *args: page_after(*args, size=2))
    url = live_server.url

    log_in(desktop, url, "handler")
    desktop.goto(f"{url}/console/queue/")
    assert desktop.evaluate("htmx.version").startswith("2.0.")
    first = codes_listed(desktop)
    assert len(first) == 2
    mark_document(desktop)

    # The next page comes in place, and its address goes into the history.
    with swap(desktop):
        desktop.get_by_role("link", name="Next page").click()
    assert "after=" in desktop.url
    second = codes_listed(desktop)
    assert first | second == everything
    assert same_document(desktop)

    # Filters too: urgent only.
    desktop.locator("details.panel summary").click()
    desktop.select_option("#id_priority", "urgent")
    with swap(desktop):
        desktop.get_by_role("button", name="Show").click()
    assert "priority=urgent" in desktop.url
    assert "after=" not in desktop.url
    assert codes_listed(desktop) == {urgent.tracking_code}
    assert desktop.locator("#id_priority").input_value() == "urgent"
    assert desktop.title().startswith("Mine · Queues")
    assert same_document(desktop)
    shot(desktop, "01-queue-filtered-in-place")

    # Saving this view saves the filter now shown, not the one the page was loaded with;
    # switching the language comes back to it too.
    assert "priority=urgent" in desktop.locator("#id_query").input_value()
    assert "priority=urgent" in desktop.locator("form.lang input[name=next]").input_value()

    # Back: the page before, as its address says (loaded afresh, not from a snapshot).
    history(desktop, "back")
    assert "after=" in desktop.url
    assert "priority=" not in desktop.url
    assert codes_listed(desktop) == second
    history(desktop, "back")
    assert desktop.url == f"{url}/console/queue/"
    assert codes_listed(desktop) == first
    history(desktop, "forward")
    history(desktop, "forward")
    assert "priority=urgent" in desktop.url
    assert codes_listed(desktop) == {urgent.tracking_code}


def test_a_failed_request_says_so_and_an_ended_session_goes_to_the_login_page(
    desktop: Any, live_server: Any, handler: User, assigned_to: Callable[..., Complaint]
) -> None:
    complaint = assigned_to(handler, "井盖缺失")
    url = live_server.url
    log_in(desktop, url, "handler")
    desktop.goto(f"{url}/console/queue/")
    failure = desktop.locator("#request-failed")
    assert failure.is_hidden()

    # The server fails: the list stays as it was, and the page says what happened.
    desktop.route("**/console/queue/?q=department*", lambda route: route.fulfill(status=500))
    desktop.locator(".queue-tabs").get_by_role("link", name="My department").click()
    failure.wait_for(state="visible")
    assert desktop.locator(".queue-tabs a.current").inner_text() == "Mine"
    assert codes_listed(desktop) == {complaint.tracking_code}
    shot(desktop, "09-request-failed", full_page=False)
    desktop.unroute("**/console/queue/?q=department*")

    # The session ended meanwhile: the login page comes as a page, not inside the list.
    desktop.context.clear_cookies()
    with desktop.expect_event("load"):
        desktop.locator(".queue-tabs").get_by_role("link", name="Overdue").click()
    assert desktop.url == f"{url}/console/login/?next=/console/queue/"  # back here after
    assert desktop.locator("#queue-view").count() == 0
    assert desktop.locator("#id_username").is_visible()


def test_a_note_and_a_plan_go_in_place_and_the_next_action_has_no_conflict(
    desktop: Any,
    live_server: Any,
    handler: User,
    assigned_to: Callable[..., Complaint],
) -> None:
    complaint = assigned_to(handler, "井盖缺失")
    url = live_server.url
    log_in(desktop, url, "handler")
    desktop.goto(f"{url}/console/complaints/{complaint.pk}/")
    mark_document(desktop)
    note = desktop.locator("#side-note")
    timeline = desktop.locator("#timeline")

    # An empty note: the error comes back in place, nothing else changes.
    with swap(desktop):
        note.get_by_role("button", name="Add note").click()
    assert "This field is required." in note.inner_text()
    assert complaint.events.filter(kind="complaint.note_added").count() == 0

    desktop.fill("#id_note-body", NOTE)
    with swap(desktop):
        note.get_by_role("button", name="Add note").click()
    assert note.locator(".done").inner_text() == "Note added."
    assert desktop.locator("#id_note-body").input_value() == ""  # cleared for the next one
    assert NOTE in timeline.inner_text()
    shot(desktop, "02-note-added-in-place")

    # The plan moves the complaint's version on; every form of the page must follow.
    desktop.fill("#id_plan-plan", PLAN)
    with swap(desktop):
        desktop.locator("#side-plan").get_by_role("button", name="Record plan").click()
    assert desktop.locator("#side-plan .done").inner_text() == "Handling plan recorded."
    assert PLAN in timeline.inner_text()
    complaint.refresh_from_db()
    versions = desktop.eval_on_selector_all("input[name=version]", "els => els.map(e => e.value)")
    assert len(versions) > 3
    assert set(versions) == {str(complaint.version)}
    # The plan's time limit is met: the limits were swapped too, and count down again.
    assert "Handling plan" not in desktop.locator("#clocks").inner_text()
    left = desktop.locator("#clocks .clock .left").first.inner_text()
    assert re.fullmatch(r"in \d+ (minutes|hours|days)", left), left  # the script's wording
    assert same_document(desktop)
    shot(desktop, "03-plan-recorded-in-place")

    # A state action is a whole-page post, and it goes through: no false conflict.
    desktop.locator("section.actions").get_by_role("button", name="Accept", exact=True).click()
    assert "Accept: done." in desktop.locator(".messages").inner_text()
    assert "changed by someone else" not in desktop.content()
    assert desktop.locator(".tag.status").inner_text() == "In progress"
    complaint.refresh_from_db()
    assert complaint.status == Complaint.Status.IN_PROGRESS
    kinds = list(complaint.events.order_by("created_at", "id").values_list("kind", flat=True))
    assert kinds[-3:] == ["complaint.note_added", "complaint.plan_recorded", "complaint.accepted"]
    shot(desktop, "04-accepted-after-notes")


def test_without_javascript_the_same_flows_are_plain_forms(
    no_script: Any,
    live_server: Any,
    handler: User,
    assigned_to: Callable[..., Complaint],
) -> None:
    urgent = assigned_to(handler, "燃气管道漏气", "urgent")
    complaint = assigned_to(handler, "井盖缺失")
    url = live_server.url
    log_in(no_script, url, "handler")

    # A queue filters with a plain GET.
    no_script.goto(f"{url}/console/queue/")
    assert codes_listed(no_script) == {urgent.tracking_code, complaint.tracking_code}
    no_script.locator("details.panel summary").click()
    no_script.select_option("#id_priority", "normal")
    no_script.get_by_role("button", name="Show").click()
    no_script.wait_for_url("**priority=normal*")
    assert codes_listed(no_script) == {complaint.tracking_code}

    # Note and plan: a POST, a redirect, the message at the top of the page.
    no_script.get_by_role("link", name=complaint.tracking_code).click()
    no_script.fill("#id_note-body", NOTE)
    no_script.locator("#side-note").get_by_role("button", name="Add note").click()
    assert "Note added." in no_script.locator(".messages").inner_text()
    assert NOTE in no_script.locator("#timeline").inner_text()
    assert no_script.url == f"{url}/console/complaints/{complaint.pk}/"
    no_script.locator("#side-plan").get_by_role("button", name="Record plan").click()
    assert "This field is required." in no_script.locator("#side-plan").inner_text()
    no_script.fill("#id_plan-plan", PLAN)
    no_script.locator("#side-plan").get_by_role("button", name="Record plan").click()
    assert "Handling plan recorded." in no_script.locator(".messages").inner_text()
    shot(no_script, "05-no-javascript-plan-recorded")

    no_script.locator("section.actions").get_by_role("button", name="Accept", exact=True).click()
    assert "Accept: done." in no_script.locator(".messages").inner_text()
    complaint.refresh_from_db()
    assert complaint.status == Complaint.Status.IN_PROGRESS
    assert complaint.events.filter(kind="complaint.note_added").count() == 1


def page_fits(page: Any) -> bool:
    return bool(page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"))


def test_a_phone_sees_queues_as_cards_and_nothing_wider_than_the_screen(
    small_phone: Any,
    live_server: Any,
    handler: User,
    dispatcher: User,
    assigned_to: Callable[..., Complaint],
) -> None:
    complaint = assigned_to(handler, "小区门口路灯损坏，晚上路过的老人差点摔倒", "urgent")
    assigned_to(handler, "夜间施工噪音扰民")
    waiting = services.submit_complaint(
        title="垃圾清运不及时", content="小区垃圾三天没人收。", channel="web"
    ).complaint
    url = live_server.url
    phone = small_phone

    log_in(phone, url, "handler")
    phone.goto(f"{url}/console/queue/")
    row = phone.locator("table.queue tbody tr").first
    assert row.evaluate("tr => getComputedStyle(tr).display") == "block"
    assert phone.locator("table.queue thead").evaluate("e => e.getBoundingClientRect().height") <= 1
    status = phone.locator('table.queue td[data-label="状态"]').first  # labelled by CSS
    assert status.evaluate("td => getComputedStyle(td, '::before').content") == '"状态"'
    assert page_fits(phone)
    shot(phone, "06-phone-queue-cards", full_page=False)

    # Filtering in place keeps the cards.
    phone.locator("details.panel summary").click()
    phone.select_option("#id_priority", "urgent")
    with swap(phone):
        phone.locator("details.panel").get_by_role("button").first.click()
    assert codes_listed(phone) == {complaint.tracking_code}
    assert page_fits(phone)

    phone.goto(f"{url}/console/complaints/{complaint.pk}/")
    assert page_fits(phone)
    main = phone.locator(".two-columns > div").first.bounding_box()
    side = phone.locator(".two-columns > aside").bounding_box()
    assert side["y"] >= main["y"] + main["height"]  # the side column goes under
    shot(phone, "07-phone-complaint-page")

    phone.goto(f"{url}/console/deadlines/")
    assert page_fits(phone)

    log_in(phone, url, "dispatcher")
    phone.goto(f"{url}/console/inbox/")
    assert phone.get_by_role("link", name=waiting.tracking_code).is_visible()
    assert page_fits(phone)
    nav = phone.locator("nav.mainnav").bounding_box()
    assert nav["x"] >= 0
    assert nav["x"] + nav["width"] <= 375
    shot(phone, "08-phone-inbox-cards", full_page=False)

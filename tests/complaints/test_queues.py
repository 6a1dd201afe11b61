"""Console queues: who sees which list, filters, search, keyset pages, bulk moves, saved views."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.contrib.messages import get_messages
from django.test import Client
from django.utils import timezone

from accounts.models import User
from complaints import queues
from complaints.models import CoHandlingTask, Complaint, Reply, SavedFilter
from routing.models import Category, Department
from sla.models import Deadline
from tests.factories import PetitionerFactory, approved_draft, complaint_in

pytestmark = pytest.mark.django_db
S = Complaint.Status
SHANGHAI = ZoneInfo("Asia/Shanghai")


def due(complaint: Complaint, at: datetime, *, stage: str = "reply", state: str = "open") -> None:
    Deadline.objects.create(
        complaint=complaint,
        stage=stage,
        basis="calendar",
        started_at=at - timedelta(days=1),
        due_at=at,
        state=state,
    )


def members(user: User, name: str, **filters: Any) -> set[int]:
    found = queues.apply_filters(queues.base_queryset(user, name), filters, user)
    return set(found.values_list("pk", flat=True))


def page(client: Client, **params: Any) -> Any:
    return client.get("/console/queue/", params, HTTP_ACCEPT_LANGUAGE="en")


def shown(response: Any) -> list[int]:
    return [c.pk for c in response.context["rows"]]


def texts(response: Any) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


# --- Which queues, for whom -------------------------------------------------------------


@pytest.mark.parametrize(
    ("persona", "usable", "default"),
    [
        ("handler", ["mine", "department", "overdue"], "mine"),
        ("head", ["mine", "department", "approval", "overdue"], "department"),
        ("dispatcher", ["inbox", "overdue"], "inbox"),
        ("supervisor", ["mine", "inbox", "approval", "overdue", "all"], "overdue"),
        ("auditor", ["overdue", "all"], "all"),
    ],
)
def test_each_role_gets_its_queues_and_starts_at_its_own(
    request: pytest.FixtureRequest, persona: str, usable: list[str], default: str
) -> None:
    user: User = request.getfixturevalue(persona)
    assert [q.name for q in queues.queues_for(user)] == usable
    assert queues.default_queue(user) == default


def test_the_page_opens_on_the_default_queue_and_shows_only_usable_tabs(
    client: Client, handler: User
) -> None:
    client.force_login(handler)
    response = page(client)
    assert response.status_code == 200
    assert response.context["queue"].name == "mine"
    assert [t.name for t in response.context["tabs"]] == ["mine", "department", "overdue"]
    assert "?q=all" not in response.content.decode()


@pytest.mark.parametrize("name", ["all", "approval", "nonsense"])
def test_a_queue_the_user_may_not_use_is_not_found(
    client: Client, handler: User, name: str
) -> None:
    client.force_login(handler)
    assert page(client, q=name).status_code == 404
    assert queues.base_queryset(handler, name).count() == 0


def test_someone_without_a_complaint_role_gets_no_queue(client: Client, db: None) -> None:
    client.force_login(User.objects.create_user(username="nobody", password="pw"))
    assert page(client).status_code == 403


def test_anonymous_visitors_are_sent_to_log_in(client: Client, db: None) -> None:
    response = page(client)
    assert response.status_code == 302
    assert "/console/login/" in response["Location"]


# --- What each queue holds --------------------------------------------------------------


def test_mine_holds_my_open_complaints_only(
    urban: Department, handler: User, colleague: User
) -> None:
    mine = complaint_in(S.IN_PROGRESS, department=urban, assignee=handler)
    reopened = complaint_in(S.REOPENED, department=urban, assignee=handler)
    complaint_in(S.CLOSED, department=urban, assignee=handler)
    complaint_in(S.IN_PROGRESS, department=urban, assignee=colleague)
    assert members(handler, "mine") == {mine.pk, reopened.pk}


def test_department_holds_open_complaints_of_mine_and_those_we_help_with(
    urban: Department, market: Department, head: User, handler: User, colleague: User
) -> None:
    ours = complaint_in(S.ASSIGNED, department=urban)
    colleagues = complaint_in(S.IN_PROGRESS, department=urban, assignee=colleague)
    complaint_in(S.CLOSED, department=urban)
    theirs = complaint_in(S.IN_PROGRESS, department=market)
    helping = complaint_in(S.IN_PROGRESS, department=market)
    CoHandlingTask.objects.create(
        complaint=helping, department=urban, task="核查", due_at=timezone.now() + timedelta(days=1)
    )
    assert members(head, "department") == {ours.pk, colleagues.pk, helping.pk}
    # A handler's reach is narrower: not what a colleague holds.
    assert members(handler, "department") == {ours.pk, helping.pk}
    assert theirs.pk not in members(head, "department") | members(head, "overdue")


def test_a_handler_never_sees_another_departments_complaint_in_any_queue(
    client: Client, market: Department, handler: User
) -> None:
    other = complaint_in(
        S.IN_PROGRESS,
        department=market,
        overdue_since=timezone.now(),
        supervision="red",
        title="市场投诉",
    )
    client.force_login(handler)
    for name in ("mine", "department", "overdue"):
        response = page(client, q=name, text="市场投诉")
        assert other.pk not in shown(response)
        assert other.tracking_code not in response.content.decode()


def test_inbox_holds_what_waits_for_a_dispatcher(
    urban: Department, facilities: Category, dispatcher: User
) -> None:
    received = complaint_in(S.RECEIVED)
    unplaced = complaint_in(S.CLASSIFIED, category=facilities)
    complaint_in(S.CLASSIFIED, category=facilities, department=urban)
    complaint_in(S.ASSIGNED, department=urban)
    assert members(dispatcher, "inbox") == {received.pk, unplaced.pk}


def test_approval_holds_drafts_waiting_in_the_heads_department(
    urban: Department, market: Department, head: User, supervisor: User
) -> None:
    waiting = complaint_in(S.IN_PROGRESS, department=urban, priority="urgent")
    Reply.objects.create(complaint=waiting, body="拟答复", required_levels=1)
    normal = complaint_in(S.IN_PROGRESS, department=urban)
    Reply.objects.create(complaint=normal, body="拟答复")  # needs no approval
    second = complaint_in(S.IN_PROGRESS, department=urban, priority="critical")
    # Passed the head; waits for a supervisor.
    Reply.objects.create(complaint=second, body="拟答复", required_levels=2, approved_level=1)
    returned = complaint_in(S.IN_PROGRESS, department=urban, priority="urgent")
    Reply.objects.create(
        complaint=returned, body="拟答复", required_levels=1, returned_comment="补充依据"
    )
    approved = complaint_in(S.IN_PROGRESS, department=urban, priority="urgent")
    approved_draft(approved)
    sent = complaint_in(S.REPLIED, department=urban, priority="urgent")
    Reply.objects.create(complaint=sent, body="已答复", sent_at=timezone.now())
    complaint_in(S.IN_PROGRESS, department=urban, priority="urgent")  # no draft yet
    elsewhere = complaint_in(S.IN_PROGRESS, department=market, priority="urgent")
    Reply.objects.create(complaint=elsewhere, body="拟答复", required_levels=1)

    assert members(head, "approval") == {waiting.pk}
    assert members(supervisor, "approval") == {waiting.pk, second.pk, elsewhere.pk}


def test_approval_marks_the_urgent_ones_that_cannot_go_out_without_it(
    client: Client, urban: Department, head: User
) -> None:
    urgent = complaint_in(S.IN_PROGRESS, department=urban, priority="urgent")
    Reply.objects.create(complaint=urgent, body="拟答复", required_levels=1)
    client.force_login(head)
    html = page(client, q="approval").content.decode()
    assert "approval required" in html


def test_overdue_holds_open_complaints_past_a_limit_or_supervised(
    urban: Department, supervisor: User
) -> None:
    late = complaint_in(S.IN_PROGRESS, department=urban, overdue_since=timezone.now())
    supervised = complaint_in(S.ASSIGNED, department=urban, supervision="yellow")
    complaint_in(S.IN_PROGRESS, department=urban)
    complaint_in(S.CLOSED, department=urban, overdue_since=timezone.now(), supervision="red")
    assert members(supervisor, "overdue") == {late.pk, supervised.pk}


def test_all_holds_everything_an_auditor_may_see(
    urban: Department, market: Department, auditor: User
) -> None:
    everything = {
        complaint_in(S.RECEIVED).pk,
        complaint_in(S.IN_PROGRESS, department=market).pk,
        complaint_in(S.ARCHIVED, department=urban).pk,
    }
    assert members(auditor, "all") == everything


# --- Filters ----------------------------------------------------------------------------


def test_filters_narrow_by_status_category_priority_channel_and_department(
    urban: Department, market: Department, facilities: Category, auditor: User
) -> None:
    lamp = complaint_in(
        S.IN_PROGRESS, department=urban, category=facilities, priority="urgent", channel="hotline"
    )
    shop = complaint_in(S.ASSIGNED, department=market, channel="web")
    closed = complaint_in(S.CLOSED, department=urban)

    assert members(auditor, "all", status=["in_progress", "assigned"]) == {lamp.pk, shop.pk}
    assert members(auditor, "all", category=facilities) == {lamp.pk}
    assert members(auditor, "all", priority="urgent") == {lamp.pk}
    assert members(auditor, "all", channel="web") == {shop.pk, closed.pk}
    assert members(auditor, "all", department=urban) == {lamp.pk, closed.pk}


def test_the_received_dates_are_inclusive_days_in_the_configured_time_zone(
    auditor: User,
) -> None:
    # 23:30 in Shanghai on 1 March is still 1 March there, though 15:30 UTC.
    late_evening = complaint_in(
        S.RECEIVED, received_at=datetime(2026, 3, 1, 23, 30, tzinfo=SHANGHAI)
    )
    next_morning = complaint_in(S.RECEIVED, received_at=datetime(2026, 3, 2, 0, 0, tzinfo=SHANGHAI))
    day = date(2026, 3, 1)
    assert members(auditor, "all", received_from=day, received_to=day) == {late_evening.pk}
    assert members(auditor, "all", received_from=day + timedelta(days=1)) == {next_morning.pk}
    assert members(auditor, "all", received_to=day) == {late_evening.pk}


def test_overdue_only_and_supervision_filters(urban: Department, auditor: User) -> None:
    late = complaint_in(S.IN_PROGRESS, department=urban, overdue_since=timezone.now())
    yellow = complaint_in(S.IN_PROGRESS, department=urban, supervision="yellow")
    red = complaint_in(
        S.IN_PROGRESS, department=urban, supervision="red", overdue_since=timezone.now()
    )
    assert members(auditor, "all", overdue=True) == {late.pk, red.pk}
    assert members(auditor, "all", supervision="yellow") == {yellow.pk}
    assert members(auditor, "all", supervision="red") == {red.pk}


def test_the_filter_form_reads_the_query_string_and_reports_a_reversed_range(
    client: Client, urban: Department, auditor: User
) -> None:
    hotline = complaint_in(S.RECEIVED, channel="hotline")
    complaint_in(S.RECEIVED, channel="web")
    client.force_login(auditor)

    response = page(client, q="all", channel="hotline", status=["received", "classified"])
    assert shown(response) == [hotline.pk]

    response = page(client, q="all", received_from="2026-03-02", received_to="2026-03-01")
    assert response.status_code == 200
    assert response.context["form"].errors["received_to"]

    response = page(client, q="all", status="not-a-state", priority="extreme")
    assert response.status_code == 200  # bad values are reported, not fatal
    assert len(shown(response)) == 2


# --- Search -----------------------------------------------------------------------------


@pytest.fixture
def lamp(urban: Department) -> Complaint:
    return complaint_in(
        S.IN_PROGRESS,
        department=urban,
        tracking_code="TS-2026-7KQ3M9XA",
        title="幸福路路灯不亮",
        content="小区南门外三盏路灯坏了两周, the street lamp is broken",
        petitioner=PetitionerFactory(name="李娜", phone="13912345678", email="lina@example.com"),
    )


@pytest.fixture
def bench(urban: Department) -> Complaint:
    return complaint_in(
        S.IN_PROGRESS,
        department=urban,
        title="公园长椅损坏",
        content="The park bench has a broken slat.",
        petitioner=PetitionerFactory(name="王强", phone="13700000000", email="wq@example.com"),
    )


@pytest.mark.parametrize(
    "text",
    [
        "TS-2026-7KQ3M9XA",  # exact
        "ts-2026-7kq3m9xa",  # any case
        "ts2026 7kq3m9xa",  # as read out: spaces, no hyphens
        "TS-2026-7KQ",  # a prefix
        "路灯",  # a word of the title (Chinese: a substring, no word boundaries)
        "三盏",  # of the content
        "路灯 两周",  # several terms, all must match
        "Lamp BROKEN",  # any case, any order
    ],
)
def test_search_finds_by_code_title_and_content(
    lamp: Complaint, bench: Complaint, auditor: User, text: str
) -> None:
    assert members(auditor, "all", text=text) == {lamp.pk}


def test_search_by_personal_data_needs_the_permission(
    lamp: Complaint, bench: Complaint, auditor: User, handler: User
) -> None:
    # Handlers may see personal data (within their reach); auditors may not.
    for text in ("+86 139-1234-5678", "008613912345678", "13912345678", "45678", "李娜",
                 "LINA@example.com"):  # fmt: skip
        assert members(handler, "department", text=text) == {lamp.pk}, text
        assert members(auditor, "all", text=text) == set(), text


def test_an_anonymous_petitioner_cannot_be_found_by_a_department(
    lamp: Complaint, handler: User, dispatcher: User
) -> None:
    Complaint.objects.filter(pk=lamp.pk).update(is_anonymous=True)
    assert members(handler, "department", text="13912345678") == set()
    assert members(handler, "department", text="路灯") == {lamp.pk}
    # Intake and dispatch reach every complaint and see who sent it.
    Complaint.objects.filter(pk=lamp.pk).update(status=S.RECEIVED)
    assert members(dispatcher, "inbox", text="13912345678") == {lamp.pk}


def test_search_escapes_wildcards(lamp: Complaint, auditor: User) -> None:
    assert members(auditor, "all", text="%") == set()
    assert members(auditor, "all", text="_") == set()


@pytest.mark.postgres
def test_on_postgresql_full_text_search_understands_or(
    lamp: Complaint, bench: Complaint, auditor: User
) -> None:
    assert members(auditor, "all", text="lamp or bench") == {lamp.pk, bench.pk}
    assert members(auditor, "all", text="路灯") == {lamp.pk}  # substrings still work


# --- Order and keyset pages -------------------------------------------------------------


def test_the_most_urgent_running_limit_comes_first_and_none_last(
    client: Client, urban: Department, auditor: User
) -> None:
    now = timezone.now()
    later = complaint_in(S.IN_PROGRESS, department=urban)
    due(later, now + timedelta(hours=5))
    soon = complaint_in(S.IN_PROGRESS, department=urban)
    due(soon, now + timedelta(hours=1), stage="reply")
    due(soon, now + timedelta(days=3), stage="cycle")
    late = complaint_in(S.IN_PROGRESS, department=urban)
    due(late, now - timedelta(hours=2))
    no_limit = complaint_in(S.IN_PROGRESS, department=urban)
    met = complaint_in(S.IN_PROGRESS, department=urban)
    due(met, now - timedelta(days=9), state="met")  # done: does not count

    client.force_login(auditor)
    response = page(client, q="all", sort="due")
    assert shown(response)[:3] == [late.pk, soon.pk, later.pk]
    assert set(shown(response)[3:]) == {no_limit.pk, met.pk}
    assert "2\xa0hours late" in response.content.decode()

    newest = page(client, q="all", sort="newest")
    assert shown(newest) == [met.pk, no_limit.pk, late.pk, soon.pk, later.pk]


@pytest.fixture
def many(urban: Department) -> list[Complaint]:
    """120 complaints with plenty of ties: shared due times, shared receipt times, none."""
    now = timezone.now().replace(microsecond=0)
    made = []
    for n in range(120):
        complaint = complaint_in(
            S.IN_PROGRESS, department=urban, received_at=now - timedelta(minutes=n // 7)
        )
        if n % 4:  # every fourth has no running limit
            due(complaint, now + timedelta(hours=n % 5))
        made.append(complaint)
    return made


@pytest.mark.parametrize("sort", ["due", "newest"])
def test_keyset_pages_cover_everything_once_in_order(
    client: Client, many: list[Complaint], auditor: User, sort: str
) -> None:
    client.force_login(auditor)
    seen: list[Any] = []  # with the next_due annotation
    params: dict[str, Any] = {"q": "all", "sort": sort}
    for _ in range(5):
        response = page(client, **params)
        rows = response.context["rows"]
        assert len(rows) <= queues.PAGE_SIZE
        seen.extend(rows)
        if response.context["next_url"] is None:
            break
        assert 'rel="next"' in response.content.decode()
        params["after"] = _cursor(response.context["next_url"])
    ids = [c.pk for c in seen]
    assert len(ids) == len(set(ids)) == 120
    expected = queues.ordered(Complaint.objects.all(), sort).values_list("pk", flat=True)
    assert ids == list(expected)
    if sort == "due":
        never = datetime.max.replace(tzinfo=UTC)
        by_due = [(c.next_due is None, c.next_due or never, c.pk) for c in seen]
        assert by_due == sorted(by_due)
    else:
        by_receipt = [(-c.received_at.timestamp(), -c.pk) for c in seen]
        assert by_receipt == sorted(by_receipt)


def _cursor(next_url: str) -> str:
    from urllib.parse import parse_qs, urlsplit

    return parse_qs(urlsplit(next_url).query)["after"][0]


def test_a_page_keeps_its_filters_in_the_next_link(
    client: Client, many: list[Complaint], auditor: User
) -> None:
    client.force_login(auditor)
    response = page(client, q="all", channel="web", sort="newest")
    assert "channel=web" in response.context["next_url"]
    assert "sort=newest" in response.context["next_url"]


@pytest.mark.parametrize(
    "cursor",
    [
        "forged",
        "eyJzIjoiZHVlIiwidiI6bnVsbCwiaWQiOjF9:1abc:bad-signature",
        "",
    ],
)
def test_a_tampered_cursor_gives_the_first_page(
    client: Client, many: list[Complaint], auditor: User, cursor: str
) -> None:
    client.force_login(auditor)
    first = shown(page(client, q="all"))
    response = page(client, q="all", after=cursor)
    assert response.status_code == 200
    assert shown(response) == first


def test_a_cursor_of_the_other_order_gives_the_first_page(
    client: Client, many: list[Complaint], auditor: User
) -> None:
    client.force_login(auditor)
    by_due = page(client, q="all", sort="due")
    cursor = _cursor(by_due.context["next_url"])
    response = page(client, q="all", sort="newest", after=cursor)
    assert shown(response) == shown(page(client, q="all", sort="newest"))


def test_a_cursor_cannot_be_edited_to_skip_ahead(many: list[Complaint], auditor: User) -> None:
    from django.core import signing

    found = queues.base_queryset(auditor, "all")
    cursor = queues.page_after(found, None, "due").next_cursor
    assert cursor is not None
    payload = signing.loads(cursor, salt="complaints.queues.cursor")
    payload["id"] += 10
    forged = signing.dumps(payload, salt="another.salt", compress=True)
    first = queues.page_after(found, None, "due").rows
    assert queues.page_after(found, forged, "due").rows == first


# --- Bulk assign and transfer -----------------------------------------------------------


def pick(*complaints: Complaint) -> list[str]:
    return [f"{c.pk}:{c.version}" for c in complaints]


def test_a_dispatcher_assigns_several_classified_complaints_at_once(
    client: Client, urban: Department, facilities: Category, dispatcher: User, handler: User
) -> None:
    one = complaint_in(S.CLASSIFIED, category=facilities)
    two = complaint_in(S.CLASSIFIED, category=facilities)
    client.force_login(dispatcher)
    response = client.post(
        "/console/queue/bulk/",
        {
            "pick": pick(one, two),
            "bulk-department": urban.pk,
            "bulk-assignee": handler.pk,
            "back": "q=inbox&channel=web&after=x",
        },
        HTTP_ACCEPT_LANGUAGE="en",
    )
    assert response.status_code == 302
    assert response["Location"] == "/console/queue/?q=inbox&channel=web"
    assert texts(response) == ["2 complaints assigned or transferred."]
    for complaint in (one, two):
        complaint.refresh_from_db()
        assert (complaint.status, complaint.department, complaint.assignee) == (
            S.ASSIGNED,
            urban,
            handler,
        )
        assert complaint.events.filter(kind="complaint.assigned", actor=dispatcher).exists()


def test_bulk_goes_on_after_a_refusal_and_reports_each_one(
    client: Client,
    urban: Department,
    market: Department,
    facilities: Category,
    dispatcher: User,
) -> None:
    assignable = complaint_in(S.CLASSIFIED, category=facilities)
    transferable = complaint_in(S.ASSIGNED, department=urban)
    received = complaint_in(S.RECEIVED)
    stale = complaint_in(S.CLASSIFIED, category=facilities)
    seen = pick(stale)
    Complaint.objects.filter(pk=stale.pk).update(version=stale.version + 1)
    client.force_login(dispatcher)

    response = client.post(
        "/console/queue/bulk/",
        {
            "pick": [*pick(assignable, transferable, received), *seen, "999999"],
            "bulk-department": market.pk,
            "bulk-reason": "",
        },
        HTTP_ACCEPT_LANGUAGE="en",
    )

    said = texts(response)
    assert said[0] == "1 complaint assigned or transferred."
    refusals = said[1:]
    assert len(refusals) == 4
    assert any(
        transferable.tracking_code in r and "Give a reason for the transfer" in r for r in refusals
    )
    assert any(received.tracking_code in r and "is “Received”" in r for r in refusals)
    assert any(stale.tracking_code in r and "changed by someone else" in r for r in refusals)
    assert any("#999999" in r and "No such complaint" in r for r in refusals)
    assignable.refresh_from_db()
    transferable.refresh_from_db()
    assert assignable.department == market
    assert transferable.department == urban  # refused, untouched


def test_bulk_refusals_are_in_the_users_language(
    client: Client, urban: Department, dispatcher: User
) -> None:
    transferable = complaint_in(S.ASSIGNED, department=urban)
    client.force_login(dispatcher)
    response = client.post(
        "/console/queue/bulk/",
        {"pick": pick(transferable), "bulk-department": urban.pk},
        HTTP_ACCEPT_LANGUAGE="zh-hans",
    )
    (refusal,) = texts(response)
    assert transferable.tracking_code in refusal
    assert "Give a reason" not in refusal


def test_a_handler_cannot_move_what_is_out_of_reach(
    client: Client, urban: Department, market: Department, handler: User
) -> None:
    theirs = complaint_in(S.ASSIGNED, department=market)
    client.force_login(handler)
    response = client.post(
        "/console/queue/bulk/",
        {"pick": pick(theirs), "bulk-department": urban.pk, "bulk-reason": "不归我们"},
        HTTP_ACCEPT_LANGUAGE="en",
    )
    assert texts(response) == [f"#{theirs.pk} not moved: No such complaint."]
    theirs.refresh_from_db()
    assert theirs.department == market


def test_bulk_checks_the_form_before_touching_anything(
    client: Client, urban: Department, market: Department, dispatcher: User, handler: User
) -> None:
    waiting = complaint_in(S.CLASSIFIED)
    client.force_login(dispatcher)
    response = client.post(
        "/console/queue/bulk/",
        {"pick": pick(waiting), "bulk-department": market.pk, "bulk-assignee": handler.pk},
        HTTP_ACCEPT_LANGUAGE="en",
    )
    assert texts(response) == ["Choose a handler of the chosen department."]
    nothing = client.post(
        "/console/queue/bulk/", {"bulk-department": urban.pk}, HTTP_ACCEPT_LANGUAGE="en"
    )
    assert "Select the complaints to assign or transfer." in texts(nothing)
    waiting.refresh_from_db()
    assert waiting.status == S.CLASSIFIED


def test_only_roles_that_assign_or_transfer_get_bulk_actions(
    client: Client, urban: Department, auditor: User, dispatcher: User
) -> None:
    complaint_in(S.CLASSIFIED)
    client.force_login(auditor)
    assert page(client, q="all").context["bulk_form"] is None
    assert 'name="pick"' not in page(client, q="all").content.decode()
    response = client.post("/console/queue/bulk/", {"bulk-department": urban.pk})
    assert response.status_code == 403

    client.force_login(dispatcher)
    assert 'name="pick"' in page(client, q="inbox").content.decode()
    assert client.get("/console/queue/bulk/").status_code == 405


# --- Saved views ------------------------------------------------------------------------


def test_a_view_is_saved_listed_updated_and_deleted(
    client: Client, urban: Department, handler: User
) -> None:
    client.force_login(handler)
    response = client.post(
        "/console/filters/save/",
        {"name": "超期的", "query": "q=mine&overdue=on&after=abc&text="},
        HTTP_ACCEPT_LANGUAGE="en",
    )
    saved = SavedFilter.objects.get(user=handler)
    assert (saved.name, saved.query) == ("超期的", "q=mine&overdue=on")
    assert response["Location"] == "/console/queue/?q=mine&overdue=on"

    html = page(client).content.decode()
    url = "/console/queue/?q=mine&amp;overdue=on"
    assert f'href="{url}" hx-get="{url}">超期的</a>' in html

    client.post("/console/filters/save/", {"name": "超期的", "query": "q=overdue"})
    assert SavedFilter.objects.get(user=handler).query == "q=overdue"

    assert client.get(f"/console/filters/{saved.pk}/delete/").status_code == 405
    response = client.post(f"/console/filters/{saved.pk}/delete/")
    assert response.status_code == 302
    assert not SavedFilter.objects.exists()


def test_the_page_offers_to_save_the_view_as_it_stands(
    client: Client, urban: Department, handler: User
) -> None:
    client.force_login(handler)
    response = page(client, channel="web", text="", after="x")
    assert response.context["save_form"].initial["query"] == "channel=web&q=mine"


def test_nobody_deletes_anothers_saved_view(client: Client, handler: User, colleague: User) -> None:
    theirs = SavedFilter.objects.create(user=colleague, name="mine", query="q=mine")
    client.force_login(handler)
    assert client.post(f"/console/filters/{theirs.pk}/delete/").status_code == 404
    assert SavedFilter.objects.filter(pk=theirs.pk).exists()
    assert 'q=mine">mine</a>' not in page(client).content.decode()


def test_a_saved_view_needs_a_name(client: Client, handler: User) -> None:
    client.force_login(handler)
    client.post("/console/filters/save/", {"name": "  ", "query": "q=mine"})
    assert not SavedFilter.objects.exists()


# --- The page ---------------------------------------------------------------------------


@pytest.mark.parametrize(("language", "heading"), [("en", "Department"), ("zh-hans", "部门")])
def test_the_queue_renders_in_both_languages(
    client: Client,
    urban: Department,
    facilities: Category,
    head: User,
    handler: User,
    language: str,
    heading: str,
) -> None:
    complaint = complaint_in(
        S.IN_PROGRESS,
        department=urban,
        category=facilities,
        assignee=handler,
        priority="urgent",
        supervision="red",
        overdue_since=timezone.now(),
    )
    due(complaint, timezone.now() - timedelta(hours=3))
    client.force_login(head)
    response = client.get("/console/queue/", {"q": "department"}, HTTP_ACCEPT_LANGUAGE=language)
    html = response.content.decode()
    assert response.status_code == 200
    assert f'<html lang="{language}">' in html
    assert f'<th scope="col">{heading}</th>' in html
    assert f'href="/console/complaints/{complaint.pk}/"' in html
    assert 'class="supervision red"' in html
    assert 'class="late"' in html
    assert 'class="table-scroll"' in html

"""Scheduled reports: weekly exceptions, monthly figures, once per period, to subscribers."""

from __future__ import annotations

import io
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core import mail
from django.core.management import CommandError, call_command
from django.test import Client
from django.utils import translation
from pypdf import PdfReader

from accounts.models import User
from complaints.models import CoHandlingTask, Complaint, Event
from notifications.models import Notification
from reporting import rollups, scheduled
from reporting.models import ReportKind, ReportSubscription, StoredReport
from routing.models import Category, Department
from sla.models import Deadline, SlaAction
from tests.factories import PetitionerFactory, complaint_in

pytestmark = pytest.mark.django_db
SHANGHAI = ZoneInfo("Asia/Shanghai")
WEEKLY = ReportKind.WEEKLY_EXCEPTIONS
# The week of Monday 2 March 2026; reports about it are built from Tuesday 10 March.
MONDAY = date(2026, 3, 2)
LATER = datetime(2026, 3, 10, 7, tzinfo=SHANGHAI)


def at(day: int, hour: int = 10, month: int = 3) -> datetime:
    return datetime(2026, month, day, hour, tzinfo=SHANGHAI)


def breached(complaint: Complaint, stage: str, when: datetime, **fields: Any) -> Deadline:
    fields.setdefault("state", Deadline.State.MISSED)
    return Deadline.objects.create(
        complaint=complaint,
        stage=stage,
        basis="calendar",
        started_at=when - timedelta(days=1),
        due_at=when,
        breached_at=when,
        **fields,
    )


def event(complaint: Complaint, kind: str, when: datetime, **payload: Any) -> Event:
    return Event.objects.create(complaint=complaint, kind=kind, created_at=when, payload=payload)


def logged_in(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def build(**options: Any) -> tuple[StoredReport, bool]:
    with time_machine.travel(LATER, tick=False):
        return scheduled.build(WEEKLY, MONDAY, send=options.pop("send", False), **options)


@pytest.fixture
def week(
    urban: Department, market: Department, facilities: Category, handler: User
) -> dict[str, Complaint]:
    """A week with something of every kind of exception, and things just outside it."""
    late = complaint_in(
        "in_progress", department=urban, category=facilities, assignee=handler, received_at=at(1)
    )
    reply = breached(late, "reply", at(3))
    breached(late, "accept", at(5), state=Deadline.State.OPEN)
    task = CoHandlingTask.objects.create(
        complaint=late, department=market, task="核实", due_at=at(4)
    )
    breached(late, "co_handling", at(4), co_handling_task=task)
    earlier = complaint_in("assigned", department=market, category=facilities, received_at=at(1))
    breached(earlier, "cycle", at(27, month=2))  # the week before
    SlaAction.objects.create(deadline=reply, kind="escalation", level=1, created_at=at(3, 11))
    SlaAction.objects.create(deadline=reply, kind="warning", created_at=at(3, 9))
    SlaAction.objects.create(deadline=reply, kind="escalation", level=2, created_at=at(9))

    unclassified = complaint_in("assigned", department=urban, received_at=at(2))
    nobody = PetitionerFactory(phone="", email="", address="")
    unreachable = complaint_in(
        "in_progress", department=urban, category=facilities, petitioner=nobody, received_at=at(3)
    )
    waiting = complaint_in("needs_info", category=facilities, received_at=at(20, month=2))
    event(waiting, "complaint.info_requested", at(20, month=2), question="地址？")
    recent = complaint_in("needs_info", category=facilities, received_at=at(6))
    event(recent, "complaint.info_requested", at(8), question="地址？")
    complaint_in("assigned", department=urban, received_at=at(9))  # after the week

    reopened = complaint_in(
        "reopened", department=market, category=facilities, reopen_count=1, received_at=at(1)
    )
    event(reopened, "complaint.reopened", at(4), reason="路灯还是不亮", reopened=1)
    event(late, "complaint.reopened", at(9), reason="下周的事")
    return {
        "late": late,
        "unclassified": unclassified,
        "unreachable": unreachable,
        "waiting": waiting,
        "recent": recent,
        "reopened": reopened,
    }


def table(report: StoredReport, section: int, index: int = 0) -> list[list[Any]]:
    return report.data["sections"][section]["tables"][index]["rows"]


def codes(rows: list[list[Any]]) -> list[str]:
    return [row[0]["text"].split()[0] for row in rows]


# --- The weekly report ------------------------------------------------------------------


def test_the_weekly_report_counts_what_went_wrong_that_week(week: dict[str, Complaint]) -> None:
    report, created = build()

    assert created
    assert (report.period_start, report.period_end) == (MONDAY, date(2026, 3, 8))
    assert report.data["counts"] == {"overdue": 3, "escalations": 1, "missing": 3, "reopened": 1}
    assert "3" in report.summary
    assert report.title


def test_overdue_steps_are_counted_by_stage_and_by_the_department_doing_them(
    week: dict[str, Complaint], urban: Department, market: Department
) -> None:
    with time_machine.travel(LATER, tick=False):
        report, _created = scheduled.build(WEEKLY, MONDAY, send=False)

    by_stage = {row[0] for row in table(report, 0, 0)}
    by_department = {row[0]: row[1] for row in table(report, 0, 1)}
    assert len(by_stage) == 3
    assert all(row[1] == 1 for row in table(report, 0, 0))
    with translation.override(report.language):  # the language it was built in
        assert by_department == {str(urban): 2, str(market): 1}
    assert codes(table(report, 0, 2)) == [week["late"].tracking_code] * 3


def test_escalations_of_the_week_only(week: dict[str, Complaint]) -> None:
    report, _created = build()

    assert table(report, 1, 0) == [[1, 1]]
    assert codes(table(report, 1, 2)) == [week["late"].tracking_code]


def test_missing_details_list_each_kind_of_gap(week: dict[str, Complaint]) -> None:
    report, _created = build()

    unclassified, unreachable, waiting = (table(report, 2, i) for i in range(3))
    assert codes(unclassified) == [week["unclassified"].tracking_code]
    assert codes(unreachable) == [week["unreachable"].tracking_code]
    assert codes(waiting) == [week["waiting"].tracking_code]


def test_reopened_complaints_of_the_week(week: dict[str, Complaint]) -> None:
    report, _created = build()

    [row] = table(report, 3)
    assert row[0]["text"].startswith(week["reopened"].tracking_code)
    assert row[2] == 1
    assert row[4] == "路灯还是不亮"


def test_the_stored_html_links_each_complaint_and_escapes_what_people_wrote(
    week: dict[str, Complaint],
) -> None:
    Complaint.objects.filter(pk=week["unclassified"].pk).update(title="<script>x</script>")

    report, _created = build()

    assert f'href="/console/complaints/{week["late"].pk}/"' in report.html
    assert "<script>x" not in report.html
    assert "&lt;script&gt;x" in report.html


def test_a_quiet_week_says_so(db: None) -> None:
    report, _created = build()

    assert report.data["counts"] == {"overdue": 0, "escalations": 0, "missing": 0, "reopened": 0}
    assert all(not part["has_rows"] for part in report.data["sections"])
    assert report.data["sections"][0]["empty"] in report.html


# --- Once per period --------------------------------------------------------------------


def test_a_period_is_built_once_and_kept_as_it_was(week: dict[str, Complaint]) -> None:
    first, created = build()
    breached(week["late"], "plan", at(6))

    again, created_again = build()
    with time_machine.travel(LATER, tick=False):
        beat, _created = scheduled.build(WEEKLY, send=False)  # the last complete week

    assert created
    assert not created_again
    assert again.pk == first.pk == beat.pk
    assert again.data["counts"]["overdue"] == 3
    assert StoredReport.objects.count() == 1


def test_any_day_of_the_week_names_the_same_period(db: None) -> None:
    first, _created = build()
    with time_machine.travel(LATER, tick=False):
        same, created = scheduled.build(WEEKLY, date(2026, 3, 6), send=False)

    assert same.pk == first.pk
    assert not created


def test_a_period_that_is_not_over_is_not_built(db: None) -> None:
    with time_machine.travel(at(5), tick=False), pytest.raises(ValueError, match="not over"):
        scheduled.build(WEEKLY, MONDAY, send=False)

    assert not StoredReport.objects.exists()


# --- Subscribers ------------------------------------------------------------------------


@pytest.fixture
def readers(supervisor: User, auditor: User, head: User) -> dict[str, User]:
    for user in (supervisor, auditor, head):
        user.email = f"{user.username}@example.gov.cn"
        user.save()
    scheduled.subscribe(supervisor, WEEKLY, active=True)
    scheduled.subscribe(auditor, WEEKLY, active=False)
    # A head reads no organisation-wide report, whatever a stray row says.
    ReportSubscription.objects.create(user=head, kind=WEEKLY)
    scheduled.subscribe(auditor, ReportKind.MONTHLY, active=True)
    return {"supervisor": supervisor, "auditor": auditor, "head": head}


def test_subscribers_get_a_summary_and_a_link_by_email_and_in_the_console_once(
    readers: dict[str, User], django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        report, _created = build(send=True)
        build(send=True)  # a retried task

    sent = Notification.objects.filter(kind="reporting.weekly_exceptions")
    assert sorted(sent.values_list("user__username", "channel")) == [
        ("supervisor", "email"),
        ("supervisor", "in_app"),
    ]
    assert {n.url for n in sent} == {f"/reports/scheduled/{report.pk}/"}
    [message] = mail.outbox
    assert message.to == ["supervisor@example.gov.cn"]
    assert message.subject == report.title
    assert report.summary in message.body
    assert f"/reports/scheduled/{report.pk}/" in message.body


def test_subscriptions_are_chosen_on_the_archive_page(supervisor: User) -> None:
    client = logged_in(supervisor)

    client.post("/reports/scheduled/", {"kinds": [WEEKLY, ReportKind.MONTHLY]})
    client.post("/reports/scheduled/", {"kinds": [ReportKind.MONTHLY]})

    found = dict(ReportSubscription.objects.filter(user=supervisor).values_list("kind", "active"))
    assert found == {WEEKLY: False, ReportKind.MONTHLY: True}


# --- Pages ------------------------------------------------------------------------------


def test_the_archive_and_a_report_are_for_those_who_oversee_every_department(
    week: dict[str, Complaint], supervisor: User, auditor: User, head: User, handler: User
) -> None:
    report, _created = build()
    url = f"/reports/scheduled/{report.pk}/"

    archive = logged_in(supervisor).get("/reports/scheduled/")
    page = logged_in(auditor).get(url)

    assert archive.status_code == 200
    assert report.title in archive.content.decode()
    assert page.status_code == 200
    assert report.html in page.content.decode()
    assert logged_in(head).get(url).status_code == 403
    assert logged_in(handler).get("/reports/scheduled/").status_code == 403


def test_a_stored_report_downloads_as_pdf(week: dict[str, Complaint], supervisor: User) -> None:
    report, _created = build()

    response = logged_in(supervisor).get(f"/reports/scheduled/{report.pk}/report.pdf")

    assert response["Content-Type"] == "application/pdf"
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(response.content)).pages)
    assert week["late"].tracking_code in text
    assert week["waiting"].tracking_code in text


# --- The monthly report -----------------------------------------------------------------


def test_the_monthly_report_compares_the_month_with_the_one_before(
    urban: Department, market: Department, facilities: Category
) -> None:
    for day in (2, 3, 20):
        complaint_in("assigned", department=urban, category=facilities, received_at=at(day))
    complaint_in("assigned", department=market, received_at=at(9))
    complaint_in("assigned", department=urban, received_at=at(10, month=2))
    rollups.rebuild()

    with time_machine.travel(datetime(2026, 4, 1, 7, tzinfo=SHANGHAI), tick=False):
        report, created = scheduled.build(ReportKind.MONTHLY, send=False)

    assert created
    assert (report.period_start, report.period_end) == (
        date(2026, 3, 1),
        date(2026, 3, 31),
    )
    figures, league, categories = (part["tables"][0] for part in report.data["sections"])
    assert figures["headers"][1:] == ["2026-03", "2026-02"]
    assert figures["rows"][0][1:] == [4, 1]
    with translation.override(report.language):
        assert [row[:2] for row in league["rows"]] == [[str(urban), 3], [str(market), 1]]
    assert [row[1] for row in categories["rows"]] == [3, 1]
    assert report.data["counts"] == {"volume": 4, "previous_volume": 1}


# --- Back-filling and beat --------------------------------------------------------------


def test_the_command_back_fills_a_period_once(db: None) -> None:
    out = io.StringIO()
    with time_machine.travel(LATER, tick=False):
        call_command("build_report", "weekly", "--period-start", "2026-03-04", stdout=out)
        call_command("build_report", "weekly", "--period-start", "2026-03-02", stdout=out)
        with translation.override("en"), pytest.raises(CommandError, match="not over"):
            call_command("build_report", "monthly", "--period-start", "2026-03-01")

    first, second = out.getvalue().splitlines()
    assert "built (2026-03-02 – 2026-03-08" in first
    assert "already stored" in second
    assert not Notification.objects.exists()  # back-filling tells nobody unless --send


def test_beat_builds_the_reports_monday_and_the_first_at_seven() -> None:
    from config.celery import app

    schedule = app.conf.beat_schedule
    weekly = schedule["weekly-exceptions-report"]
    monthly = schedule["monthly-report"]["schedule"]

    assert weekly["task"] == "reporting.tasks.build_weekly_report"
    assert (weekly["schedule"].hour, weekly["schedule"].minute) == ({7}, {0})
    assert weekly["schedule"].day_of_week == {1}
    assert (monthly.day_of_month, monthly.hour) == ({1}, {7})
    assert schedule["audit-samples"]["task"] == "reporting.tasks.draw_audit_samples"

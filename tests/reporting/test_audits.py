"""The sampling audit: how many are drawn, always the same ones, handed out in turn, and
who may see and record what."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.test import Client

from accounts.models import User
from accounts.roles import Role
from complaints.models import Complaint
from notifications.models import Notification
from reporting import audits
from reporting.models import AuditSample
from tests.conftest import make_user
from tests.factories import complaint_in

pytestmark = pytest.mark.django_db
SHANGHAI = ZoneInfo("Asia/Shanghai")
FEBRUARY = date(2026, 2, 1)
ALL_PASS = {key: audits.PASS for key, _label in audits.CHECKLIST}


def closed_in_february(count: int, **fields: Any) -> list[Complaint]:
    return [
        complaint_in(
            "closed",
            close_reason="survey",
            closed_at=datetime(2026, 2, 1 + n % 28, 12, tzinfo=SHANGHAI),
            **fields,
        )
        for n in range(count)
    ]


def logged_in(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def answers(**changes: str) -> dict[str, str]:
    form = {f"item_{key}": value for key, value in {**ALL_PASS, **changes}.items()}
    return {**form, "verdict": "pass", "findings": ""}


@pytest.fixture
def auditors(auditor: User) -> list[User]:
    """Two active auditors (``auditor`` and ``auditor2``) and one who left."""
    second = make_user("auditor2", Role.AUDITOR)
    gone = make_user("auditor0", Role.AUDITOR)
    gone.is_active = False
    gone.save()
    return [auditor, second]


# --- The draw ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("count", "percent", "drawn"),
    [(0, 10, 0), (1, 10, 1), (9, 10, 1), (25, 10, 3), (30, 10, 3), (30, 20, 6), (5, 100, 5)],
)
def test_the_sample_is_a_share_rounded_up_and_at_least_one(
    count: int, percent: int, drawn: int
) -> None:
    assert audits.sample_size(count, percent) == drawn


def test_the_setting_gives_the_share(settings: Any) -> None:
    settings.AUDIT_SAMPLE_PERCENT = 20

    assert audits.sample_size(30) == 6


def test_only_complaints_closed_last_month_are_drawn(auditors: list[User]) -> None:
    february = closed_in_february(25)
    complaint_in(
        "closed", close_reason="staff", closed_at=datetime(2026, 1, 31, 23, tzinfo=SHANGHAI)
    )
    # Closed 1 March 00:30 in Shanghai is still 28 February in UTC: it counts for March.
    complaint_in(
        "closed", close_reason="staff", closed_at=datetime(2026, 3, 1, 0, 30, tzinfo=SHANGHAI)
    )
    complaint_in("rejected", closed_at=datetime(2026, 2, 10, tzinfo=SHANGHAI))
    archived = complaint_in(
        "archived", close_reason="no_response", closed_at=datetime(2026, 2, 3, tzinfo=SHANGHAI)
    )
    complaint_in("in_progress")

    population = set(audits.population(FEBRUARY).values_list("pk", flat=True))

    assert population == {c.pk for c in february} | {archived.pk}


def test_the_monthly_task_draws_last_month(auditors: list[User]) -> None:
    closed_in_february(25)

    with time_machine.travel(datetime(2026, 3, 1, 7, 10, tzinfo=SHANGHAI), tick=False):
        from reporting.tasks import draw_audit_samples

        drawn = draw_audit_samples.delay().get()

    assert drawn == 3
    assert set(AuditSample.objects.values_list("month", flat=True)) == {FEBRUARY}


def test_the_draw_is_the_same_every_time(auditors: list[User]) -> None:
    closed_in_february(40)

    first = audits.pick(FEBRUARY)
    drawn = audits.draw(FEBRUARY)
    again = audits.draw(FEBRUARY)  # a retried task
    picked = sorted(s.complaint_id for s in drawn.samples)
    AuditSample.objects.all().delete()
    redrawn = audits.draw(FEBRUARY)  # even from scratch

    assert len(first) == 4
    assert picked == first == sorted(s.complaint_id for s in redrawn.samples)
    assert (drawn.created, again.created) == (4, 0)
    assert [s.pk for s in again.samples] == [s.pk for s in drawn.samples]


def test_another_month_draws_other_positions(auditors: list[User]) -> None:
    for n in range(40):
        complaint_in(
            "closed", close_reason="staff", closed_at=datetime(2026, 1, 2 + n % 28, tzinfo=SHANGHAI)
        )
    closed_in_february(40)

    def positions(month: date) -> list[int]:
        population = list(audits.population(month).values_list("pk", flat=True))
        return [population.index(pk) for pk in audits.pick(month)]

    assert positions(FEBRUARY) != positions(date(2026, 1, 1))


def test_samples_are_handed_out_in_turn_to_the_active_auditors(auditors: list[User]) -> None:
    closed_in_february(40)

    audits.draw(FEBRUARY)

    held = {user.username: AuditSample.objects.filter(auditor=user).count() for user in auditors}
    assert held == {"auditor": 2, "auditor2": 2}
    assert not AuditSample.objects.filter(auditor__username="auditor0").exists()
    told = Notification.objects.filter(kind="reporting.audit_samples", channel="in_app")
    assert sorted(told.values_list("user__username", flat=True)) == ["auditor", "auditor2"]
    assert {n.url for n in told} == {"/reports/audits/"}


def test_without_auditors_samples_wait_for_one(db: None) -> None:
    closed_in_february(10)

    audits.draw(FEBRUARY)
    assert AuditSample.objects.filter(auditor__isnull=True).count() == 1

    late = make_user("auditor", Role.AUDITOR)
    audits.draw(FEBRUARY)

    assert AuditSample.objects.get().auditor == late


# --- Recording findings -----------------------------------------------------------------


@pytest.fixture
def samples(auditors: list[User]) -> dict[str, AuditSample]:
    closed_in_february(20)
    audits.draw(FEBRUARY)
    mine = AuditSample.objects.filter(auditor=auditors[0]).get()
    theirs = AuditSample.objects.filter(auditor=auditors[1]).get()
    return {"mine": mine, "theirs": theirs}


def test_an_auditor_sees_their_own_samples_open_first(
    samples: dict[str, AuditSample], auditor: User
) -> None:
    page = logged_in(auditor).get("/reports/audits/")

    assert [s.pk for s in page.context["page"]] == [samples["mine"].pk]
    assert page.context["items"] == []  # the summary is for those who oversee


def test_the_assigned_auditor_records_the_checklist_and_it_is_final(
    samples: dict[str, AuditSample], auditor: User
) -> None:
    url = f"/reports/audits/{samples['mine'].pk}/"
    client = logged_in(auditor)

    form = client.get(url)
    missing = client.post(url, answers(reply=audits.FAIL))  # a failed item needs findings
    done = client.post(url, {**answers(reply=audits.FAIL), "findings": "答复未说明处理结果。"})
    again = client.post(url, answers())

    assert form.status_code == 200
    assert f'href="/console/complaints/{samples["mine"].complaint_id}/"' in form.content.decode()
    assert missing.status_code == 400
    assert done.status_code == 302
    sample = AuditSample.objects.get(pk=samples["mine"].pk)
    assert sample.status == "done"
    assert sample.completed_by == auditor
    assert sample.checklist == {**ALL_PASS, "reply": "fail"}
    assert sample.findings == "答复未说明处理结果。"
    assert again.status_code == 403


def test_an_auditor_may_read_the_complaint_of_a_sample(
    samples: dict[str, AuditSample], auditor: User
) -> None:
    response = logged_in(auditor).get(f"/console/complaints/{samples['mine'].complaint_id}/")

    assert response.status_code == 200


def test_another_auditors_sample_is_out_of_reach(
    samples: dict[str, AuditSample], auditor: User
) -> None:
    url = f"/reports/audits/{samples['theirs'].pk}/"
    client = logged_in(auditor)

    assert client.get(url).status_code == 404
    assert client.post(url, answers()).status_code == 404
    assert AuditSample.objects.get(pk=samples["theirs"].pk).status == "open"


def test_a_supervisor_sees_every_sample_but_records_none(
    samples: dict[str, AuditSample], supervisor: User
) -> None:
    client = logged_in(supervisor)
    url = f"/reports/audits/{samples['theirs'].pk}/"

    page = client.get("/reports/audits/")
    sample = client.get(url)
    refused = client.post(url, answers())

    assert len(page.context["page"].object_list) == 2
    assert sample.status_code == 200
    assert sample.context["form"] is None
    assert refused.status_code == 403


def test_an_administrator_may_record_for_an_auditor(
    samples: dict[str, AuditSample], admin_user: User
) -> None:
    response = logged_in(admin_user).post(f"/reports/audits/{samples['theirs'].pk}/", answers())

    assert response.status_code == 302
    assert AuditSample.objects.get(pk=samples["theirs"].pk).completed_by == admin_user


def test_staff_outside_the_audit_do_not_see_it(
    samples: dict[str, AuditSample], handler: User, head: User
) -> None:
    assert logged_in(handler).get("/reports/audits/").status_code == 403
    assert logged_in(head).get(f"/reports/audits/{samples['mine'].pk}/").status_code == 403


def test_the_summary_gives_the_pass_rate_of_each_item(
    samples: dict[str, AuditSample], auditors: list[User], supervisor: User
) -> None:
    audits.record(
        sample_id=samples["mine"].pk,
        actor=auditors[0],
        checklist={**ALL_PASS, "on_time": audits.FAIL},
        verdict="remarks",
        findings="超时一天。",
    )
    audits.record(
        sample_id=samples["theirs"].pk,
        actor=auditors[1],
        checklist={**ALL_PASS, "follow_up": audits.NOT_APPLICABLE},
        verdict="pass",
        findings="",
    )

    page = logged_in(supervisor).get("/reports/audits/?month=2026-02", HTTP_ACCEPT_LANGUAGE="en")

    rates = {item.key: item.pass_rate for item in page.context["items"]}
    assert rates == {
        "classification": 1.0,
        "on_time": 0.5,
        "reply": 1.0,
        "personal_data": 1.0,
        "follow_up": 1.0,
    }
    assert page.context["done"] == 2
    assert "50%" in page.content.decode()

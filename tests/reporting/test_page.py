"""The /reports/ page: who may read it, the department lock, and what it shows."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.models import User
from complaints.models import Survey
from reporting import rollups
from reporting.templatetags import reports
from routing.models import Department
from sla.models import Deadline
from tests.reporting.data import accepted, complaint, deadline, replied, survey

pytestmark = pytest.mark.django_db

URL = "/reports/"


@pytest.fixture
def history(urban: Department, market: Department) -> None:
    """This month: two complaints in urban management, one in market regulation."""
    now = timezone.now()
    for hours in (2, 5):
        c = complaint(now, department=urban, channel="hotline")
        accepted(c, timedelta(hours=hours))
        replied(c, timedelta(hours=hours + 1))
        deadline(c, "cycle", Deadline.State.MET)
    late = complaint(now, department=market, channel="web")
    deadline(late, "cycle", Deadline.State.MISSED)
    survey(late, rating=2, outcome=Survey.Outcome.DISSATISFIED)
    rollups.rebuild(timezone.localdate() - timedelta(days=1))


def get(client: Client, user: User | None, query: str = "", language: str = "en") -> Any:
    if user is not None:
        client.force_login(user)
    return client.get(URL + query, HTTP_ACCEPT_LANGUAGE=language)


def test_the_page_is_mounted_at_reports() -> None:
    assert reverse("reporting:overview") == URL


# --- Who may read -----------------------------------------------------------------------


@pytest.mark.parametrize("persona", ["supervisor", "auditor", "admin_user"])
def test_wide_roles_see_every_department(
    client: Client, persona: str, history: None, request: pytest.FixtureRequest
) -> None:
    response = get(client, request.getfixturevalue(persona))

    assert response.status_code == 200
    league = [row.department for row in response.context["league"]]
    assert league == ["Urban Management Bureau", "Market Regulation Bureau"]
    assert response.context["cards"][0].value == "3"


def test_a_department_head_sees_only_their_department(
    client: Client, head: User, urban: Department, history: None
) -> None:
    response = get(client, head)

    assert response.status_code == 200
    assert [row.department for row in response.context["league"]] == ["Urban Management Bureau"]
    assert response.context["cards"][0].value == "2"
    department = response.context["form"]["department"]
    assert department.field.disabled
    assert [str(choice) for _, choice in department.field.choices] == ["Urban Management Bureau"]


def test_a_head_choosing_their_own_department_is_fine(
    client: Client, head: User, urban: Department, history: None
) -> None:
    response = get(client, head, f"?period=this_month&department={urban.pk}")

    assert response.status_code == 200
    assert response.context["cards"][0].value == "2"


@pytest.mark.parametrize("forged", ["market", "nonsense"])
def test_a_head_asking_for_another_department_gets_404(
    client: Client, head: User, market: Department, forged: str
) -> None:
    value = str(market.pk) if forged == "market" else "1 OR 1=1"

    response = get(client, head, f"?period=this_month&department={value}")

    assert response.status_code == 404


def test_an_unknown_department_is_404_for_everybody(client: Client, supervisor: User) -> None:
    assert get(client, supervisor, "?department=999999").status_code == 404


def test_a_handler_may_not_read_reports(client: Client, handler: User) -> None:
    assert get(client, handler).status_code == 403


def test_the_page_asks_strangers_to_log_in(client: Client) -> None:
    response = get(client, None)

    assert response.status_code == 302
    assert reverse("console:login") in response["Location"]


def test_the_console_nav_links_to_reports_for_readers_only(
    client: Client, supervisor: User, handler: User
) -> None:
    link = f'href="{URL}"'
    client.force_login(supervisor)
    assert link in client.get(reverse("console:deadlines")).content.decode()
    client.force_login(handler)
    assert link not in client.get(reverse("console:deadlines")).content.decode()


# --- What it shows ----------------------------------------------------------------------


def test_cards_compare_with_the_previous_period(
    client: Client, supervisor: User, urban: Department
) -> None:
    today = timezone.localdate()
    monday = today - timedelta(days=today.weekday())
    last_week = rollups.day_start(monday - timedelta(days=7)) + timedelta(hours=10)
    for _ in range(3):
        complaint(last_week, department=urban)
    complaint(last_week - timedelta(days=7), department=urban)
    rollups.rebuild(monday - timedelta(days=21))

    response = get(client, supervisor, "?period=last_week")

    volume = response.context["cards"][0]
    assert (volume.value, volume.previous) == ("3", "1")
    assert volume.trend == "up"
    assert volume.change == "+200 %"
    assert volume.verdict == "neutral"  # more complaints is neither good nor bad


def test_times_going_down_are_better(history: None) -> None:
    from reporting.kpis import Kpis
    from reporting.views import FIGURES, card

    def with_median(hours: int) -> Kpis:
        return Kpis(
            volume=1,
            first_response_count=1,
            first_response_median=timedelta(hours=hours),
            first_response_p90=None,
            resolution_count=0,
            resolution_median=None,
            resolution_p90=None,
            on_time_rate=None,
        )

    figure = next(f for f in FIGURES if str(f.label) == "First response, median")
    faster = card(figure, with_median(2), with_median(4))
    unknown = card(figure, with_median(2), Kpis(0, 0, None, None, 0, None, None, None))

    assert (faster.trend, faster.verdict, faster.change) == ("down", "better", "-50 %")
    assert (unknown.trend, unknown.change, unknown.previous) == ("", "", "—")


def test_the_page_renders_charts_tables_and_league_in_english(
    client: Client, supervisor: User, history: None
) -> None:
    response = get(client, supervisor)
    page = response.content.decode()

    assert '<html lang="en">' in page
    assert "Key figures" in page
    assert page.count("<svg") == len(response.context["charts"]) == 6
    assert "Phone hotline" in page  # by channel, in the chart and in its table
    assert "Market Regulation Bureau" in page
    assert "How the figures are counted" in page
    assert 'class="kpi-card worse"' in page  # satisfied: none of one answer


def test_the_page_renders_in_chinese(client: Client, supervisor: User, history: None) -> None:
    response = get(client, supervisor, language="zh-hans")
    page = response.content.decode()

    assert response.status_code == 200
    assert '<html lang="zh-hans">' in page
    assert "城市管理局" in page  # department names in the reader's language
    assert "热线电话" in page
    assert "部门" in page


def test_a_custom_period_uses_both_dates_inclusive(
    client: Client, supervisor: User, history: None
) -> None:
    today = timezone.localdate()

    response = get(client, supervisor, f"?period=custom&start={today}&end={today}")

    assert response.status_code == 200
    assert response.context["period"].days == 1
    assert response.context["cards"][0].value == "3"


@pytest.mark.parametrize(
    ("query", "error"),
    [
        ("?period=custom&start=2026-03-01", "Give both dates"),
        ("?period=custom&start=2026-03-09&end=2026-03-01", "ends before it starts"),
        ("?period=custom&start=2020-01-01&end=2026-03-01", "at most"),
    ],
)
def test_a_bad_custom_period_is_explained(
    client: Client, supervisor: User, query: str, error: str
) -> None:
    response = get(client, supervisor, query)

    assert response.status_code == 400
    assert error in response.content.decode()


def test_scope_filters_narrow_every_figure(client: Client, supervisor: User, history: None) -> None:
    response = get(client, supervisor, "?period=this_month&channel=web")

    assert response.context["cards"][0].value == "1"
    assert [row.department for row in response.context["league"]] == ["Market Regulation Bureau"]


def test_the_sub_navigation_leaves_out_pages_not_installed(
    monkeypatch: pytest.MonkeyPatch, client: Client, supervisor: User
) -> None:
    monkeypatch.setattr(reports, "PAGES", [*reports.PAGES, ("reporting:not_there", "Not there")])

    page = get(client, supervisor).content.decode()

    assert 'class="reports-nav"' in page
    assert f'<a href="{URL}" aria-current="page">' in page
    assert "Not there" not in page

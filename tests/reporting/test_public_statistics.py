"""The public statistics page: published or not, small cells withheld, nothing personal."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any

import pytest
from django.core.cache import cache
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from complaints.models import Survey
from reporting import kpis, public, rollups
from routing.models import Category, Department
from sla.models import Deadline
from tests.reporting.data import complaint, deadline, person, replied, survey

pytestmark = pytest.mark.django_db

URL = "/statistics/"


@pytest.fixture(autouse=True)
def _own_cache(settings: Any) -> Iterator[None]:
    # The embedded default's cache is a folder shared by every process: tests use their own.
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": URL}
    }
    cache.clear()
    yield
    cache.clear()


def get(client: Client, query: str = "") -> Any:
    return client.get(URL + query, HTTP_ACCEPT_LANGUAGE="en")


class FakeKpis:
    """Stands in for ``reporting.kpis`` with chosen figures; records the periods asked."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.periods: list[kpis.Period] = []
        self.figures = kpis.Kpis(
            volume=40,
            first_response_count=0,
            first_response_median=None,
            first_response_p90=None,
            resolution_count=0,
            resolution_median=None,
            resolution_p90=None,
            on_time_rate=0.875,
            replied=16,
            closed=12,
            surveys_answered=10,
            satisfaction_rate=0.8,
            satisfaction_average=4.25,
        )
        self.slices = [
            kpis.Slice("facilities", "Facilities", 30),
            kpis.Slice("efficiency", "Efficiency", 6),
            kpis.Slice("staff_conduct", "Staff conduct", 3),
            kpis.Slice("other", "Other", 1),
        ]
        monkeypatch.setattr(kpis, "kpis", self.key_figures)
        monkeypatch.setattr(kpis, "by_category", self.categories)

    def key_figures(self, scope: kpis.Scope, period: kpis.Period) -> kpis.Kpis:
        assert scope == kpis.Scope()
        self.periods.append(period)
        return self.figures

    def categories(self, scope: kpis.Scope, period: kpis.Period) -> list[kpis.Slice]:
        return self.slices

    def set(self, **fields: Any) -> None:
        self.figures = kpis.Kpis(**{**self.figures.__dict__, **fields})


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> FakeKpis:
    return FakeKpis(monkeypatch)


# --- Published or not -------------------------------------------------------------------


def test_the_page_is_at_statistics() -> None:
    assert reverse("statistics:public") == URL


def test_published_the_portal_links_to_it(client: Client, fake: FakeKpis) -> None:
    assert get(client).status_code == 200
    assert f'href="{URL}"' in client.get("/", HTTP_ACCEPT_LANGUAGE="en").content.decode()


def test_unpublished_it_is_not_found_and_not_linked(
    client: Client, settings: Any, fake: FakeKpis
) -> None:
    settings.PUBLIC_STATISTICS = False
    assert get(client).status_code == 404
    assert URL not in client.get("/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert fake.periods == []


# --- The figures ------------------------------------------------------------------------


def test_the_figures_are_shown(client: Client, fake: FakeKpis) -> None:
    figures = get(client).context["figures"]
    assert figures.received.text == "40"
    assert figures.closed.text == "12"
    assert figures.on_time.text == "87.5 %"
    assert figures.satisfied.text == "80.0 %"
    assert figures.rating.text == "4.25"
    assert figures.category_chart is not None


def test_cells_on_fewer_than_five_complaints_are_withheld(client: Client, fake: FakeKpis) -> None:
    fake.set(volume=4, closed=2, replied=4, surveys_answered=3)
    figures = get(client).context["figures"]
    for cell in (figures.received, figures.closed, figures.on_time, figures.satisfied):
        assert cell.suppressed
        assert cell.text == "fewer than 5"
    assert figures.rating.suppressed


def test_small_categories_are_added_up_and_not_named(client: Client, fake: FakeKpis) -> None:
    response = get(client)
    categories = [(label, cell.text) for label, cell in response.context["figures"].categories]
    assert categories == [
        ("Facilities", "30"),
        ("Efficiency", "6"),
        ("Other categories", "fewer than 5"),
    ]
    body = response.content.decode()
    assert "Staff conduct" not in body
    assert ">Other<" not in body


def test_small_categories_that_add_up_to_five_are_shown_as_a_sum(
    client: Client, fake: FakeKpis
) -> None:
    fake.slices = [kpis.Slice("a", "A", 20), kpis.Slice("b", "B", 3), kpis.Slice("c", "C", 2)]
    categories = get(client).context["figures"].categories
    assert [(label, cell.text) for label, cell in categories] == [
        ("A", "20"),
        ("Other categories", "5"),
    ]


def test_the_smallest_count_shown_is_a_setting(
    client: Client, settings: Any, fake: FakeKpis
) -> None:
    settings.PUBLIC_STATISTICS_MIN_COUNT = 50
    assert get(client).context["figures"].received.text == "fewer than 50"


@pytest.mark.parametrize(
    ("query", "period"),
    [
        ("", "this_month"),
        ("?period=last_month", "last_month"),
        ("?period=this_year", "this_year"),
        ("?period=all_time", "this_month"),
    ],
)
def test_the_period_is_chosen_from_three(
    client: Client, fake: FakeKpis, query: str, period: str
) -> None:
    figures = get(client, query).context["figures"]
    today = timezone.localdate()
    assert figures.period == period
    assert fake.periods == [kpis.Period.preset(period, today=today)]


def test_the_figures_are_cached(client: Client, fake: FakeKpis) -> None:
    get(client)
    get(client)
    get(client, "?period=last_month")
    assert len(fake.periods) == 2


def test_last_month_ends_on_its_last_day() -> None:
    figures = public._figures  # the uncached computation, with the real key figures
    assert figures("last_month", date(2026, 3, 15)).last_day == date(2026, 2, 28)


# --- With real complaints ---------------------------------------------------------------


def test_real_figures_contain_no_personal_data_and_no_staff(
    client: Client, facilities: Category, urban: Department, handler: Any
) -> None:
    now = timezone.now()
    for n in range(6):
        made = complaint(
            now - timedelta(minutes=n),
            category=facilities,
            department=urban,
            assignee=handler,
            petitioner=person(name="欧阳娜娜", phone="13987654321"),
        )
        replied(made, timedelta(hours=2))
        deadline(made, "cycle", Deadline.State.MET)
        survey(made, rating=5, outcome=Survey.Outcome.SATISFIED)
    rollups.rebuild(timezone.localdate() - timedelta(days=1))
    response = get(client)
    figures = response.context["figures"]
    assert figures.received.text == "6"
    assert figures.on_time.text == "100.0 %"
    assert figures.categories == [("Facilities", public.Cell("6"))]
    body = response.content.decode()
    for private in ("欧阳娜娜", "13987654321", "4321", handler.username, "Urban Management"):
        assert private not in body

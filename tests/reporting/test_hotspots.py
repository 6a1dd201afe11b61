"""Hotspots and early warning: spikes, repeat petitioners, clusters, alerts, the page."""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone, translation

from accounts.models import User
from complaints.models import Complaint
from complaints.text import similarity
from notifications.models import Notification
from reporting import hotspots, tasks
from reporting.hotspots.clusters import _similar_pairs
from reporting.hotspots.spikes import area_of, cell_of, is_spike, poisson_log_tail
from routing.models import Category, Department, KeywordRule
from tests.reporting.data import complaint, person

pytestmark = pytest.mark.django_db

NOW = datetime.fromisoformat("2026-03-20T15:00:00+08:00")


@pytest.fixture(autouse=True)
def _fresh_keyword_rules(settings: Any) -> None:
    settings.KEYWORD_RECHECK_SECONDS = 0  # each test's rules, not a cached automaton


@pytest.fixture(autouse=True)
def _in_english() -> Iterator[None]:
    with translation.override("en"):
        yield


def hours_ago(hours: float) -> datetime:
    return NOW - timedelta(hours=hours)


def days_ago(days: float) -> datetime:
    return NOW - timedelta(days=days)


@pytest.fixture
def street(urban: Department) -> Category:
    return Category.objects.create(code="street", name_zh="街道秩序", name_en="Street order")


def daily_baseline(per_day: list[int], **fields: Any) -> None:
    """``per_day[i]`` complaints on day i + 2 before NOW (outside the last 24 hours)."""
    for index, count in enumerate(per_day):
        for n in range(count):
            complaint(days_ago(index + 2) + timedelta(minutes=n), **fields)


def recent(count: int, **fields: Any) -> list[Complaint]:
    return [complaint(hours_ago(1 + n * 0.5), **fields) for n in range(count)]


def flagged(dimension: str = "", window: str = "") -> list[hotspots.Spike]:
    """The spikes at NOW, of one dimension, flagged in one window (else any)."""
    return [
        spike
        for spike in hotspots.spikes(now=NOW)
        if dimension in ("", spike.dimension)
        and any(count.flagged for count in spike.counts if window in ("", count.window.code))
    ]


# --- The rule ---------------------------------------------------------------------------


def test_poisson_tail_matches_hand_computed_values() -> None:
    # P(X ≥ 5 | λ = 1) = 1 − e⁻¹(1 + 1 + 1/2 + 1/6 + 1/24)
    expected = 1 - math.exp(-1) * (1 + 1 + 1 / 2 + 1 / 6 + 1 / 24)
    assert math.exp(poisson_log_tail(5, 1.0)) == pytest.approx(expected)
    assert poisson_log_tail(0, 3.0) == 0.0
    assert math.exp(poisson_log_tail(1, 2.0)) == pytest.approx(1 - math.exp(-2))
    # Far in the tail it stays finite: ranking needs the size of tiny probabilities.
    assert -200 < poisson_log_tail(60, 1.0) < -150


def test_the_rule_needs_both_improbable_and_at_least_five() -> None:
    assert is_spike(5, 0, 28)[0]  # never seen, now five: a spike
    assert not is_spike(4, 0, 28)[0]  # improbable, but only four
    assert not is_spike(5, 3 * 28, 28)[0]  # five where three a day are usual
    assert is_spike(12, 3 * 28, 28)[0]  # twelve where three a day are usual


# --- Spikes -----------------------------------------------------------------------------


def test_a_real_spike_in_a_category_is_flagged(facilities: Category) -> None:
    daily_baseline([1] * 28, category=facilities)
    recent(9, category=facilities)
    (spike,) = flagged(dimension="category", window="24h")
    assert spike.key == "facilities"
    assert spike.label == "Facilities"
    day = spike.count_in("24h")
    assert day.count == 9
    assert day.usual == pytest.approx(27 / 28)  # one day of the 28 is within the last 24 h
    assert day.baseline == 27
    assert day.ratio == pytest.approx(9 / (27 / 28))
    assert day.p_value < 0.01
    assert spike.worst == day
    assert [code for _, code in spike.newest] == [
        made.tracking_code for made in Complaint.objects.order_by("-received_at")[:3]
    ]


def test_normal_variation_is_not_flagged(facilities: Category) -> None:
    daily_baseline([2, 4, 3, 5, 1, 3, 4, 2, 3, 3, 4, 2, 5, 3] * 2, category=facilities)
    recent(5, category=facilities)
    assert not flagged(dimension="category")


def test_small_counts_are_not_flagged(facilities: Category) -> None:
    recent(4, category=facilities)
    assert not flagged()


def test_a_week_long_rise_is_flagged_in_the_seven_day_window(facilities: Category) -> None:
    daily_baseline([0] * 6 + [1] * 22, category=facilities)  # ~5 a week before
    for day in range(7):
        for n in range(4):
            complaint(days_ago(day) - timedelta(hours=1, minutes=n), category=facilities)
    (spike,) = flagged(dimension="category")
    assert [count.window.code for count in spike.counts if count.flagged] == ["7d"]
    assert spike.count_in("7d").count == 28
    assert spike.count_in("7d").usual == pytest.approx(22 / 4)
    assert spike.count_in("7d").ratio == pytest.approx(28 / (22 / 4))


def test_keywords_are_matched_with_the_current_rules() -> None:
    KeywordRule.objects.create(phrase="燃气")
    recent(6, title="燃气泄漏", content="楼道里有很重的燃气味。")
    recent(6, title="Broken lamp", content="The lamp is out.")
    (spike,) = flagged(dimension="keyword")
    assert spike.label == "燃气"
    assert spike.count_in("24h").count == 6
    assert spike.count_in("24h").rare  # never seen before
    assert spike.count_in("24h").ratio is None


def test_areas_are_grouped_by_street_and_by_grid_cell() -> None:
    for number in range(6):
        recent(1, location=f"幸福路{number + 1}号")
    recent(5, location="", latitude=Decimal("31.230400"), longitude=Decimal("121.473700"))
    spikes = {spike.label: spike.count_in("24h").count for spike in flagged(dimension="area")}
    assert spikes["幸福路"] == 6
    assert spikes["around 31.235, 121.475"] == 5


@pytest.mark.parametrize(
    ("location", "area"),
    [
        ("幸福路88号南门", "幸福路"),
        ("上海市浦东新区张江镇科苑路88号", "上海市浦东新区张江镇"),
        ("光明小区垃圾站", "光明小区"),
        ("和平里3号楼", "和平里"),
        ("12 High Street, London", "High Street"),
        ("Riverside Rd / 5th St", "Riverside Rd"),
        ("  ", ""),
    ],
)
def test_area_of_a_location(location: str, area: str) -> None:
    assert area_of(location)[1] == area


def test_area_keys_ignore_case_and_width() -> None:
    assert area_of("High Street 5")[0] == area_of("ＨＩＧＨ ＳＴＲＥＥＴ 7")[0]


def test_nearby_points_share_a_cell_and_far_ones_do_not() -> None:
    here = cell_of(Decimal("31.2304"), Decimal("121.4737"))[0]
    assert cell_of(Decimal("31.2331"), Decimal("121.4712"))[0] == here
    assert cell_of(Decimal("31.2504"), Decimal("121.4737"))[0] != here
    assert cell_of(None, Decimal("121.4737")) == ("", "")


def test_merged_complaints_do_not_count(facilities: Category) -> None:
    for made in recent(6, category=facilities):
        Complaint.objects.filter(pk=made.pk).update(status=Complaint.Status.MERGED)
    assert not flagged()


def test_spikes_are_ranked_by_how_unusual(facilities: Category, street: Category) -> None:
    daily_baseline([2] * 28, category=street)
    recent(12, category=street)  # 12 where 2 are usual
    recent(12, category=facilities)  # 12 where none ever were
    ranked = [spike.key for spike in flagged(dimension="category")]
    assert ranked == ["facilities", "street"]


def test_a_department_sees_only_its_own_spikes(
    facilities: Category, urban: Department, market: Department
) -> None:
    recent(6, category=facilities, department=urban)
    assert hotspots.spikes(department_id=urban.pk, now=NOW)
    assert not hotspots.spikes(department_id=market.pk, now=NOW)


# --- Repeat petitioners -----------------------------------------------------------------


def test_the_same_phone_on_three_complaints_is_one_repeat_petitioner() -> None:
    for _ in range(3):
        complaint(days_ago(3), petitioner=person(name="李娜", phone="13912345678"))
    complaint(days_ago(3), petitioner=person(name="王芳"))
    (found,) = hotspots.repeat_petitioners(now=NOW)
    assert found.count == 3
    assert found.name == "李娜"
    assert found.phone == "139****5678"
    assert "@example.com" in found.email
    assert found.email.startswith(found.email[0] + "******")
    assert len(found.complaints) == 3


def test_a_frequent_petitioner_lists_the_newest_five() -> None:
    petitioner = person()
    made = [complaint(days_ago(day + 1), petitioner=petitioner) for day in range(7)]
    (found,) = hotspots.repeat_petitioners(now=NOW)
    assert found.count == 7
    assert [ref.pk for ref in found.complaints] == [c.pk for c in made[:5]]
    assert found.more == 2
    assert found.first == made[-1].received_at
    assert found.last == made[0].received_at


def test_a_chain_of_shared_details_is_one_person() -> None:
    first = person(phone="13911112222", email="a@example.com")
    second = person(phone="13911112222", email="b@example.com")
    third = person(phone="13933334444", email="b@example.com")
    for petitioner in (first, second, third):
        complaint(days_ago(2), petitioner=petitioner)
    (found,) = hotspots.repeat_petitioners(now=NOW)
    assert found.count == 3


def test_two_complaints_or_old_ones_do_not_make_a_repeat_petitioner() -> None:
    petitioner = person()
    complaint(days_ago(2), petitioner=petitioner)
    complaint(days_ago(5), petitioner=petitioner)
    complaint(days_ago(31), petitioner=petitioner)
    assert hotspots.repeat_petitioners(now=NOW) == []


def test_an_anonymous_repeat_petitioner_stays_anonymous() -> None:
    petitioner = person(name="赵敏", id_number="110101199003071234")
    for _ in range(3):
        complaint(days_ago(1), petitioner=petitioner, is_anonymous=True)
    (found,) = hotspots.repeat_petitioners(now=NOW)
    assert found.name == "Anonymous"
    assert found.id_number == ""
    assert "赵敏" not in repr(found)
    assert "1234" not in found.phone[:-4]


def test_a_known_repeat_petitioners_id_number_is_masked() -> None:
    petitioner = person(id_number="110101199003071234")
    for _ in range(3):
        complaint(days_ago(1), petitioner=petitioner)
    (found,) = hotspots.repeat_petitioners(now=NOW)
    assert found.id_number == "110101********1234"


# --- Clusters ---------------------------------------------------------------------------

LAMP = "人民路上的路灯坏了，晚上一片漆黑，行人很危险。"


def test_similar_complaints_of_a_category_form_a_cluster(
    facilities: Category, street: Category
) -> None:
    for n in range(4):
        complaint(days_ago(n + 1), title=f"路灯不亮 {n}", content=LAMP, category=facilities)
    complaint(days_ago(1), title="噪音扰民", content="工地夜间施工噪音很大。", category=facilities)
    # The same text in another category, and a week and more ago: not in this cluster.
    complaint(days_ago(1), title="路灯不亮", content=LAMP, category=street)
    complaint(days_ago(8), title="路灯不亮", content=LAMP, category=facilities)
    report = hotspots.clusters(now=NOW)
    (cluster,) = report.clusters
    assert cluster.size == 4
    assert cluster.category == facilities
    assert cluster.last > cluster.first
    assert [ref.title for ref in cluster.samples] == [f"路灯不亮 {n}" for n in range(4)]
    assert not report.capped


def test_the_index_finds_exactly_the_pairs_that_similarity_finds() -> None:
    texts = [
        LAMP,
        "人民路的路灯坏了，晚上很黑，行人危险。",
        "工地夜间施工噪音很大。",
        "夜间施工噪音太大，影响睡眠。",
        "The street lamp on Renmin Road is broken.",
        "Street lamp broken on Renmin Road, very dark.",
        "",
    ]
    for threshold in (0.3, 0.5, 0.7):
        expected = {
            (i, j)
            for i in range(len(texts))
            for j in range(i + 1, len(texts))
            if similarity(texts[i], texts[j]) >= threshold
        }
        assert set(_similar_pairs(texts, threshold)) == expected


def test_clusters_compare_only_the_newest_complaints(settings: Any, facilities: Category) -> None:
    settings.HOTSPOT_CLUSTER_LIMIT = 3
    for n in range(5):
        complaint(days_ago(1) - timedelta(minutes=n), content=LAMP, category=facilities)
    report = hotspots.clusters(now=NOW)
    assert report.capped
    assert report.compared == 3
    assert [cluster.size for cluster in report.clusters] == [3]


# --- Alerts -----------------------------------------------------------------------------


@pytest.fixture
def spike_now(facilities: Category) -> None:
    for n in range(6):
        complaint(timezone.now() - timedelta(hours=1, minutes=n), category=facilities)


def test_supervisors_are_alerted_once_per_spike_and_day(spike_now: None, supervisor: User) -> None:
    supervisor.email = "supervisor@example.com"
    supervisor.save()
    assert tasks.check_hotspots() == 2  # in the console and by e-mail
    assert tasks.check_hotspots() == 0
    alerts = Notification.objects.filter(kind="reporting.hotspot", user=supervisor)
    assert sorted(alerts.values_list("channel", flat=True)) == ["email", "in_app"]
    alert = alerts.get(channel="in_app")
    assert alert.url == reverse("reporting:hotspots")
    assert "设施设备" in alert.subject


def test_the_next_day_alerts_again(facilities: Category, supervisor: User) -> None:
    for n in range(6):
        complaint(NOW - timedelta(hours=1, minutes=n), category=facilities)
    assert hotspots.alert_supervisors(now=NOW) == 1
    assert hotspots.alert_supervisors(now=NOW + timedelta(hours=2)) == 0
    assert hotspots.alert_supervisors(now=NOW + timedelta(hours=12)) == 1


def test_no_spike_no_alert(supervisor: User) -> None:
    assert hotspots.alert_supervisors(now=NOW) == 0
    assert not Notification.objects.exists()


def test_the_check_runs_hourly_from_beat(settings: Any) -> None:
    from config.celery import app

    entry = app.conf.beat_schedule["check-hotspots"]
    assert entry["task"] == "reporting.tasks.check_hotspots"
    assert entry["schedule"] == float(settings.HOTSPOT_CHECK_INTERVAL) == 3600.0


# --- The page ---------------------------------------------------------------------------

URL = "/reports/hotspots/"


def page(client: Client, user: User) -> Any:
    client.force_login(user)
    return client.get(URL, HTTP_ACCEPT_LANGUAGE="en")


def test_page_is_at_its_contract_address() -> None:
    assert reverse("reporting:hotspots") == URL


@pytest.mark.parametrize("persona", ["supervisor", "auditor", "head"])
def test_people_who_read_reports_see_the_page(
    client: Client, persona: str, request: pytest.FixtureRequest
) -> None:
    assert page(client, request.getfixturevalue(persona)).status_code == 200


@pytest.mark.parametrize("persona", ["handler", "market_handler"])
def test_others_are_refused(client: Client, persona: str, request: pytest.FixtureRequest) -> None:
    assert page(client, request.getfixturevalue(persona)).status_code == 403


def test_anonymous_visitors_are_sent_to_log_in(client: Client) -> None:
    response = client.get(URL)
    assert response.status_code == 302
    assert reverse("console:login") in response["Location"]


def test_the_page_shows_spikes_repeats_and_clusters_masked(
    client: Client, supervisor: User, facilities: Category
) -> None:
    petitioner = person(name="李娜", phone="13912345678")
    for n in range(6):
        complaint(
            timezone.now() - timedelta(hours=1, minutes=n),
            title=f"<script>路灯不亮</script> {n}",
            content=LAMP,
            category=facilities,
            petitioner=petitioner,
        )
    body = page(client, supervisor).content.decode()
    assert "Facilities" in body
    assert "139****5678" in body
    assert "13912345678" not in body
    assert "&lt;script&gt;路灯不亮&lt;/script&gt;" in body
    assert "<script>路灯" not in body
    assert 'role="img"' in body  # the volume chart


def test_a_department_head_sees_only_their_department(
    client: Client, head: User, facilities: Category, market: Department, urban: Department
) -> None:
    for n in range(6):
        complaint(
            timezone.now() - timedelta(hours=1, minutes=n),
            title=f"市场价格 {n}",
            content="菜市场乱收费。",
            category=facilities,
            department=market,
            petitioner=person(phone="13955556666"),
        )
    body = page(client, head).content.decode()
    assert "市场价格" not in body
    assert "139****6666" not in body
    assert "No spikes" in body

from __future__ import annotations

from typing import Any

import pytest
from django.core.management import call_command
from django.db.models import Count
from django.test import Client

from accounts.models import User
from accounts.roles import Role
from complaints.management.commands.seed_demo import DEMO_PASSWORD, TARGET_STATES
from complaints.models import Complaint, Event
from routing.models import Category, Department


@pytest.fixture(autouse=True)
def training_requests(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Training takes a minute and is tested in tests/routing; here: was it asked for?"""
    from routing.tasks import retrain_classifier

    requested: list[Any] = []
    monkeypatch.setattr(retrain_classifier, "delay", lambda *a, **k: requested.append(a))
    return requested


def test_seed_demo_asks_the_worker_to_train_the_classifier_once(
    db: None, training_requests: list[Any], django_capture_on_commit_callbacks: Any
) -> None:
    from routing.models import ClassifierModel

    with django_capture_on_commit_callbacks(execute=True):
        call_command("seed_demo", verbosity=0)
    assert len(training_requests) == 1
    ClassifierModel.objects.create(version=1, samples=672, blob=b"", is_active=True)
    with django_capture_on_commit_callbacks(execute=True):
        call_command("seed_demo", verbosity=0)
    assert len(training_requests) == 1


def test_seed_demo_loads_keyword_rules_and_routing_defaults(db: None) -> None:
    from routing.models import Department, KeywordRule, RoutingRule

    call_command("seed_demo", verbosity=0)
    rules = KeywordRule.objects.count()
    assert rules > 100
    assert KeywordRule.objects.filter(phrase="燃气泄漏", priority_effect="critical").exists()
    assert RoutingRule.objects.filter(department__code="transport").exists()
    assert Department.objects.get(code="urban_management").assignment == "round_robin"
    call_command("seed_demo", verbosity=0)
    assert KeywordRule.objects.count() == rules


def test_seed_demo_is_idempotent_and_covers_every_state_and_role(db: None) -> None:
    call_command("seed_demo", verbosity=0)
    counts = (Complaint.objects.count(), Event.objects.count(), User.objects.count())
    call_command("seed_demo", verbosity=0)
    assert (Complaint.objects.count(), Event.objects.count(), User.objects.count()) == counts

    assert Complaint.objects.count() == len(TARGET_STATES) == 50
    by_state = dict(Complaint.objects.values_list("status").annotate(n=Count("id")))
    assert set(by_state) == set(Complaint.Status.values)
    assert set(Category.objects.values_list("code", flat=True)) == {
        "service_quality", "efficiency", "facilities", "staff_conduct", "policy_inquiry", "other",
    }  # fmt: skip
    assert all(c.name_zh and c.name_en for c in Category.objects.all())
    assert Department.objects.count() >= 5
    for role in Role:
        assert User.objects.filter(groups__name=role.value).exists(), role


def test_every_demo_complaint_has_a_timeline_written_by_the_services(db: None) -> None:
    call_command("seed_demo", verbosity=0)
    for complaint in Complaint.objects.all():
        kinds = list(complaint.events.values_list("kind", flat=True))
        assert kinds[0] == "complaint.received"
        last_transition = complaint.events.exclude(to_state="").latest("id")
        assert last_transition.to_state == complaint.status


def test_demo_users_can_log_in_with_the_documented_password(db: None) -> None:
    call_command("seed_demo", verbosity=0)
    for username in ("clerk", "dispatcher", "handler", "head", "supervisor", "auditor", "admin"):
        assert Client().login(username=username, password=DEMO_PASSWORD), username

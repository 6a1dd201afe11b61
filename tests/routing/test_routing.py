"""Routing: decide, suggest, classify when sure, send to a department and a handler."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.core.management import call_command

from accounts.roles import Role
from complaints.models import Complaint
from intake import services as intake
from intake.submission import Submission
from routing import services
from routing.decide import decide
from routing.models import Category, Department, KeywordRule, RoutingRule, Suggestion
from tests.conftest import make_user
from tests.factories import complaint_in

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _rules(settings: Any, facilities: Category) -> None:
    settings.KEYWORD_RECHECK_SECONDS = 0
    settings.ROUTING_AUTO_CLASSIFY_THRESHOLD = 0.8
    for phrase in ("路灯", "不亮", "坏了"):
        KeywordRule.objects.create(phrase=phrase, category=facilities, weight=1.0)
    KeywordRule.objects.create(phrase="燃气泄漏", priority_effect="critical")
    KeywordRule.objects.create(phrase="红包", priority_effect="urgent", is_sensitive=True)


def received(title: str, content: str, **fields: Any) -> Complaint:
    return complaint_in(Complaint.Status.RECEIVED, title=title, content=content, **fields)


class TestDecide:
    def test_agreeing_phrases_give_a_confident_category(self) -> None:
        decision = decide("路灯坏了\n南门的路灯一直不亮")
        assert decision.category == "facilities"
        assert decision.confidence > 0.9
        assert decision.sure
        assert sorted(h["phrase"] for h in decision.matched) == ["不亮", "坏了", "路灯"]

    def test_one_weak_phrase_is_only_a_hint(self) -> None:
        decision = decide("门口的路不太平")
        assert decision.category is None
        one = decide("路灯")
        assert one.category == "facilities"
        assert not one.sure

    def test_phrases_raise_the_priority_and_mark_sensitivity(self) -> None:
        assert decide("楼道燃气泄漏").priority == "critical"
        bribe = decide("办证时被要求给红包")
        assert (bribe.priority, bribe.sensitive) == ("urgent", True)

    def test_the_classify_command_prints_json(self, capsys: Any) -> None:
        call_command("classify", "--json", "路灯坏了，一直不亮")
        result = json.loads(capsys.readouterr().out)
        assert set(result) == {"category", "priority", "confidence", "matched", "sensitive"}
        assert result["category"] == "facilities"
        assert result["priority"] == "normal"


class TestRouteComplaint:
    def test_a_sure_complaint_is_classified_and_assigned(self, urban: Department) -> None:
        complaint = received("路灯坏了", "南门路灯一直不亮")
        routed = services.route_complaint(complaint.pk)
        complaint.refresh_from_db()
        assert (routed.classified, routed.assigned) == (True, True)
        assert complaint.status == Complaint.Status.ASSIGNED
        assert complaint.category is not None
        assert complaint.category.code == "facilities"
        assert complaint.department == urban  # the category's default department
        labels = list(complaint.events.values_list("kind", "actor_label"))
        assert labels == [("complaint.classified", "routing"), ("complaint.assigned", "routing")]
        assert Suggestion.objects.get(complaint=complaint).applied

    def test_an_unsure_complaint_waits_for_a_dispatcher_with_a_suggestion(self) -> None:
        complaint = received("路灯", "你们看看吧")
        routed = services.route_complaint(complaint.pk)
        complaint.refresh_from_db()
        assert complaint.status == Complaint.Status.RECEIVED
        assert routed.suggestion is not None
        assert routed.suggestion.category is not None
        assert routed.suggestion.category.code == "facilities"
        assert not routed.suggestion.applied

    def test_routing_twice_changes_nothing(self) -> None:
        complaint = received("路灯", "你们看看吧")
        services.route_complaint(complaint.pk)
        services.route_complaint(complaint.pk)
        assert Suggestion.objects.filter(complaint=complaint).count() == 1

    def test_a_dispatchers_decision_is_never_overridden(
        self, dispatcher: Any, facilities: Any
    ) -> None:
        complaint = received("路灯坏了", "南门路灯一直不亮")
        from complaints import services as complaint_services

        complaint_services.reject(complaint_id=complaint.pk, reason="重复", actor=dispatcher)
        services.route_complaint(complaint.pk)
        complaint.refresh_from_db()
        assert complaint.status == Complaint.Status.REJECTED

    def test_a_sensitive_complaint_is_marked(self) -> None:
        complaint = received("办证", "窗口要我给红包")
        services.route_complaint(complaint.pk)
        complaint.refresh_from_db()
        assert complaint.is_sensitive
        marked = complaint.events.get(kind="complaint.marked_sensitive")
        assert (marked.actor_label, marked.payload) == ("routing", {"phrases": ["红包"]})

    def test_intake_routes_after_commit(self, django_capture_on_commit_callbacks: Any) -> None:
        with django_capture_on_commit_callbacks(execute=True):
            receipt = intake.submit(
                Submission(
                    channel="web", title="路灯坏了", content="南门路灯一直不亮", phone="13800000000"
                )
            )
        receipt.complaint.refresh_from_db()
        assert receipt.complaint.status != Complaint.Status.RECEIVED

    def test_the_sweep_finds_complaints_whose_task_was_lost(self, settings: Any) -> None:
        complaint = received("路灯坏了", "南门路灯一直不亮")
        Complaint.objects.filter(pk=complaint.pk).update(
            created_at=complaint.created_at.replace(year=2020)
        )
        assert services.stranded() == [complaint.pk]
        from routing.tasks import route_stranded

        assert route_stranded() == 1
        assert services.stranded() == []


class TestDepartmentsAndHandlers:
    def test_routing_rules_come_before_the_category_default(
        self, urban: Department, market: Department, facilities: Category
    ) -> None:
        RoutingRule.objects.create(
            name="市场里的设施", category=facilities, location_keywords="菜市场", department=market
        )
        complaint = received("路灯坏了", "菜市场门口路灯一直不亮")
        services.route_complaint(complaint.pk)
        complaint.refresh_from_db()
        assert complaint.department == market

    def test_round_robin_takes_turns_and_skips_people_away(
        self, urban: Department, facilities: Category
    ) -> None:
        urban.assignment = Department.Assignment.ROUND_ROBIN
        urban.save()
        a, b, c = (make_user(n, Role.HANDLER, urban) for n in ("a", "b", "c"))
        b.is_away = True
        b.save()
        chosen = []
        for _ in range(4):
            complaint = complaint_in(Complaint.Status.CLASSIFIED, category=facilities)
            chosen.append(services.assign_by_rules(complaint).complaint.assignee)
        assert chosen == [a, c, a, c]

    def test_least_loaded_weighs_open_work_by_priority(self, urban: Department) -> None:
        urban.assignment = Department.Assignment.LEAST_LOADED
        urban.save()
        busy, calm = make_user("busy", Role.HANDLER, urban), make_user("calm", Role.HANDLER, urban)
        complaint_in(
            Complaint.Status.IN_PROGRESS, department=urban, assignee=busy, priority="critical"
        )
        for _ in range(2):
            complaint_in(Complaint.Status.IN_PROGRESS, department=urban, assignee=calm)
        complaint_in(Complaint.Status.CLOSED, department=urban, assignee=calm)  # finished: no load
        assert services.pick_assignee(urban) == calm  # load 2 against 3

    def test_manual_assignment_leaves_the_choice_to_the_head(self, urban: Department) -> None:
        make_user("a", Role.HANDLER, urban)
        complaint = received("路灯坏了", "南门路灯一直不亮")
        services.route_complaint(complaint.pk)
        complaint.refresh_from_db()
        assert complaint.status == Complaint.Status.ASSIGNED
        assert complaint.assignee is None


class FakeModel:
    """Stands in for a trained model: fixed probabilities, to test how decide() uses them."""

    version = 7

    def __init__(
        self, category: dict[str, float], priority: str, priority_scores: dict[str, float]
    ) -> None:
        self.scores, self.priority, self.priority_scores = category, priority, priority_scores

    def predict(self, text: str) -> Any:
        from types import SimpleNamespace

        return SimpleNamespace(
            category_scores=self.scores,
            priority=self.priority,
            priority_scores=self.priority_scores,
            explanation=[("路灯", 0.4)],
        )


class TestDecideWithAModel:
    def use(self, monkeypatch: Any, model: FakeModel) -> None:
        monkeypatch.setattr("routing.model_store.active_model", lambda: model)

    def test_model_and_rules_agree(self, monkeypatch: Any) -> None:
        self.use(
            monkeypatch, FakeModel({"facilities": 0.85, "other": 0.15}, "normal", {"normal": 0.9})
        )
        decision = decide("路灯坏了，一直不亮")
        assert (decision.category, decision.priority, decision.model_version) == (
            "facilities",
            "normal",
            7,
        )
        assert decision.sure
        assert decision.explanation == [("路灯", 0.4)]

    def test_an_unsure_urgency_grade_is_left_to_a_dispatcher(self, monkeypatch: Any) -> None:
        scores = {"normal": 0.7, "urgent": 0.3}
        self.use(monkeypatch, FakeModel({"facilities": 0.95, "other": 0.05}, "urgent", scores))
        decision = decide("路灯坏了，一直不亮")
        assert decision.priority == "urgent"  # suggested to the dispatcher
        assert decision.urgency_unclear
        assert not decision.sure  # so it is not applied automatically

    def test_a_sure_urgency_grade_is_applied(self, monkeypatch: Any) -> None:
        scores = {"normal": 0.2, "urgent": 0.8}
        self.use(monkeypatch, FakeModel({"facilities": 0.95, "other": 0.05}, "urgent", scores))
        decision = decide("路灯坏了，一直不亮")
        assert (decision.priority, decision.sure) == ("urgent", True)

    def test_a_rule_grade_needs_no_model_certainty(self, monkeypatch: Any) -> None:
        self.use(
            monkeypatch, FakeModel({"facilities": 0.95, "other": 0.05}, "normal", {"normal": 0.99})
        )
        decision = decide("楼道燃气泄漏，路灯也坏了，一直不亮")
        assert decision.priority == "critical"
        assert not decision.urgency_unclear

    def test_matched_phrases_are_listed_once(self, monkeypatch: Any) -> None:
        KeywordRule.objects.create(
            phrase="燃气泄漏", category=Category.objects.get(code="facilities")
        )
        assert decide("燃气泄漏").as_dict()["matched"] == ["燃气泄漏"]

"""Category, priority and confidence for a text: keyword rules and the trained model together.

The model (when one is trained) gives calibrated probabilities; matched keyword rules add
evidence for their categories and can only raise the priority, never lower it — a
phrase like 燃气泄漏 is a promise that a person looks at the matter at once, whatever the
model thinks. Without a model, the rules alone decide, with a confidence that grows with
the weight of the evidence.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings

from routing import keywords

PRIORITY_ORDER = {"normal": 0, "urgent": 1, "critical": 2}


@dataclass(frozen=True)
class Decision:
    category: str | None
    priority: str
    confidence: float
    sensitive: bool
    matched: list[dict[str, Any]] = field(default_factory=list)
    scores: dict[str, float] = field(default_factory=dict)
    explanation: list[tuple[str, float]] = field(default_factory=list)
    model_version: int | None = None
    # The model thinks it may be urgent but is not sure: a dispatcher checks the urgency.
    urgency_unclear: bool = False

    @property
    def sure(self) -> bool:
        """Sure enough to classify without a dispatcher."""
        threshold: float = getattr(settings, "ROUTING_AUTO_CLASSIFY_THRESHOLD", 0.8)
        return (
            self.category is not None and self.confidence >= threshold and not self.urgency_unclear
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "category": self.category,
            "priority": self.priority,
            "confidence": round(self.confidence, 4),
            "matched": list(dict.fromkeys(hit["phrase"] for hit in self.matched)),
            "sensitive": self.sensitive,
        }


def _higher(a: str, b: str) -> str:
    return a if PRIORITY_ORDER.get(a, 0) >= PRIORITY_ORDER.get(b, 0) else b


def _rule_evidence(hits: list[keywords.Hit]) -> tuple[dict[str, float], float]:
    weights: dict[str, float] = {}
    for hit in hits:
        if hit.category:
            weights[hit.category] = weights.get(hit.category, 0.0) + max(hit.weight, 0.0)
    return weights, sum(weights.values())


def _urgency_unclear(model_priority: str, scores: dict[str, float], rule_priority: str) -> bool:
    """Did the model raise the priority without being sure of it?

    The model's urgency grade is tuned to miss almost no urgent complaint, so it also
    raises many ordinary ones. Such a grade is not applied automatically: the complaint
    waits for a dispatcher, who checks the urgency (as the seed process asks). A rule's
    grade, or a grade the model is sure of, is applied.
    """
    if PRIORITY_ORDER.get(model_priority, 0) <= PRIORITY_ORDER.get(rule_priority, 0):
        return False
    sure: float = getattr(settings, "ROUTING_URGENCY_SURE", 0.6)
    critical = scores.get("critical", 0.0)
    raised = critical + scores.get("urgent", 0.0)
    return (critical if model_priority == "critical" else raised) < sure


def decide(text: str) -> Decision:
    hits = keywords.match(text)
    rule_weights, rule_total = _rule_evidence(hits)
    priority = "normal"
    for hit in hits:
        if hit.priority_effect:
            priority = _higher(priority, hit.priority_effect)
    sensitive = any(hit.sensitive for hit in hits)
    matched = [hit.as_dict() for hit in hits]

    # Imported here: the model brings numpy, SciPy and scikit-learn (about 60 MB), which
    # only the processes that classify need — the workers, not every web worker.
    from routing import model_store

    model = model_store.active_model()
    if model is None:
        if not rule_weights:
            return Decision(None, priority, 0.0, sensitive, matched)
        category = max(rule_weights, key=lambda code: rule_weights[code])
        share = rule_weights[category] / rule_total
        # One weak match is a hint; several strong, agreeing matches approach certainty.
        confidence = share * (1 - math.exp(-rule_total))
        scores = {code: weight / rule_total for code, weight in rule_weights.items()}
        return Decision(category, priority, confidence, sensitive, matched, scores)

    prediction = model.predict(text)
    boost: float = getattr(settings, "ROUTING_RULE_BOOST", 0.3)
    combined = dict(prediction.category_scores)
    for code, weight in rule_weights.items():
        combined[code] = combined.get(code, 0.0) + boost * weight / rule_total
    norm = sum(combined.values()) or 1.0
    scores = {code: value / norm for code, value in combined.items()}
    category = max(scores, key=lambda code: scores[code])
    return Decision(
        category=category,
        priority=_higher(prediction.priority, priority),
        urgency_unclear=_urgency_unclear(prediction.priority, prediction.priority_scores, priority),
        confidence=scores[category],
        sensitive=sensitive,
        matched=matched,
        scores={code: round(value, 4) for code, value in scores.items()},
        explanation=list(prediction.explanation),
        model_version=getattr(model, "version", None),
    )

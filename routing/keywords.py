"""Keyword rules, matched all at once with an Aho-Corasick automaton.

Every process (web, workers) keeps the automaton in memory and checks, at most every
``KEYWORD_RECHECK_SECONDS``, a cheap signature of the rule table (count, highest id,
latest change); when it differs, the automaton is rebuilt. So an edit in the
back-office reaches every process within seconds, without a restart or a message bus.
"""

from __future__ import annotations

import threading
import time
import unicodedata
from dataclasses import dataclass
from typing import Any

import ahocorasick
from django.conf import settings
from django.db.models import Count, Max

from routing.models import KeywordRule


@dataclass(frozen=True)
class Hit:
    phrase: str
    category: str | None  # a Category.code
    weight: float
    priority_effect: str  # "", "urgent" or "critical"
    sensitive: bool

    def as_dict(self) -> dict[str, Any]:
        return {
            "phrase": self.phrase,
            "category": self.category,
            "weight": self.weight,
            "priority": self.priority_effect or None,
            "sensitive": self.sensitive,
        }


def normalize(text: str) -> str:
    """Full-width to half-width, one case: how both phrases and texts are compared."""
    return unicodedata.normalize("NFKC", text or "").casefold()


def _is_word_char(char: str) -> bool:
    return char.isascii() and char.isalnum()


class Matcher:
    """An automaton over a fixed set of rules."""

    def __init__(self, rules: list[KeywordRule]) -> None:
        self._automaton: Any = ahocorasick.Automaton()
        by_phrase: dict[str, list[Hit]] = {}
        for rule in rules:
            phrase = normalize(rule.phrase).strip()
            if not phrase:
                continue
            hit = Hit(
                phrase=rule.phrase,
                category=rule.category.code if rule.category else None,
                weight=rule.weight,
                priority_effect=rule.priority_effect,
                sensitive=rule.is_sensitive,
            )
            by_phrase.setdefault(phrase, []).append(hit)
        for phrase, hits in by_phrase.items():
            self._automaton.add_word(phrase, (phrase, tuple(hits)))
        self.size = len(by_phrase)
        if self.size:
            self._automaton.make_automaton()

    def match(self, text: str) -> list[Hit]:
        """Each rule that matches, once, however often its phrase occurs."""
        if not self.size:
            return []
        haystack = normalize(text)
        found: dict[str, tuple[Hit, ...]] = {}
        for end, (phrase, hits) in self._automaton.iter(haystack):
            start = end - len(phrase) + 1
            # Latin words match whole words only ("gas" is not in "Las Vegas"); Chinese
            # has no spaces, so there a phrase matches wherever it stands.
            if _is_word_char(phrase[0]) and start > 0 and _is_word_char(haystack[start - 1]):
                continue
            if (
                _is_word_char(phrase[-1])
                and end + 1 < len(haystack)
                and _is_word_char(haystack[end + 1])
            ):
                continue
            found[phrase] = hits
        return [hit for hits in found.values() for hit in hits]


_lock = threading.Lock()
_state: dict[str, Any] = {"matcher": None, "signature": None, "checked": 0.0}


def _signature() -> tuple[Any, ...]:
    summary = KeywordRule.objects.aggregate(n=Count("id"), top=Max("id"), changed=Max("updated_at"))
    return (summary["n"], summary["top"], summary["changed"])


def matcher() -> Matcher:
    """The automaton of the active rules, rebuilt here when the rules have changed."""
    interval = getattr(settings, "KEYWORD_RECHECK_SECONDS", 10)
    now = time.monotonic()
    with _lock:
        current: Matcher | None = _state["matcher"]
        if current is not None and now - _state["checked"] < interval:
            return current
        signature = _signature()
        _state["checked"] = now
        if current is not None and signature == _state["signature"]:
            return current
        rules = list(KeywordRule.objects.filter(is_active=True).select_related("category"))
        rebuilt = Matcher(rules)
        _state.update(matcher=rebuilt, signature=signature)
        return rebuilt


def match(text: str) -> list[Hit]:
    return matcher().match(text)

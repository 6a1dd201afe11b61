"""Keyword rules: one automaton, whole words for Latin text, rebuilt when rules change."""

from __future__ import annotations

from typing import Any

import pytest

from routing import keywords
from routing.models import Category, KeywordRule

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _recheck_every_time(settings: Any) -> None:
    settings.KEYWORD_RECHECK_SECONDS = 0


def rule(phrase: str, category: Category | None = None, **fields: Any) -> KeywordRule:
    return KeywordRule.objects.create(phrase=phrase, category=category, **fields)


def phrases(text: str) -> list[str]:
    return sorted(hit.phrase for hit in keywords.match(text))


def test_chinese_phrases_match_inside_text(facilities: Category) -> None:
    rule("路灯", facilities)
    rule("窨井盖", facilities)
    assert set(phrases("幸福路的路灯坏了，窨井盖也丢了，路灯一直不亮")) == {"路灯", "窨井盖"}


def test_latin_phrases_match_whole_words_and_any_case(facilities: Category) -> None:
    rule("gas", facilities)
    assert phrases("Strong GAS smell in the stairwell") == ["gas"]
    assert phrases("We went to Las Vegas") == []


def test_full_width_text_matches(facilities: Category) -> None:
    rule("gas leak", facilities)
    assert phrases("ＧＡＳ ＬＥＡＫ at No. 3") == ["gas leak"]


def test_inactive_rules_do_not_match(facilities: Category) -> None:
    rule("路灯", facilities, is_active=False)
    assert phrases("路灯坏了") == []


def test_an_edit_reaches_the_matcher_without_a_restart(facilities: Category) -> None:
    assert phrases("路灯坏了") == []
    lamp = rule("路灯", facilities)
    assert phrases("路灯坏了") == ["路灯"]
    lamp.is_active = False
    lamp.save()
    assert phrases("路灯坏了") == []
    KeywordRule.objects.all().delete()
    rule("坏了", facilities)
    assert phrases("路灯坏了") == ["坏了"]


def test_the_automaton_is_reused_while_rules_are_unchanged(
    facilities: Category, settings: Any, django_assert_num_queries: Any
) -> None:
    rule("路灯", facilities)
    keywords.match("x")  # built
    settings.KEYWORD_RECHECK_SECONDS = 3600
    with django_assert_num_queries(0):
        assert phrases("路灯") == ["路灯"]


def test_one_phrase_may_carry_several_effects(facilities: Category) -> None:
    rule("燃气泄漏", None, priority_effect="critical")
    rule("燃气泄漏", facilities, weight=1.5)
    hits = keywords.match("楼道里燃气泄漏")
    assert {(h.category, h.priority_effect) for h in hits} == {
        (None, "critical"),
        ("facilities", ""),
    }

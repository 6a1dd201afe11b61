"""Replies to similar complaints that were rated well, offered to a handler drafting one."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from django.utils import timezone

from complaints import selectors
from complaints.models import Complaint, Survey
from routing.models import Category
from tests.factories import approved_draft, complaint_in

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_cache() -> None:
    cache.clear()


def rated(category: Category, title: str, content: str, rating: int = 5) -> Complaint:
    other = complaint_in("closed", category=category, title=title, content=content)
    Survey.objects.create(
        complaint=other,
        reply=approved_draft(other, body=f"回复：{title}", sent_at=timezone.now()),
        round=1,
        token_hash=f"{other.pk:064x}",
        closes_at=timezone.now(),
        answered_at=timezone.now(),
        rating=rating,
        resolved=True,
    )
    return other


def test_similar_well_rated_replies_are_offered_most_similar_first(facilities: Category) -> None:
    close = rated(facilities, "路灯不亮", "幸福路的路灯坏了两周，晚上很黑。")
    closer = rated(facilities, "路灯坏了", "小区门口的路灯坏了两周。")
    rated(facilities, "井盖", "人民路井盖丢失。")  # not similar
    rated(facilities, "路灯坏了", "小区门口的路灯坏了两周。", rating=2)  # not rated well
    mine = complaint_in(
        "in_progress", category=facilities, title="路灯坏了", content="小区门口的路灯坏了。"
    )

    offered = selectors.well_rated_replies(mine)

    assert [good.complaint for good in offered] == [closer, close]
    assert offered[0].reply.body == "回复：路灯坏了"


def test_an_anonymised_complaint_is_no_longer_offered(facilities: Category) -> None:
    other = rated(facilities, "路灯坏了", "小区门口的路灯坏了两周。")
    mine = complaint_in("in_progress", category=facilities, title="路灯坏了", content="路灯坏了。")
    assert selectors.well_rated_replies(mine)  # and now in the cache
    Complaint.objects.filter(pk=other.pk).update(anonymised_at=timezone.now())

    assert selectors.well_rated_replies(mine) == []

"""Repeated petitions: same person or place, similar text, within the window."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from complaints.models import Complaint
from complaints.selectors import earlier_petitions
from intake import services as intake
from intake.submission import Submission
from routing import duplicates, services
from routing.models import DuplicateCandidate

pytestmark = pytest.mark.django_db
LAMP = "幸福路88号小区南门外的三盏路灯已经坏了两周，晚上漆黑一片，请尽快维修。"


def submit(content: str, phone: str = "13812345678", **fields: Any) -> Complaint:
    return intake.submit(
        Submission(
            channel="web", title=fields.pop("title", "路灯"), content=content, phone=phone, **fields
        )
    ).complaint


def test_similarity_of_near_copies_and_of_unrelated_text() -> None:
    assert duplicates.similarity(LAMP, LAMP) == pytest.approx(1.0)
    reworded = "幸福路88号南门外路灯坏了两个星期了，晚上一片漆黑，请快修。"
    assert duplicates.similarity(LAMP, reworded) > 0.4
    assert duplicates.similarity(LAMP, "社保转移手续办理太慢，已经45天了。") < 0.2
    assert duplicates.similarity("", LAMP) == 0.0


def test_the_same_caller_saying_the_same_thing_is_a_probable_duplicate() -> None:
    first = submit(LAMP)
    again = submit("南门外三盏路灯坏了两周，晚上漆黑一片，尽快维修！", phone="+86 138 1234 5678")
    [match] = duplicates.find(again)
    assert match.original == first
    assert match.reasons == ("same_petitioner",)
    assert match.similarity > 0.5


def test_the_same_place_from_another_person_is_a_probable_duplicate() -> None:
    first = submit(LAMP, location="幸福路88号南门")
    other = submit(LAMP, phone="13900000000", location="幸福路88号南门")
    assert [m.original for m in duplicates.find(other)] == [first]
    assert duplicates.find(other)[0].reasons == ("same_place",)


def test_different_matters_of_the_same_person_are_not_duplicates() -> None:
    submit(LAMP)
    other = submit("社保转移手续办理太慢，已经45天了还没有办完。", title="社保")
    assert duplicates.find(other) == []


def test_outside_the_window_is_not_a_duplicate(settings: Any) -> None:
    settings.DUPLICATE_WINDOW_DAYS = 30
    first = submit(LAMP)
    Complaint.objects.filter(pk=first.pk).update(received_at=first.received_at - timedelta(days=31))
    assert duplicates.find(submit(LAMP)) == []


def test_earlier_petitions_are_counted_by_person() -> None:
    submit(LAMP)
    submit("社保转移手续办理太慢。", phone="+8613812345678")
    latest = submit("又来反映路灯。")
    assert earlier_petitions(latest) == 2
    assert earlier_petitions(submit("别人", phone="13900000000")) == 0


class TestDispatcherDecides:
    def test_routing_holds_a_probable_duplicate_for_the_dispatcher(self) -> None:
        submit(LAMP)
        again = submit(LAMP)
        routed = services.route_complaint(again.pk)
        again.refresh_from_db()
        assert again.status == Complaint.Status.RECEIVED
        assert [c.original_id for c in routed.duplicates] != []

    def test_merging_links_to_the_original(self, dispatcher: Any) -> None:
        first = submit(LAMP)
        again = submit(LAMP)
        [candidate] = duplicates.record(again)
        services.merge_duplicate(candidate_id=candidate.pk, actor=dispatcher)
        again.refresh_from_db()
        candidate.refresh_from_db()
        assert (again.status, again.merged_into) == (Complaint.Status.MERGED, first)
        assert candidate.status == DuplicateCandidate.Status.MERGED
        assert candidate.decided_by == dispatcher

    def test_dismissing_records_the_decision(self, dispatcher: Any) -> None:
        submit(LAMP)
        again = submit(LAMP)
        [candidate] = duplicates.record(again)
        services.dismiss_duplicate(candidate_id=candidate.pk, actor=dispatcher)
        candidate.refresh_from_db()
        assert candidate.status == DuplicateCandidate.Status.DISMISSED
        assert again.events.filter(kind="complaint.duplicate_dismissed").exists()

    def test_a_handler_cannot_decide_on_duplicates(self, handler: Any) -> None:
        submit(LAMP)
        again = submit(LAMP)
        [candidate] = duplicates.record(again)
        with pytest.raises(services.PermissionDenied):
            services.dismiss_duplicate(candidate_id=candidate.pk, actor=handler)

    def test_recording_twice_stores_each_pair_once(self) -> None:
        submit(LAMP)
        again = submit(LAMP)
        duplicates.record(again)
        duplicates.record(again)
        assert DuplicateCandidate.objects.count() == 1

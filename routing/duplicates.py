"""Repeated petitions (重复信访): the same person, or the same place, saying the same thing.

Candidates are earlier complaints within ``DUPLICATE_WINDOW_DAYS`` from the same
petitioner (by normalised phone, e-mail or ID number, or the same petitioner record) or
about the same place; each is compared by the cosine similarity of character bigrams
(``complaints.text``), which works for Chinese and English alike.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings

from complaints.models import Complaint
from complaints.selectors import same_person, same_petitioner
from complaints.text import similarity
from routing.models import DuplicateCandidate


@dataclass(frozen=True)
class Match:
    original: Complaint
    similarity: float
    reasons: tuple[str, ...]


def _text(complaint: Complaint) -> str:
    return f"{complaint.title}\n{complaint.content}"


def find(complaint: Complaint) -> list[Match]:
    """Probable duplicates of ``complaint`` among earlier complaints, most similar first."""
    window = timedelta(days=getattr(settings, "DUPLICATE_WINDOW_DAYS", 30))
    threshold: float = getattr(settings, "DUPLICATE_SIMILARITY", 0.4)
    recent = (
        Complaint.objects.filter(
            received_at__gte=complaint.received_at - window, received_at__lte=complaint.received_at
        )
        .exclude(pk=complaint.pk)
        .exclude(status__in=[Complaint.Status.MERGED, Complaint.Status.REJECTED])
        .select_related("petitioner")
        .order_by("-received_at")
    )
    # Two indexed look-ups (the person's complaints, the place's), not one OR over both:
    # that reads every complaint of the window in time order.
    found = {c.pk: c for c in recent.filter(same_petitioner(complaint))[:50]}
    if complaint.location.strip():
        found.update((c.pk, c) for c in recent.filter(location=complaint.location)[:50])
    earlier = sorted(found.values(), key=lambda c: (c.received_at, c.pk), reverse=True)[:50]
    text = _text(complaint)
    matches = []
    for other in earlier:
        score = similarity(text, _text(other))
        if score < threshold:
            continue
        reasons = tuple(
            reason
            for reason, holds in (
                ("same_petitioner", same_person(complaint.petitioner, other.petitioner)),
                (
                    "same_place",
                    bool(complaint.location.strip()) and other.location == complaint.location,
                ),
            )
            if holds
        )
        matches.append(Match(other, score, reasons))
    return sorted(matches, key=lambda m: m.similarity, reverse=True)


def record(complaint: Complaint) -> list[DuplicateCandidate]:
    """Find and store probable duplicates (once per pair) for the dispatcher.

    One insert for all of them; a pair stored before (by an earlier or a concurrent run)
    keeps its row.
    """
    matches = find(complaint)
    if not matches:
        return []
    DuplicateCandidate.objects.bulk_create(
        [
            DuplicateCandidate(
                complaint=complaint,
                original=match.original,
                similarity=round(match.similarity, 4),
                reasons=list(match.reasons),
            )
            for match in matches
        ],
        ignore_conflicts=True,
    )
    stored = {
        candidate.original_id: candidate
        for candidate in DuplicateCandidate.objects.filter(
            complaint=complaint, original__in=[match.original for match in matches]
        )
    }
    return [stored[match.original.pk] for match in matches if match.original.pk in stored]

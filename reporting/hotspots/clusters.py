"""Clusters: recent complaints that say the same thing, whoever sent them.

Complaints received in the last ``HOTSPOT_CLUSTER_DAYS`` (7) days are compared within
their category (unclassified ones among themselves) by the similarity of
``complaints.text`` — the cosine of character bigrams, for Chinese and English alike.
Two complaints at least ``HOTSPOT_CLUSTER_SIMILARITY`` (0.5) alike are linked, and linked
complaints form a cluster (single linkage); clusters of ``HOTSPOT_CLUSTER_MIN_SIZE`` (3)
or more are shown, largest first.

The work is capped: at most ``HOTSPOT_CLUSTER_LIMIT`` (2,000) of the newest complaints
are compared, each text by its title and first thousand characters, and only pairs that
share a bigram are scored (an inverted index), so the cost follows how much texts
overlap rather than the square of their number.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import NamedTuple

from django.conf import settings
from django.db.models.functions import Substr
from django.utils import timezone

from complaints.models import Complaint
from complaints.text import bigrams
from reporting.hotspots.groups import Groups
from reporting.hotspots.repeats import ComplaintRef
from routing.models import Category


class _Row(NamedTuple):
    pk: int
    tracking_code: str
    title: str
    received_at: datetime
    status: str
    category_id: int | None
    start: str

    def ref(self) -> ComplaintRef:
        return ComplaintRef(self.pk, self.tracking_code, self.title, self.received_at, self.status)


_COLUMNS = ("id", "tracking_code", "title", "received_at", "status", "category_id", "start")


@dataclass(frozen=True)
class Cluster:
    category: Category | None
    size: int
    first: datetime
    last: datetime
    # The newest few, to read and open.
    samples: tuple[ComplaintRef, ...]

    @property
    def category_label(self) -> str:
        return self.category.name if self.category is not None else ""


@dataclass(frozen=True)
class ClusterReport:
    clusters: list[Cluster]
    # How many complaints were compared, and whether the cap left older ones out.
    compared: int
    capped: bool


def clusters(*, department_id: int | None = None, now: datetime | None = None) -> ClusterReport:
    """Groups of similar complaints of the last days, largest first."""
    now = now or timezone.now()
    days = settings.HOTSPOT_CLUSTER_DAYS
    threshold = settings.HOTSPOT_CLUSTER_SIMILARITY
    minimum = settings.HOTSPOT_CLUSTER_MIN_SIZE
    limit = settings.HOTSPOT_CLUSTER_LIMIT
    complaints = Complaint.objects.filter(
        received_at__gte=now - timedelta(days=days), received_at__lt=now
    ).exclude(status=Complaint.Status.MERGED)
    if department_id is not None:
        complaints = complaints.filter(department_id=department_id)
    rows = [
        _Row(*values)
        for values in complaints.annotate(start=Substr("content", 1, 1000))
        .order_by("-received_at", "-id")
        .values_list(*_COLUMNS)[: limit + 1]
    ]
    capped = len(rows) > limit
    rows = rows[:limit]
    blocks: dict[int | None, list[int]] = defaultdict(list)
    for index, row in enumerate(rows):
        blocks[row.category_id].append(index)
    linked = Groups(range(len(rows)))
    for members in blocks.values():
        texts = [f"{rows[i].title}\n{rows[i].start}" for i in members]
        for one, two in _similar_pairs(texts, threshold):
            linked.join(members[one], members[two])
    categories = Category.objects.in_bulk([key for key in blocks if key is not None])
    found = []
    for members in linked.groups():
        if len(members) < minimum:
            continue
        members.sort()  # rows are newest first
        newest, oldest = rows[members[0]], rows[members[-1]]
        found.append(
            Cluster(
                category=categories.get(newest.category_id) if newest.category_id else None,
                size=len(members),
                first=oldest.received_at,
                last=newest.received_at,
                samples=tuple(rows[i].ref() for i in members[:5]),
            )
        )
    found.sort(key=lambda cluster: (-cluster.size, -cluster.last.timestamp()))
    return ClusterReport(found, compared=len(rows), capped=capped)


def _similar_pairs(texts: list[str], threshold: float) -> list[tuple[int, int]]:
    """Index pairs whose bigram cosine (``complaints.text.similarity``) is ≥ ``threshold``."""
    vectors: list[Counter[str]] = [bigrams(text) for text in texts]
    norms = [math.sqrt(sum(c * c for c in vector.values())) for vector in vectors]
    postings: dict[str, list[tuple[int, int]]] = defaultdict(list)
    pairs = []
    for i, vector in enumerate(vectors):
        dots: dict[int, int] = defaultdict(int)
        for gram, count in vector.items():
            for j, other in postings[gram]:
                dots[j] += count * other
            postings[gram].append((i, count))
        for j, dot in dots.items():
            if norms[i] and norms[j] and dot / (norms[i] * norms[j]) >= threshold:
                pairs.append((j, i))
    return pairs

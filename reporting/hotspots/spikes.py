"""Spikes (预警): a category, a keyword or an area suddenly more frequent than usual.

The rule
--------
Complaints are counted per *value* — a category, a keyword rule's phrase, an area — in
two recent windows: the last 24 hours and the last 7 days, both ending now. Each window is
compared with the ``HOTSPOT_BASELINE_DAYS`` (28) days before it, cut into windows of the
same length (28 of a day, 4 of a week): their mean is the expected count λ. A count ``k``
is a spike when

    k ≥ HOTSPOT_MIN_COUNT (5)   and   P(X ≥ k) < HOTSPOT_P_VALUE (0.01), X ~ Poisson(λ)

— that is, when so many complaints in one window would happen by chance less than once in
a hundred ordinary windows, and they are at least a handful. The minimum keeps "two
instead of none" off the list, however unlikely. λ gets half a complaint added to the
baseline, ``(n + 0.5) / windows``, so that a value never seen before has a tiny
expectation rather than none. Spikes are ranked by how unlikely they are (−log₁₀ p), then
by count.

What counts
-----------
Complaints by their time of receipt; merged ones are left out (they count through the
complaint they were merged into). Keywords are matched afresh, with the current keyword
rules (``routing.keywords``), against the title and the start of the text of every
complaint in the five weeks: routing's stored matches (``Suggestion.matched``) reflect
the rules of the day each complaint arrived, and a rule added yesterday would make every
recent complaint look like a spike against a baseline it never saw. Areas are the
``location`` cut to its street or neighbourhood (``area_of``); complaints with coordinates
but no location fall into cells of ``HOTSPOT_GRID_DEGREES`` (0.01°, about 1 km).

The work is bounded by the five weeks of complaints (``received_at`` is indexed), read
once, in chunks, with only the columns needed.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import NamedTuple

from django.conf import settings
from django.db import models
from django.db.models.functions import Substr
from django.utils import timezone
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from complaints.models import Complaint
from routing import keywords
from routing.models import Category


class Dimension(models.TextChoices):
    CATEGORY = "category", _("Category")
    KEYWORD = "keyword", _("Keyword")
    AREA = "area", _("Area")


@dataclass(frozen=True)
class Window:
    code: str
    length: timedelta
    label: Promise


WINDOWS = (
    Window("24h", timedelta(hours=24), _("last 24 hours")),
    Window("7d", timedelta(days=7), _("last 7 days")),
)


@dataclass(frozen=True)
class WindowCount:
    """One value's count in one recent window, against its baseline."""

    window: Window
    count: int
    # The baseline's mean per window (unsmoothed), and whether there was any.
    usual: float
    baseline: int
    p_value: float
    flagged: bool
    # −log₁₀ p: how unusual.
    surprise: float

    @property
    def rare(self) -> bool:
        """Less than one in two windows before: a ratio would say more about the rarity
        than about the rise, so the page shows the baseline's count instead."""
        return self.usual < 0.5

    @property
    def ratio(self) -> float | None:
        """How many times the usual count; None for a rare value."""
        return None if self.rare else self.count / self.usual


@dataclass(frozen=True)
class Spike:
    """A value that is unusually frequent in at least one window."""

    dimension: str
    # Stable: a category code, a normalised phrase, an area key. Names the alert.
    key: str
    # One per window of WINDOWS, in that order, flagged or not.
    counts: tuple[WindowCount, ...]
    # The newest complaints of the last week, for links: (pk, tracking code).
    newest: tuple[tuple[int, str], ...]
    category: Category | None = None
    text: str = ""

    @property
    def label(self) -> str:
        """The value as shown: a category in the reader's language, else the text."""
        return self.category.name if self.category is not None else self.text

    @property
    def dimension_label(self) -> str:
        return str(Dimension(self.dimension).label)

    @property
    def worst(self) -> WindowCount:
        """The most unusual flagged window: what the spike is ranked and told by."""
        return max((count for count in self.counts if count.flagged), key=lambda c: c.surprise)

    def count_in(self, window: str) -> WindowCount:
        return next(count for count in self.counts if count.window.code == window)


# --- The statistics ---------------------------------------------------------------------


def poisson_log_tail(k: int, lam: float) -> float:
    """ln P(X ≥ k) for X ~ Poisson(λ), exact and without underflow for tiny tails."""
    if k <= 0:
        return 0.0
    if lam <= 0:
        return -math.inf

    def log_pmf(i: int) -> float:
        return -lam + i * math.log(lam) - math.lgamma(i + 1)

    if k <= lam:
        # Most of the mass is above k: 1 − P(X < k), which is at least about ½.
        below = math.fsum(math.exp(log_pmf(i)) for i in range(k))
        return math.log(max(1.0 - below, 1e-300))
    # Above the mean the terms only shrink: sum them from k until they stop mattering.
    logs, i = [log_pmf(k)], k + 1
    while i < k + 10_000:
        term = log_pmf(i)
        if term < logs[0] - 40:  # e^-40: nothing left to add at double precision
            break
        logs.append(term)
        i += 1
    top = max(logs)
    return top + math.log(math.fsum(math.exp(value - top) for value in logs))


def is_spike(count: int, baseline_total: int, windows: int) -> tuple[bool, float, float]:
    """The rule above: (spike?, expected count λ, ln p)."""
    expected = (baseline_total + 0.5) / windows
    log_p = poisson_log_tail(count, expected)
    minimum = settings.HOTSPOT_MIN_COUNT
    threshold = settings.HOTSPOT_P_VALUE
    return count >= minimum and log_p < math.log(threshold), expected, log_p


# --- Areas ------------------------------------------------------------------------------

# Up to the first street- or neighbourhood-level word: 幸福路88号 → 幸福路, 浦东新区张江镇…
# → 浦东新区张江镇, 光明小区垃圾站 → 光明小区.
_CN_AREA = re.compile(r"^.{0,24}?(?:街道|大道|大街|社区|小区|花园|广场|公园|路|街|巷|弄|镇|乡|村)")
_CJK = re.compile(r"[\u3400-\u9fff]")
# Where a place's name ends and its details begin: a number, a separator.
_CUT = re.compile(r"[\d,，;；/、(（]")
_HOUSE_NUMBER = re.compile(r"^(?:no\.?\s*)?\d+[a-z]?(?:[-/]\d+[a-z]?)?\s+", re.IGNORECASE)


def area_of(location: str) -> tuple[str, str]:
    """A complaint's ``location`` cut to its area: ``(key, label)``, or ``("", "")``.

    Chinese addresses keep everything up to the first street or neighbourhood word
    (district included); otherwise, and for addresses in Latin script, the text before
    the first number or separator (a leading house number is dropped). The key ignores
    case and spacing.
    """
    text = " ".join(unicodedata.normalize("NFKC", location or "").split())
    if not text:
        return "", ""
    if _CJK.search(text) and (match := _CN_AREA.match(text.replace(" ", ""))):
        label = match.group(0)
    else:
        text = _HOUSE_NUMBER.sub("", text)
        label = _CUT.split(text, maxsplit=1)[0].strip() or text
    label = label[:40]
    key = re.sub(r"\s+", "", label.casefold())
    return (f"place:{key}", label) if key else ("", "")


def cell_of(latitude: Decimal | float | None, longitude: Decimal | float | None) -> tuple[str, str]:
    """The grid cell of a point: ``(key, label)`` with the cell's centre, or ``("", "")``."""
    if latitude is None or longitude is None:
        return "", ""
    size = float(settings.HOTSPOT_GRID_DEGREES)
    row, column = math.floor(float(latitude) / size), math.floor(float(longitude) / size)
    centre = ((row + 0.5) * size, (column + 0.5) * size)
    label = _("around %(lat).3f, %(lon).3f") % {"lat": centre[0], "lon": centre[1]}
    return f"grid:{row}:{column}", str(label)


# --- Counting ---------------------------------------------------------------------------


class _Row(NamedTuple):
    id: int
    tracking_code: str
    received_at: datetime
    category_id: int | None
    location: str
    latitude: Decimal | None
    longitude: Decimal | None
    title: str
    start: str  # the beginning of the content


@dataclass
class _Tally:
    # Per window code: the count in the recent window, and in its baseline.
    recent: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    baseline: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    newest: list[tuple[int, str]] = field(default_factory=list)
    text: str = ""


def spikes(*, department_id: int | None = None, now: datetime | None = None) -> list[Spike]:
    """The spikes of every category, keyword and area, most unusual first.

    ``department_id``: only that department's complaints (a department head's view).
    """
    now = now or timezone.now()
    baseline_days = settings.HOTSPOT_BASELINE_DAYS
    baseline = timedelta(days=baseline_days)
    earliest = now - max(window.length for window in WINDOWS) - baseline
    complaints = Complaint.objects.filter(received_at__gte=earliest, received_at__lt=now).exclude(
        status=Complaint.Status.MERGED
    )
    if department_id is not None:
        complaints = complaints.filter(department_id=department_id)
    rows = (
        complaints.annotate(start=Substr("content", 1, 2000))
        .order_by("-received_at", "-id")
        .values_list(*_Row._fields)
    )
    matcher = keywords.matcher()
    tallies: dict[tuple[str, str], _Tally] = defaultdict(_Tally)
    # Places and phrases repeat a lot: each is worked out once.
    areas: dict[str, tuple[str, str]] = {}
    phrase_keys: dict[str, str] = {}
    for row in map(_Row._make, rows.iterator(chunk_size=2000)):
        values: list[tuple[str, str, str]] = []
        if row.category_id is not None:
            values.append((Dimension.CATEGORY, str(row.category_id), ""))
        for phrase in {hit.phrase for hit in matcher.match(f"{row.title}\n{row.start}")}:
            if phrase not in phrase_keys:
                phrase_keys[phrase] = keywords.normalize(phrase)
            values.append((Dimension.KEYWORD, phrase_keys[phrase], phrase))
        if row.location not in areas:
            areas[row.location] = area_of(row.location)
        area, label = areas[row.location]
        if not area:
            area, label = cell_of(row.latitude, row.longitude)
        if area:
            values.append((Dimension.AREA, area, label))
        age = now - row.received_at
        for dimension, key, text in values:
            tally = tallies[(dimension, key)]
            tally.text = tally.text or text
            if age < WINDOWS[-1].length and len(tally.newest) < 3:  # rows come newest first
                tally.newest.append((row.id, row.tracking_code))
            for window in WINDOWS:
                if age < window.length:
                    tally.recent[window.code] += 1
                elif age < window.length + baseline:
                    tally.baseline[window.code] += 1
    categories = Category.objects.in_bulk(
        [int(key) for dimension, key in tallies if dimension == Dimension.CATEGORY]
    )
    found = []
    for (dimension, key), tally in tallies.items():
        counts = tuple(_count(window, tally, baseline) for window in WINDOWS)
        if not any(count.flagged for count in counts):
            continue
        category = categories.get(int(key)) if dimension == Dimension.CATEGORY else None
        found.append(
            Spike(
                dimension=dimension,
                key=category.code if category is not None else key,
                counts=counts,
                newest=tuple(tally.newest),
                category=category,
                text=tally.text,
            )
        )
    found.sort(key=lambda spike: (-spike.worst.surprise, -spike.worst.count))
    return found


def _count(window: Window, tally: _Tally, baseline: timedelta) -> WindowCount:
    count, before = tally.recent[window.code], tally.baseline[window.code]
    windows = max(1, round(baseline / window.length))
    flagged, _expected, log_p = is_spike(count, before, windows)
    return WindowCount(
        window=window,
        count=count,
        usual=before / windows,
        baseline=before,
        p_value=math.exp(log_p),
        flagged=flagged,
        surprise=-log_p / math.log(10),
    )

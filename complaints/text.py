"""Comparing texts: cosine similarity of character bigrams.

Works for Chinese and English alike without word segmentation. Used to find repeated
petitions (``routing.duplicates``) and replies to similar complaints.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections import Counter

_NOISE = re.compile(r"[\s\W_]+", re.UNICODE)


def bigrams(text: str) -> Counter[str]:
    compact = _NOISE.sub("", unicodedata.normalize("NFKC", text or "").casefold())
    compact = re.sub(r"\d+", "0", compact)  # numbers say little about sameness
    return Counter(compact[i : i + 2] for i in range(max(len(compact) - 1, 1)))


def similarity(a: str, b: str) -> float:
    """Cosine similarity of character bigram counts, 0..1."""
    return cosine(bigrams(a), bigrams(b))


def cosine(left: Counter[str], right: Counter[str]) -> float:
    """Cosine similarity of two bigram counts (``bigrams``), 0..1: compare one text with
    many by computing its counts once."""
    if not left or not right:
        return 0.0
    dot = sum(count * right[gram] for gram, count in left.items())
    norm = math.sqrt(sum(c * c for c in left.values())) * math.sqrt(
        sum(c * c for c in right.values())
    )
    return dot / norm if norm else 0.0

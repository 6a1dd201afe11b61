"""Window counters in the shared cache (Redis, or files for the embedded default).

Used where guessing must be slow: tracking-code look-ups, per visitor and per code, and
API calls per caller. Each subject has one counter per fixed window; a limit (``hit``,
``exceeded``) is judged on a sliding window, the current count plus the previous
window's weighted by how much of it still lies within the last ``window`` seconds. A
fixed window alone would hand a script twice its limit across every window boundary
(the limit at the end of one window, again at the start of the next); the sliding
estimate keeps it to the limit. ``count`` alone stays per fixed window: the alarms rely
on exactly one attempt per window seeing the threshold.

The client's address comes from ``accounts.lockout.client_ip`` (which honours
``LOGIN_CLIENT_IP_HEADER`` behind a proxy), so the login lockout, these limits and the
audit log all count the same address.

The counters fail open: when the cache cannot be reached the attempt is let through and
the outage is logged. A limit that turns every visitor away while Redis restarts would
be an outage of its own; the look-up behind it stays as hard to guess as ever.
"""

from __future__ import annotations

import hashlib
import logging
import time

from django.core.cache import cache

logger = logging.getLogger(__name__)


def _key(scope: str, subject: str, window: int, *, back: int = 0) -> str:
    digest = hashlib.sha256(subject.encode()).hexdigest()[:32]
    return f"ratelimit:{scope}:{digest}:{int(time.time() // window) - back}"


def _carried(scope: str, subject: str, window: int) -> float:
    """The previous window's count, weighted by its share of the last ``window`` seconds."""
    previous = cache.get(_key(scope, subject, window, back=1))
    if previous is None:
        return 0.0
    return int(previous) * (1 - (time.time() % window) / window)


def count(scope: str, subject: str, *, window: int) -> int | None:
    """Count one attempt; how many the subject made in this window, this one included.

    None when the cache is unreachable (logged): the caller lets the attempt through.
    """
    key = _key(scope, subject, window)
    # Kept through the next window too, where the sliding limit still weighs it.
    timeout = 2 * window + 1
    try:
        if cache.add(key, 1, timeout=timeout):
            return 1
        try:
            return int(cache.incr(key))
        except ValueError:  # expired between add and incr
            cache.add(key, 1, timeout=timeout)
            return 1
    except Exception:  # any cache backend's failure (Redis down, disk full): fail open
        logger.warning("Rate limit %s not counted: the cache is unreachable", scope, exc_info=True)
        return None


def hit(scope: str, subject: str, *, limit: int, window: int) -> bool:
    """Count one attempt; True while the subject is within ``limit`` per ``window`` s."""
    made = count(scope, subject, window=window)
    if made is None:
        return True
    try:
        return made + _carried(scope, subject, window) <= limit
    except Exception:  # fail open, as in ``count``
        logger.warning("Rate limit %s not read: the cache is unreachable", scope, exc_info=True)
        return True


def exceeded(scope: str, subject: str, *, limit: int, window: int) -> bool:
    """Has the subject used up its attempts? (Does not count one.) False if unknown."""
    try:
        value = cache.get(_key(scope, subject, window))
        made = (int(value) if value is not None else 0) + _carried(scope, subject, window)
    except Exception:  # fail open, as in ``count``
        logger.warning("Rate limit %s not read: the cache is unreachable", scope, exc_info=True)
        return False
    return made >= limit


def window_left(window: int) -> int:
    """Seconds until the current fixed window ends: a Retry-After hint (the sliding limit
    may still weigh this window's attempts for a while after it)."""
    return max(1, int(window - time.time() % window))

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
from collections.abc import Callable

from django.core.cache import cache

logger = logging.getLogger(__name__)


def _key(scope: str, subject: str, window: int, *, back: int = 0) -> str:
    digest = hashlib.sha256(subject.encode()).hexdigest()[:32]
    return f"ratelimit:{scope}:{digest}:{int(time.time() // window) - back}"


def _weighted(scope: str, subject: str, window: int, *, current: int | None = None) -> float:
    """Attempts within the last ``window`` seconds, as the sliding limit counts them: this
    window's (read, unless ``current`` is given) plus the previous window's, weighted by
    the share of it still inside. One cache round trip."""
    previous_key, current_key = (_key(scope, subject, window, back=b) for b in (1, 0))
    found = cache.get_many([previous_key] if current is not None else [previous_key, current_key])
    made = current if current is not None else int(found.get(current_key) or 0)
    share = 1 - (time.time() % window) / window
    return made + int(found.get(previous_key) or 0) * share


def _fail_open(scope: str, judge: Callable[[], bool], *, otherwise: bool) -> bool:
    try:
        return judge()
    except Exception:  # any cache backend's failure, as in ``count``
        logger.warning("Rate limit %s not read: the cache is unreachable", scope, exc_info=True)
        return otherwise


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
    return _fail_open(
        scope, lambda: _weighted(scope, subject, window, current=made) <= limit, otherwise=True
    )


def exceeded(scope: str, subject: str, *, limit: int, window: int) -> bool:
    """Has the subject used up its attempts? (Does not count one.) False if unknown."""
    return _fail_open(scope, lambda: _weighted(scope, subject, window) >= limit, otherwise=False)


def window_left(window: int) -> int:
    """Seconds until the current fixed window ends: a Retry-After hint (the sliding limit
    may still weigh this window's attempts for a while after it)."""
    return max(1, int(window - time.time() % window))

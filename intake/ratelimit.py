"""Fixed-window counters in the shared cache (Redis, or files for the embedded default).

Used where guessing must be slow: tracking-code look-ups, per visitor and per code.
"""

from __future__ import annotations

import hashlib
import time

from django.core.cache import cache
from django.http import HttpRequest


def client_ip(request: HttpRequest) -> str:
    # Behind a proxy REMOTE_ADDR is the proxy; deployments that trust X-Forwarded-For set
    # it up in the proxy and pass REMOTE_ADDR through (e.g. gunicorn --forwarded-allow-ips).
    return request.META.get("REMOTE_ADDR", "") or "unknown"


def _key(scope: str, subject: str, window: int) -> str:
    digest = hashlib.sha256(subject.encode()).hexdigest()[:32]
    return f"ratelimit:{scope}:{digest}:{int(time.time() // window)}"


def hit(scope: str, subject: str, *, limit: int, window: int) -> bool:
    """Count one attempt; True while the subject is within ``limit`` per ``window`` s."""
    key = _key(scope, subject, window)
    if cache.add(key, 1, timeout=window + 1):
        return True
    try:
        count = cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.add(key, 1, timeout=window + 1)
        count = 1
    return count <= limit


def exceeded(scope: str, subject: str, *, limit: int, window: int) -> bool:
    """Has the subject used up its attempts? (Does not count one.)"""
    value = cache.get(_key(scope, subject, window))
    return value is not None and int(value) >= limit

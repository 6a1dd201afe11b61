"""Waiting for htmx in browser tests: never assert in the middle of a swap.

Every page of the browser fixtures counts htmx's ``htmx:afterSettle`` events
(``SETTLE_COUNTER``, installed as an init script). ``swap(page)`` wraps the action that
starts a request and returns once a swap has settled after it and no request is still
running — the moment a person would see the result.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

SETTLE_COUNTER = """
document.addEventListener("htmx:afterSettle", () => {
  window.__htmxSettled = (window.__htmxSettled || 0) + 1;
});
"""


def settled_count(page: Any) -> int:
    return int(page.evaluate("window.__htmxSettled || 0"))


@contextmanager
def swap(page: Any, timeout: float = 10_000) -> Iterator[None]:
    """Run the block (a click, a submit), then wait until htmx swapped and settled."""
    before = settled_count(page)
    yield
    # Polled with evaluate, not wait_for_function: Playwright runs a waited-for function
    # through eval inside the page, which the Content-Security-Policy (rightly) forbids.
    deadline = time.monotonic() + timeout / 1000
    condition = (
        f"(window.__htmxSettled || 0) > {before} && !document.querySelector('.htmx-request')"
    )
    while not page.evaluate(condition):
        if time.monotonic() > deadline:
            raise TimeoutError(f"htmx did not swap and settle within {timeout / 1000:.0f} s")
        page.wait_for_timeout(25)


def mark_document(page: Any) -> None:
    """Tag the current document; ``same_document`` tells later if it was never reloaded."""
    page.evaluate("window.__sameDocument = true")


def same_document(page: Any) -> bool:
    return bool(page.evaluate("window.__sameDocument === true"))

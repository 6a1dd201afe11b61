"""Browser journeys: Debian's Chromium driven by Playwright against a live server."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from typing import Any

import pytest

from tests.e2e.helpers import SETTLE_COUNTER

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="session", autouse=True)
def _plain_http_live_server() -> Iterator[None]:
    """The live server speaks plain HTTP: no HTTPS redirect, no Secure-only cookies.

    Session-wide and first, because the server builds its middleware (which reads these
    settings once) when it starts.
    """
    from django.test import override_settings

    with override_settings(
        SECURE_SSL_REDIRECT=False,
        SECURE_HSTS_SECONDS=0,
        SESSION_COOKIE_SECURE=False,
        CSRF_COOKIE_SECURE=False,
    ):
        yield


@pytest.fixture
def chromium() -> Iterator[Any]:
    # Per test: Playwright's event loop must not outlive the test, or every later test
    # would look like async code to Django.
    if CHROMIUM is None:
        pytest.skip("chromium is not installed (apt-get install chromium)")
    playwright_api = pytest.importorskip("playwright.sync_api")
    with playwright_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        yield browser
        # While Playwright's loop runs, Django keeps this test's connection apart from
        # the one its teardown closes; close it here or it stays open after the run.
        from django.db import connections

        connections.close_all()
        browser.close()


@pytest.fixture(autouse=True)
def _orm_beside_playwright(monkeypatch: pytest.MonkeyPatch) -> None:
    # Playwright's sync API keeps an event loop running in this thread; the test's own
    # ORM calls are still synchronous. Only for these tests: never in a deployment.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


@pytest.fixture
def phone(chromium: Any) -> Iterator[Any]:
    """A phone-sized page in Chinese."""
    context = chromium.new_context(
        locale="zh-CN", viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True
    )
    context.add_init_script(SETTLE_COUNTER)
    yield context.new_page()
    context.close()


@pytest.fixture
def desktop(chromium: Any) -> Iterator[Any]:
    context = chromium.new_context(locale="en-US", viewport={"width": 1280, "height": 900})
    context.add_init_script(SETTLE_COUNTER)
    yield context.new_page()
    context.close()

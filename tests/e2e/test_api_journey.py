"""A supervisor makes an API token in the console, a script uses it, and the docs work
without the internet."""

from __future__ import annotations

import json
import urllib.request
from typing import Any

import pytest

from accounts.models import AccessToken, User
from accounts.roles import Role
from tests.conftest import make_user
from tests.e2e.test_console_interaction import log_in
from tests.factories import complaint_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def call(url: str, token: str) -> tuple[int, Any]:
    request = urllib.request.Request(url, headers={"Authorization": f"Token {token}"})  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310 (live server)
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_a_token_is_made_shown_once_used_and_revoked(desktop: Any, live_server: Any) -> None:
    supervisor: User = make_user("supervisor", Role.SUPERVISOR)
    complaint = complaint_in("received")
    url = live_server.url
    log_in(desktop, url, "supervisor")

    desktop.click("a[href='/console/tokens/']")
    desktop.fill("#id_name", "nightly export")
    desktop.check("input[name=scope][value=write]")
    desktop.click("main button[type=submit]:has-text('Make token')")
    raw = desktop.locator("#new-token-value").input_value().strip()
    assert raw.startswith("stp_")
    assert AccessToken.objects.get(user=supervisor).token_hash != raw  # only its hash is kept

    status, body = call(f"{url}/api/v1/complaints/", raw)
    assert status == 200
    assert [c["tracking_code"] for c in body["results"]] == [complaint.tracking_code]

    # The token is not shown again: the list names it by its first characters only.
    desktop.goto(f"{url}/console/tokens/")
    assert raw not in desktop.content()
    assert raw[:12] in desktop.content()

    desktop.click("summary:has-text('Revoke')")
    desktop.click("button:has-text('Revoke now')")
    status, body = call(f"{url}/api/v1/complaints/", raw)
    assert status == 401
    assert body["code"] == "authentication_failed"


def test_the_interactive_docs_load_nothing_from_elsewhere(desktop: Any, live_server: Any) -> None:
    asked: list[str] = []
    desktop.on("request", lambda request: asked.append(request.url))
    desktop.goto(f"{live_server.url}/api/v1/docs/")
    desktop.locator(".opblock").first.wait_for(timeout=15_000)  # Swagger UI drew the operations
    assert desktop.locator(".opblock").count() > 50
    elsewhere = [u for u in asked if not u.startswith((live_server.url, "data:", "blob:"))]
    assert elsewhere == []

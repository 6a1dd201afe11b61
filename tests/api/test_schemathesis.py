"""Property-based: every operation of the schema, called with generated input, in-process.

Schemathesis generates requests from the schema (valid ones and invalid ones) and sends
them to the WSGI app; each answer must not be a server error (5xx), and its status code,
media type and body must be documented. Once as an administrator with a write token (who
may call nearly everything), once as a channel client with every scope.

Hypothesis is derandomized, so CI runs the same examples each time; a failure prints
the request that reproduces it.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

import hypothesis
import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from accounts.models import AccessToken, User
from intake.models import ChannelClient, ClientSubmission
from notifications.models import WebhookSubscription
from tests.api.schema import openapi
from tests.factories import complaint_in

# Examples and fuzzing (max_examples each); not the coverage phase, whose exhaustive
# boundary cases (~80 calls an operation) would take minutes per run.
CONFIG = schemathesis.Config.from_dict({"phases": {"coverage": {"enabled": False}}})
schema = schemathesis.openapi.from_dict(openapi(), config=CONFIG)

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
HYPOTHESIS = hypothesis.settings(
    max_examples=15,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(hypothesis.HealthCheck),
)


@pytest.fixture(autouse=True)
def _in_process(settings: Any) -> Iterator[None]:
    """The app as schemathesis calls it: host ``localhost``, inside the test's transaction.

    Django closes "old" connections when a request ends; within a test that would drop
    the test's transaction. Django's own test client switches that off for its requests,
    as this does for the WSGI calls.
    """
    settings.ALLOWED_HOSTS = ["localhost", "testserver"]
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


@pytest.fixture(autouse=True)
def _offline(monkeypatch: pytest.MonkeyPatch) -> None:
    """Never the network: a generated webhook address must not start a DNS look-up."""
    real = socket.getaddrinfo

    def numeric_only(
        host: Any, port: Any, family: int = 0, type: int = 0, proto: int = 0, flags: int = 0
    ) -> Any:
        return real(host, port, family, type, proto, flags | socket.AI_NUMERICHOST)

    monkeypatch.setattr(socket, "getaddrinfo", numeric_only)


@pytest.fixture
def wsgi(_in_process: None) -> Any:
    """The WSGI app, made per test: its middleware reads the settings (no HTTPS redirect in
    tests) when it is made."""
    return get_wsgi_application()


@pytest.fixture
def client(handler: User, local_webhooks: str) -> tuple[ChannelClient, str]:
    """A channel client with every scope, and things to find: complaints in several states
    (its own), a webhook subscription — so that some generated ids name real objects."""
    client, raw = ChannelClient.create_with_token(
        name="schemathesis", scopes=list(ChannelClient.Scope.values)
    )
    for status in ("received", "classified", "in_progress", "replied", "closed"):
        complaint = complaint_in(status, department=handler.department, assignee=handler)
        ClientSubmission.objects.create(client=client, complaint=complaint)
    subscription = WebhookSubscription(
        client=client, name="CRM", url=local_webhooks, events=["complaint.created"]
    )
    subscription.issue_secret()
    subscription.save()
    return client, raw


@pytest.fixture
def admin_headers(admin_user: User, client: tuple[ChannelClient, str]) -> dict[str, str]:
    _token, raw = AccessToken.create_with_token(
        user=admin_user, name="schemathesis", scope=AccessToken.Scope.WRITE
    )
    return {"Authorization": f"Token {raw}"}


@pytest.fixture
def client_headers(client: tuple[ChannelClient, str]) -> dict[str, str]:
    return {"Authorization": f"Token {client[1]}"}


@schema.parametrize()
@HYPOTHESIS
def test_as_administrator(
    case: schemathesis.Case, wsgi: Any, admin_headers: dict[str, str]
) -> None:
    case.call_and_validate(app=wsgi, headers=admin_headers, checks=CHECKS)


@schema.parametrize()
@HYPOTHESIS
def test_as_channel_client(
    case: schemathesis.Case, wsgi: Any, client_headers: dict[str, str]
) -> None:
    case.call_and_validate(app=wsgi, headers=client_headers, checks=CHECKS)

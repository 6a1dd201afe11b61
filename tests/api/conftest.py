"""Fixtures for API tests: a client whose every answer is checked against the schema.

    def test_something(api: Api, handler: User) -> None:
        api.as_staff(handler)
        response = api.get("/api/v1/complaints/")   # fails if the answer breaks the schema

``api.as_staff(user, scope="read")`` authenticates with a personal access token,
``api.as_client(scopes=[...])`` with a channel client's token, ``api.as_session(user)``
with the console's login, ``api.anonymous()`` with nothing. ``with api.unchecked():``
skips the schema check for answers a test provokes on purpose (a 405, say).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import pytest
from rest_framework.test import APIClient

from accounts.models import AccessToken, User
from intake.models import ChannelClient
from tests.api.schema import assert_matches_schema

ALL_SCOPES = tuple(ChannelClient.Scope.values)
_names = itertools.count(1)


class Api(APIClient):
    """An ``APIClient`` that checks every answer against the OpenAPI schema."""

    check_schema = True
    credential: AccessToken | ChannelClient | None = None

    def request(self, *args: Any, **kwargs: Any) -> Any:
        response = super().request(*args, **kwargs)
        if self.check_schema:
            assert_matches_schema(response)
        return response

    @contextmanager
    def unchecked(self) -> Iterator[Api]:
        previous, self.check_schema = self.check_schema, False
        try:
            yield self
        finally:
            self.check_schema = previous

    def anonymous(self) -> None:
        self.credentials()
        self.logout()
        self.credential = None

    def with_token(self, raw: str, credential: AccessToken | ChannelClient) -> None:
        """Authenticate with a token made elsewhere (``create_with_token``'s raw token)."""
        self.anonymous()
        self.credentials(HTTP_AUTHORIZATION=f"Token {raw}")
        self.credential = credential

    def as_staff(self, user: User, scope: str = AccessToken.Scope.WRITE) -> AccessToken:
        """A personal access token of ``user`` (``scope`` "read" or "write")."""
        token, raw = AccessToken.create_with_token(
            user=user, name=f"test token {next(_names)}", scope=scope
        )
        self.with_token(raw, token)
        return token

    def as_client(self, scopes: Sequence[str] = ALL_SCOPES, **fields: Any) -> ChannelClient:
        """A channel client holding ``scopes`` (all of them unless told)."""
        fields.setdefault("name", f"channel {next(_names)}")
        client, raw = ChannelClient.create_with_token(scopes=list(scopes), **fields)
        self.with_token(raw, client)
        return client

    def as_session(self, user: User) -> None:
        """Logged in as in the console (``force_login``)."""
        self.anonymous()
        self.force_login(user)


@pytest.fixture
def api(db: None) -> Api:
    return Api()


@pytest.fixture(autouse=True)
def _no_throttling(settings: Any) -> None:
    """Throttling off (0 = no limit) unless a test is about it: such a test sets the rates
    it needs and clears the counts (they live in the cache) itself."""
    settings.API_RATE_CLIENT = 0
    settings.API_RATE_STAFF = 0
    settings.API_RATE_ANONYMOUS = 0


LOCAL_HOOK = "https://127.0.0.1/hooks/sutong"


@pytest.fixture
def local_webhooks(settings: Any) -> str:
    """An address webhooks may go to in tests (``LOCAL_HOOK``): allowed by
    ``WEBHOOK_ALLOWED_HOSTS``, and an address, so it never needs a DNS look-up."""
    settings.WEBHOOK_ALLOWED_HOSTS = ["127.0.0.1"]
    return LOCAL_HOOK

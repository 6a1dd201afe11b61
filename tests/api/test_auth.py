"""Who may call the API, and how: tokens in the header only, hashed, expiring, throttled."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.core.cache import cache
from django.utils import timezone

from accounts.models import AccessToken, User
from intake.models import ChannelClient
from tests.api.conftest import Api


def client_with(raw: str) -> Api:
    client = Api()
    client.credentials(HTTP_AUTHORIZATION=f"Token {raw}")
    return client


@pytest.fixture(autouse=True)
def _fresh_counts() -> None:
    cache.clear()  # throttling counts live in the cache


def test_a_personal_access_token_acts_as_its_owner(supervisor: User) -> None:
    _, raw = AccessToken.create_with_token(user=supervisor, name="script")
    response = client_with(raw).get("/api/v1/complaints/")
    assert response.status_code == 200
    assert response.json()["results"] == []


def test_only_the_hash_of_a_token_is_stored(supervisor: User) -> None:
    token, raw = AccessToken.create_with_token(user=supervisor, name="script")
    stored = AccessToken.objects.values_list("token_hash", "token_hint").get(pk=token.pk)
    assert raw not in stored[0]
    assert stored[1] == raw[:12]


def test_bearer_works_as_well_as_token(supervisor: User) -> None:
    _, raw = AccessToken.create_with_token(user=supervisor, name="script")
    response = Api().get("/api/v1/complaints/", HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert response.status_code == 200


def test_no_credentials_answer_401_in_the_error_format(db: None) -> None:
    response = Api().get("/api/v1/complaints/", HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"
    body = response.json()
    assert body["code"] == "not_authenticated"
    assert body["message"]
    assert body["errors"] == []


@pytest.mark.parametrize(
    "change",
    [
        pytest.param(lambda t: t.revoke(), id="revoked"),
        pytest.param(
            lambda t: AccessToken.objects.filter(pk=t.pk).update(
                expires_at=timezone.now() - timedelta(seconds=1)
            ),
            id="expired",
        ),
        pytest.param(
            lambda t: User.objects.filter(pk=t.user_id).update(is_active=False), id="owner-gone"
        ),
    ],
)
def test_a_token_that_is_no_longer_usable_answers_401(supervisor: User, change: Any) -> None:
    token, raw = AccessToken.create_with_token(user=supervisor, name="script")
    change(token)
    response = client_with(raw).get("/api/v1/complaints/")
    assert response.status_code == 401
    assert response.json()["code"] == "authentication_failed"


def test_an_unknown_token_answers_401_in_the_callers_language(db: None) -> None:
    response = client_with("stp_nonsense").get("/api/v1/complaints/", HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 401
    assert "not valid" in response.json()["message"]
    response = client_with("stp_nonsense").get(
        "/api/v1/complaints/", HTTP_ACCEPT_LANGUAGE="zh-hans"
    )
    assert response.json()["message"] == "此令牌无效：它不存在、已过期或已被吊销。"


@pytest.mark.parametrize("name", ["token", "access_token", "api_key"])
def test_a_token_in_the_address_is_refused_even_when_valid(supervisor: User, name: str) -> None:
    _, raw = AccessToken.create_with_token(user=supervisor, name="script")
    response = Api().get(f"/api/v1/complaints/?{name}={raw}")
    assert response.status_code == 401
    assert response.json()["code"] == "token_in_query"


def test_use_is_recorded_with_time_and_address(supervisor: User) -> None:
    token, raw = AccessToken.create_with_token(user=supervisor, name="script")
    client_with(raw).get("/api/v1/complaints/", REMOTE_ADDR="203.0.113.9")
    token.refresh_from_db()
    assert token.last_used_at is not None
    assert token.last_used_ip == "203.0.113.9"


def test_a_read_only_token_cannot_change_anything(supervisor: User) -> None:
    _, raw = AccessToken.create_with_token(user=supervisor, name="reader", scope="read")
    response = client_with(raw).post("/api/v1/complaints/1/accept/", {}, format="json")
    assert response.status_code == 403
    assert response.json()["code"] == "permission_denied"


def test_a_channel_client_cannot_use_staff_endpoints(db: None) -> None:
    _, raw = ChannelClient.create_with_token(
        name="wechat", scopes=[s.value for s in ChannelClient.Scope]
    )
    assert client_with(raw).get("/api/v1/complaints/").status_code == 403


def test_intake_needs_the_intake_scope(db: None) -> None:
    _, raw = ChannelClient.create_with_token(name="reader", scopes=["read_own"])
    response = client_with(raw).post(
        "/api/v1/intake/", {"content": "x"}, format="json", HTTP_IDEMPOTENCY_KEY="k"
    )
    assert response.status_code == 403


def test_an_expired_channel_token_answers_401(db: None) -> None:
    _, raw = ChannelClient.create_with_token(
        name="old", expires_at=timezone.now() - timedelta(days=1)
    )
    response = client_with(raw).post("/api/v1/intake/", {}, format="json")
    assert response.status_code == 401


class TestThrottling:
    def test_a_client_over_its_own_limit_gets_429_with_retry_after(self, db: None) -> None:
        client, raw = ChannelClient.create_with_token(name="busy", scopes=["read_own"])
        ChannelClient.objects.filter(pk=client.pk).update(rate_limit=2)
        api = client_with(raw)
        assert [api.get("/api/v1/submissions/").status_code for _ in range(2)] == [200, 200]
        last = api.get("/api/v1/submissions/")
        assert last.status_code == 429
        assert last.json()["code"] == "throttled"
        assert 0 < last.json()["retry_after"] <= 60
        assert last["Retry-After"] == str(last.json()["retry_after"])

    def test_callers_are_counted_apart(self, supervisor: User, settings: Any) -> None:
        settings.API_RATE_STAFF = 1
        _, one = AccessToken.create_with_token(user=supervisor, name="one")
        _, two = AccessToken.create_with_token(user=supervisor, name="two")
        assert client_with(one).get("/api/v1/complaints/").status_code == 200
        assert client_with(one).get("/api/v1/complaints/").status_code == 429
        assert client_with(two).get("/api/v1/complaints/").status_code == 200


def test_an_unknown_address_answers_json_404(db: None) -> None:
    response = Api().get("/api/v1/no-such-thing/")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_the_schema_and_the_docs_are_served_without_the_internet(db: None) -> None:
    schema = Api().get("/api/v1/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert schema.status_code == 200
    assert schema.json()["openapi"].startswith("3.")
    docs = Api().get("/api/v1/docs/")
    assert docs.status_code == 200
    html = docs.content.decode()
    assert "swagger-ui" in html
    assert "cdn" not in html.lower()
    assert "/static/drf_spectacular_sidecar/" in html

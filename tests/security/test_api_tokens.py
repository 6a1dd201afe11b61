"""Tokens that must not work: revoked, expired, of a deactivated owner, malformed, another
client's, read-only for a write, or carried in the address. And a token never in the logs.

Both kinds are covered by every case that applies to them: personal access tokens
(``stp_…``, acting as a member of staff) and channel clients' tokens (``stc_…``).

A token in the address is answered 401 with the code ``token_in_query`` (README, "The REST
API"): the request is never authenticated by it — not even together with a valid header —
and the caller learns why, so that it revokes a token that has now been in logs.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.core.cache import cache
from django.test import Client
from django.utils import timezone

from accounts.models import AccessToken, Credential, User
from complaints.models import Complaint, Event
from intake.models import ChannelClient, ClientSubmission
from notifications.models import WebhookSubscription
from tests.factories import complaint_in

pytestmark = pytest.mark.django_db

STAFF_READ = "/api/v1/complaints/"
CLIENT_READ = "/api/v1/submissions/"


@pytest.fixture(autouse=True)
def _fresh(settings: Any) -> None:
    settings.API_RATE_CLIENT = settings.API_RATE_STAFF = settings.API_RATE_ANONYMOUS = 0
    cache.clear()


def call(raw: str | None, path: str, method: str = "get", **extra: Any) -> Any:
    client = Client()
    if raw is not None:
        extra["HTTP_AUTHORIZATION"] = f"Token {raw}"
    return getattr(client, method)(
        path, content_type="application/json", HTTP_ACCEPT_LANGUAGE="en", **extra
    )


def staff_token(user: User, scope: str = AccessToken.Scope.WRITE) -> tuple[AccessToken, str]:
    return AccessToken.create_with_token(user=user, name=f"script {scope}", scope=scope)


def channel_token(name: str = "crm") -> tuple[ChannelClient, str]:
    return ChannelClient.create_with_token(name=name, scopes=list(ChannelClient.Scope.values))


def rows(credential: Credential) -> Any:
    """The credential's own row, to change behind the model's back."""
    return type(credential).objects.filter(pk=credential.pk)  # type: ignore[attr-defined]


def _expire(credential: Credential) -> None:
    rows(credential).update(expires_at=timezone.now() - timedelta(seconds=1))


def _deactivate(credential: Credential) -> None:
    """Switched off in the back-office ("in use" unticked) rather than revoked."""
    rows(credential).update(is_active=False)


UNUSABLE: dict[str, Callable[[Credential], None]] = {
    "revoked": lambda c: c.revoke(),
    "expired": _expire,
    "deactivated": _deactivate,
}
KINDS = {
    "personal": (lambda users: staff_token(users["supervisor"]), STAFF_READ),
    "channel": (lambda users: channel_token(), CLIENT_READ),
}


@pytest.fixture
def users(supervisor: User) -> dict[str, User]:
    return {"supervisor": supervisor}


class TestUnusableTokens:
    @pytest.mark.parametrize("kind", KINDS)
    @pytest.mark.parametrize("change", UNUSABLE)
    def test_an_unusable_token_answers_401_and_is_not_noted_as_used(
        self, users: dict[str, User], kind: str, change: str
    ) -> None:
        make, path = KINDS[kind]
        credential, raw = make(users)
        assert call(raw, path).status_code == 200  # it worked before
        rows(credential).update(last_used_at=None)
        UNUSABLE[change](credential)

        response = call(raw, path)

        assert response.status_code == 401
        assert response.json()["code"] == "authentication_failed"
        assert response["WWW-Authenticate"] == "Token"
        credential.refresh_from_db()
        assert credential.last_used_at is None

    def test_the_token_of_a_deactivated_user_answers_401(self, supervisor: User) -> None:
        _, raw = staff_token(supervisor)
        User.objects.filter(pk=supervisor.pk).update(is_active=False)
        response = call(raw, STAFF_READ)
        assert response.status_code == 401
        assert response.json()["code"] == "authentication_failed"

    @pytest.mark.parametrize(
        "header",
        [
            "Token stp_",
            "Token stc_",
            "Token stp_" + "A" * 43,
            "Token stc_" + "A" * 43,
            "Token st_abc",
            "Token " + "x" * 5000,
            "Token",
            "Token a b",
            "Bearer stp_\u00e9\u00e9",
            "Token stp_%00",
            "Token stp_' OR '1'='1",
        ],
    )
    def test_a_malformed_or_unknown_token_answers_401(self, db: None, header: str) -> None:
        response = Client().get(STAFF_READ, HTTP_AUTHORIZATION=header)
        assert response.status_code == 401
        assert response.json()["code"] in {"authentication_failed", "not_authenticated"}

    def test_a_personal_token_with_one_character_changed_is_unknown(self, supervisor: User) -> None:
        _, raw = staff_token(supervisor)
        forged = raw[:-1] + ("A" if raw[-1] != "A" else "B")
        assert call(forged, STAFF_READ).status_code == 401
        assert call(raw, STAFF_READ).status_code == 200

    def test_a_channel_token_sent_as_a_personal_one_is_unknown(self, db: None) -> None:
        """The prefix picks the table: an stc_ secret under stp_ matches nothing."""
        _, raw = channel_token()
        assert call("stp_" + raw[4:], CLIENT_READ).status_code == 401


class TestOtherClientsComplaints:
    @pytest.fixture
    def theirs(self, handler: User) -> Complaint:
        other, _ = channel_token("other")
        complaint = complaint_in("received", department=handler.department)
        ClientSubmission.objects.create(client=other, complaint=complaint)
        return complaint

    @pytest.mark.parametrize(
        ("method", "suffix", "body"),
        [
            ("get", "", None),
            ("post", "supplement/", {"text": "more"}),
            ("post", "withdraw/", {"reason": "x"}),
            ("post", "survey/", {"resolved": True, "rating": 5}),
        ],
    )
    def test_another_clients_complaint_is_answered_as_if_it_did_not_exist(
        self, theirs: Complaint, method: str, suffix: str, body: Any
    ) -> None:
        _, mine = channel_token("mine")
        events = Event.objects.filter(complaint=theirs).count()
        missing = max(Complaint.objects.values_list("pk", flat=True)) + 1000

        other = call(mine, f"{CLIENT_READ}{theirs.pk}/{suffix}", method, data=body)
        none = call(mine, f"{CLIENT_READ}{missing}/{suffix}", method, data=body)

        assert other.status_code == none.status_code == 404
        assert other.json() == none.json()
        assert Event.objects.filter(complaint=theirs).count() == events
        assert theirs.tracking_code not in other.content.decode()

    def test_another_clients_complaint_is_not_in_the_list(self, theirs: Complaint) -> None:
        _, mine = channel_token("mine")
        response = call(mine, f"{CLIENT_READ}?tracking_code={theirs.tracking_code}")
        assert response.status_code == 200
        assert response.json()["results"] == []

    def test_another_clients_webhook_does_not_exist_for_it(self, db: None) -> None:
        other, _ = channel_token("other")
        hook = WebhookSubscription(
            client=other, name="CRM", url="https://127.0.0.1/h", events=["complaint.created"]
        )
        hook.issue_secret()
        hook.save()
        _, mine = channel_token("mine")
        for method in ("get", "delete"):
            assert call(mine, f"/api/v1/webhooks/{hook.pk}/", method).status_code == 404
        assert WebhookSubscription.objects.filter(pk=hook.pk).exists()


class TestReadOnlyTokens:
    @pytest.mark.parametrize(
        ("method", "path", "body"),
        [
            ("post", "/api/v1/complaints/{pk}/accept/", {}),
            ("post", "/api/v1/complaints/{pk}/notes/", {"body": "x"}),
            ("post", "/api/v1/complaints/{pk}/reply-draft/", {"body": "x"}),
            ("post", "/api/v1/complaints/{pk}/personal-data/", {"reason": "x"}),
            ("post", "/api/v1/complaints/", {"content": "x"}),
            ("post", "/api/v1/tokens/", {"name": "more"}),
        ],
    )
    def test_a_read_only_token_cannot_write_anything(
        self, handler: User, method: str, path: str, body: Any
    ) -> None:
        complaint = complaint_in("assigned", department=handler.department, assignee=handler)
        _, raw = staff_token(handler, AccessToken.Scope.READ)
        before = (Event.objects.count(), AccessToken.objects.count(), Complaint.objects.count())

        response = call(raw, path.format(pk=complaint.pk), method, data=body)

        assert response.status_code == 403
        assert (Event.objects.count(), AccessToken.objects.count(), Complaint.objects.count()) == (
            before
        )
        complaint.refresh_from_db()
        assert complaint.status == "assigned"

    def test_a_channel_client_without_the_scope_cannot_act(self, handler: User) -> None:
        client, raw = ChannelClient.create_with_token(name="reader", scopes=["read_own"])
        complaint = complaint_in("received", department=handler.department)
        ClientSubmission.objects.create(client=client, complaint=complaint)
        response = call(raw, f"{CLIENT_READ}{complaint.pk}/withdraw/", "post", data={})
        assert response.status_code == 403
        complaint.refresh_from_db()
        assert complaint.status == "received"


NAMES = ("token", "access_token", "api_key", "apikey", "auth_token", "key")


class TestTokensInTheAddress:
    @pytest.mark.parametrize("kind", KINDS)
    @pytest.mark.parametrize("name", NAMES)
    def test_a_token_in_the_address_never_authenticates(
        self, users: dict[str, User], kind: str, name: str
    ) -> None:
        make, path = KINDS[kind]
        credential, raw = make(users)
        rows(credential).update(last_used_at=None)

        alone = call(None, f"{path}?{name}={raw}")
        assert alone.status_code == 401
        assert alone.json()["code"] == "token_in_query"
        assert "results" not in alone.json()
        # Not even beside a valid header: the address is refused before anyone is trusted.
        both = call(raw, f"{path}?{name}={raw}")
        assert both.status_code == 401
        assert both.json()["code"] == "token_in_query"
        credential.refresh_from_db()
        assert credential.last_used_at is None

    def test_a_token_in_the_address_is_refused_on_writes_too(self, handler: User) -> None:
        complaint = complaint_in("assigned", department=handler.department, assignee=handler)
        _, raw = staff_token(handler)
        response = call(None, f"/api/v1/complaints/{complaint.pk}/accept/?token={raw}", "post")
        assert response.status_code == 401
        complaint.refresh_from_db()
        assert complaint.status == "assigned"

    def test_a_token_in_the_body_authenticates_nobody(self, db: None) -> None:
        _, raw = channel_token()
        response = call(
            None,
            "/api/v1/intake/",
            "post",
            data={"token": raw, "api_key": raw, "content": "x"},
            HTTP_IDEMPOTENCY_KEY="k1",
        )
        assert response.status_code == 401
        assert not Complaint.objects.exists()

    def test_the_refusal_says_why_in_the_callers_language(self, supervisor: User) -> None:
        _, raw = staff_token(supervisor)
        english = call(None, f"{STAFF_READ}?token={raw}").json()["message"]
        assert "Authorization header" in english
        chinese = Client().get(f"{STAFF_READ}?token={raw}", HTTP_ACCEPT_LANGUAGE="zh-hans")
        assert chinese.json()["message"] != english


class TestUseAndLogs:
    @pytest.mark.parametrize("kind", KINDS)
    def test_last_use_time_and_address_are_recorded(
        self, users: dict[str, User], kind: str
    ) -> None:
        make, path = KINDS[kind]
        credential, raw = make(users)
        before = timezone.now()
        assert call(raw, path, REMOTE_ADDR="203.0.113.9").status_code == 200
        credential.refresh_from_db()
        assert credential.last_used_at is not None
        assert credential.last_used_at >= before
        assert credential.last_used_ip == "203.0.113.9"

    @pytest.mark.parametrize("kind", KINDS)
    def test_no_token_reaches_the_logs(
        self, users: dict[str, User], kind: str, caplog: pytest.LogCaptureFixture
    ) -> None:
        make, path = KINDS[kind]
        credential, raw = make(users)
        with caplog.at_level(logging.DEBUG):
            call(raw, path)
            call(raw[:-2] + "xx", path)
            call(None, f"{path}?token={raw}")
            call(None, f"{path}?access_token={raw}&x=1")
            credential.revoke()
            call(raw, path)
        assert caplog.records, "the refused calls are logged"
        logged = "\n".join(
            [record.getMessage() for record in caplog.records]
            + [str(record.args) for record in caplog.records]
        )
        assert raw not in logged
        assert raw[12:] not in logged  # not even the part after the hint

    def test_making_and_revoking_a_token_logs_no_token(
        self, api_session: Client, caplog: pytest.LogCaptureFixture
    ) -> None:
        with caplog.at_level(logging.DEBUG):
            made = api_session.post(
                "/api/v1/tokens/", {"name": "nightly"}, content_type="application/json"
            ).json()
            api_session.delete(f"/api/v1/tokens/{made['id']}/")
        logged = "\n".join(record.getMessage() for record in caplog.records)
        assert "Access token" in logged
        assert made["token"] not in logged
        assert made["token"][12:] not in logged


@pytest.fixture
def api_session(handler: User) -> Client:
    client = Client()
    client.force_login(handler)
    return client


class TestGuessing:
    def test_an_address_that_keeps_presenting_invalid_tokens_is_refused_and_audited(
        self, supervisor: User, settings: Any
    ) -> None:
        from accounts.models import AuditEntry

        settings.API_TOKEN_FAILURES = 5
        _, good = staff_token(supervisor)
        for attempt in range(5):
            answer = call(f"stp_guess{attempt}", STAFF_READ)
            assert answer.status_code == 401, (attempt, answer.json())
        refused = call("stp_guess-more", STAFF_READ)
        assert refused.status_code == 429
        assert refused.json()["message"].startswith(
            "Too many invalid tokens from this address. Try again later."
        )
        assert int(refused["Retry-After"]) > 0
        # Refused before the look-up: from this address even a good token waits.
        assert call(good, STAFF_READ).status_code == 429
        # Another address is not affected.
        assert call(good, STAFF_READ, REMOTE_ADDR="192.0.2.7").status_code == 200
        alarms = AuditEntry.objects.filter(action="api.token_guessing_suspected")
        assert [(entry.ip, entry.detail["failures"]) for entry in alarms] == [("127.0.0.1", 5)]

    def test_good_tokens_do_not_count(self, supervisor: User, settings: Any) -> None:
        settings.API_TOKEN_FAILURES = 3
        _, good = staff_token(supervisor)
        for _attempt in range(10):
            assert call(good, STAFF_READ).status_code == 200
        assert call("stp_one-bad", STAFF_READ).status_code == 401

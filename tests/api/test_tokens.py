"""Managing tokens: personal access tokens through /api/v1/tokens/, channel clients' tokens
in the back-office and from the command line."""

from __future__ import annotations

import hashlib
import io
import re
from datetime import datetime, timedelta
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import AccessToken, User
from intake.models import ChannelClient
from tests.api.conftest import Api
from tests.factories import complaint_in

pytestmark = pytest.mark.django_db

URL = "/api/v1/tokens/"


def make(api: Api, **body: Any) -> Any:
    body.setdefault("name", "export script")
    return api.post(URL, body, format="json", HTTP_ACCEPT_LANGUAGE="en")


def with_token(raw: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {raw}")
    return client


class TestMakingTokens:
    def test_a_new_token_is_answered_once_and_only_its_hash_is_kept(
        self, api: Api, handler: User
    ) -> None:
        api.as_session(handler)
        response = make(api, scope="write")
        assert response.status_code == 201
        assert response["Cache-Control"] == "no-store"
        body = response.json()
        raw = body["token"]
        assert raw.startswith("stp_")
        assert body["token_hint"] == raw[:12]
        assert body["scope"] == "write"
        assert body["active"] is True
        assert body["expires_at"] is None
        stored = AccessToken.objects.get(pk=body["id"])
        assert stored.user == handler
        assert stored.token_hash == hashlib.sha256(raw.encode()).hexdigest()
        assert raw not in {stored.token_hash, stored.token_hint, stored.name}
        # Never again: not in the list, not in the token's own page.
        assert raw not in api.get(URL).content.decode()
        assert raw not in api.get(f"{URL}{body['id']}/").content.decode()
        assert "token" not in api.get(f"{URL}{body['id']}/").json()
        # And it works, as its owner.
        me = with_token(raw).get("/api/v1/me/").json()
        assert me["username"] == "handler"

    def test_read_only_unless_asked(self, api: Api, handler: User) -> None:
        api.as_session(handler)
        assert make(api).json()["scope"] == "read"

    def test_an_expiry_within_the_limit(self, api: Api, handler: User) -> None:
        api.as_session(handler)
        expires = (timezone.now() + timedelta(days=90)).replace(microsecond=0)
        body = make(api, expires_at=expires.isoformat()).json()
        assert datetime.fromisoformat(body["expires_at"]) == expires

    @pytest.mark.parametrize("days", [-1, 0, 366])
    def test_an_expiry_in_the_past_or_too_far_ahead_is_refused(
        self, api: Api, handler: User, days: int
    ) -> None:
        api.as_session(handler)
        response = make(api, expires_at=(timezone.now() + timedelta(days=days)).isoformat())
        assert response.status_code == 400
        [error] = response.json()["errors"]
        assert error["field"] == "expires_at"
        assert not AccessToken.objects.exists()

    def test_the_longest_life_is_a_setting(self, api: Api, handler: User, settings: Any) -> None:
        settings.API_TOKEN_MAX_DAYS = 30
        api.as_session(handler)
        too_long = make(api, expires_at=(timezone.now() + timedelta(days=31)).isoformat())
        assert too_long.status_code == 400
        assert "30 days" in too_long.json()["errors"][0]["message"]
        assert (
            make(api, expires_at=(timezone.now() + timedelta(days=29)).isoformat()).status_code
            == 201
        )

    def test_two_tokens_in_use_may_not_share_a_name(self, api: Api, handler: User) -> None:
        api.as_session(handler)
        first = make(api, name="nightly").json()
        again = make(api, name="nightly")
        assert again.status_code == 400
        assert again.json()["errors"][0]["field"] == "name"
        api.delete(f"{URL}{first['id']}/")
        assert make(api, name="nightly").status_code == 201

    def test_a_session_write_needs_the_csrf_token(self, handler: User) -> None:
        client = Api(enforce_csrf_checks=True)
        client.force_login(handler)
        response = client.post(URL, {"name": "x"}, format="json")
        assert response.status_code == 403
        assert not AccessToken.objects.exists()


class TestListingAndRevoking:
    def test_each_person_sees_only_their_own_tokens(
        self, api: Api, handler: User, supervisor: User, admin_user: User
    ) -> None:
        mine, _ = AccessToken.create_with_token(user=handler, name="mine")
        theirs, _ = AccessToken.create_with_token(user=supervisor, name="theirs")
        api.as_session(handler)
        listed = api.get(URL).json()["results"]
        assert [t["id"] for t in listed] == [mine.pk]
        assert api.get(f"{URL}{theirs.pk}/").status_code == 404
        assert api.delete(f"{URL}{theirs.pk}/").status_code == 404
        theirs.refresh_from_db()
        assert theirs.is_active
        # Administrators too: they revoke others' tokens in the back-office.
        api.as_session(admin_user)
        assert api.get(URL).json()["results"] == []

    def test_revoking_keeps_the_token_and_refuses_it_from_then_on(
        self, api: Api, handler: User
    ) -> None:
        token, raw = AccessToken.create_with_token(user=handler, name="script")
        assert with_token(raw).get("/api/v1/me/").status_code == 200
        api.as_session(handler)
        assert api.delete(f"{URL}{token.pk}/").status_code == 204
        token.refresh_from_db()
        assert token.is_active is False
        assert token.revoked_at is not None
        shown = api.get(f"{URL}{token.pk}/").json()
        assert shown["active"] is False
        assert shown["revoked_at"] is not None
        assert with_token(raw).get("/api/v1/me/").status_code == 401
        # Revoking again changes nothing.
        assert api.delete(f"{URL}{token.pk}/").status_code == 204

    def test_use_is_recorded_with_time_and_address(self, api: Api, handler: User) -> None:
        token, raw = AccessToken.create_with_token(user=handler, name="script")
        with_token(raw).get("/api/v1/me/", REMOTE_ADDR="203.0.113.7")
        api.as_session(handler)
        shown = api.get(f"{URL}{token.pk}/").json()
        assert shown["last_used_ip"] == "203.0.113.7"
        assert shown["last_used_at"] is not None

    def test_an_expired_token_is_listed_as_inactive_and_refused(
        self, api: Api, handler: User
    ) -> None:
        _, raw = AccessToken.create_with_token(
            user=handler, name="old", expires_at=timezone.now() - timedelta(minutes=1)
        )
        assert with_token(raw).get("/api/v1/me/").status_code == 401
        api.as_session(handler)
        [shown] = api.get(URL).json()["results"]
        assert shown["active"] is False
        assert shown["revoked_at"] is None


class TestOnlyAPersonManagesTokens:
    @pytest.mark.parametrize("scope", ["read", "write"])
    def test_a_token_cannot_make_read_or_revoke_tokens(
        self, api: Api, handler: User, scope: str
    ) -> None:
        token = api.as_staff(handler, scope=scope)
        for response in (
            api.get(URL),
            make(api),
            api.get(f"{URL}{token.pk}/"),
            api.delete(f"{URL}{token.pk}/"),
        ):
            assert response.status_code == 403
            assert response.json()["message"] in (
                "Log in to the console to manage tokens; a token cannot manage tokens.",
                "请登录工作台管理令牌；令牌不能用来管理令牌。",
            )
        assert AccessToken.objects.filter(user=handler).count() == 1
        token.refresh_from_db()
        assert token.is_active

    def test_a_channel_client_cannot_either(self, api: Api) -> None:
        api.as_client()
        assert api.get(URL).status_code == 403
        assert make(api).status_code == 403

    def test_nobody_is_asked_to_authenticate(self, api: Api) -> None:
        assert api.get(URL).status_code == 401
        assert make(api).status_code == 401

    def test_a_read_only_token_is_refused_every_write(
        self, api: Api, handler: User, urban: Any
    ) -> None:
        complaint = complaint_in("assigned", department=urban, assignee=handler)
        api.as_staff(handler, scope=AccessToken.Scope.READ)
        response = api.post(f"/api/v1/complaints/{complaint.pk}/accept/", {}, format="json")
        assert response.status_code == 403
        assert response.json()["message"] == "此令牌只能读取。如需修改，请创建具有读写权限的令牌。"
        complaint.refresh_from_db()
        assert complaint.status == "assigned"

    @pytest.mark.parametrize("name", ["token", "access_token", "api_key"])
    def test_a_token_in_the_address_is_refused(self, handler: User, name: str) -> None:
        _, raw = AccessToken.create_with_token(user=handler, name="script")
        response = APIClient().get(f"/api/v1/me/?{name}={raw}")
        assert response.status_code == 401
        assert response.json()["code"] == "token_in_query"

    def test_a_deactivated_owners_token_is_refused(self, handler: User) -> None:
        _, raw = AccessToken.create_with_token(user=handler, name="script")
        handler.is_active = False
        handler.save()
        assert with_token(raw).get("/api/v1/me/").status_code == 401


# --- Channel clients' tokens ------------------------------------------------------------


def run(command: str, *args: str) -> tuple[list[str], str]:
    out, err = io.StringIO(), io.StringIO()
    call_command(command, *args, stdout=out, stderr=err)
    return out.getvalue().splitlines(), err.getvalue()


class TestChannelClients:
    def test_the_command_prints_the_token_last_with_intake_by_default(self) -> None:
        lines, _ = run("create_channel_client", "crm")
        client = ChannelClient.objects.get(name="crm")
        assert ChannelClient.authenticate(lines[-1]) == client
        assert client.scopes == ["intake"]
        assert client.expires_at is None

    def test_the_command_takes_scopes_and_an_expiry(self) -> None:
        lines, err = run(
            "create_channel_client",
            "app",
            "--channel",
            "app",
            "--scope",
            "intake",
            "--scope",
            "read_own",
            "--scope",
            "read_own",
            "--expires-days",
            "30",
        )
        client = ChannelClient.objects.get(name="app")
        assert client.scopes == ["intake", "read_own"]
        assert client.channel == "app"
        assert client.expires_at is not None
        assert abs(client.expires_at - timezone.now() - timedelta(days=30)) < timedelta(minutes=1)
        assert re.fullmatch(r"stc_[\w-]+", lines[-1])
        assert lines[-1] not in err
        assert ChannelClient.authenticate(lines[-1]) == client

    def test_the_command_refuses_an_unknown_scope(self) -> None:
        with pytest.raises(CommandError, match="invalid choice"):
            call_command("create_channel_client", "x", "--scope", "everything")
        assert not ChannelClient.objects.exists()

    def test_the_back_office_shows_scopes_expiry_and_limit(self, admin_user: User) -> None:
        client, _ = ChannelClient.create_with_token(name="wechat", scopes=["intake", "read_own"])
        client.note_use("198.51.100.4")
        browser = Client(HTTP_ACCEPT_LANGUAGE="en")
        browser.force_login(admin_user)
        listing = browser.get("/admin/intake/channelclient/")
        assert listing.status_code == 200
        assert "198.51.100.4" in listing.content.decode()
        page = browser.get(f"/admin/intake/channelclient/{client.pk}/change/").content.decode()
        assert 'type="checkbox" name="scopes" value="read_own"' in page
        assert 'name="rate_limit"' in page
        assert 'name="expires_at_0"' in page
        assert "198.51.100.4" in page  # last used from, read-only

    def test_the_back_office_saves_scopes_expiry_and_limit(self, admin_user: User) -> None:
        browser = Client(HTTP_ACCEPT_LANGUAGE="en")
        browser.force_login(admin_user)
        response = browser.post(
            "/admin/intake/channelclient/add/",
            {
                "name": "hotline",
                "channel": "hotline",
                "scopes": ["intake", "webhooks"],
                "expires_at_0": "2030-01-31",
                "expires_at_1": "12:00:00",
                "rate_limit": "30",
            },
            follow=True,
        )
        assert "shown only now" in response.content.decode()
        client = ChannelClient.objects.get(name="hotline")
        assert client.scopes == ["intake", "webhooks"]
        assert client.rate_limit == 30
        assert client.expires_at is not None
        assert client.expires_at.year == 2030
        browser.post(
            f"/admin/intake/channelclient/{client.pk}/change/",
            {
                "name": "hotline",
                "channel": "hotline",
                "scopes": ["read_own"],
                "expires_at_0": "",
                "expires_at_1": "",
                "rate_limit": "",
            },
        )
        client.refresh_from_db()
        assert client.scopes == ["read_own"]
        assert client.rate_limit is None
        assert client.expires_at is None

"""Personal access tokens: made by their owners in the console, revoked by them or by an
administrator in the back-office, made from the command line for set-ups without a browser."""

from __future__ import annotations

import io
import re
from datetime import timedelta
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django.test import Client
from django.utils import timezone

from accounts import tokens
from accounts.models import AccessToken, User, hash_token

pytestmark = pytest.mark.django_db

TOKEN = re.compile(r"stp_[\w-]{20,}")


def console(user: User, language: str = "en") -> Client:
    client = Client(HTTP_ACCEPT_LANGUAGE=language)
    client.force_login(user)
    return client


# --- The rules, written once ------------------------------------------------------------


class TestIssuing:
    def test_only_the_hash_is_kept(self, handler: User) -> None:
        token, raw = tokens.issue(user=handler, name="export", scope="read", expires_at=None)
        assert token.token_hash == hash_token(raw)
        assert AccessToken.authenticate(raw) == token
        assert not AccessToken.objects.filter(token_hash=raw).exists()

    @pytest.mark.parametrize(
        ("name", "scope", "days", "field"),
        [
            ("  ", "read", None, "name"),
            ("export", "admin", None, "scope"),
            ("export", "read", -1, "expires_at"),
            ("export", "read", 366, "expires_at"),
        ],
    )
    def test_what_is_refused(
        self, handler: User, name: str, scope: str, days: int | None, field: str
    ) -> None:
        expires = timezone.now() + timedelta(days=days) if days is not None else None
        with pytest.raises(ValidationError) as refused:
            tokens.issue(user=handler, name=name, scope=scope, expires_at=expires)
        assert list(refused.value.message_dict) == [field]
        assert not AccessToken.objects.exists()

    def test_a_name_in_use_is_refused_until_its_token_is_revoked(self, handler: User) -> None:
        first, _ = tokens.issue(user=handler, name="export", scope="read", expires_at=None)
        with pytest.raises(ValidationError):
            tokens.issue(user=handler, name="export", scope="read", expires_at=None)
        assert tokens.revoke(first, by=handler) is True
        assert tokens.revoke(first, by=handler) is False  # once
        tokens.issue(user=handler, name="export", scope="read", expires_at=None)

    def test_a_token_is_usable_until_it_expires_or_is_revoked(self, handler: User) -> None:
        token, _ = tokens.issue(
            user=handler,
            name="soon",
            scope="read",
            expires_at=timezone.now() + timedelta(days=1),
        )
        assert tokens.usable(token)
        token.expires_at = timezone.now() - timedelta(seconds=1)
        assert not tokens.usable(token)


# --- The console page -------------------------------------------------------------------


class TestConsolePage:
    def test_the_page_lists_my_tokens_only(self, handler: User, supervisor: User) -> None:
        AccessToken.create_with_token(user=handler, name="my export")
        AccessToken.create_with_token(user=supervisor, name="theirs-4711")
        page = console(handler).get("/console/tokens/")
        assert page.status_code == 200
        text = page.content.decode()
        assert "my export" in text
        assert "theirs-4711" not in text
        assert "/api/v1/docs/" in text

    def test_make_a_token_see_it_once(self, handler: User) -> None:
        browser = console(handler)
        made = browser.post(
            "/console/tokens/", {"name": "weekly export", "scope": "write", "expires": "30"}
        )
        assert made.status_code == 302
        assert made["Location"] == "/console/tokens/made/"
        shown = browser.get("/console/tokens/made/")
        assert shown.status_code == 200
        assert "no-store" in shown["Cache-Control"]
        match = TOKEN.search(shown.content.decode())
        assert match is not None
        raw = match.group(0)
        token = AccessToken.objects.get(user=handler)
        assert AccessToken.authenticate(raw) == token
        assert token.scope == "write"
        assert token.expires_at is not None
        assert abs(token.expires_at - timezone.now() - timedelta(days=30)) < timedelta(minutes=1)
        # Never again: the result page is gone, the list shows only the first characters.
        assert browser.get("/console/tokens/made/")["Location"] == "/console/tokens/"
        listing = browser.get("/console/tokens/").content.decode()
        assert raw not in listing
        assert token.token_hint in listing

    def test_by_default_read_only_for_ninety_days(self, handler: User) -> None:
        form = console(handler).get("/console/tokens/").content.decode()
        assert re.search(r'<option value="90" selected>', form)
        assert re.search(r'value="read"[^>]*checked', form)

    def test_a_token_that_never_expires(self, handler: User) -> None:
        console(handler).post(
            "/console/tokens/", {"name": "forever", "scope": "read", "expires": "never"}
        )
        assert AccessToken.objects.get(user=handler).expires_at is None

    def test_choices_beyond_the_longest_life_are_not_offered(
        self, handler: User, settings: Any
    ) -> None:
        settings.API_TOKEN_MAX_DAYS = 90
        browser = console(handler)
        form = browser.get("/console/tokens/").content.decode()
        assert 'value="365"' not in form
        refused = browser.post("/console/tokens/", {"name": "x", "scope": "read", "expires": "365"})
        assert refused.status_code == 400
        assert not AccessToken.objects.exists()

    def test_a_mistake_is_shown_on_the_form(self, handler: User) -> None:
        AccessToken.create_with_token(user=handler, name="export")
        page = console(handler).post(
            "/console/tokens/", {"name": "export", "scope": "read", "expires": "90"}
        )
        assert page.status_code == 400
        assert "with this name already" in page.content.decode()
        assert AccessToken.objects.count() == 1

    def test_revoke_my_token(self, handler: User) -> None:
        token, raw = AccessToken.create_with_token(user=handler, name="export")
        browser = console(handler)
        assert "Revoke now" in browser.get("/console/tokens/").content.decode()
        done = browser.post(f"/console/tokens/{token.pk}/revoke/", follow=True)
        assert "is revoked" in done.content.decode()
        token.refresh_from_db()
        assert not token.is_active
        assert AccessToken.authenticate(raw) is None
        assert "Revoked" in done.content.decode()

    def test_revoking_needs_a_post(self, handler: User) -> None:
        token, _ = AccessToken.create_with_token(user=handler, name="export")
        assert console(handler).get(f"/console/tokens/{token.pk}/revoke/").status_code == 405
        token.refresh_from_db()
        assert token.is_active

    def test_nobody_revokes_someone_elses_token_here(self, handler: User, admin_user: User) -> None:
        token, _ = AccessToken.create_with_token(user=handler, name="export")
        assert console(admin_user).post(f"/console/tokens/{token.pk}/revoke/").status_code == 404
        token.refresh_from_db()
        assert token.is_active

    def test_the_page_needs_a_login(self, db: None) -> None:
        response = Client().get("/console/tokens/")
        assert response.status_code == 302
        assert response["Location"].startswith("/console/login/")

    def test_the_page_speaks_chinese(self, handler: User) -> None:
        page = console(handler, "zh-hans").get("/console/tokens/")
        assert page.status_code == 200
        assert 'lang="zh-hans"' in page.content.decode()

    def test_the_header_links_to_the_page(self, handler: User) -> None:
        home = console(handler).get("/console/", follow=True).content.decode()
        assert 'href="/console/tokens/"' in home


# --- The back-office --------------------------------------------------------------------


class TestBackOffice:
    def test_administrators_see_everyones_tokens(
        self, admin_user: User, handler: User, supervisor: User
    ) -> None:
        AccessToken.create_with_token(user=handler, name="handler export")
        token, _ = AccessToken.create_with_token(user=supervisor, name="nightly")
        token.note_use("192.0.2.9")
        browser = console(admin_user)
        listing = browser.get("/admin/accounts/accesstoken/")
        assert listing.status_code == 200
        text = listing.content.decode()
        assert "handler export" in text
        assert "nightly" in text
        assert "192.0.2.9" in text
        page = browser.get(f"/admin/accounts/accesstoken/{token.pk}/change/")
        assert page.status_code == 200
        assert token.token_hint in page.content.decode()

    def test_no_token_is_made_or_deleted_in_the_back_office(
        self, admin_user: User, handler: User
    ) -> None:
        token, _ = AccessToken.create_with_token(user=handler, name="export")
        browser = console(admin_user)
        assert browser.get("/admin/accounts/accesstoken/add/").status_code == 403
        assert browser.get(f"/admin/accounts/accesstoken/{token.pk}/delete/").status_code == 403
        listing = browser.get("/admin/accounts/accesstoken/").content.decode()
        assert 'value="delete_selected"' not in listing
        assert 'value="revoke"' in listing

    def test_an_administrator_revokes_anyones_token(self, admin_user: User, handler: User) -> None:
        token, raw = AccessToken.create_with_token(user=handler, name="export")
        browser = console(admin_user)
        browser.post(
            "/admin/accounts/accesstoken/", {"action": "revoke", "_selected_action": [token.pk]}
        )
        token.refresh_from_db()
        assert not token.is_active
        assert token.revoked_at is not None
        assert AccessToken.authenticate(raw) is None


# --- The command ------------------------------------------------------------------------


def run(*args: str) -> tuple[list[str], str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("create_access_token", *args, stdout=out, stderr=err)
    return out.getvalue().splitlines(), err.getvalue()


class TestCommand:
    def test_it_prints_a_read_only_token_last(self, handler: User) -> None:
        lines, err = run("handler", "nightly export")
        token = AccessToken.objects.get(user=handler)
        assert AccessToken.authenticate(lines[-1]) == token
        assert token.name == "nightly export"
        assert token.scope == "read"
        assert token.expires_at is None
        assert lines[-1] not in err

    def test_write_access_and_an_expiry(self, handler: User) -> None:
        lines, _ = run("handler", "sync", "--write", "--expires-days", "30")
        token = AccessToken.objects.get(user=handler)
        assert token.scope == "write"
        assert token.expires_at is not None
        assert abs(token.expires_at - timezone.now() - timedelta(days=30)) < timedelta(minutes=1)
        assert TOKEN.fullmatch(lines[-1])

    @pytest.mark.parametrize(
        "args",
        [
            ("nobody", "x"),
            ("handler", "x", "--expires-days", "0"),
            ("handler", "x", "--expires-days", "400"),
        ],
    )
    def test_what_it_refuses(self, handler: User, args: tuple[str, ...]) -> None:
        with pytest.raises(CommandError):
            run(*args)
        assert not AccessToken.objects.exists()

    def test_no_token_for_a_user_who_cannot_log_in(self, handler: User) -> None:
        handler.is_active = False
        handler.save()
        with pytest.raises(CommandError, match="cannot log in"):
            run("handler", "x")

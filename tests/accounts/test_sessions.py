"""Logging in starts a new session; deactivating a user ends theirs at once."""

from __future__ import annotations

from typing import Any

import pytest
from django.conf import settings as django_settings
from django.contrib.sessions.models import Session
from django.test import Client
from django.utils import timezone

from accounts.models import User
from accounts.sessions import end_sessions


def logged_in_client(username: str) -> Client:
    client = Client()
    response = client.post("/console/login/", {"username": username, "password": "pw"})
    assert response.status_code == 302
    return client


def sessions_of(user: User) -> list[str]:
    return [
        s.session_key
        for s in Session.objects.all()
        if s.get_decoded().get("_auth_user_id") == str(user.pk)
    ]


def test_logging_in_starts_a_new_session_and_drops_the_old_one(clerk: User) -> None:
    client = Client()
    session = client.session
    session["seen"] = True
    session.save()
    before = session.session_key
    assert before is not None

    client.post("/console/login/", {"username": "clerk", "password": "pw"})

    after = client.cookies[django_settings.SESSION_COOKIE_NAME].value
    assert after != before
    assert not Session.objects.filter(session_key=before).exists()
    assert client.session["seen"] is True  # the data moves to the new key

    # Whoever still holds the pre-login id (fixation) is not logged in with it.
    attacker = Client()
    attacker.cookies[django_settings.SESSION_COOKIE_NAME] = before
    assert attacker.get("/console/").status_code == 302


def test_a_deactivated_user_is_logged_out_at_once(clerk: User) -> None:
    client = logged_in_client("clerk")
    assert client.get("/console/").status_code == 200

    clerk.is_active = False
    clerk.save()

    response = client.get("/console/")
    assert response.status_code == 302
    assert response["Location"].startswith("/console/login/")
    assert sessions_of(clerk) == []


def test_deactivating_ends_every_session_of_that_user_only(clerk: User, dispatcher: User) -> None:
    phone, desk = logged_in_client("clerk"), logged_in_client("clerk")
    colleague = logged_in_client("dispatcher")
    assert len(sessions_of(clerk)) == 2

    clerk.is_active = False
    clerk.save(update_fields=["is_active"])

    assert sessions_of(clerk) == []
    assert phone.get("/console/").status_code == 302
    assert desk.get("/console/").status_code == 302
    assert colleague.get("/console/").status_code == 200


def test_deactivating_through_the_back_office_ends_the_sessions(
    clerk: User, admin_user: User
) -> None:
    client = logged_in_client("clerk")
    admin = Client()
    admin.force_login(admin_user)
    joined = timezone.localtime(clerk.date_joined)
    # The change form as posted back with "Active" unticked (an unticked box is not sent).
    response = admin.post(
        f"/admin/accounts/user/{clerk.pk}/change/",
        {
            "username": "clerk",
            "first_name": clerk.first_name,
            "groups": [group.pk for group in clerk.groups.all()],
            "date_joined_0": joined.strftime("%Y-%m-%d"),
            "date_joined_1": joined.strftime("%H:%M:%S"),
        },
    )
    assert response.status_code == 302

    clerk.refresh_from_db()
    assert not clerk.is_active
    assert sessions_of(clerk) == []
    assert client.get("/console/").status_code == 302


def test_a_bulk_update_sends_no_signal_but_still_logs_the_user_out(clerk: User) -> None:
    client = logged_in_client("clerk")
    User.objects.filter(pk=clerk.pk).update(is_active=False)
    assert client.get("/console/").status_code == 302


def test_saving_an_active_user_keeps_their_sessions(clerk: User) -> None:
    client = logged_in_client("clerk")
    clerk.first_name = "Ada"
    clerk.save()
    assert client.get("/console/").status_code == 200


def test_cached_db_sessions_are_ended_too(settings: Any, clerk: User) -> None:
    settings.SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    client = logged_in_client("clerk")

    clerk.is_active = False
    clerk.save()

    assert sessions_of(clerk) == []
    assert client.get("/console/").status_code == 302


@pytest.mark.parametrize(
    "engine",
    ["django.contrib.sessions.backends.cache", "django.contrib.sessions.backends.signed_cookies"],
)
def test_engines_that_cannot_be_searched_rely_on_get_user(
    settings: Any, clerk: User, engine: str
) -> None:
    settings.SESSION_ENGINE = engine
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    client = logged_in_client("clerk")

    clerk.is_active = False
    clerk.save()

    assert end_sessions(clerk) == 0
    assert client.get("/console/").status_code == 302


def test_deactivating_revokes_the_users_tokens_for_good(clerk: User, dispatcher: User) -> None:
    from accounts.models import AccessToken

    mine, _ = AccessToken.create_with_token(user=clerk, name="script")
    theirs, _ = AccessToken.create_with_token(user=dispatcher, name="script")
    clerk.is_active = False
    clerk.save()
    clerk.is_active = True
    clerk.save()
    mine.refresh_from_db()
    theirs.refresh_from_db()
    assert (mine.is_active, mine.revoked_at is not None) == (False, True)
    assert theirs.is_active

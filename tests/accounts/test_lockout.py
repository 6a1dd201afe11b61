"""Repeated failed logins lock the username, and throttle the client address."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine
from asgiref.sync import async_to_sync
from django.contrib.auth import aauthenticate, authenticate
from django.test import Client, RequestFactory

from accounts import lockout
from accounts.models import LoginFailure, User

CONSOLE = "/console/login/"
ADMIN = "/admin/login/"
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def log_in(client: Client, username: str, password: str, *, url: str = CONSOLE) -> Any:
    return client.post(url, {"username": username, "password": password}, HTTP_ACCEPT_LANGUAGE="en")


def logged_in(client: Client) -> bool:
    return "_auth_user_id" in client.session


def fail(client: Client, username: str, times: int, *, url: str = CONSOLE) -> None:
    for _ in range(times):
        assert log_in(client, username, "wrong", url=url).status_code == 200


def test_five_wrong_passwords_lock_the_username_even_for_the_right_one(clerk: User) -> None:
    client = Client()
    fail(client, "clerk", 4)
    response = log_in(client, "clerk", "wrong")
    assert "Too many failed attempts. Try again in 15 minutes." in response.content.decode()

    response = log_in(client, "clerk", "pw")
    assert response.status_code == 200
    assert "Too many failed attempts. Try again in 15 minutes." in response.content.decode()
    assert not logged_in(client)


def test_a_wrong_password_before_the_limit_gets_the_usual_message(clerk: User) -> None:
    page = log_in(Client(), "clerk", "wrong").content.decode()
    assert "Your user name and password did not match." in page
    assert "Too many failed attempts" not in page


def test_the_lock_ends_after_the_lockout_window(clerk: User) -> None:
    client = Client()
    with time_machine.travel(T0, tick=False) as clock:
        fail(client, "clerk", 5)
        clock.shift(timedelta(minutes=14))
        page = log_in(client, "clerk", "pw").content.decode()
        assert "Too many failed attempts. Try again in 1 minute." in page
        clock.shift(timedelta(minutes=1, seconds=1))
        assert log_in(client, "clerk", "pw").status_code == 302
        assert logged_in(client)


def test_failures_spread_over_more_than_the_window_do_not_lock(clerk: User) -> None:
    client = Client()
    with time_machine.travel(T0, tick=False) as clock:
        for _ in range(5):
            fail(client, "clerk", 1)
            clock.shift(timedelta(minutes=4))
        assert log_in(client, "clerk", "pw").status_code == 302


def test_a_successful_login_clears_the_users_failures(clerk: User) -> None:
    client = Client()
    fail(client, "clerk", 4)
    assert log_in(client, "clerk", "pw").status_code == 302
    assert not LoginFailure.objects.filter(username="clerk").exists()

    client.post("/console/logout/")
    fail(client, "clerk", 4)
    assert log_in(client, "clerk", "pw").status_code == 302


def test_unknown_usernames_lock_like_real_ones(db: None) -> None:
    client = Client()
    fail(client, "nobody", 5)
    page = log_in(client, "nobody", "wrong").content.decode()
    assert "Too many failed attempts." in page


def test_one_address_cannot_spray_many_usernames(clerk: User) -> None:
    spray = Client(REMOTE_ADDR="203.0.113.7")
    for n in range(20):
        fail(spray, f"guess{n}", 1)

    page = log_in(spray, "clerk", "pw").content.decode()
    assert "Too many failed attempts. Try again in 15 minutes." in page
    assert not logged_in(spray)
    # The username itself is not locked: from elsewhere its owner logs in.
    assert log_in(Client(REMOTE_ADDR="198.51.100.2"), "clerk", "pw").status_code == 302


def test_the_address_limit_is_a_setting(settings: Any, clerk: User) -> None:
    settings.LOGIN_IP_MAX_FAILURES = 2
    client = Client()
    fail(client, "a", 1)
    fail(client, "b", 1)
    assert "Too many failed attempts." in log_in(client, "clerk", "pw").content.decode()


def test_the_back_office_login_is_locked_too(admin_user: User) -> None:
    client = Client()
    fail(client, "root", 5, url=ADMIN)
    page = log_in(client, "root", "pw", url=ADMIN).content.decode()
    assert "Too many failed attempts. Try again in 15 minutes." in page
    assert not logged_in(client)


def test_failures_at_either_door_count_together(admin_user: User) -> None:
    client = Client()
    fail(client, "root", 3, url=CONSOLE)
    fail(client, "root", 2, url=ADMIN)
    assert log_in(client, "root", "pw", url=CONSOLE).status_code == 200
    assert not logged_in(client)


def test_the_back_office_still_refuses_non_staff_with_its_own_message(clerk: User) -> None:
    page = log_in(Client(), "clerk", "pw", url=ADMIN).content.decode()
    assert "staff account" in page
    assert "Too many failed attempts" not in page


def test_no_other_door_authenticates_a_locked_username(clerk: User) -> None:
    fail(Client(), "clerk", 5)
    assert Client().login(username="clerk", password="pw") is False
    assert authenticate(username="clerk", password="pw") is None
    assert async_to_sync(aauthenticate)(username="clerk", password="pw") is None


def test_a_lockout_is_logged_without_the_password(
    clerk: User, caplog: pytest.LogCaptureFixture
) -> None:
    client = Client()
    with caplog.at_level(logging.WARNING, logger="accounts.lockout"):
        for _ in range(5):
            log_in(client, "clerk", "s3cret-guess")
    warnings = [r.getMessage() for r in caplog.records if r.name == "accounts.lockout"]
    assert len(warnings) == 1
    assert "'clerk'" in warnings[0]
    assert "s3cret-guess" not in warnings[0]


def test_failures_older_than_two_windows_are_pruned(db: None) -> None:
    with time_machine.travel(T0, tick=False) as clock:
        lockout.record_failure(username="clerk", ip=None)
        clock.shift(timedelta(minutes=31))
        lockout.record_failure(username="clerk", ip=None)
    assert LoginFailure.objects.count() == 1


def test_the_client_address_comes_from_the_configured_proxy_header(settings: Any) -> None:
    factory = RequestFactory()
    request = factory.get("/", HTTP_X_FORWARDED_FOR="6.6.6.6, 192.0.2.10")
    assert lockout.client_ip(request) == "127.0.0.1"

    settings.LOGIN_CLIENT_IP_HEADER = "HTTP_X_FORWARDED_FOR"
    assert lockout.client_ip(request) == "192.0.2.10"
    assert lockout.client_ip(factory.get("/")) == "127.0.0.1"
    assert lockout.client_ip(factory.get("/", HTTP_X_FORWARDED_FOR="not-an-ip")) is None

"""Guessing passwords: locks per username and per address at every door, one answer for
every kind of failure, and no way to tell an existing username from an unknown one.

The lock itself (its window, its setting, its end) is tested in tests/accounts/
test_lockout.py; this adds what an attacker would probe: the answers compared with each
other, the password hasher on the unknown-user path, inactive users, the API's doors, and
the password reset that Sutong deliberately does not have.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any, ClassVar

import pytest
from django.contrib.auth.hashers import MD5PasswordHasher
from django.test import Client
from django.urls import NoReverseMatch, reverse

from accounts.models import LoginFailure, User

CONSOLE = "/console/login/"
ADMIN = "/admin/login/"
DOORS = [CONSOLE, ADMIN]


def log_in(client: Client, url: str, username: str, password: str) -> Any:
    return client.post(url, {"username": username, "password": password}, HTTP_ACCEPT_LANGUAGE="en")


def answer(response: Any) -> tuple[int, tuple[str, ...], str]:
    """What a login answer tells: status, templates, and the page without its CSRF token
    and the username echoed back into the form."""
    page = response.content.decode()
    page = re.sub(r'name="csrfmiddlewaretoken" value="[^"]*"', "", page)
    page = re.sub(r'"X-CSRFToken": "[^"]*"', "", page)
    page = re.sub(r'(name="username"[^>]*?) value="[^"]*"', r"\1", page)
    templates = tuple(t.name for t in response.templates if t.name)
    return response.status_code, templates, page


@pytest.fixture
def people(clerk: User, admin_user: User) -> dict[str, User]:
    """A member of staff, an administrator, and a deactivated one (right password "pw")."""
    gone = User.objects.create_user(username="gone", password="pw", is_staff=True)
    User.objects.filter(pk=gone.pk).update(is_active=False)
    return {"clerk": clerk, "root": admin_user, "gone": gone}


@pytest.mark.parametrize("door", DOORS)
def test_unknown_user_wrong_password_and_inactive_user_get_the_same_answer(
    people: dict[str, User], door: str
) -> None:
    username = "root" if door == ADMIN else "clerk"
    wrong = answer(log_in(Client(), door, username, "wrong"))
    unknown = answer(log_in(Client(), door, "nobody", "wrong"))
    inactive_right = answer(log_in(Client(), door, "gone", "pw"))
    inactive_wrong = answer(log_in(Client(), door, "gone", "wrong"))

    assert wrong[0] == 200
    assert unknown == wrong
    assert inactive_right == wrong
    assert inactive_wrong == wrong
    for word in ("does not exist", "no such user", "inactive", "disabled", "deactivated"):
        assert word not in wrong[2].lower()


@pytest.mark.parametrize("door", DOORS)
def test_a_locked_known_and_a_locked_unknown_username_get_the_same_answer(
    people: dict[str, User], door: str
) -> None:
    known, unknown = Client(REMOTE_ADDR="192.0.2.1"), Client(REMOTE_ADDR="192.0.2.2")
    for _ in range(5):
        log_in(known, door, "clerk", "wrong")
        log_in(unknown, door, "nobody", "wrong")

    locked_known = answer(log_in(known, door, "clerk", "wrong"))
    locked_unknown = answer(log_in(unknown, door, "nobody", "wrong"))
    locked_right = answer(log_in(known, door, "clerk", "pw"))

    assert "Too many failed attempts" in locked_known[2]
    assert locked_known == locked_unknown
    assert locked_right == locked_known  # the right password tells nothing during a lock
    assert "_auth_user_id" not in known.session


@pytest.mark.parametrize("door", DOORS)
@pytest.mark.parametrize("username", ["clerk", "nobody", "gone"])
def test_every_door_locks_a_username_after_five_failures(
    people: dict[str, User], door: str, username: str
) -> None:
    for n in range(5):
        # Each from its own address: the username's lock, not the address's.
        log_in(Client(REMOTE_ADDR=f"198.51.100.{n + 1}"), door, username, "wrong")
    elsewhere = Client(REMOTE_ADDR="198.51.100.99")
    assert "Too many failed attempts" in log_in(elsewhere, door, username, "pw").content.decode()
    assert "_auth_user_id" not in elsewhere.session


@pytest.mark.parametrize("door", DOORS)
def test_every_door_locks_an_address_after_twenty_failures(
    people: dict[str, User], door: str
) -> None:
    spray = Client(REMOTE_ADDR="203.0.113.50")
    for n in range(20):
        log_in(spray, door, f"guess{n}", "wrong")
    page = log_in(spray, door, "root", "pw").content.decode()
    assert "Too many failed attempts" in page
    assert "_auth_user_id" not in spray.session
    assert LoginFailure.objects.filter(ip="203.0.113.50").count() == 20  # none during the lock


def test_a_lock_gained_at_one_door_holds_at_the_other(people: dict[str, User]) -> None:
    for _ in range(5):
        log_in(Client(), ADMIN, "root", "wrong")
    client = Client()
    assert "Too many failed attempts" in log_in(client, CONSOLE, "root", "pw").content.decode()
    assert not client.login(username="root", password="pw")


class CountingHasher(MD5PasswordHasher):
    """MD5, counting the passwords it hashes: the tests' own hasher, observed."""

    hashed: ClassVar[list[str]] = []

    def encode(self, password: str, salt: str) -> str:
        self.hashed.append(password)
        return super().encode(password, salt)


@pytest.fixture
def counting(settings: Any) -> Iterator[list[str]]:
    settings.PASSWORD_HASHERS = [f"{__name__}.CountingHasher"]
    CountingHasher.hashed.clear()
    yield CountingHasher.hashed
    CountingHasher.hashed.clear()


@pytest.mark.parametrize("door", DOORS)
def test_an_unknown_username_still_costs_a_password_hash(
    people: dict[str, User], counting: list[str], door: str
) -> None:
    """The time of an answer does not tell whether the username exists: the unknown user
    path hashes the password as the known one does (Django's ModelBackend, kept by
    accounts.backends.LockoutBackend)."""
    log_in(Client(), door, "nobody", "guess-1")
    assert "guess-1" in counting
    log_in(Client(), door, "clerk", "guess-2")
    assert "guess-2" in counting
    log_in(Client(), door, "gone", "guess-3")
    assert "guess-3" in counting


def test_the_api_takes_no_password(people: dict[str, User]) -> None:
    """No API door checks a password, so none can be used to guess one past the lock:
    HTTP Basic is not accepted, and tokens are made only from a logged-in session."""
    import base64

    basic = "Basic " + base64.b64encode(b"clerk:pw").decode()
    assert Client().get("/api/v1/me/", HTTP_AUTHORIZATION=basic).status_code == 401
    made = Client().post(
        "/api/v1/tokens/",
        {"username": "clerk", "password": "pw", "name": "x"},
        content_type="application/json",
    )
    assert made.status_code in (401, 403)
    assert not LoginFailure.objects.exists()  # nothing was even tried
    assert not people["clerk"].access_tokens.exists()


@pytest.mark.parametrize(
    "name", ["password_reset", "admin_password_reset", "console:password_reset"]
)
def test_there_is_no_password_reset_to_abuse(db: None, name: str) -> None:
    """Sutong has no self-service password reset (administrators set passwords in the
    back-office), so there is no reset form to enumerate users or flood mailboxes with."""
    with pytest.raises(NoReverseMatch):
        reverse(name)
    for url in ("/console/password-reset/", "/admin/password_reset/", "/password-reset/"):
        # Nothing answers but a 404 or the back-office's "log in first".
        page = Client().get(url, follow=True)
        assert page.status_code in (200, 404)
        assert page.redirect_chain in ([], [(f"{ADMIN}?next={url}", 302)])
        assert 'name="email"' not in page.content.decode()
    assert "password_reset" not in Client().get(ADMIN).content.decode()

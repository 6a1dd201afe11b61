"""Passwords are hashed with Argon2; older PBKDF2 hashes still work and are upgraded."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.hashers import make_password
from django.test import Client

from accounts.models import User
from config import settings as production


@pytest.fixture
def production_hashers(settings: Any) -> None:
    # The autouse fixture in tests/conftest.py swaps in MD5 for speed; undo it here.
    settings.PASSWORD_HASHERS = production.PASSWORD_HASHERS


@pytest.mark.usefixtures("production_hashers")
def test_new_passwords_are_hashed_with_argon2(db: None) -> None:
    user = User.objects.create_user(username="ada", password="a long passphrase")
    assert user.password.startswith("argon2")
    assert user.check_password("a long passphrase")


@pytest.mark.usefixtures("production_hashers")
def test_an_old_pbkdf2_hash_still_logs_in_and_is_upgraded_to_argon2(db: None) -> None:
    user = User.objects.create(
        username="ada", password=make_password("a long passphrase", hasher="pbkdf2_sha256")
    )
    assert user.password.startswith("pbkdf2_sha256$")

    response = Client().post(
        "/console/login/", {"username": "ada", "password": "a long passphrase"}
    )

    assert response.status_code == 302
    user.refresh_from_db()
    assert user.password.startswith("argon2")

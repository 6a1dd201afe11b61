"""Shared fixtures: the organisation, one persona per role, and complaint factories."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import Group
from django.db import connection

from accounts.models import User
from accounts.roles import Role
from routing.models import Category, Department


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    skip_pg = pytest.mark.skip(reason="needs PostgreSQL (set DATABASE_URL=postgres://…)")
    skip_chaos = pytest.mark.skip(reason="fault injection: run with `make chaos`")
    on_postgres = connection.vendor == "postgresql"
    chaos = Path(__file__).parent / "chaos"
    for item in items:
        if "postgres" in item.keywords and not on_postgres:
            item.add_marker(skip_pg)
        if chaos in Path(item.path).parents:
            item.add_marker(pytest.mark.chaos)
            if not os.environ.get("SUTONG_CHAOS"):
                item.add_marker(skip_chaos)


@pytest.fixture(autouse=True)
def _test_settings(settings: Any) -> None:
    # Production's manifest storage needs collectstatic; tests render templates without it.
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    # Real hashing costs ~0.3 s per user; tests need passwords to work, not to be strong.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    # The test client speaks plain HTTP; production's HTTPS redirect is tested on its own.
    settings.SECURE_SSL_REDIRECT = False
    # Each test's transaction is rolled back, marks and all: a process's memory of having
    # marked a day a moment ago would outlive it. Tested on its own (test_rollups.py).
    settings.REPORTING_MARK_EVERY = 0


@pytest.fixture
def urban(db: None) -> Department:
    return Department.objects.create(
        code="urban_management", name_zh="城市管理局", name_en="Urban Management Bureau"
    )


@pytest.fixture
def market(db: None) -> Department:
    return Department.objects.create(
        code="market_regulation", name_zh="市场监督管理局", name_en="Market Regulation Bureau"
    )


@pytest.fixture
def facilities(urban: Department) -> Category:
    return Category.objects.create(
        code="facilities", name_zh="设施设备", name_en="Facilities", default_department=urban
    )


def make_user(username: str, role: Role, department: Department | None = None) -> User:
    user = User.objects.create_user(
        username=username, password="pw", department=department, first_name=username
    )
    user.groups.add(Group.objects.get(name=role.value))
    return User.objects.get(pk=user.pk)  # fresh: no cached permissions


@pytest.fixture
def clerk(db: None) -> User:
    return make_user("clerk", Role.INTAKE_CLERK)


@pytest.fixture
def dispatcher(db: None) -> User:
    return make_user("dispatcher", Role.DISPATCHER)


@pytest.fixture
def handler(urban: Department) -> User:
    return make_user("handler", Role.HANDLER, urban)


@pytest.fixture
def colleague(urban: Department) -> User:
    """Another handler in the same department as ``handler``."""
    return make_user("colleague", Role.HANDLER, urban)


@pytest.fixture
def market_handler(market: Department) -> User:
    return make_user("market_handler", Role.HANDLER, market)


@pytest.fixture
def head(urban: Department) -> User:
    return make_user("head", Role.DEPARTMENT_HEAD, urban)


@pytest.fixture
def market_head(market: Department) -> User:
    return make_user("market_head", Role.DEPARTMENT_HEAD, market)


@pytest.fixture
def supervisor(db: None) -> User:
    return make_user("supervisor", Role.SUPERVISOR)


@pytest.fixture
def auditor(db: None) -> User:
    return make_user("auditor", Role.AUDITOR)


@pytest.fixture
def admin_user(db: None) -> User:
    return User.objects.create_superuser(username="root", password="pw", email="root@example.com")


@pytest.fixture(scope="session")
def django_db_modify_db_settings(django_db_modify_db_settings_parallel_suffix: None) -> None:
    """No persistent connections in tests: a thread that ends (the live server's request
    threads) would otherwise keep its session open, blocking the test database's drop."""
    from django.conf import settings

    settings.DATABASES["default"]["CONN_MAX_AGE"] = 0


@pytest.fixture(scope="session", autouse=True)
def _tasks_run_inline() -> None:
    """Tasks queued by code under test run at once, in-process, and their errors surface.

    Tests that are about real delivery start a worker of their own.
    """
    from config.celery import app

    app.conf.task_always_eager = True
    app.conf.task_eager_propagates = True

"""Fault-injection tests (``make chaos``): real processes on PostgreSQL and Redis, killed
and cut off on purpose. Skipped by ``make test``; ``make chaos`` sets SUTONG_CHAOS=1."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.chaos import stack


def _reachable() -> str | None:
    """Why the chaos tests cannot run here, or None."""
    try:
        stack.admin_sql("SELECT 1")
    except Exception as error:
        return f"PostgreSQL at {stack.SERVER_URL} is not reachable: {error}"
    try:
        import redis

        redis.Redis.from_url(f"{stack.REDIS_BASE}/{stack.REDIS_DB}").ping()
    except Exception as error:
        return f"Redis at {stack.REDIS_BASE} is not reachable: {error}"
    return None


@pytest.fixture(scope="session")
def chaos_template(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The seeded template database, made once per session; yields the static root."""
    problem = _reachable()
    if problem:
        pytest.fail(problem)  # `make chaos` was asked for: a missing service is an error
    yield stack.make_template(tmp_path_factory.mktemp("chaos-template"))
    stack.drop_database(stack.TEMPLATE)


@pytest.fixture
def sutong(chaos_template: Path, tmp_path: Path) -> Iterator[stack.Stack]:
    """A fresh Sutong (database from the seeded template, empty Redis database); the
    processes a test starts through it are stopped by their own ``with`` blocks."""
    var_dir = tmp_path / "var"
    var_dir.mkdir()
    current = stack.new_stack(var_dir, chaos_template)
    try:
        yield current
    finally:
        stack.drop_database(current.database)


FIGURES = pytest.StashKey[list[tuple[str, str]]]()


@pytest.fixture
def figures(request: pytest.FixtureRequest) -> Callable[[str], None]:
    """Report a measured figure: printed in the run's summary, without ``-s``."""
    kept = request.config.stash.setdefault(FIGURES, [])
    return lambda text: kept.append((request.node.name, text))


def pytest_terminal_summary(
    terminalreporter: pytest.TerminalReporter, config: pytest.Config
) -> None:
    kept = config.stash.get(FIGURES, [])
    if kept:
        terminalreporter.section("chaos figures")
        for test, text in kept:
            terminalreporter.write_line(f"{test}: {text}")

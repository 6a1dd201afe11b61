"""REPORTS_DATABASE_URL: the settings add a ``replica`` alias, and reports read from it.

The reads themselves are checked in ``replica_reads.py``, in a pytest of its own started
with the variable set (the alias must exist when the settings load): the replica points at
the same test database as a test mirror.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings as django_settings

from tests.processes import ROOT, clean_environment
from tests.test_settings import read_settings


def test_without_the_variable_there_is_no_replica(tmp_path: Path) -> None:
    values = read_settings(clean_environment(tmp_path), "DATABASES", "DATABASE_ROUTERS")
    assert set(values["DATABASES"]) == {"default"}
    assert values["DATABASE_ROUTERS"] == ["reporting.replica.ReportsRouter"]


def test_the_variable_adds_a_replica_alias(tmp_path: Path) -> None:
    env = clean_environment(
        tmp_path,
        DATABASE_URL="postgres://u@primary:5432/sutong",
        REPORTS_DATABASE_URL="postgres://reader@replica:5432/sutong",
    )
    replica = read_settings(env, "DATABASES")["DATABASES"]["replica"]
    assert (replica["HOST"], replica["USER"]) == ("replica", "reader")
    assert replica["TEST"] == {"MIRROR": "default"}


@pytest.mark.slow
def test_reports_and_exports_read_from_the_replica(tmp_path: Path) -> None:
    database = django_settings.DATABASES["default"]
    overrides = {}
    if database["ENGINE"].endswith("postgresql"):
        # A database of its own, so its test database does not collide with this run's.
        url = os.environ["DATABASE_URL"].rsplit("/", 1)[0] + f"/{database['NAME']}_replica"
        overrides = {"DATABASE_URL": url, "REPORTS_DATABASE_URL": url}
    else:
        overrides = {"REPORTS_DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}"}
    env = clean_environment(tmp_path, **overrides)
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "tests/reporting/replica_reads.py", "-q", "-p",
         "no:cacheprovider", "-rs"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )  # fmt: skip
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "5 passed" in output, output
    assert "skipped" not in output, output

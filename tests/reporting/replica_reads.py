"""Reports read from the replica: run by test_replica.py with REPORTS_DATABASE_URL set.

Not collected on its own (no ``test_`` prefix): it needs the ``replica`` alias, which
only exists when the settings are loaded with that variable. The replica is configured as
a test mirror of ``default``, so it reads the very test database through a connection of
its own; the tests commit (``transaction=True``) so that connection sees their rows.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from django.db import connections, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext

from accounts.models import User
from complaints.models import Complaint
from reporting import exports
from reporting.models import ExportJob
from reporting.replica import REPLICA, reads_from_replica
from routing.models import Department
from tests.factories import complaint_in

pytestmark = [
    pytest.mark.skipif(
        REPLICA not in connections.settings, reason="run by test_replica.py (REPORTS_DATABASE_URL)"
    ),
    pytest.mark.django_db(transaction=True, databases=["default", "replica"]),
]


@contextmanager
def queries() -> Iterator[tuple[CaptureQueriesContext, CaptureQueriesContext]]:
    with (
        CaptureQueriesContext(connections["default"]) as primary,
        CaptureQueriesContext(connections[REPLICA]) as replica,
    ):
        yield primary, replica


def tables(captured: CaptureQueriesContext, verb: str) -> str:
    return " ".join(q["sql"] for q in captured.captured_queries if q["sql"].startswith(verb))


def test_the_replica_is_a_mirror_of_the_test_database() -> None:
    assert connections[REPLICA].settings_dict["TEST"]["MIRROR"] == "default"
    assert (
        connections[REPLICA].settings_dict["NAME"] == connections["default"].settings_dict["NAME"]
    )


def test_the_reports_page_reads_from_the_replica(supervisor: User, urban: Department) -> None:
    complaint_in("assigned", department=urban)
    client = Client()
    client.force_login(supervisor)

    with queries() as (primary, replica):
        response = client.get("/reports/")

    assert response.status_code == 200
    assert "reporting_" in tables(replica, "SELECT")
    # The primary only answers who is asking (session and user, before the view).
    assert "reporting_" not in tables(primary, "SELECT")


def test_the_hotspots_page_reads_from_the_replica(supervisor: User, urban: Department) -> None:
    complaint_in("assigned", department=urban)
    client = Client()
    client.force_login(supervisor)

    with queries() as (primary, replica):
        assert client.get("/reports/hotspots/").status_code == 200

    assert "complaints_complaint" in tables(replica, "SELECT")
    assert "complaints_complaint" not in tables(primary, "SELECT")


def test_an_export_reads_rows_from_the_replica_and_writes_to_the_primary(
    head: User, urban: Department, settings: Any, tmp_path: Any
) -> None:
    settings.MEDIA_ROOT = tmp_path
    for _ in range(3):
        complaint_in("assigned", department=urban)
    client = Client()
    client.force_login(head)

    # At once (in the web request)…
    with queries() as (primary, replica):
        direct = client.post(
            "/reports/exports/", {"export": "complaints", "query": "q=department", "format": "csv"}
        )
    assert direct.status_code == 200
    assert "complaints_complaint" in tables(replica, "SELECT")
    assert "complaints_complaint" not in tables(primary, "SELECT")
    assert "reporting_exportjob" in tables(primary, "INSERT")
    assert not tables(replica, "INSERT")
    assert not tables(replica, "UPDATE")

    # …and by the worker.
    queued = ExportJob.objects.create(
        owner=head,
        kind=ExportJob.Kind.COMPLAINTS,
        format=ExportJob.Format.CSV,
        filters=exports.filters_from_query("q=department"),
        status=ExportJob.Status.QUEUED,
    )
    with queries() as (primary, replica):
        job = exports.run(queued.pk)
    assert job is not None
    assert (job.status, job.rows_done) == (ExportJob.Status.DONE, 3)
    assert "complaints_complaint" in tables(replica, "SELECT")
    assert "complaints_complaint" not in tables(primary, "SELECT")
    assert not tables(replica, "UPDATE")


def test_writes_and_transactions_inside_the_block_use_the_primary(urban: Department) -> None:
    complaint = complaint_in("received")
    with reads_from_replica():
        assert Complaint.objects.db_manager().all().db == REPLICA
        with transaction.atomic():
            # A service locking a row reads the primary: the replica refuses locks.
            assert Complaint.objects.select_for_update().get(pk=complaint.pk).pk == complaint.pk
            assert Complaint.objects.all().db == "default"
        read = Complaint.objects.get(pk=complaint.pk)
        assert read._state.db == REPLICA
        read.title = "改过"
        read.save(update_fields=["title"])
    assert Complaint.objects.using("default").get(pk=complaint.pk).title == "改过"
    # Outside the block: the primary, as always.
    assert Complaint.objects.all().db == "default"

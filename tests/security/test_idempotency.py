"""Fast companions of the intake fault tests (tests/chaos/test_intake_faults.py,
test_database_down.py): what a database failure answers, that it stores nothing half-way,
and that the crash hook the chaos tests arm is inert unless armed.

The database "fails" through Django's own query hook (``connection.execute_wrapper``):
every query, or only a chosen one, raises ``OperationalError`` as a dropped PostgreSQL
connection would. The chaos tests cut a real connection.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from django.db import OperationalError, connection
from django.test import Client, RequestFactory

from complaints.models import Complaint, Event, Petitioner
from intake.models import ChannelClient, IdempotencyRecord
from ops import faults
from ops.unavailable import RETRY_AFTER_SECONDS, server_error
from sla.models import Deadline
from tests.intake.test_portal import FORM
from tests.processes import ROOT, clean_environment

pytestmark = pytest.mark.django_db

URL = "/api/v1/intake/"
BODY = {
    "kind": "complaint",
    "title": "井盖丢失",
    "content": "人民路口的井盖丢了。",
    "petitioner": {"name": "王芳", "phone": "13987654321"},
}
UNAVAILABLE = "The service is briefly unavailable. Please try again in a moment."


@pytest.fixture
def token(db: None) -> str:
    _, raw = ChannelClient.create_with_token(name="wechat", channel="wechat")
    return raw


@pytest.fixture(autouse=True)
def _media(settings: Any, tmp_path: Path) -> None:
    settings.MEDIA_ROOT = tmp_path


@contextmanager
def database_failing(when: Callable[[str], bool] = lambda sql: True) -> Iterator[list[str]]:
    """Queries whose SQL satisfies ``when`` fail as on a lost connection; yields them."""
    failed: list[str] = []

    def refuse(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        if when(sql):
            failed.append(sql)
            raise OperationalError("server closed the connection unexpectedly")
        return execute(sql, params, many, context)

    with connection.execute_wrapper(refuse):
        yield failed


def post(token: str, key: str = "key-1", **headers: str) -> Any:
    extra: dict[str, Any] = {"HTTP_AUTHORIZATION": f"Token {token}", "HTTP_IDEMPOTENCY_KEY": key}
    extra.update(headers)
    client = Client(raise_request_exception=False)
    return client.post(URL, json.dumps(BODY), content_type="application/json", **extra)


def stored_rows() -> tuple[int, int, int, int]:
    return (
        Complaint.objects.count(),
        Event.objects.count(),
        Deadline.objects.count(),
        Petitioner.objects.count(),
    )


# --- An unreachable database: 503 with Retry-After, in the caller's format ----------------


def test_an_unreachable_database_answers_the_api_503_with_retry_after(token: str) -> None:
    with database_failing() as failed:
        response = post(token, HTTP_ACCEPT_LANGUAGE="en")

    assert failed  # it really tried, and the database really failed
    assert response.status_code == 503
    assert response["Retry-After"] == str(RETRY_AFTER_SECONDS)
    assert response.json() == {"code": "unavailable", "message": UNAVAILABLE, "errors": []}
    assert stored_rows() == (0, 0, 0, 0)


def test_the_503_speaks_the_default_language(token: str) -> None:
    with database_failing():
        response = post(token)  # no Accept-Language: zh-hans, the default
    assert response.status_code == 503
    assert response.json()["code"] == "unavailable"
    assert response["Content-Language"] == "zh-hans"


def test_an_unreachable_database_shows_the_portal_a_503_page(client: Client) -> None:
    client.raise_request_exception = False
    client.get("/submit/", HTTP_ACCEPT_LANGUAGE="en")
    with database_failing():
        response = client.post("/submit/", FORM, HTTP_ACCEPT_LANGUAGE="en")

    assert response.status_code == 503
    assert response["Retry-After"] == str(RETRY_AFTER_SECONDS)
    assert response["Content-Type"].startswith("text/html")
    page = response.content.decode()
    assert UNAVAILABLE in page
    assert "Please try again in 30 seconds." in page
    assert stored_rows() == (0, 0, 0, 0)


def test_a_session_that_cannot_be_saved_for_the_database_is_a_503_not_a_400(
    client: Client,
) -> None:
    """The database goes after the work, while the visitor's session is saved: Django
    calls that a "bad request" (SessionInterrupted); it is the database, so a 503."""
    client.raise_request_exception = False
    client.get("/submit/", HTTP_ACCEPT_LANGUAGE="en")
    client.post("/submit/", FORM, HTTP_ACCEPT_LANGUAGE="en")  # the session now exists
    assert client.session.session_key
    with database_failing(lambda sql: sql.startswith("UPDATE") and "django_session" in sql):
        response = client.post("/submit/", FORM, HTTP_ACCEPT_LANGUAGE="en")

    assert response.status_code == 503
    assert response["Retry-After"] == str(RETRY_AFTER_SECONDS)
    assert UNAVAILABLE in response.content.decode()


def test_a_bad_request_that_is_not_the_database_stays_a_400() -> None:
    from django.contrib.sessions.exceptions import SessionInterrupted

    from ops.unavailable import session_lost_with_database

    assert not session_lost_with_database(SessionInterrupted("deleted meanwhile"))
    assert not session_lost_with_database(ValueError("x"))


def test_an_unreachable_database_answers_open311_in_its_error_format() -> None:
    client = Client(raise_request_exception=False)
    with database_failing():
        response = client.get("/open311/v2/services.json", HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 503
    assert response["Retry-After"] == str(RETRY_AFTER_SECONDS)
    assert response.json() == [{"code": 503, "description": UNAVAILABLE}]


def test_healthz_says_the_database_is_down() -> None:
    with database_failing():
        response = Client().get("/healthz")
    assert response.status_code == 503
    assert response.json()["database"]["ok"] is False
    assert response.json()["status"] == "down"


def test_any_other_server_error_stays_a_500() -> None:
    request = RequestFactory().get("/anything/")
    try:
        raise ValueError("a bug, not an outage")
    except ValueError:
        response = server_error(request)
    assert response.status_code == 500
    assert not response.has_header("Retry-After")
    try:
        raise OperationalError("connection refused")
    except OperationalError:
        assert server_error(request).status_code == 503


# --- A failure half-way stores nothing, and the retry does the work once -----------------


def test_a_database_failing_half_way_stores_nothing_and_the_retry_succeeds(token: str) -> None:
    # The deadlines are written last in the complaint's transaction: fail exactly there.
    with database_failing(lambda sql: 'INSERT INTO "sla_deadline"' in sql) as failed:
        response = post(token, "half-way")
    assert failed
    assert response.status_code == 503
    # No complaint without its events and deadlines, no petitioner, no answer for the key.
    assert stored_rows() == (0, 0, 0, 0)
    assert not IdempotencyRecord.objects.filter(key="half-way").exists()

    retry = post(token, "half-way")
    assert retry.status_code == 201, retry.content
    complaint = Complaint.objects.get()
    assert retry.json()["id"] == complaint.pk
    assert complaint.events.filter(kind="complaint.received").count() == 1
    assert Deadline.objects.filter(complaint=complaint).exists()
    assert post(token, "half-way")["Idempotent-Replayed"] == "true"
    assert Complaint.objects.count() == 1


# --- The crash hook of the chaos tests ----------------------------------------------------


def test_fault_points_are_inert_unless_armed() -> None:
    assert "SUTONG_FAULT" not in os.environ
    assert not faults.ARMED
    faults.point("exit-after-commit:intake")  # returns: this process is still here


def _point_in_a_process(var_dir: Path, armed: str) -> subprocess.CompletedProcess[str]:
    script = (
        "import django; django.setup(); from ops import faults; "
        "faults.point('exit-after-commit:intake'); print('alive')"
    )
    return subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env=clean_environment(var_dir, SUTONG_FAULT=armed, SECRET_KEY="x" * 50),
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def test_an_armed_fault_point_kills_its_process_once(tmp_path: Path) -> None:
    other = _point_in_a_process(tmp_path, "exit-after-commit:elsewhere")
    assert (other.returncode, other.stdout.strip()) == (0, "alive")
    first = _point_in_a_process(tmp_path, "exit-after-commit:intake")
    assert (first.returncode, first.stdout) == (70, "")
    # The next process (gunicorn's replacement worker) lives, to serve the client's retry.
    second = _point_in_a_process(tmp_path, "exit-after-commit:intake")
    assert (second.returncode, second.stdout.strip()) == (0, "alive")

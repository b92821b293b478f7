"""Workbooks (xlsx, xls, ods) read with python-calamine: a Rust reader, an order of magnitude faster than
openpyxl and small enough to ship in the function package."""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import python_calamine

from stock_pipeline.domain.errors import PipelineError, UnreadableObjectError
from stock_pipeline.domain.objects import check_zip_size
from stock_pipeline.domain.supplier_profiles import Column, SupplierProfile, column_letters

XLSX_MAGIC = b"PK\x03\x04"


class WorkbookError(PipelineError):
    """The workbook cannot be read, or does not have the sheet and columns its profile declares."""


@dataclass(frozen=True, slots=True)
class FeedRows:
    """The two columns a profile selects, as the cells hold them, with each row's number in the sheet."""

    part_numbers: list[Any]
    stock: list[Any]
    lines: list[int]


def open_workbook(data: bytes, what: str) -> python_calamine.CalamineWorkbook:
    try:
        check_zip_size(data, what)
    except UnreadableObjectError as exc:
        raise WorkbookError(str(exc)) from exc
    try:
        return python_calamine.CalamineWorkbook.from_filelike(io.BytesIO(data))
    except Exception as exc:  # calamine raises its own hierarchy plus ZipError/XmlError; all mean "not readable"
        raise WorkbookError(f"{what}: not a readable workbook ({type(exc).__name__}: {exc})") from exc


def sheet_rows(workbook: python_calamine.CalamineWorkbook, sheet: str | int, what: str) -> list[list[Any]]:
    """All rows from row 1 (empty leading rows kept, so list index + 1 is the row number people see)."""
    names = list(workbook.sheet_names)
    if isinstance(sheet, int):
        if not 1 <= sheet <= len(names):
            raise WorkbookError(f"{what}: sheet #{sheet} not found, the workbook has {len(names)} sheet(s)")
        name = names[sheet - 1]
    else:
        by_folded = {n.strip().casefold(): n for n in names}
        name = by_folded.get(sheet.strip().casefold(), "")
        if not name:
            raise WorkbookError(f"{what}: sheet {sheet!r} not found (the workbook has: {_listing(names)})")
    return workbook.get_sheet_by_name(name).to_python(skip_empty_area=False)


def read_feed_rows(data: bytes, profile: SupplierProfile) -> FeedRows:
    """Apply a profile's layout to a workbook; a mismatch names the supplier, the sheet and the column."""
    what = f"supplier {profile.supplier!r}"
    rows = sheet_rows(open_workbook(data, what), profile.sheet, what)
    where = f"{what}, {profile.describe_sheet()}"
    if len(rows) < profile.header_row:
        raise WorkbookError(f"{where}: header row {profile.header_row} is missing, the sheet has {len(rows)} row(s)")
    header = [cell_text(cell) for cell in rows[profile.header_row - 1]]
    part_at = column_index(header, profile.part_number, where, profile.header_row)
    stock_at = column_index(header, profile.stock, where, profile.header_row)
    parts: list[Any] = []
    stock: list[Any] = []
    lines: list[int] = []
    first = profile.header_row + 1
    for offset, row in enumerate(rows[profile.header_row :]):
        part = row[part_at] if part_at < len(row) else ""
        value = row[stock_at] if stock_at < len(row) else ""
        if part == "" and value == "":
            continue  # blank rows between blocks are layout, not data
        parts.append(part)
        stock.append(value)
        lines.append(first + offset)
    return FeedRows(parts, stock, lines)


def column_index(header: Sequence[str], column: Column, where: str, header_row: int) -> int:
    if column.name is not None:
        wanted = column.name.casefold()
        for index, text in enumerate(header):
            if text.casefold() == wanted:
                return index
        found = _listing([text for text in header if text]) or "an empty row"
        raise WorkbookError(f"{where}: {column.describe()} not found in header row {header_row} (found: {found})")
    index = (column.position or 1) - 1
    if index >= len(header):
        last = column_letters(len(header)) if header else "none"
        raise WorkbookError(
            f"{where}: {column.describe()} is beyond the last column ({last}) of header row {header_row}"
        )
    return index


def cell_text(cell: Any) -> str:
    """A cell as text: whole numbers without '.0' (Excel stores every number as a float)."""
    if isinstance(cell, float) and cell.is_integer():
        return str(int(cell))
    if isinstance(cell, bool):
        return "TRUE" if cell else "FALSE"
    return str(cell).strip()


def _listing(names: Sequence[str], limit: int = 12) -> str:
    shown = ", ".join(repr(n) for n in names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")

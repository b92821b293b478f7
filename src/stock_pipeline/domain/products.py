"""The product table: which of our SKUs (`custom_label`) each supplier part number is.

Uploads come as csv, xlsx or parquet; they are validated here and become one Parquet object in the lake, which
replaces the previous one in a single PUT, so a reader sees the old table or the new one, never a mix.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv
import pyarrow.parquet as pq

from stock_pipeline.domain.errors import PipelineError, UnreadableObjectError
from stock_pipeline.domain.objects import check_parquet, is_parquet
from stock_pipeline.domain.rejections import Rejection
from stock_pipeline.domain.supplier_profiles import supplier_name
from stock_pipeline.domain.workbooks import XLSX_MAGIC, WorkbookError, cell_text, open_workbook, sheet_rows

COLUMNS = ("custom_label", "part_number", "supplier")
SCHEMA = pa.schema([("supplier", pa.string()), ("part_number", pa.string()), ("custom_label", pa.string())])
PRODUCT_SUFFIXES = (".csv", ".xlsx", ".parquet")


class ProductTableError(PipelineError):
    """The upload cannot be used as a product table; the current table stays in place."""


class NoProductTableError(PipelineError):
    """No product table has been uploaded yet, so no feed can be mapped."""


def is_product_table_key(key: str) -> bool:
    return key.lower().endswith(PRODUCT_SUFFIXES)


def part_key(part_number: Any) -> str:
    """How part numbers are matched: as text, whole numbers without '.0', blanks trimmed, case ignored."""
    return cell_text(part_number).casefold()


@dataclass(slots=True)
class ParsedProducts:
    table: pa.Table  # SCHEMA, one row per (supplier, part number)
    rejections: list[Rejection] = field(default_factory=list)
    rows_read: int = 0


def parse_product_table(data: bytes, key: str) -> ParsedProducts:
    """Rows missing a field, or naming a second SKU for a (supplier, part number), are rejected with their line."""
    raw = _read(data, key)
    columns = {name: raw[name] for name in COLUMNS}
    rejections: list[Rejection] = []
    seen: dict[tuple[str, str], tuple[str, int]] = {}
    out: dict[str, list[str]] = {name: [] for name in SCHEMA.names}
    for i in range(len(raw["lines"])):
        line = raw["lines"][i]
        supplier, part, label = (cell_text(columns[n][i]) for n in ("supplier", "part_number", "custom_label"))
        missing = [n for n, v in (("custom_label", label), ("part_number", part), ("supplier", supplier)) if not v]
        if missing:
            rejections.append(Rejection(line, f"{', '.join(missing)}: missing", f"{label},{part},{supplier}"))
            continue
        identity = (supplier_name(supplier), part_key(part))
        if identity in seen:
            first_label, first_line = seen[identity]
            if first_label != label:
                rejections.append(
                    Rejection(
                        line,
                        f"part number {part!r} of supplier {supplier!r} is already mapped to {first_label!r} "
                        f"on line {first_line}",
                        f"{label},{part},{supplier}",
                    )
                )
            continue  # an exact repeat adds nothing
        seen[identity] = (label, line)
        out["supplier"].append(identity[0])
        out["part_number"].append(part)
        out["custom_label"].append(label)
    if not out["supplier"]:
        reason = f"; first problem: line {rejections[0].line}: {rejections[0].reason}" if rejections else ""
        raise ProductTableError(f"product table {key}: no valid rows, the current table is kept{reason}")
    return ParsedProducts(pa.table(out, schema=SCHEMA), rejections, len(raw["lines"]))


def _read(data: bytes, key: str) -> dict[str, list[Any]]:
    return read_columns(data, key, COLUMNS, what="product table", error=ProductTableError)


def read_columns(
    data: bytes,
    key: str,
    columns: tuple[str, ...],
    *,
    what: str,
    error: type[PipelineError],
    header_of: Callable[[str], str | None] | None = None,
    optional: tuple[str, ...] = (),
) -> dict[str, list[Any]]:
    """The named columns (matched by normalised header) and each row's line number, from csv, xlsx or Parquet.

    Shared by the uploads people make from spreadsheets (the product table, store listings, counted files):
    `error` is what an unusable upload raises, naming `what` and the key, so the current table is kept and the
    notice says why. `header_of` names the column a header means (other tools' and languages' names), and
    `optional` columns are read when present; `out["header"]` is the header as written.
    """
    label = f"{what} {key}"
    if is_parquet(data):
        try:
            check_parquet(data, label)
        except UnreadableObjectError as exc:
            raise error(str(exc)) from exc
        try:
            table = pq.read_table(io.BytesIO(data))
        except (pa.ArrowInvalid, OSError) as exc:
            raise error(f"{label}: unreadable Parquet: {exc}") from exc
        header = table.column_names
        rows = {name: table.column(name) for name in header}
        first_line = 1
    elif data[:4] == XLSX_MAGIC or key.lower().endswith(".xlsx"):
        try:
            sheet = sheet_rows(open_workbook(data, label), 1, label)
        except WorkbookError as exc:
            raise error(str(exc)) from exc
        if not sheet:
            raise error(f"{label}: the first sheet is empty")
        header = [cell_text(c) for c in sheet[0]]
        rows = {name: [r[i] if i < len(r) else "" for r in sheet[1:]] for i, name in enumerate(header)}
        first_line = 2
    else:
        header, rows = _read_csv(data, label, error)
        first_line = 2
    by_name: dict[str, str] = {}
    for name in header:
        by_name.setdefault((header_of or _normalise)(name) or _normalise(name), name)
    missing = [name for name in columns if name not in by_name]
    if missing:
        raise error(
            f"{label}: missing column(s) {', '.join(missing)} "
            f"(found: {', '.join(map(repr, header)) or 'none'}; expected {', '.join(columns)})"
        )
    out: dict[str, list[Any]] = {}
    for name in (*columns, *(o for o in optional if o in by_name)):
        values = rows[by_name[name]]
        if isinstance(values, pa.ChunkedArray):  # Parquet: floats stay numbers for cell_text, the rest as text
            floating = pa.types.is_floating(values.type)
            values = values.to_pylist() if floating else pc.cast(values, pa.string()).to_pylist()
        out[name] = ["" if v is None else v for v in values]
    out["lines"] = list(range(first_line, first_line + len(out[columns[0]])))
    out["header"] = [str(name) for name in header]
    return out


def _read_csv(data: bytes, label: str, error: type[PipelineError]) -> tuple[list[str], Mapping[str, list[Any]]]:
    text_head = data[:4096].decode("utf-8-sig", errors="replace").splitlines()[:1]
    head = text_head[0] if text_head else ""
    delimiter = max((",", ";", "\t"), key=head.count)
    if data.startswith(b"\xef\xbb\xbf"):  # Excel's "CSV UTF-8" starts with a BOM
        data = data[3:]
    names = next(csv.reader([head], delimiter=delimiter), [])
    try:
        table = pcsv.read_csv(
            io.BytesIO(data),
            parse_options=pcsv.ParseOptions(delimiter=delimiter),
            # Everything as text: part numbers like 00123 keep their zeros.
            convert_options=pcsv.ConvertOptions(column_types=dict.fromkeys(names, pa.string())),
        )
    except pa.ArrowInvalid as exc:
        raise error(f"{label}: unreadable CSV: {exc}") from exc
    header = table.column_names
    as_text = {name: pc.cast(table.column(name), pa.string()).to_pylist() for name in header}
    return header, as_text


def _normalise(name: str) -> str:
    return re.sub(r"[\s\-]+", "_", str(name).strip().lower())


@dataclass(frozen=True, slots=True)
class ProductMapping:
    """Part number -> custom_label per supplier, at one version of the table (the object's ETag)."""

    version: str
    by_supplier: Mapping[str, Mapping[str, str]]
    rows: int

    def for_supplier(self, supplier: str) -> Mapping[str, str]:
        return self.by_supplier.get(supplier_name(supplier), {})


def mapping_from_table(table: pa.Table, version: str) -> ProductMapping:
    by_supplier: dict[str, dict[str, str]] = {}
    suppliers = table.column("supplier").to_pylist()
    parts = table.column("part_number").to_pylist()
    labels = table.column("custom_label").to_pylist()
    for supplier, part, label in zip(suppliers, parts, labels, strict=True):
        by_supplier.setdefault(supplier, {})[part_key(part)] = label
    return ProductMapping(version=version, by_supplier=by_supplier, rows=table.num_rows)

"""Counted files: a stocktake as people bring it from a spreadsheet or a scanner's export (pure).

`stocktakes/<any folders>/<name>.csv|.tsv|.txt|.xlsx|.parquet` with the columns warehouse, item_id and counted
(other tools' and languages' names are taken too, see HEADERS) and, optionally, counted_at: the moment each row
was counted, with its offset, or in the zone the header names (`counted_at (Europe/Berlin)`, which is how a
spreadsheet's date cells, which carry no zone, become moments). A row without a moment was counted when the file
was uploaded. Rows that cannot be counts are rejected with their line; the others become stocktakes of at most
MAX_COUNT_ROWS rows each, with ids derived from the file, so a delivery of the same file again changes nothing.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from stock_pipeline.domain.errors import PipelineError
from stock_pipeline.domain.movements import (
    MAX_COUNT_ROWS,
    MAX_QUANTITY,
    MAX_TRANSACTION_ACTIONS,
    Count,
    MovementError,
    Stocktake,
    counted_at_from,
)
from stock_pipeline.domain.products import read_columns
from stock_pipeline.domain.rejections import Rejection
from stock_pipeline.domain.workbooks import cell_text

STOCKTAKES_PREFIX = "stocktakes/"
KEY_PATTERN = re.compile(r"^stocktakes/(?:[^/]+/)*[^/]+\.(csv|tsv|txt|xlsx|parquet)$", re.IGNORECASE)
COLUMNS = ("warehouse", "item_id", "counted")
# Header names as other tools and languages write them (compared lower-case, spaces and dashes as "_")
HEADERS = {
    "warehouse": ("warehouse", "location", "site", "store", "lager", "lagerort", "filiale", "entrepot", "almacen"),
    "item_id": ("item_id", "item", "itemid", "sku", "article", "article_id", "artikel", "artikelnummer", "product_id"),
    "counted": ("counted", "count", "counted_quantity", "quantity", "qty", "menge", "anzahl", "gezahlt", "cantidad"),
    "counted_at": ("counted_at", "counted_on", "count_time", "timestamp", "time", "zeitpunkt", "gezahlt_am"),
}
ZONE_IN_HEADER = re.compile(r"^(?P<name>.*?)\s*[\(\[](?P<zone>[A-Za-z_]+(?:/[A-Za-z0-9_+\-]+)*)[\)\]]\s*$")
# 1234 | 1.234 / 1,234 / 1 234 / 1'234 (groups of three: thousands in any locale) | 12.0 / 12,00 (no fraction)
WHOLE = re.compile(r"^\d+$")
GROUPED = re.compile(r"^\d{1,3}(?:([.,' \u00a0\u202f])\d{3})(?:\1\d{3})*$")
ZERO_FRACTION = re.compile(r"^(\d+)[.,](?:0{1,2}|0{4,})$")


class CountedFileError(PipelineError):
    """The file cannot be read as counts at all (no such columns, not a table): nothing is applied."""


@dataclass(frozen=True, slots=True)
class CountedFile:
    stocktakes: list[Stocktake]
    rejections: list[Rejection] = field(default_factory=list)
    rows: int = 0

    @property
    def counts(self) -> int:
        return sum(len(take.counts) for take in self.stocktakes)


def is_counted_file_key(key: str) -> bool:
    return bool(KEY_PATTERN.match(key))


def _canonical(header: str) -> str | None:
    match = ZONE_IN_HEADER.match(header.strip())
    name = re.sub(r"[\s\-]+", "_", (match.group("name") if match else header).strip().lower())
    name = name.replace("ä", "a").replace("é", "e").replace("á", "a")
    return next((column for column, names in HEADERS.items() if name in names), None)


def _zone(header: list[str], key: str) -> ZoneInfo | None:
    for name in header:
        match = ZONE_IN_HEADER.match(name.strip())
        if match and _canonical(name) == "counted_at":
            try:
                return ZoneInfo(match.group("zone"))
            except (ZoneInfoNotFoundError, ValueError):
                raise CountedFileError(
                    f"counted file {key}: {match.group('zone')!r} in the header {name!r} is not a time zone "
                    "(an IANA name like Europe/Berlin)"
                ) from None
    return None


def whole_count(cell: Any) -> int:
    """A count as people type it: 1234, 1.234, 1,234, 1 234, 1'234 or 12.0; never a fraction or a sign."""
    if isinstance(cell, bool):
        raise MovementError(f"counted: {cell_text(cell)!r} is not a number")
    if isinstance(cell, int | float):
        if not float(cell).is_integer():
            raise MovementError(f"counted: {cell!r} is not a whole number")
        value = int(cell)
    else:
        text = cell_text(cell)
        if not text:
            raise MovementError("counted: missing")
        if WHOLE.match(text):
            value = int(text)
        elif GROUPED.match(text):
            value = int(re.sub(r"\D", "", text))
        elif match := ZERO_FRACTION.match(text):
            value = int(match.group(1))
        elif text.startswith("-"):
            raise MovementError(f"counted: {text!r}: a count cannot be negative")
        else:
            raise MovementError(f"counted: {text!r} is not a whole number")
    if value < 0:
        raise MovementError(f"counted: {value}: a count cannot be negative")
    if value > MAX_QUANTITY:
        raise MovementError(f"counted: at most {MAX_QUANTITY:,} units")
    return value


def _moment(cell: Any, zone: ZoneInfo | None, *, uploaded: datetime, now: datetime) -> datetime:
    if cell is None or cell == "":
        return uploaded
    if isinstance(cell, date) and not isinstance(cell, datetime):
        raise MovementError(f"counted_at: {cell.isoformat()} is a date without a time")
    if isinstance(cell, str):
        try:
            cell = datetime.fromisoformat(cell.strip().replace("Z", "+00:00"))
        except ValueError:
            raise MovementError(f"counted_at: not an ISO-8601 date-time: {cell!r}") from None
    if isinstance(cell, datetime) and cell.tzinfo is None:
        if zone is None:
            raise MovementError(
                f"counted_at: {cell.isoformat()} has no time zone: write the offset (+01:00, Z) or name the zone "
                "in the column's header, like 'counted_at (Europe/Berlin)'"
            )
        cell = cell.replace(tzinfo=zone)
    moment = counted_at_from(cell, now=now)
    return moment if moment is not None else uploaded


def _text(cell: Any, name: str) -> str:
    text = cell_text(cell)
    if not text:
        raise MovementError(f"{name}: missing")
    if len(text) > 256 or any(ord(c) < 32 for c in text):
        raise MovementError(f"{name}: at most 256 characters, no control characters")
    return text


def parse_counted_file(
    data: bytes, key: str, etag: str, *, user: str, uploaded: datetime, now: datetime
) -> CountedFile:
    """The file's counts as stocktakes, its bad rows as rejections; CountedFileError when no row can be read."""
    raw = read_columns(
        data,
        key,
        COLUMNS,
        what="counted file",
        error=CountedFileError,
        header_of=_canonical,
        optional=("counted_at",),
    )
    zone = _zone(raw["header"], key)
    moments = raw.get("counted_at")
    rejections: list[Rejection] = []
    seen: dict[tuple[str, str], int] = {}
    counts: list[Count] = []
    for i, line in enumerate(raw["lines"]):
        cells = [raw[c][i] for c in COLUMNS] + ([moments[i]] if moments is not None else [])
        record = ",".join(cell_text(c) if not isinstance(c, datetime) else c.isoformat() for c in cells)
        if all(cell_text(c) == "" for c in cells):
            continue  # an empty row, as spreadsheets leave them
        try:
            warehouse, item_id = _text(raw["warehouse"][i], "warehouse"), _text(raw["item_id"][i], "item_id")
            counted = whole_count(raw["counted"][i])
            moment = _moment(moments[i] if moments is not None else None, zone, uploaded=uploaded, now=now)
        except MovementError as exc:
            rejections.append(Rejection(line, str(exc), record))
            continue
        if (warehouse, item_id) in seen:
            reason = f"{item_id} in {warehouse} is counted on line {seen[(warehouse, item_id)]} already: one row each"
            rejections.append(Rejection(line, reason, record))
            continue
        seen[(warehouse, item_id)] = line
        counts.append(Count(warehouse, item_id, counted, moment))
    if not counts and rejections:
        first = rejections[0]
        raise CountedFileError(f"counted file {key}: no row can be counted; line {first.line}: {first.reason}")
    return CountedFile(_stocktakes(counts, key, etag, user), rejections, len(counts) + len(rejections))


def _stocktakes(counts: list[Count], key: str, etag: str, user: str) -> list[Stocktake]:
    """Groups that each fit one transaction (rows + their warehouses' registry items + ledger + register)."""
    stem = hashlib.sha256(f"{key}\0{etag}".encode()).hexdigest()[:24]
    groups: list[list[Count]] = []
    for count in counts:
        group = groups[-1] if groups else []
        actions = len(group) + 1 + len({c.warehouse for c in group} | {count.warehouse}) + 2
        if not groups or len(group) >= MAX_COUNT_ROWS or actions > MAX_TRANSACTION_ACTIONS:
            groups.append([count])
        else:
            group.append(count)
    return [Stocktake(f"file-{stem}-{n:04d}", tuple(group), user) for n, group in enumerate(groups)]

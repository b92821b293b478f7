"""Inventory transaction files (deltas): parse, validate, aggregate per (warehouse, item), cut into chunks.

Chunks are deterministic for a given file, so the ledger of applied chunks (DESIGN.md §2) recognises a
re-delivered file or a retried batch and a crashed run resumes at the first chunk not yet applied.
"""

from __future__ import annotations

import io
import re
import unicodedata
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv

from stock_pipeline.domain.errors import UnreadableObjectError
from stock_pipeline.domain.objects import decompress
from stock_pipeline.domain.rejections import Rejection
from stock_pipeline.domain.timestamps import as_mask, nonblank_line_numbers, parse_iso_timestamps

COLUMNS = ("Timestamp", "WarehouseName", "ItemId", "ItemName", "StockLevelChange")
KEY_PATTERN = re.compile(r"^inventory_files/\d{4}/\d{2}/\d{2}/(\d{12}|\d{14})(?i:_inventory\.csv)$")

TRANSACTIONS_SCHEMA = pa.schema(
    [
        ("timestamp", pa.timestamp("us", tz="UTC")),
        ("warehouse", pa.string()),
        ("item_id", pa.string()),
        ("item_name", pa.string()),
        ("change", pa.int64()),
        ("source_line", pa.int64()),
    ]
)

# TransactWriteItems takes 100 actions: 99 level updates and the chunk's ledger entry.
CHUNK_SIZE = 99
_INT_PATTERN = r"^\s*[+-]?\d{1,18}\s*$"
MAX_CHANGE = 10**12  # a million million units: far above any real movement, far below int64 over 10**6 rows
# Names become DynamoDB keys ("ITEM#<id>", "WH#<warehouse>"), and a sort key takes at most 1,024 bytes
# (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/ServiceQuotas.html#limits-partition-sort-keys):
# a longer one would fail its whole chunk. Item names are shown on every page of the reports and the console.
MAX_NAME_CHARS = {"WarehouseName": 256, "ItemId": 256, "ItemName": 1000}
MAX_KEY_NAME_BYTES = 1000


@dataclass(slots=True)
class ParsedTransactions:
    table: pa.Table
    rejections: list[Rejection] = field(default_factory=list)
    records_read: int = 0


@dataclass(frozen=True, slots=True)
class LevelChange:
    warehouse: str
    item_id: str
    item_name: str
    change: int
    transactions: int
    first_line: int | None = None  # the file lines the change sums (the history's cause)
    last_line: int | None = None
    # the earliest and the latest transaction the change sums (UTC, as stored: "2026-12-07T10:00:00.000000Z"):
    # the level's first-seen time is the earliest of all (a minimum, whatever order files arrive in), and the
    # latest says whether a crossing it causes is news or history (alerts)
    first_at: str | None = None
    last_at: str | None = None

    @property
    def lines(self) -> str | None:
        if self.first_line is None:
            return None
        return str(self.first_line) if self.first_line == self.last_line else f"{self.first_line}-{self.last_line}"


def is_inventory_key(key: str) -> bool:
    """`inventory_files/<yyyy>/<mm>/<dd>/<yyyymmddHHMM[SS]>_inventory.csv`, the name in any letter case."""
    return bool(KEY_PATTERN.match(key))


def parse_inventory_file(body: bytes) -> ParsedTransactions:
    """TAB-separated with a header; every row is checked, bad ones rejected with their line, the rest kept."""
    data = decompress(body, "inventory")
    if not data.strip():
        return ParsedTransactions(TRANSACTIONS_SCHEMA.empty_table())
    skipped: list[Rejection] = []

    def on_invalid_row(row: pcsv.InvalidRow) -> str:
        skipped.append(
            Rejection(
                int(row.number or 0),
                f"expected {row.expected_columns} tab-separated columns, found {row.actual_columns}",
                row.text,
            )
        )
        return "skip"

    try:
        raw = pcsv.read_csv(
            io.BytesIO(data),
            read_options=pcsv.ReadOptions(use_threads=False),  # keeps invalid rows' line numbers exact
            # Quoted fields as spreadsheets save them ("Hamburg 2", doubled "" inside); no newlines inside a
            # field, so that every row stays one line and rejections keep their line numbers.
            parse_options=pcsv.ParseOptions(
                delimiter="\t",
                quote_char='"',
                double_quote=True,
                newlines_in_values=False,
                invalid_row_handler=on_invalid_row,
            ),
            convert_options=pcsv.ConvertOptions(
                column_types=dict.fromkeys(COLUMNS, pa.string()),
                include_columns=list(COLUMNS),
                strings_can_be_null=False,
            ),
        )
    except (pa.ArrowInvalid, KeyError) as exc:
        raise UnreadableObjectError(
            f"not a tab-separated inventory file with columns {', '.join(COLUMNS)}: {exc}"
        ) from exc

    # pyarrow numbers rows among the non-empty lines (header = 1); map them back to file lines.
    nonblank = nonblank_line_numbers(data)
    skipped = [
        Rejection(int(nonblank[r.line - 1]) if 0 < r.line <= len(nonblank) else r.line, r.reason, r.record)
        for r in skipped
    ]
    skipped_lines = {r.line for r in skipped}
    lines = np.asarray([n for n in nonblank[1:] if n not in skipped_lines], dtype=np.int64)
    if len(lines) != raw.num_rows:  # should not happen with quoting off; numbering falls back to row order
        lines = np.arange(2, raw.num_rows + 2, dtype=np.int64)
    table, rejections = _validate(raw, lines)
    rejections = sorted(skipped + rejections, key=lambda r: r.line)
    return ParsedTransactions(table, rejections, raw.num_rows + len(skipped))


def _validate(raw: pa.Table, lines: np.ndarray) -> tuple[pa.Table, list[Rejection]]:
    n = raw.num_rows
    bad = np.zeros(n, dtype=bool)
    reasons: dict[int, str] = {}

    def reject(mask: np.ndarray, reason: str) -> None:
        for i in np.flatnonzero(mask & ~bad):
            reasons[int(i)] = reason
        bad[:] |= mask

    # Trimmed and in Unicode NFC: "München" typed on a Mac (decomposed) and on Windows (composed) is one warehouse.
    trimmed = {name: nfc(pc.utf8_trim_whitespace(raw.column(name))) for name in COLUMNS}
    for name in ("WarehouseName", "ItemId"):
        reject(as_mask(pc.equal(pc.utf8_length(trimmed[name]), 0)), f"{name}: empty")
    for name, most in MAX_NAME_CHARS.items():
        too_long = pc.greater(pc.utf8_length(trimmed[name]), most)
        if name != "ItemName":
            too_long = pc.or_(too_long, pc.greater(pc.binary_length(trimmed[name]), MAX_KEY_NAME_BYTES))
        reject(
            as_mask(too_long),
            f"{name}: longer than {most:,} characters"
            + ("" if name == "ItemName" else f" or {MAX_KEY_NAME_BYTES:,} bytes"),
        )
    change_ok = as_mask(pc.match_substring_regex(raw.column("StockLevelChange"), _INT_PATTERN))
    for i in np.flatnonzero(~change_ok & ~bad):
        reasons[int(i)] = f"StockLevelChange: not an integer: {raw.column('StockLevelChange')[int(i)].as_py()!r}"
    bad |= ~change_ok
    timestamps, problems = parse_iso_timestamps(trimmed["Timestamp"], ~bad, "Timestamp")
    for i, problem in problems.items():
        if not bad[i]:
            reasons[i], bad[i] = problem, True

    changes = pc.if_else(pa.array(change_ok), trimmed["StockLevelChange"], pa.scalar("0"))
    changes = pc.cast(pc.replace_substring_regex(changes, r"^\+", ""), pa.int64())  # Arrow takes no leading "+"
    # Bounded per row, so that a file's sums cannot overflow 64 bits (and wrap to a negative level).
    too_large = as_mask(pc.greater(pc.abs(changes), pa.scalar(MAX_CHANGE, pa.int64())))
    reject(too_large, f"StockLevelChange: out of range (more than {MAX_CHANGE:,} units either way)")
    changes = pc.if_else(pa.array(too_large), pa.scalar(0, pa.int64()), changes)
    rejections = [
        Rejection(int(lines[i]), reasons[int(i)], "\t".join(str(raw.column(c)[int(i)].as_py()) for c in COLUMNS))
        for i in np.flatnonzero(bad)
    ]
    table = pa.table(
        {
            "timestamp": timestamps,
            "warehouse": trimmed["WarehouseName"],
            "item_id": trimmed["ItemId"],
            "item_name": trimmed["ItemName"],
            "change": changes,
            "source_line": pa.array(lines, pa.int64()),
        },
        schema=TRANSACTIONS_SCHEMA,
    )
    return (table.filter(pa.array(~bad)) if bad.any() else table), rejections


def nfc(column: pa.ChunkedArray | pa.Array) -> pa.ChunkedArray | pa.Array:
    """Unicode NFC, so that one name typed on two systems is one key. Python's unicodedata, not Arrow's
    utf8_normalize: pyarrow 22 returns the decomposed form for every form asked (pinned by a unit test), and the
    pandas layer's later builds leave utf8proc out altogether (aws/aws-sdk-pandas#3342)."""
    if pc.all(pc.string_is_ascii(column)).as_py() is not False:
        return column
    return pa.array([None if v is None else unicodedata.normalize("NFC", v) for v in column.to_pylist()], pa.string())


def aggregate_changes(transactions: pa.Table) -> list[LevelChange]:
    """One net change per (warehouse, item), in a stable order; the name is the one of the latest row."""
    if transactions.num_rows == 0:
        return []
    ordered = transactions.sort_by([("timestamp", "ascending"), ("source_line", "ascending")])
    grouped = ordered.group_by(["warehouse", "item_id"], use_threads=False).aggregate(
        [
            ("change", "sum"),
            ("item_name", "last"),
            ("change", "count"),
            ("source_line", "min"),
            ("source_line", "max"),
            ("timestamp", "min"),
            ("timestamp", "max"),
        ]
    )
    grouped = grouped.sort_by([("warehouse", "ascending"), ("item_id", "ascending")])
    stamps = {  # Arrow's %S carries the microseconds itself (and it has no %f)
        name: pc.strftime(grouped.column(f"timestamp_{name}"), format="%Y-%m-%dT%H:%M:%SZ").to_pylist()
        for name in ("min", "max")
    }
    return [
        LevelChange(w, i, name, int(total), int(count), first, last, first_at, last_at)
        for w, i, name, total, count, first, last, first_at, last_at in zip(
            grouped.column("warehouse").to_pylist(),
            grouped.column("item_id").to_pylist(),
            grouped.column("item_name_last").to_pylist(),
            grouped.column("change_sum").to_pylist(),
            grouped.column("change_count").to_pylist(),
            grouped.column("source_line_min").to_pylist(),
            grouped.column("source_line_max").to_pylist(),
            stamps["min"],
            stamps["max"],
            strict=True,
        )
    ]


def chunks(changes: list[LevelChange], size: int = CHUNK_SIZE) -> list[list[LevelChange]]:
    """Deterministic chunks: the same file always gives the same chunk numbers and contents."""
    return [changes[i : i + size] for i in range(0, len(changes), size)]


def lake_rows(transactions: pa.Table, *, source_key: str) -> pa.Table:
    """Every parsed transaction for curated/inventory_transactions/ (partitioned by warehouse and UTC date)."""
    n = transactions.num_rows
    return pa.table(
        {
            "warehouse": transactions.column("warehouse"),
            "dt": pc.strftime(transactions.column("timestamp"), format="%Y-%m-%d"),
            "event_time": transactions.column("timestamp"),
            "item_id": transactions.column("item_id"),
            "item_name": transactions.column("item_name"),
            "stock_level_change": transactions.column("change"),
            "source_key": pa.array([source_key] * n, pa.string()),
            "source_line": transactions.column("source_line"),
        }
    )

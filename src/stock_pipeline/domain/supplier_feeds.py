"""Supplier stock feeds: a profile's value rule turns cells into stock figures, the product table turns part
numbers into our SKUs, and what cannot be turned is rejected with its row and reason, never dropped."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime
from typing import Any

import pyarrow as pa

from stock_pipeline.domain.products import ProductMapping, part_key
from stock_pipeline.domain.rejections import Rejection
from stock_pipeline.domain.subjects import subject_line
from stock_pipeline.domain.supplier_profiles import NO_TEXTS, YES_TEXTS, ValueRule, supplier_name
from stock_pipeline.domain.timestamps import TIMESTAMP_TYPE
from stock_pipeline.domain.workbooks import FeedRows, cell_text

FEEDS_PREFIX = "supplier_feeds/"
FEED_SUFFIXES = (".xlsx", ".xlsm", ".xls", ".ods")
UNMAPPED_SAMPLE = 10
_DAY = re.compile(r"^(\d{4})/(\d{1,2})/(\d{1,2})$")


class FeedKeyError(ValueError):
    """The key does not name a supplier."""


def is_feed_key(key: str) -> bool:
    return key.startswith(FEEDS_PREFIX) and key.lower().endswith(FEED_SUFFIXES) and key.count("/") >= 2


@dataclass(frozen=True, slots=True)
class FeedKey:
    supplier: str
    day: date


def parse_feed_key(key: str, feed_time: datetime) -> FeedKey:
    """`supplier_feeds/<supplier>/<yyyy>/<mm>/<dd>/<name>`; without the date folders the feed counts for the
    day it arrived (UTC)."""
    parts = key.split("/")
    if len(parts) < 3 or parts[0] + "/" != FEEDS_PREFIX or not parts[1].strip():
        raise FeedKeyError(f"{key}: expected supplier_feeds/<supplier>/<yyyy>/<mm>/<dd>/<name>.xlsx")
    for start in range(2, len(parts) - 3):
        match = _DAY.match("/".join(parts[start : start + 3]))
        if match:
            try:
                return FeedKey(supplier_name(parts[1]), date(*map(int, match.groups())))
            except ValueError as exc:
                raise FeedKeyError(f"{key}: the date folders are not a date ({exc})") from exc
    return FeedKey(supplier_name(parts[1]), feed_time.astimezone(UTC).date())


# ---------------------------------------------------------------------------- value rules


def stock_value(rule: ValueRule, cell: Any) -> tuple[int | None, str | None]:
    """(quantity, None) or (None, reason)."""
    if type(cell) is float and rule.rule == "numeric" and cell.is_integer():  # the common case, kept short
        number = int(cell)
        if rule.minimum is not None and number < rule.minimum:
            return rule.minimum, None
        if rule.maximum is not None and number > rule.maximum:
            return rule.maximum, None
        return number, None
    if cell == "" or cell is None:
        return None, "stock: empty"
    if rule.rule == "numeric":
        return _numeric(rule, cell)
    if rule.rule == "yes_no":
        text = cell_text(cell).casefold()
        if text in YES_TEXTS:
            return rule.yes, None
        if text in NO_TEXTS:
            return rule.no, None
        return None, f"stock: {cell_text(cell)!r} is neither yes nor no"
    number = rule.labels.get(cell_text(cell).casefold())
    if number is None:
        return None, f"stock: {cell_text(cell)!r} is not one of the labels {', '.join(map(repr, rule.labels))}"
    return number, None


def _numeric(rule: ValueRule, cell: Any) -> tuple[int | None, str | None]:
    if isinstance(cell, bool):
        return None, f"stock: {cell_text(cell)} is not a number"
    value = cell
    if isinstance(cell, str):
        try:
            value = float(cell.strip())
        except ValueError:
            return None, f"stock: {cell.strip()!r} is not a number"
    if not isinstance(value, int | float) or not math.isfinite(value):
        return None, f"stock: {cell_text(cell)!r} is not a number"
    if not float(value).is_integer():
        return None, f"stock: {cell_text(cell)} is not a whole number"
    number = int(value)
    if rule.minimum is not None:
        number = max(rule.minimum, number)
    if rule.maximum is not None:
        number = min(rule.maximum, number)
    return number, None


# ---------------------------------------------------------------------------- mapping


@dataclass(slots=True)
class MappedFeed:
    """Rows with a stock figure and a SKU, plus the accounting every notice reports: read = mapped + unmapped
    + rejected."""

    lines: list[int] = field(default_factory=list)
    part_numbers: list[str] = field(default_factory=list)
    custom_labels: list[str] = field(default_factory=list)
    quantities: list[int] = field(default_factory=list)
    stock_values: list[str] = field(default_factory=list)
    rejections: list[Rejection] = field(default_factory=list)
    read: int = 0
    unmapped: int = 0
    unmapped_sample: list[str] = field(default_factory=list)

    @property
    def mapped(self) -> int:
        return len(self.lines)

    @property
    def rejected(self) -> int:
        return len(self.rejections) - self.unmapped


def map_feed(rows: FeedRows, rule: ValueRule, mapping: ProductMapping, supplier: str) -> MappedFeed:
    """Value rule, then one row per part number (a later row supersedes an earlier one), then the product table."""
    out = MappedFeed(read=len(rows.lines))
    valid: dict[str, tuple[int, str, int, str]] = {}  # part key -> (line, part, quantity, cell text)
    for part_cell, stock_cell, line in zip(rows.part_numbers, rows.stock, rows.lines, strict=True):
        part = cell_text(part_cell)
        record = f"{part}\t{cell_text(stock_cell)}"
        if not part:
            out.rejections.append(Rejection(line, "part number: empty", record))
            continue
        quantity, problem = stock_value(rule, stock_cell)
        if problem:
            out.rejections.append(Rejection(line, problem, record))
            continue
        key = part_key(part)
        earlier = valid.get(key)
        if earlier is not None:
            out.rejections.append(
                Rejection(
                    earlier[0],
                    f"part number {part!r} appears again on row {line}, which supersedes this row",
                    f"{earlier[1]}\t{earlier[3]}",
                )
            )
        valid[key] = (line, part, quantity, cell_text(stock_cell))
    labels = mapping.for_supplier(supplier)
    for key, (line, part, quantity, text) in sorted(valid.items(), key=lambda kv: kv[1][0]):
        label = labels.get(key)
        if label is None:
            out.unmapped += 1
            if len(out.unmapped_sample) < UNMAPPED_SAMPLE:
                out.unmapped_sample.append(part)
            out.rejections.append(
                Rejection(
                    line,
                    f"unmapped: part number {part!r} is not in the product table for supplier {supplier!r}",
                    f"{part}\t{text}",
                )
            )
            continue
        out.lines.append(line)
        out.part_numbers.append(part)
        out.custom_labels.append(label)
        out.quantities.append(quantity)
        out.stock_values.append(text)
    out.rejections.sort(key=lambda r: r.line)
    return out


# ---------------------------------------------------------------------------- outputs


def supplier_stock_items(feed: MappedFeed, *, supplier: str, updated_at: str, source_key: str) -> list[dict]:
    """Latest stock per (supplier, SKU): several part numbers of one SKU add up."""
    totals: dict[str, int] = {}
    parts: dict[str, list[str]] = {}
    for label, part, quantity in zip(feed.custom_labels, feed.part_numbers, feed.quantities, strict=True):
        totals[label] = totals.get(label, 0) + quantity
        parts.setdefault(label, []).append(part)
    return [
        {
            "PK": f"SUP#{supplier}",
            "SK": f"SKU#{label}",
            "entity": "SupplierStock",
            "supplier": supplier,
            "customLabel": label,
            "quantity": total,
            "partNumbers": parts[label],
            "updatedAt": updated_at,
            "sourceKey": source_key,
        }
        for label, total in totals.items()
    ]


LAKE_SCHEMA = pa.schema(
    [
        ("custom_label", pa.string()),
        ("part_number", pa.string()),
        ("quantity", pa.int64()),
        ("stock_value", pa.string()),
        ("feed_time", TIMESTAMP_TYPE),
        ("source_key", pa.string()),
        ("source_line", pa.int64()),
    ]
)


def lake_rows(feed: MappedFeed, *, feed_time: datetime, source_key: str) -> pa.Table:
    """The day's rows for curated/supplier_stock/ (the partition columns live in the path)."""
    n = feed.mapped
    return pa.table(
        {
            "custom_label": feed.custom_labels,
            "part_number": feed.part_numbers,
            "quantity": feed.quantities,
            "stock_value": feed.stock_values,
            "feed_time": pa.array([feed_time] * n, TIMESTAMP_TYPE),
            "source_key": [source_key] * n,
            "source_line": feed.lines,
        },
        schema=LAKE_SCHEMA,
    )


def day_partition(supplier: str, day: date) -> dict[str, str]:
    return {"supplier": supplier, "year": f"{day.year:04d}", "month": f"{day.month:02d}", "day": f"{day.day:02d}"}


# ---------------------------------------------------------------------------- completion notices

SUCCEEDED, FAILED = "SUCCEEDED", "FAILED"
PRODUCT_TABLE = "product_table"
STORE_LISTINGS = "store_listings"
EBAY_LISTINGS = "ebay_listings"
UNPROCESSED_FILE = "file"  # a file under an input prefix that no ingestion takes (its name, or it vanished)
ALL_SUPPLIERS = "*"


@dataclass(frozen=True, slots=True)
class FeedNotice:
    source_key: str
    supplier: str
    status: str
    day: str | None = None
    read: int = 0
    mapped: int = 0
    unmapped: int = 0
    rejected: int = 0
    unmapped_sample: list[str] = field(default_factory=list)
    skus: int = 0
    product_table_version: str | None = None
    rejected_key: str | None = None
    lake_replaced: bool | None = None
    reason: str | None = None
    kind: str = "supplier_feed"
    partitions: list[str] | None = None  # store listings: the (store/supplier) partitions an upload replaced
    newer_kept: list[str] | None = None  # ... and those a newer upload already holds
    ebay_store: str | None = None  # eBay listings: the store, its listings, how many changed, the revise file
    listings: int | None = None
    changed: int | None = None
    export_key: str | None = None

    @property
    def subject(self) -> str:
        verb = "processed" if self.status == SUCCEEDED else "FAILED"
        if self.kind == PRODUCT_TABLE:
            return f"Product table {'loaded' if self.status == SUCCEEDED else 'FAILED'}"
        if self.kind == STORE_LISTINGS:
            return f"Store listings {'loaded' if self.status == SUCCEEDED else 'FAILED'}"
        if self.kind == EBAY_LISTINGS:
            text = f"eBay listings {self.ebay_store}: {self.changed} of {self.listings} changed ({self.supplier})"
            return subject_line(text)
        if self.kind == UNPROCESSED_FILE:
            return subject_line(f"File FAILED: {self.source_key}")
        return subject_line(f"Supplier feed {verb}: {self.supplier}")

    @property
    def summary(self) -> str:
        """The notice in one line (also what the web console shows for the file)."""
        if self.status == SUCCEEDED and self.kind in (PRODUCT_TABLE, STORE_LISTINGS):
            return f"{self.source_key}: {self.read} rows read, {self.mapped} stored, {self.rejected} rejected"
        if self.kind == EBAY_LISTINGS:
            return (
                f"store {self.ebay_store}, supplier {self.supplier}: {self.listings} listings, {self.changed} changed; "
                f"revise file {self.export_key}"
            )
        if self.status == SUCCEEDED:
            return (
                f"{self.source_key}: {self.read} rows read, {self.mapped} mapped, {self.unmapped} unmapped, "
                f"{self.rejected} rejected"
            )
        return f"{self.source_key}: not processed: {self.reason}"

    @property
    def message(self) -> str:
        """JSON that reads well in an e-mail too; the summary line says it in words."""
        body = {"summary": self.summary, **{k: v for k, v in asdict(self).items() if v is not None}}
        return json.dumps(body, indent=2, ensure_ascii=False)

    @property
    def attributes(self) -> Mapping[str, str]:
        return {"supplier": self.supplier, "status": self.status, "kind": self.kind}


def succeeded(key: str, supplier: str, day: date, feed: MappedFeed, **extra: Any) -> FeedNotice:
    return FeedNotice(
        source_key=key,
        supplier=supplier,
        status=SUCCEEDED,
        day=day.isoformat(),
        read=feed.read,
        mapped=feed.mapped,
        unmapped=feed.unmapped,
        rejected=feed.rejected,
        unmapped_sample=list(feed.unmapped_sample),
        **extra,
    )


def failed(key: str, supplier: str, reason: str) -> FeedNotice:
    return FeedNotice(source_key=key, supplier=supplier, status=FAILED, reason=reason)


def table_loaded(kind: str, key: str, *, read: int, stored: int, rejected: int, **extra: Any) -> FeedNotice:
    """A reference table upload (the product table, store listings) validated and stored."""
    return FeedNotice(
        source_key=key,
        supplier=ALL_SUPPLIERS,
        status=SUCCEEDED,
        read=read,
        mapped=stored,
        rejected=rejected,
        kind=kind,
        **extra,
    )


def table_failed(kind: str, key: str, reason: str) -> FeedNotice:
    """A reference table upload refused: the current table is kept."""
    return FeedNotice(source_key=key, supplier=ALL_SUPPLIERS, status=FAILED, reason=reason, kind=kind)


def file_not_processed(key: str, reason: str) -> FeedNotice:
    """Every object under an input prefix ends visibly: one the pipeline cannot take gets this notice."""
    return FeedNotice(source_key=key, supplier=ALL_SUPPLIERS, status=FAILED, reason=reason, kind=UNPROCESSED_FILE)


def ebay_listings_generated(
    key: str, *, supplier: str, ebay_store: str, listings: int, changed: int, export_key: str
) -> FeedNotice:
    """One per store and run: what eBay should now show, and the file that revises it."""
    return FeedNotice(
        source_key=key,
        supplier=supplier,
        status=SUCCEEDED,
        kind=EBAY_LISTINGS,
        ebay_store=ebay_store,
        listings=listings,
        changed=changed,
        export_key=export_key,
    )

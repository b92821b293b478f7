"""Application layer: what happens to one announced object. Knows the domain and the adapters' interfaces, not AWS."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol

import pyarrow as pa

from stock_pipeline.adapters.stock_table import SnapshotWriteReport
from stock_pipeline.domain.inventory import aggregate_changes, chunks, parse_inventory_file
from stock_pipeline.domain.inventory import lake_rows as inventory_lake_rows
from stock_pipeline.domain.objects import ObjectRef
from stock_pipeline.domain.rejections import Rejection, rejections_to_jsonl
from stock_pipeline.domain.stock_updates import (
    article_stock_items,
    lake_rows,
    latest_per_article,
    parse_stock_updates,
)
from stock_pipeline.domain.thresholds import ThresholdChange, effective_from, parse_thresholds

STOCK_UPDATES_PREFIX = "raw/stock-updates/"
INVENTORY_PREFIX = "inventory_files/"
THRESHOLDS_PREFIX = "restock_thresholds/"


class Reader(Protocol):
    def read(self, ref: ObjectRef) -> bytes: ...


class Writer(Protocol):
    def write(self, bucket: str, key: str, body: bytes, content_type: str) -> None: ...


class SnapshotTable(Protocol):
    def put_snapshots_if_newer(self, items: list[dict]) -> SnapshotWriteReport: ...


class Lake(Protocol):
    def write(self, table: pa.Table, dataset: str, partition_cols: list[str], file_stem: str) -> list[str]: ...


@dataclass(frozen=True, slots=True)
class StockUpdateReport:
    key: str
    records: int
    rejected: int
    articles: int
    written: int
    stale: int
    lake_files: int


def rejected_key(rejected_prefix: str, ref: ObjectRef) -> str:
    """Rejections mirror the source key, so a re-delivery overwrites them and a person finds them by name."""
    return f"{rejected_prefix}{ref.key}.{ref.stem}.rejected.jsonl"


def ingest_stock_updates(
    ref: ObjectRef,
    *,
    store: Reader,
    writer: Writer,
    table: SnapshotTable,
    lake: Lake,
    rejected_prefix: str,
) -> StockUpdateReport:
    """Parse, reject what is invalid, keep the newest per article, then write DynamoDB (newer wins) and the lake.

    Every write is idempotent per source object, so a duplicated event or a retried batch changes nothing twice.
    """
    parsed = parse_stock_updates(store.read(ref))
    _write_rejections(ref, parsed.rejections, writer, rejected_prefix)
    latest = latest_per_article(parsed.table)
    report = table.put_snapshots_if_newer(article_stock_items(latest, source_key=ref.key))
    files = lake.write(lake_rows(latest, source_key=ref.key), "stock_latest", ["retailer_id", "account_id"], ref.stem)
    return StockUpdateReport(
        key=ref.key,
        records=parsed.records_read,
        rejected=len(parsed.rejections),
        articles=latest.num_rows,
        written=report.written,
        stale=report.stale,
        lake_files=len(files),
    )


def _write_rejections(ref: ObjectRef, rejections: list[Rejection], writer: Writer, prefix: str) -> None:
    if rejections:
        body = rejections_to_jsonl(rejections, source_key=ref.key, source_etag=ref.etag)
        writer.write(ref.bucket, rejected_key(prefix, ref), body, "application/x-ndjson")


# ---------------------------------------------------------------------------- inventory transactions


class Levels(Protocol):
    def apply_chunk(self, **kwargs: object) -> bool: ...

    def put_thresholds(self, thresholds: list, *, source_key: str, effective_from: str) -> list: ...


@dataclass(frozen=True, slots=True)
class InventoryReport:
    key: str
    records: int
    rejected: int
    levels: int
    chunks: int
    chunks_applied: int
    chunks_already_applied: int
    lake_files: int


def ingest_inventory_file(
    ref: ObjectRef,
    *,
    store: Reader,
    writer: Writer,
    levels: Levels,
    lake: Lake,
    rejected_prefix: str,
    now: datetime,
    ledger_ttl_days: int = 30,
) -> InventoryReport:
    """Deltas, exactly once: each chunk of aggregated changes is applied in one transaction with its ledger entry.

    The ledger is keyed by object key and ETag, so a re-delivered object or a retried batch skips the chunks it
    already applied, and a run that crashed half-way continues with the first chunk that is missing.
    """
    parsed = parse_inventory_file(store.read(ref))
    _write_rejections(ref, parsed.rejections, writer, rejected_prefix)
    files = lake.write(
        inventory_lake_rows(parsed.table, source_key=ref.key), "inventory_transactions", ["warehouse", "dt"], ref.stem
    )
    parts = chunks(aggregate_changes(parsed.table))
    processed_at = now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    expires_at = int((now + timedelta(days=ledger_ttl_days)).timestamp())
    applied = 0
    for number, part in enumerate(parts):
        if levels.apply_chunk(
            ledger_pk=f"FILE#{ref.key}#{ref.etag}",
            chunk=number,
            changes=part,
            source_key=ref.key,
            processed_at=processed_at,
            expires_at=expires_at,
        ):
            applied += 1
    return InventoryReport(
        key=ref.key,
        records=parsed.records_read,
        rejected=len(parsed.rejections),
        levels=sum(len(p) for p in parts),
        chunks=len(parts),
        chunks_applied=applied,
        chunks_already_applied=len(parts) - applied,
        lake_files=len(files),
    )


# ---------------------------------------------------------------------------- restock thresholds


@dataclass(frozen=True, slots=True)
class ThresholdsReport:
    key: str
    entries: int
    rejected: int
    changed: list[ThresholdChange]


def ingest_thresholds(
    ref: ObjectRef, *, store: Reader, writer: Writer, levels: Levels, rejected_prefix: str
) -> ThresholdsReport:
    """Store the valid entries (a later day's file wins), report the malformed ones, return what changed."""
    thresholds, rejections = parse_thresholds(store.read(ref))
    _write_rejections(ref, rejections, writer, rejected_prefix)
    changed = levels.put_thresholds(thresholds, source_key=ref.key, effective_from=effective_from(ref.key))
    return ThresholdsReport(key=ref.key, entries=len(thresholds), rejected=len(rejections), changed=changed)

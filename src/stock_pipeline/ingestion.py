"""Application layer: what happens to one announced object. Knows the domain and the adapters' interfaces, not AWS."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import pyarrow as pa

from stock_pipeline.adapters.stock_table import SnapshotWriteReport
from stock_pipeline.domain.objects import ObjectRef
from stock_pipeline.domain.rejections import Rejection, rejections_to_jsonl
from stock_pipeline.domain.stock_updates import (
    article_stock_items,
    lake_rows,
    latest_per_article,
    parse_stock_updates,
)

STOCK_UPDATES_PREFIX = "raw/stock-updates/"


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

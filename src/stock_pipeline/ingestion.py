"""Application layer: what happens to one announced object. Knows the domain and the adapters' interfaces, not AWS."""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol

import numpy as np
import pyarrow as pa

from stock_pipeline.adapters.stock_table import SnapshotWriteReport
from stock_pipeline.domain.counted_files import STOCKTAKES_PREFIX
from stock_pipeline.domain.inventory import aggregate_changes, chunks, parse_inventory_file
from stock_pipeline.domain.inventory import lake_rows as inventory_lake_rows
from stock_pipeline.domain.listings import STORE_PREFIX
from stock_pipeline.domain.objects import ObjectRef, decompress
from stock_pipeline.domain.pacing import Pacer
from stock_pipeline.domain.products import (
    NoProductTableError,
    ProductMapping,
    ProductTableError,
    parse_product_table,
)
from stock_pipeline.domain.rejections import Rejection, rejections_to_jsonl
from stock_pipeline.domain.snapshots import SnapshotColumns
from stock_pipeline.domain.stock_updates import (
    arrival_date,
    article_stock_columns,
    lake_rows,
    latest_per_article,
    parse_stock_updates,
)
from stock_pipeline.domain.supplier_feeds import (
    FEEDS_PREFIX,
    PRODUCT_TABLE,
    FeedKeyError,
    FeedNotice,
    day_partition,
    failed,
    file_not_processed,
    map_feed,
    parse_feed_key,
    succeeded,
    supplier_stock_items,
    table_failed,
    table_loaded,
)
from stock_pipeline.domain.supplier_feeds import lake_rows as feed_lake_rows
from stock_pipeline.domain.supplier_profiles import ProfileError, SupplierProfile, profile_for
from stock_pipeline.domain.thresholds import ThresholdChange, effective_from, parse_thresholds
from stock_pipeline.domain.validation import utc_text
from stock_pipeline.domain.workbooks import WorkbookError, read_feed_rows

STOCK_UPDATES_PREFIX = "raw/stock-updates/"
ITEM_CHUNK = 5_000
INVENTORY_PREFIX = "inventory_files/"
THRESHOLDS_PREFIX = "restock_thresholds/"
SUPPLIER_FEEDS_PREFIX = FEEDS_PREFIX
PRODUCT_TABLE_PREFIX = "reference/product/"
ARRIVAL_REGISTER_DAYS = 90  # the nightly validation must take a file within this time
# What each input prefix expects, for the notice of a file whose name no ingestion recognises.
EXPECTED_NAMES = {
    INVENTORY_PREFIX: "inventory_files/<yyyy>/<mm>/<dd>/<yyyymmddHHMM[SS]>_inventory.csv",
    THRESHOLDS_PREFIX: "restock_thresholds/<yyyy>/<mm>/<dd>/restock_thresholds.json",
    SUPPLIER_FEEDS_PREFIX: "supplier_feeds/<supplier>/<yyyy>/<mm>/<dd>/<name>.xlsx",
    PRODUCT_TABLE_PREFIX: "reference/product/<name>.csv, .xlsx or .parquet",
    STORE_PREFIX: f"{STORE_PREFIX}<name>.csv, .xlsx or .parquet",
    STOCKTAKES_PREFIX: f"{STOCKTAKES_PREFIX}<folders>/<name>.csv, .tsv, .txt, .xlsx or .parquet",
}


def unrecognised_name(key: str) -> str:
    """Why a key under an input prefix is not taken, naming the layout that prefix expects."""
    for prefix, layout in EXPECTED_NAMES.items():
        if key.startswith(prefix):
            return f"the name does not match {layout} (extensions in any letter case)"
    return "no ingestion takes objects under this prefix"


class Reader(Protocol):
    def read(self, ref: ObjectRef) -> bytes: ...


class Writer(Protocol):
    def write(self, bucket: str, key: str, body: bytes, content_type: str) -> None: ...


class SnapshotTable(Protocol):
    def put_snapshots_if_newer(self, batch: SnapshotColumns) -> SnapshotWriteReport: ...


class Lake(Protocol):
    def write(self, table: pa.Table, dataset: str, partition_cols: list[str], file_stem: str) -> list[str]: ...

    def write_file(self, table: pa.Table, dataset: str, partition: Mapping[str, str], file_name: str) -> str: ...


@dataclass(frozen=True, slots=True)
class StockUpdateReport:
    key: str
    records: int
    rejected: int
    articles: int
    written: int
    stale: int
    lake_files: int
    table_requests: int = 0


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
    now: datetime | None = None,
) -> StockUpdateReport:
    """Parse, reject what is invalid, keep the newest per article, then write DynamoDB (newer wins) and ONE lake
    file for the object under its arrival day (curated/stock_latest/dt=…/), rows sorted by retailer and account.

    Every write is idempotent per source object, so a duplicated event or a retried batch changes nothing twice.
    A record DynamoDB refuses (an item over 400 KB) is rejected with its line; the rest of the object lands.
    """
    parsed = parse_stock_updates(store.read(ref))
    latest = latest_per_article(parsed.table)
    rejections = list(parsed.rejections)
    written = stale = requests = 0
    refused: list[int] = []
    for start in range(0, latest.num_rows, ITEM_CHUNK):  # item columns cost memory: a chunk at a time
        batch = article_stock_columns(latest.slice(start, ITEM_CHUNK), source_key=ref.key)
        report = table.put_snapshots_if_newer(batch)
        written, stale, requests = written + report.written, stale + report.stale, requests + report.requests
        for index, reason in report.invalid:
            refused.append(start + index)
            rejections.append(Rejection(batch.lines[index], f"not stored: {reason}", _row_text(latest, start + index)))
    if refused:
        keep = np.ones(latest.num_rows, dtype=bool)
        keep[refused] = False
        latest = latest.filter(pa.array(keep))
    day = arrival_date(ref.key, ref.event_time or utc_timestamp(now or datetime.now(UTC)))
    lake.write_file(lake_rows(latest, source_key=ref.key), "stock_latest", {"dt": day}, f"{ref.stem}.snappy.parquet")
    rejections.sort(key=lambda r: r.line)
    write_rejections(ref, rejections, writer, rejected_prefix)
    return StockUpdateReport(
        key=ref.key,
        records=parsed.records_read,
        rejected=len(rejections),
        articles=latest.num_rows,
        written=written,
        stale=stale,
        lake_files=1,
        table_requests=requests,
    )


def _row_text(table: pa.Table, index: int) -> str:
    row = table.slice(index, 1).to_pylist()[0]
    return json.dumps({k: v for k, v in row.items() if k != "sourceLine"}, ensure_ascii=False, default=str)[:2000]


def write_rejections(ref: ObjectRef, rejections: list[Rejection], writer: Writer, prefix: str) -> None:
    if rejections:
        body = rejections_to_jsonl(rejections, source_key=ref.key, source_etag=ref.etag)
        writer.write(ref.bucket, rejected_key(prefix, ref), body, "application/x-ndjson")


# ---------------------------------------------------------------------------- inventory transactions


class Levels(Protocol):
    def apply_chunk(self, **kwargs: object) -> bool: ...

    def register_warehouses(self, warehouses: list[str], *, seen_at: str) -> None: ...

    def register_arrival(self, **kwargs: object) -> bool: ...

    def claim_content(self, *, digest: str, key: str, etag: str, seen_at: str, expires_at: int) -> tuple[str, str]: ...

    def settle_first_seen(self, changes: list) -> int: ...

    def put_thresholds(
        self, thresholds: list, *, source_key: str, effective_from: str, source_file: str = ""
    ) -> list: ...


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
    duplicate_of: str | None = None  # the key that brought the same content first: nothing applied
    paced_s: float = 0.0  # waited to keep each warehouse's partition under its write rate
    first_seen_moved: int = 0  # levels whose first-seen time this file's history moved back


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
    pacer: Pacer | None = None,
    history_before: datetime | None = None,
) -> InventoryReport:
    """Deltas, exactly once: each chunk of aggregated changes is applied in one transaction with its ledger entry.

    The ledger is keyed by object key and ETag, so a re-delivered object or a retried batch skips the chunks it
    already applied, and a run that crashed half-way continues with the first chunk that is missing. The file is
    entered in the arrival register first, so the nightly validation also sees a file that then fails to apply.
    With a `pacer`, each warehouse's writes keep under its partition's rate (a large file for one warehouse would
    otherwise be throttled there, and on its indexes).
    """
    data = decompress(store.read(ref), "inventory")  # once: hashed here, parsed below (plain text is left as it is)
    register_until = int((now + timedelta(days=ARRIVAL_REGISTER_DAYS)).timestamp())
    first_key, first_etag = levels.claim_content(
        digest=hashlib.sha256(data).hexdigest(),
        key=ref.key,
        etag=ref.etag,
        seen_at=utc_text(now),
        expires_at=register_until,
    )
    if (first_key, first_etag) != (ref.key, ref.etag):
        return InventoryReport(ref.key, 0, 0, 0, 0, 0, 0, 0, duplicate_of=first_key)
    levels.register_arrival(
        key=ref.key,
        etag=ref.etag,
        version_id=ref.version_id,
        event_time=utc_text(arrival_time(ref, now)),
        registered_at=utc_text(datetime.now(UTC)),
        expires_at=register_until,
    )
    parsed = parse_inventory_file(data)
    write_rejections(ref, parsed.rejections, writer, rejected_prefix)
    files = lake.write(
        inventory_lake_rows(parsed.table, source_key=ref.key), "inventory_transactions", ["warehouse", "dt"], ref.stem
    )
    parts = chunks(aggregate_changes(parsed.table))
    processed_at = now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    levels.register_warehouses(sorted({change.warehouse for part in parts for change in part}), seen_at=processed_at)
    expires_at = int((now + timedelta(days=ledger_ttl_days)).timestamp())
    applied = 0
    for number, part in enumerate(parts):
        if pacer is not None:  # two write units a level in a transaction, on its warehouse's partition
            for warehouse, count in Counter(change.warehouse for change in part).items():
                pacer.spend(f"WH#{warehouse}", 2 * count)
        if levels.apply_chunk(
            ledger_pk=f"FILE#{ref.key}#{ref.etag}",
            chunk=number,
            changes=part,
            source_key=ref.key,
            processed_at=processed_at,
            expires_at=expires_at,
            changed_by=ref.uploaded_by or "",
        ):
            applied += 1
    # History (an import, a late file): a level's first-seen time moves back to its earliest transaction, so that
    # its sales rate averages over the days it existed, not since the pipeline first heard of it. Live files are
    # left out: their transactions are newer than any level's first-seen time but by minutes.
    cutoff = utc_text(history_before or now - timedelta(days=1))
    moved = levels.settle_first_seen([c for part in parts for c in part if c.first_at and c.first_at < cutoff])
    return InventoryReport(
        key=ref.key,
        records=parsed.records_read,
        rejected=len(parsed.rejections),
        levels=sum(len(p) for p in parts),
        chunks=len(parts),
        chunks_applied=applied,
        chunks_already_applied=len(parts) - applied,
        lake_files=len(files),
        paced_s=pacer.waited_s if pacer is not None else 0.0,
        first_seen_moved=moved,
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
    write_rejections(ref, rejections, writer, rejected_prefix)
    changed = levels.put_thresholds(
        thresholds, source_key=ref.key, effective_from=effective_from(ref.key), source_file=f"{ref.key}#{ref.etag}"
    )
    return ThresholdsReport(key=ref.key, entries=len(thresholds), rejected=len(rejections), changed=changed)


# ---------------------------------------------------------------------------- supplier feeds and the product table


class Profiles(Protocol):
    def profiles(self) -> Mapping[str, SupplierProfile]: ...


class Catalog(Protocol):
    def current(self) -> ProductMapping: ...

    def replace(self, table: pa.Table, *, order: str, source_key: str) -> bool: ...


class SupplierLatest(Protocol):
    def put_latest(self, items: list[dict]) -> SnapshotWriteReport: ...

    def notice_sent(self, source_key: str, etag: str) -> bool: ...

    def record_notice(self, source_key: str, etag: str, *, status: str, sent_at: str, expires_at: int) -> None: ...


class PartitionLake(Protocol):
    def replace_partition(
        self, table: pa.Table, dataset: str, partition: Mapping[str, str], file_name: str, *, order: str
    ) -> tuple[str, bool]: ...


class Notices(Protocol):
    def publish(self, subject: str, message: str, attributes: Mapping[str, str]) -> str: ...


SUPPLIER_STOCK_DATASET = "supplier_stock"
SUPPLIER_STOCK_FILE = "supplier_stock.snappy.parquet"
NOTICE_LEDGER_DAYS = 35


@dataclass(frozen=True, slots=True)
class FeedOutcome:
    notice: FeedNotice
    notified: bool  # False when an earlier delivery of the same file already sent its notice
    written: int = 0
    stale: int = 0


def ingest_supplier_feed(
    ref: ObjectRef,
    *,
    store: Reader,
    writer: Writer,
    profiles: Profiles,
    catalog: Catalog,
    supplier_stock: SupplierLatest,
    lake: PartitionLake,
    notices: Notices,
    rejected_prefix: str,
    now: datetime,
) -> FeedOutcome:
    """Read with the supplier's profile, map through one version of the product table, replace the day's
    partition, update the latest stock per SKU (newer feed wins), and send one notice for the file.

    A file that cannot be read as declared fails with its reason in the notice and is not retried: retrying
    cannot fix a workbook. AWS errors propagate, so the message is retried and ends in the DLQ if they persist.
    """
    feed_time = arrival_time(ref, now)
    written = stale = 0
    try:
        feed_key = parse_feed_key(ref.key, feed_time)
    except FeedKeyError as exc:
        notice = failed(ref.key, "unknown", str(exc))
    else:
        try:
            profile = profile_for(profiles.profiles(), feed_key.supplier)
            rows = read_feed_rows(store.read(ref), profile)
            mapping = catalog.current()  # read once: every row of this file maps through the same version
        except (ProfileError, WorkbookError, NoProductTableError) as exc:
            notice = failed(ref.key, feed_key.supplier, str(exc))
        else:
            feed = map_feed(rows, profile.value, mapping, feed_key.supplier)
            write_rejections(ref, feed.rejections, writer, rejected_prefix)
            order = f"{utc_timestamp(feed_time)}#{ref.etag}"
            _, replaced = lake.replace_partition(
                feed_lake_rows(feed, feed_time=feed_time, source_key=ref.key),
                SUPPLIER_STOCK_DATASET,
                day_partition(feed_key.supplier, feed_key.day),
                SUPPLIER_STOCK_FILE,
                order=order,
            )
            items = supplier_stock_items(
                feed, supplier=feed_key.supplier, updated_at=utc_timestamp(feed_time), source_key=ref.key
            )
            report = supplier_stock.put_latest(items)
            written, stale = report.written, report.stale
            notice = succeeded(
                ref.key,
                feed_key.supplier,
                feed_key.day,
                feed,
                skus=len(items),
                product_table_version=mapping.version.strip('"'),
                rejected_key=rejected_key(rejected_prefix, ref) if feed.rejections else None,
                lake_replaced=replaced,
            )
    notified = notify_once(ref, notice, supplier_stock, notices, now)
    return FeedOutcome(notice=notice, notified=notified, written=written, stale=stale)


def ingest_product_table(
    ref: ObjectRef,
    *,
    store: Reader,
    writer: Writer,
    catalog: Catalog,
    ledger: SupplierLatest,
    notices: Notices,
    rejected_prefix: str,
    now: datetime,
) -> FeedOutcome:
    """Validate the upload and replace the table in one PUT; an unusable upload keeps the current table."""
    try:
        parsed = parse_product_table(store.read(ref), ref.key)
    except ProductTableError as exc:
        notice = table_failed(PRODUCT_TABLE, ref.key, str(exc))
    else:
        write_rejections(ref, parsed.rejections, writer, rejected_prefix)
        replaced = catalog.replace(
            parsed.table, order=f"{utc_timestamp(arrival_time(ref, now))}#{ref.etag}", source_key=ref.key
        )
        notice = table_loaded(
            PRODUCT_TABLE,
            ref.key,
            read=parsed.rows_read,
            stored=parsed.table.num_rows,
            rejected=len(parsed.rejections),
            lake_replaced=replaced,
            rejected_key=rejected_key(rejected_prefix, ref) if parsed.rejections else None,
        )
    notified = notify_once(ref, notice, ledger, notices, now)
    return FeedOutcome(notice=notice, notified=notified)


def report_unprocessed(
    ref: ObjectRef, reason: str, *, ledger: SupplierLatest, notices: Notices, now: datetime
) -> FeedOutcome:
    """A FAILED notice for a file no ingestion takes (once per key and ETag), instead of a log line."""
    notice = file_not_processed(ref.key, reason)
    return FeedOutcome(notice=notice, notified=notify_once(ref, notice, ledger, notices, now))


def notify_once(ref: ObjectRef, notice: FeedNotice, ledger: SupplierLatest, notices: Notices, now: datetime) -> bool:
    """Publish, then record: a re-delivered file sends nothing more (a crash in between may send twice)."""
    if ledger.notice_sent(ref.key, ref.etag):
        return False
    notices.publish(notice.subject, notice.message, notice.attributes)
    ledger.record_notice(
        ref.key,
        ref.etag,
        status=notice.status,
        sent_at=utc_timestamp(now),
        expires_at=int((now + timedelta(days=NOTICE_LEDGER_DAYS)).timestamp()),
    )
    return True


def arrival_time(ref: ObjectRef, now: datetime) -> datetime:
    """When S3 received the object (the notification's eventTime); orders re-uploads of the same day."""
    if ref.event_time:
        try:
            return datetime.fromisoformat(ref.event_time.replace("Z", "+00:00")).astimezone(UTC)
        except ValueError:
            pass
    return now.astimezone(UTC)


def utc_timestamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"

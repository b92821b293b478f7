"""eBay listings: store listings uploads, and the eBay table and revise file per store after a feed or an upload.

Files: `curated/store/ebay_store=<store>/supplier=<supplier>/listings.snappy.parquet` (an upload replaces the
partitions it holds, the newer upload wins) and `curated/ebay/ebay_store=<store>/<supplier>.snappy.parquet`: one file
per (store, supplier), so a generation for one supplier reads and writes only that supplier's files and two
suppliers' feeds finishing together never touch the same object. Each file is replaced by compare-and-swap on its
ETag with the generation's order, so of two generations of one supplier the later one stays.
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

import pyarrow as pa
import pyarrow.parquet as pq

from stock_pipeline.domain.listings import (
    EBAY_DATASET,
    EXPORT_PREFIX,
    STORE_DATASET,
    STORE_FILE,
    StoreListingsError,
    changed,
    ebay_rows,
    latest_quantities,
    parse_store_listings,
    revise_csv,
)
from stock_pipeline.domain.objects import ObjectRef
from stock_pipeline.domain.supplier_feeds import STORE_LISTINGS, ebay_listings_generated, table_failed, table_loaded
from stock_pipeline.domain.supplier_profiles import ProfileError
from stock_pipeline.ingestion import (
    FeedOutcome,
    Notices,
    PartitionLake,
    Profiles,
    SupplierLatest,
    Writer,
    arrival_time,
    notify_once,
    rejected_key,
    utc_timestamp,
    write_rejections,
)

CSV_CONTENT_TYPE = "text/csv; charset=utf-8"


class Objects(Protocol):
    def read(self, ref: ObjectRef) -> bytes: ...

    def read_object(self, bucket: str, key: str) -> bytes | None: ...

    def list_keys(self, bucket: str, prefix: str) -> list[str]: ...

    def write_once(self, bucket: str, key: str, body: bytes, content_type: str) -> bool: ...


class SupplierStockReader(SupplierLatest, Protocol):
    def stock_of_supplier(self, supplier: str) -> list[dict[str, Any]]: ...


@dataclass(frozen=True, slots=True)
class EbayRun:
    ebay_store: str
    supplier: str
    listings: int
    changed: int
    export_key: str | None
    replaced: bool
    notified: bool


@dataclass(frozen=True, slots=True)
class ListingsContext:
    """What both triggers need: where the files are, the adapters, and who hears about it."""

    bucket: str
    lake_prefix: str
    objects: Objects
    lake: PartitionLake
    supplier_stock: SupplierStockReader
    profiles: Profiles
    notices: Notices


def ingest_store_listings(
    ref: ObjectRef, ctx: ListingsContext, *, writer: Writer, rejected_prefix: str, now: datetime
) -> tuple[FeedOutcome, list[EbayRun]]:
    """Validate the upload, replace the partitions it holds (older uploads lose), notify, then regenerate the
    eBay table of each replaced (store, supplier). An unusable upload keeps every current partition."""
    try:
        parsed = parse_store_listings(ctx.objects.read(ref), ref.key, set(ctx.profiles.profiles()))
    except (StoreListingsError, ProfileError) as exc:
        notice = table_failed(STORE_LISTINGS, ref.key, str(exc))
        return FeedOutcome(notice=notice, notified=notify_once(ref, notice, ctx.supplier_stock, ctx.notices, now)), []
    write_rejections(ref, parsed.rejections, writer, rejected_prefix)
    order = f"{utc_timestamp(arrival_time(ref, now))}#{ref.etag}"
    replaced, kept = [], []
    for store, supplier in parsed.partitions():
        _, done = ctx.lake.replace_partition(
            parsed.partition(store, supplier),
            STORE_DATASET,
            {"ebay_store": store, "supplier": supplier},
            STORE_FILE,
            order=order,
        )
        (replaced if done else kept).append(f"{store}/{supplier}")
    notice = table_loaded(
        STORE_LISTINGS,
        ref.key,
        read=parsed.rows_read,
        stored=parsed.table.num_rows,
        rejected=len(parsed.rejections),
        partitions=replaced,
        newer_kept=kept,
        rejected_key=rejected_key(rejected_prefix, ref) if parsed.rejections else None,
    )
    outcome = FeedOutcome(notice=notice, notified=notify_once(ref, notice, ctx.supplier_stock, ctx.notices, now))
    runs = []
    by_supplier: dict[str, list[str]] = {}
    for pair in replaced:
        store, supplier = pair.rsplit("/", 1)
        by_supplier.setdefault(supplier, []).append(store)
    for supplier, stores in sorted(by_supplier.items()):
        runs += regenerate_ebay(ctx, supplier, run=ref, now=now, stores=stores)
    return outcome, runs


def regenerate_ebay(
    ctx: ListingsContext, supplier: str, *, run: ObjectRef, now: datetime, stores: list[str] | None = None
) -> list[EbayRun]:
    """The eBay table of every store that lists `supplier` (or the given stores), from the supplier's latest stock.

    `run` is the file that caused it (a feed or a store upload): a re-delivery of it is the same run and gives the
    same deltas, revise file and (once) notice.
    """
    profile = ctx.profiles.profiles().get(supplier)
    zero_missing = bool(profile and profile.zero_missing)
    supply = latest_quantities(ctx.supplier_stock.stock_of_supplier(supplier))
    run_id = f"{run.key}#{run.etag}"
    order = f"{utc_timestamp(now)}#{hashlib.sha256(run_id.encode()).hexdigest()[:12]}"
    runs = []
    for store in stores if stores is not None else stores_listing(ctx, supplier):
        listings = _parquet(ctx, _store_key(ctx, store, supplier))
        if listings is None:
            continue
        file_name = f"{supplier}.snappy.parquet"
        previous = _parquet(ctx, f"{ctx.lake_prefix}{EBAY_DATASET}/ebay_store={store}/{file_name}")
        rows = ebay_rows(listings, supply, previous, zero_missing=zero_missing, run_id=run_id, updated_at=now)
        _, replaced = ctx.lake.replace_partition(rows, EBAY_DATASET, {"ebay_store": store}, file_name, order=order)
        if not replaced:  # a later generation of this supplier already wrote the store's table
            runs.append(EbayRun(store, supplier, rows.num_rows, 0, None, False, False))
            continue
        moved = changed(rows).num_rows
        export_key = export_key_for(store, supplier, run_id, now)
        # once per run: a re-delivered feed after a later run must not empty the revise file eBay may still fetch
        ctx.objects.write_once(ctx.bucket, export_key, revise_csv(rows), CSV_CONTENT_TYPE)
        notice = ebay_listings_generated(
            run.key, supplier=supplier, ebay_store=store, listings=rows.num_rows, changed=moved, export_key=export_key
        )
        marker = ObjectRef(bucket=run.bucket, key=f"{run.key}#ebay#{store}#{supplier}", etag=run.etag)
        notified = notify_once(marker, notice, ctx.supplier_stock, ctx.notices, now)
        runs.append(EbayRun(store, supplier, rows.num_rows, moved, export_key, True, notified))
    return runs


def stores_listing(ctx: ListingsContext, supplier: str) -> list[str]:
    """Stores with a listings partition for the supplier (a listing of curated/store/, no file read)."""
    prefix = f"{ctx.lake_prefix}{STORE_DATASET}/"
    stores = set()
    for key in ctx.objects.list_keys(ctx.bucket, prefix):
        parts = key[len(prefix) :].split("/")
        if len(parts) == 3 and parts[1] == f"supplier={supplier}" and parts[0].startswith("ebay_store="):
            stores.add(parts[0].removeprefix("ebay_store="))
    return sorted(stores)


def export_key_for(store: str, supplier: str, run_id: str, now: datetime) -> str:
    """One revise file per store and run, named after the run: a retry rewrites the same file."""
    digest = hashlib.sha256(run_id.encode()).hexdigest()[:12]
    return f"{EXPORT_PREFIX}{store}/{now.astimezone(UTC):%Y/%m/%d}/{supplier}-{digest}.csv"


def _store_key(ctx: ListingsContext, store: str, supplier: str) -> str:
    return f"{ctx.lake_prefix}{STORE_DATASET}/ebay_store={store}/supplier={supplier}/{STORE_FILE}"


def _parquet(ctx: ListingsContext, key: str) -> pa.Table | None:
    body = ctx.objects.read_object(ctx.bucket, key)
    return None if body is None else pq.read_table(io.BytesIO(body))

"""eBay store listings and the quantities eBay should show (pure: bytes and Arrow in, Arrow and CSV out).

Store listings (uploaded weekly, millions of rows) say which of our SKUs (`custom_label`) each eBay listing sells,
per store and supplier. The eBay table gives every listing the supplier's latest quantity of its SKU, its change
since the previous table, and the revise file lists only the listings whose quantity changed.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv

from stock_pipeline.domain.errors import PipelineError
from stock_pipeline.domain.products import read_columns
from stock_pipeline.domain.rejections import Rejection
from stock_pipeline.domain.supplier_profiles import supplier_name
from stock_pipeline.domain.workbooks import cell_text

STORE_PREFIX = "reference/store/"
STORE_DATASET, EBAY_DATASET = "store", "ebay"
STORE_FILE = "listings.snappy.parquet"
EXPORT_PREFIX = "exports/ebay/"
COLUMNS = (
    "item_id",
    "custom_label",
    "title",
    "current_price",
    "prefix",
    "uk_rtg",
    "fps_wds_dir",
    "payment_profile_name",
    "shipping_profile_name",
    "return_profile_name",
    "supplier",
    "ebay_store",
)
TEXT_COLUMNS = [c for c in COLUMNS if c not in ("item_id", "current_price")]
STORE_SCHEMA = pa.schema(
    [("item_id", pa.int64()), *((c, pa.string()) for c in COLUMNS[1:3]), ("current_price", pa.float64())]
    + [(c, pa.string()) for c in COLUMNS[4:]]
)
EBAY_SCHEMA = pa.schema(
    [
        ("item_id", pa.int64()),
        ("custom_label", pa.string()),
        ("supplier", pa.string()),
        ("ebay_store", pa.string()),
        ("quantity", pa.int64()),
        ("quantity_delta", pa.int64()),
        ("previous_quantity", pa.int64()),
        ("quantity_source", pa.string()),  # feed | missing_zeroed | last_known | none
        ("updated_at", pa.timestamp("ms", tz="UTC")),
        ("changed_at", pa.timestamp("ms", tz="UTC")),  # the last run that changed the quantity
        ("run_id", pa.string()),
    ]
)
REVISE_HEADER = ("Action", "ItemID", "Quantity")


class StoreListingsError(PipelineError):
    """The upload cannot be used as store listings; the current listings stay in place."""


def is_store_key(key: str) -> bool:
    return key.startswith(STORE_PREFIX) and key.lower().endswith((".csv", ".xlsx", ".parquet"))


@dataclass(slots=True)
class ParsedListings:
    table: pa.Table  # STORE_SCHEMA, valid rows only
    rejections: list[Rejection] = field(default_factory=list)
    rows_read: int = 0

    def partitions(self) -> list[tuple[str, str]]:
        """The (ebay_store, supplier) pairs the upload holds: the partitions it replaces."""
        pairs = self.table.group_by(["ebay_store", "supplier"]).aggregate([])
        return sorted(zip(pairs.column("ebay_store").to_pylist(), pairs.column("supplier").to_pylist(), strict=True))

    def partition(self, ebay_store: str, supplier: str) -> pa.Table:
        mask = pc.and_(pc.equal(self.table["ebay_store"], ebay_store), pc.equal(self.table["supplier"], supplier))
        return self.table.filter(mask).sort_by("item_id")


def parse_store_listings(data: bytes, key: str, known_suppliers: set[str]) -> ParsedListings:
    """Rows with a missing key field, an item_id that is not a whole number or repeats, a store name that is not a
    folder name, or a supplier no profile describes are rejected with their line; the others are kept."""
    raw = read_columns(data, key, COLUMNS, what="store listings", error=StoreListingsError)
    rejections: list[Rejection] = []
    seen: dict[int, int] = {}
    keep: list[int] = []
    item_ids: list[int] = []
    suppliers: list[str] = []
    for i, line in enumerate(raw["lines"]):
        item, label = cell_text(raw["item_id"][i]), cell_text(raw["custom_label"][i])
        supplier, store = supplier_name(cell_text(raw["supplier"][i])), cell_text(raw["ebay_store"][i])
        record = f"{item},{label},{supplier},{store}"
        missing = [
            n
            for n, v in (("item_id", item), ("custom_label", label), ("supplier", supplier), ("ebay_store", store))
            if not v
        ]
        if missing:
            rejections.append(Rejection(line, f"{', '.join(missing)}: missing", record))
            continue
        if not item.isdigit() or len(item) > 18:
            rejections.append(Rejection(line, f"item_id {item!r}: not a whole number", record))
            continue
        if "/" in store or store in {".", ".."}:
            rejections.append(Rejection(line, f"ebay_store {store!r}: a store name cannot contain '/'", record))
            continue
        if supplier not in known_suppliers:
            known = ", ".join(sorted(known_suppliers)) or "none"
            rejections.append(Rejection(line, f"supplier {supplier!r}: unknown (profiles: {known})", record))
            continue
        number = int(item)
        if number in seen:
            rejections.append(Rejection(line, f"item_id {number} already listed on line {seen[number]}", record))
            continue
        seen[number] = line
        keep.append(i)
        item_ids.append(number)
        suppliers.append(supplier)
    if not keep:
        reason = f"; first problem: line {rejections[0].line}: {rejections[0].reason}" if rejections else ""
        raise StoreListingsError(f"store listings {key}: no valid rows, the current listings are kept{reason}")
    columns: dict[str, pa.Array] = {"item_id": pa.array(item_ids, pa.int64())}
    for name in TEXT_COLUMNS:
        values = raw[name]
        columns[name] = pa.array([cell_text(values[i]) for i in keep], pa.string())
    columns["supplier"] = pa.array(suppliers, pa.string())
    columns["current_price"] = pa.array([_price(raw["current_price"][i]) for i in keep], pa.float64())
    table = pa.table(columns).select(STORE_SCHEMA.names).cast(STORE_SCHEMA)
    return ParsedListings(table, rejections, len(raw["lines"]))


def _price(value: object) -> float | None:
    text = cell_text(value).replace(",", ".") if not isinstance(value, int | float) else value
    try:
        return float(text) if text != "" else None
    except ValueError:
        return None


@dataclass(frozen=True, slots=True)
class SupplierQuantities:
    """The supplier's latest quantity per SKU, and which SKUs its latest feed held."""

    quantities: Mapping[str, int]
    in_latest_feed: frozenset[str]


def latest_quantities(items: list[Mapping[str, object]]) -> SupplierQuantities:
    """From the stored supplier stock (one item per SKU with the feed time that set it)."""
    if not items:
        return SupplierQuantities({}, frozenset())
    newest = max(str(i.get("updatedAt", "")) for i in items)
    quantities = {str(i["customLabel"]): int(i["quantity"]) for i in items}  # type: ignore[call-overload]
    latest = frozenset(str(i["customLabel"]) for i in items if str(i.get("updatedAt", "")) == newest)
    return SupplierQuantities(quantities, latest)


def ebay_rows(
    listings: pa.Table,
    supply: SupplierQuantities,
    previous: pa.Table | None,
    *,
    zero_missing: bool,
    run_id: str,
    updated_at: datetime,
) -> pa.Table:
    """Every listing of one (store, supplier) with its quantity and the change since the previous table.

    Quantity: the SKU's quantity when the supplier's latest feed held it; else 0 when the profile says to zero
    missing SKUs; else the last known quantity (the previous table's, then the stored one). The previous table is
    this run's own output when a retry comes back (same run_id): its previous quantities are reused, so a retry
    gives the same deltas and the same revise file.
    """
    n = listings.num_rows
    labels = listings["custom_label"]
    feed_labels = pa.array(sorted(supply.quantities), pa.string())
    feed_values = pa.array([supply.quantities[k] for k in feed_labels.to_pylist()], pa.int64())
    stored = pc.take(feed_values, pc.index_in(labels, value_set=feed_labels))
    in_feed = pc.is_in(labels, value_set=pa.array(sorted(supply.in_latest_feed), pa.string()))
    before, before_changed = _previous_quantities(listings["item_id"], previous, run_id)
    zero = pa.repeat(pa.scalar(0, pa.int64()), n)
    last_known = pc.coalesce(before, stored)
    missing_value = zero if zero_missing else last_known
    quantity = pc.if_else(in_feed, stored, missing_value)
    quantity = pc.coalesce(quantity, zero)
    source = pc.if_else(
        in_feed,
        "feed",
        pc.if_else(pc.is_valid(missing_value), "missing_zeroed" if zero_missing else "last_known", "none"),
    )
    delta = pc.subtract(quantity, pc.coalesce(before, zero))
    now = pa.repeat(pa.scalar(updated_at, pa.timestamp("ms", tz="UTC")), n)
    changed_at = pc.if_else(pc.not_equal(delta, 0), now, before_changed)
    return pa.table(
        {
            "item_id": listings["item_id"],
            "custom_label": labels,
            "supplier": listings["supplier"],
            "ebay_store": listings["ebay_store"],
            "quantity": quantity,
            "quantity_delta": delta,
            "previous_quantity": before,
            "quantity_source": source,
            "updated_at": now,
            "changed_at": changed_at,
            "run_id": pa.repeat(pa.scalar(run_id, pa.string()), n),
        },
        schema=EBAY_SCHEMA,
    )


def _previous_quantities(
    item_ids: pa.ChunkedArray, previous: pa.Table | None, run_id: str
) -> tuple[pa.Array, pa.Array]:
    """(quantity before this run, when it last changed) per listing; nulls for a listing new to the table."""
    if previous is None or previous.num_rows == 0:
        return pa.nulls(len(item_ids), pa.int64()), pa.nulls(len(item_ids), pa.timestamp("ms", tz="UTC"))
    own_retry = previous["run_id"][0].as_py() == run_id
    column = previous["previous_quantity"] if own_retry else previous["quantity"]
    at = pc.index_in(item_ids, value_set=previous["item_id"])
    changed = previous["changed_at"] if "changed_at" in previous.column_names else previous["updated_at"]
    return pc.take(column, at), pc.take(changed, at)


def changed(rows: pa.Table) -> pa.Table:
    return rows.filter(pc.not_equal(rows["quantity_delta"], 0))


def revise_csv(rows: pa.Table) -> bytes:
    """eBay's bulk revise layout: one `Revise` line per listing whose quantity changed (Arrow's CSV writer: a
    supplier's 200,000 listings in milliseconds, not a Python loop)."""
    moved = changed(rows)
    table = pa.table(
        {
            "Action": pa.repeat(pa.scalar("Revise", pa.string()), moved.num_rows),
            "ItemID": moved["item_id"],
            "Quantity": moved["quantity"],
        }
    )
    sink = io.BytesIO()
    sink.write((",".join(REVISE_HEADER) + "\n").encode())
    pcsv.write_csv(table, sink, pcsv.WriteOptions(include_header=False, quoting_style="none"))
    return sink.getvalue()

"""Store listings and eBay quantities (pure)."""

import csv
import io
from datetime import UTC, datetime

import pyarrow as pa
import pytest

from stock_pipeline.domain.listings import (
    COLUMNS,
    StoreListingsError,
    SupplierQuantities,
    ebay_rows,
    latest_quantities,
    parse_store_listings,
    revise_csv,
)

NOW = datetime(2026, 11, 26, 18, 0, tzinfo=UTC)


def store_csv(*rows, header=COLUMNS):
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    for item, label, supplier, store in rows:
        writer.writerow([item, label, f"Title {label}", "12,50", "", "", "", "pay", "ship", "ret", supplier, store])
    return out.getvalue().encode()


def test_store_listings_keep_good_rows_and_reject_the_others_with_their_line():
    data = store_csv(
        ("1001", "SKU-1", "ACME", "Store A"),
        ("1002", "SKU-2", "acme", "Store B"),
        ("1001", "SKU-9", "acme", "Store A"),  # repeated item_id
        ("12x", "SKU-3", "acme", "Store A"),  # not a number
        ("1004", "SKU-4", "initech", "Store A"),  # no profile
        ("1005", "", "acme", "Store A"),  # no SKU
        ("1006", "SKU-6", "acme", "a/b"),  # not a folder name
    )
    parsed = parse_store_listings(data, "reference/store/w48.csv", {"acme", "northwind"})
    assert parsed.table["item_id"].to_pylist() == [1001, 1002]
    assert parsed.table["supplier"].to_pylist() == ["acme", "acme"]
    assert parsed.table["current_price"].to_pylist() == [12.5, 12.5]
    assert parsed.partitions() == [("Store A", "acme"), ("Store B", "acme")]
    assert [(r.line, r.reason.split(":")[0]) for r in parsed.rejections] == [
        (4, "item_id 1001 already listed on line 2"),
        (5, "item_id '12x'"),
        (6, "supplier 'initech'"),
        (7, "custom_label"),
        (8, "ebay_store 'a/b'"),
    ]


def test_an_upload_without_the_columns_or_without_a_good_row_keeps_the_current_listings():
    with pytest.raises(StoreListingsError, match=r"missing column.*ebay_store"):
        parse_store_listings(store_csv(header=COLUMNS[:-1]), "reference/store/x.csv", {"acme"})
    with pytest.raises(StoreListingsError, match=r"no valid rows.*unknown"):
        parse_store_listings(store_csv(("1", "S", "initech", "A")), "reference/store/x.csv", {"acme"})


LISTINGS = pa.table(
    {
        "item_id": pa.array([1, 2, 3, 4], pa.int64()),
        "custom_label": ["in-feed", "dropped", "never", "in-feed-2"],
        "supplier": ["acme"] * 4,
        "ebay_store": ["A"] * 4,
    }
)
SUPPLY = latest_quantities(
    [
        {"customLabel": "in-feed", "quantity": 7, "updatedAt": "2026-11-26T17:00:00.000Z"},
        {"customLabel": "in-feed-2", "quantity": 3, "updatedAt": "2026-11-26T17:00:00.000Z"},
        {"customLabel": "dropped", "quantity": 40, "updatedAt": "2026-11-25T17:00:00.000Z"},
    ]
)


def test_quantities_come_from_the_latest_feed_and_a_dropped_sku_keeps_its_last_quantity_or_is_zeroed():
    first = ebay_rows(LISTINGS, SUPPLY, None, zero_missing=False, run_id="feed-1", updated_at=NOW)
    assert first["quantity"].to_pylist() == [7, 40, 0, 3]
    assert first["quantity_source"].to_pylist() == ["feed", "last_known", "none", "feed"]
    assert first["quantity_delta"].to_pylist() == [7, 40, 0, 3]  # nothing before: all new

    supply = SupplierQuantities({**SUPPLY.quantities, "in-feed": 5}, SUPPLY.in_latest_feed)
    second = ebay_rows(LISTINGS, supply, first, zero_missing=False, run_id="feed-2", updated_at=NOW)
    assert second["quantity"].to_pylist() == [5, 40, 0, 3]
    assert second["quantity_delta"].to_pylist() == [-2, 0, 0, 0]
    assert revise_csv(second).decode().splitlines() == ["Action,ItemID,Quantity", "Revise,1,5"]

    zeroed = ebay_rows(LISTINGS, supply, first, zero_missing=True, run_id="feed-2", updated_at=NOW)
    assert zeroed["quantity"].to_pylist() == [5, 0, 0, 3]
    assert zeroed["quantity_delta"].to_pylist() == [-2, -40, 0, 0]


def test_a_retried_run_gives_the_same_deltas_and_revise_file():
    first = ebay_rows(LISTINGS, SUPPLY, None, zero_missing=False, run_id="feed-1", updated_at=NOW)
    supply = SupplierQuantities({**SUPPLY.quantities, "in-feed": 5}, SUPPLY.in_latest_feed)
    second = ebay_rows(LISTINGS, supply, first, zero_missing=False, run_id="feed-2", updated_at=NOW)
    retried = ebay_rows(LISTINGS, supply, second, zero_missing=False, run_id="feed-2", updated_at=NOW)
    assert retried["quantity_delta"].to_pylist() == second["quantity_delta"].to_pylist() == [-2, 0, 0, 0]
    assert revise_csv(retried) == revise_csv(second)


def test_a_supplier_without_any_stock_yet_gives_zero_quantities():
    rows = ebay_rows(LISTINGS, latest_quantities([]), None, zero_missing=False, run_id="r", updated_at=NOW)
    assert rows["quantity"].to_pylist() == [0, 0, 0, 0]

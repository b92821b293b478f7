"""Supplier workbooks and product tables, in the layouts of the bundled supplier profiles.

Written with xlsxwriter (a development dependency: the functions only read workbooks, with calamine).
"""

from __future__ import annotations

import csv
import io
import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

SUPPLIERS = ("acme", "northwind", "globex")


@dataclass(frozen=True, slots=True)
class Layout:
    sheet: str
    header_row: int  # 1-based
    columns: tuple[str, ...]
    part_column: int  # 0-based index into columns
    stock_column: int
    title: str | None = None


# The bundled profiles (src/stock_pipeline/supplier_profiles.json) read exactly these layouts.
LAYOUTS = {
    "acme": Layout("Stock", 3, ("Part No.", "Description", "Qty on hand", "Warehouse"), 0, 2, "ACME stock list"),
    "northwind": Layout("Sheet1", 1, ("Item", "Name", "Price", "Available"), 0, 3),
    "globex": Layout("Availability", 2, ("SKU", "Name", "Status"), 0, 2, "Globex availability"),
}
LABELS = ("In Stock", "Low Stock", "Out of Stock")


def workbook(layout: Layout, rows: Sequence[Sequence[Any]], *, extra_sheets: Sequence[str] = ()) -> bytes:
    """An xlsx with the header on `layout.header_row` and `rows` below it (cells as given: numbers stay numbers)."""
    import xlsxwriter

    sink = io.BytesIO()
    book = xlsxwriter.Workbook(sink, {"in_memory": True})
    for name in extra_sheets:
        book.add_worksheet(name).write(0, 0, "not this sheet")
    sheet = book.add_worksheet(layout.sheet)
    if layout.title and layout.header_row > 1:
        sheet.write(0, 0, layout.title)
    sheet.write_row(layout.header_row - 1, 0, layout.columns)
    for offset, row in enumerate(rows, start=layout.header_row):
        for col, value in enumerate(row):
            if value is not None and value != "":
                sheet.write(offset, col, value)
    book.close()
    return sink.getvalue()


def part_number(supplier: str, n: int) -> str | int:
    """Each supplier numbers its parts its own way; northwind's are plain numbers in the sheet."""
    if supplier == "northwind":
        return 100_000 + n
    if supplier == "globex":
        return f"GX-{n:06d}"
    return f"AC-{n:05d}"


def custom_label(n: int) -> str:
    return f"SKU-{n:06d}"


def supplier_rows(supplier: str, parts: Sequence[int], rng: random.Random) -> list[list[Any]]:
    """One row per part in the supplier's layout, with a random stock figure in its notation."""
    layout = LAYOUTS[supplier]
    rows = []
    for n in parts:
        row: list[Any] = [""] * len(layout.columns)
        row[layout.part_column] = part_number(supplier, n)
        if supplier == "acme":
            row[1], row[3] = f"Part {n}", rng.choice(("Hamburg", "Leipzig"))
            row[layout.stock_column] = rng.randint(0, 400)
        elif supplier == "northwind":
            row[1], row[2] = f"Item {n}", round(rng.uniform(1, 99), 2)
            row[layout.stock_column] = rng.choice(("YES", "NO", "Yes", "no"))
        else:
            row[1] = f"Product {n}"
            row[layout.stock_column] = rng.choice(LABELS)
        rows.append(row)
    return rows


def supplier_feed(supplier: str, items: int, *, seed: int = 7, unmapped: int = 0) -> bytes:
    """A feed for parts 0..items-1 (all in the product table) plus `unmapped` parts the table does not know."""
    rng = random.Random(seed)
    parts = list(range(items)) + list(range(10_000_000, 10_000_000 + unmapped))
    return workbook(LAYOUTS[supplier], supplier_rows(supplier, parts, rng))


def feed_key(supplier: str, day: date, name: str = "stock") -> str:
    return f"supplier_feeds/{supplier}/{day:%Y/%m/%d}/{name}.xlsx"


def product_rows(items: int, suppliers: Sequence[str] = SUPPLIERS) -> list[tuple[str, str, str]]:
    """(custom_label, part_number, supplier): item n of every supplier is our SKU n."""
    return [(custom_label(n), str(part_number(s, n)), s) for s in suppliers for n in range(items)]


def product_table_csv(items: int, suppliers: Sequence[str] = SUPPLIERS) -> bytes:
    sink = io.StringIO()
    writer = csv.writer(sink, lineterminator="\n")
    writer.writerow(("custom_label", "part_number", "supplier"))
    writer.writerows(product_rows(items, suppliers))
    return sink.getvalue().encode()


def store_listings_table(
    stores: Sequence[str], suppliers: Sequence[str], per_store_and_supplier: int, *, seed: int = 7
) -> Any:
    """eBay store listings as an Arrow table: every store lists SKUs 0..n-1 of every supplier, with item ids
    unique across the table (store, supplier and SKU number in the digits)."""
    import pyarrow as pa

    rng = random.Random(seed)
    n = per_store_and_supplier
    rows = len(stores) * len(suppliers) * n
    item_ids, labels, store_col, supplier_col = [], [], [], []
    for s, store in enumerate(stores):
        for p, supplier in enumerate(suppliers):
            base = 100_000_000_000 + (s * 100 + p) * 10_000_000
            item_ids.extend(range(base, base + n))
            labels.extend(custom_label(k) for k in range(n))
            store_col.extend([store] * n)
            supplier_col.extend([supplier] * n)
    prices = [round(rng.uniform(1, 200), 2) for _ in range(min(rows, 1000))]
    return pa.table(
        {
            "item_id": pa.array(item_ids, pa.int64()),
            "custom_label": labels,
            "title": [f"Listing of {label}" for label in labels],
            "current_price": pa.array([prices[i % len(prices)] for i in range(rows)], pa.float64()),
            "prefix": [""] * rows,
            "uk_rtg": [""] * rows,
            "fps_wds_dir": [""] * rows,
            "payment_profile_name": ["PayPal"] * rows,
            "shipping_profile_name": ["Standard"] * rows,
            "return_profile_name": ["30 days"] * rows,
            "supplier": supplier_col,
            "ebay_store": store_col,
        }
    )


def store_listings_csv(stores: Sequence[str], suppliers: Sequence[str], per_store_and_supplier: int) -> bytes:
    import pyarrow.csv as pcsv

    sink = io.BytesIO()
    pcsv.write_csv(store_listings_table(stores, suppliers, per_store_and_supplier), sink)
    return sink.getvalue()


def store_listings_parquet(stores: Sequence[str], suppliers: Sequence[str], per_store_and_supplier: int) -> bytes:
    import pyarrow.parquet as pq

    sink = io.BytesIO()
    pq.write_table(store_listings_table(stores, suppliers, per_store_and_supplier), sink, compression="snappy")
    return sink.getvalue()

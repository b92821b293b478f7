"""Report pages at a large tenant's size, without AWS: a page is bounded by rows and by bytes, and the stock-outs
report keeps one page of a million selling levels, not all of them."""

import json
import tracemalloc

from stock_pipeline import reports
from stock_pipeline.adapters.queries import QueryPage
from stock_pipeline.domain.forecast import stockout_rows
from stock_pipeline.domain.reports import PAGE_BYTES, rows_within


def test_rows_within_keeps_the_rows_that_fit_and_always_one():
    rows = [{"item_name": "x" * 400_000} for _ in range(5)]
    assert rows_within(rows) == 2  # 3 x 400 KB is over a page's 1 MB
    assert rows_within(rows[:1], budget=10) == 1  # a row alone always goes out
    assert rows_within([{"a": 1}] * 1000) == 1000
    kept = rows_within(rows)
    assert len(json.dumps(rows[:kept]).encode()) <= PAGE_BYTES


class Selling:
    """The reports' reads of 50 warehouses' selling levels, generated page by page as DynamoDB would return them
    (the adapter is tested against moto; here the report's own logic is under test)."""

    def __init__(self, per_warehouse: int) -> None:
        self.per_warehouse = per_warehouse

    def warehouse_names(self) -> list[str]:
        return [f"Store {w:02d}" for w in range(50)]

    def warehouse_known(self, warehouse: str) -> bool:
        return warehouse in self.warehouse_names()

    def level(self, warehouse: str, n: int) -> dict:
        return {
            "warehouse": warehouse,
            "itemId": f"sku-{n:06d}",
            "itemName": f"Article {n}",
            "quantity": (n * 7919) % 300,
            "dailySales": 1 + (n * 31) % 20,
        }

    def selling(self, warehouse: str, *, limit: int, start: dict | None) -> QueryPage:
        first = int(start["n"]) if start else 0
        last = min(first + limit, self.per_warehouse)
        items = [self.level(warehouse, n) for n in range(first, last)]
        return QueryPage(items, {"n": last} if last < self.per_warehouse else None, 0.0)


def test_stockouts_over_two_hundred_thousand_selling_levels_hold_one_page_and_page_on_in_order():
    queries = Selling(per_warehouse=4_000)  # 50 warehouses of 4,000

    tracemalloc.start()
    try:
        first = reports.stockouts(queries, within_days=3, warehouse=None, limit=100, token=None, now=0)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    second = reports.stockouts(queries, within_days=3, warehouse=None, limit=100, token=first.next_token, now=0)

    # Every level was read and counted, but only about a page was held (the rows of all would be over 100 MB)
    every = stockout_rows(
        (queries.level(name, n) for name in queries.warehouse_names() for n in range(4_000)), within_days=3
    )
    assert peak < 5_000_000, peak
    assert first.summary["matching"] == second.summary["matching"] == len(every) > 200
    assert first.rows + second.rows == every[:200]

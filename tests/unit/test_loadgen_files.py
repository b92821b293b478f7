from datetime import UTC, datetime

from loadgen.files import inventory_file, inventory_key, thresholds_file
from stock_pipeline.domain.inventory import is_inventory_key, parse_inventory_file
from stock_pipeline.domain.thresholds import parse_thresholds


def test_generated_inventory_files_parse_cleanly_and_sales_are_negative():
    start = datetime(2026, 11, 23, 6, tzinfo=UTC)
    parsed = parse_inventory_file(inventory_file(200, start=start, seed=1, sales=True).encode())
    assert parsed.rejections == []
    assert parsed.table.num_rows == 200
    assert max(parsed.table.column("change").to_pylist()) < 0
    assert is_inventory_key(inventory_key(start))


def test_generated_thresholds_files_parse_cleanly():
    thresholds, rejections = parse_thresholds(thresholds_file({"a": 1, "b": 0}).encode())
    assert rejections == []
    assert {t.item_id: t.restock_if_below for t in thresholds} == {"a": 1, "b": 0}

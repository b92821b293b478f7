"""Sales rates and days of cover from a synthetic 60-day history with known sales."""

from datetime import UTC, datetime, timedelta

import pyarrow as pa
import pytest

from stock_pipeline.domain.forecast import daily_rates, days_of_cover
from stock_pipeline.domain.inventory import TRANSACTIONS_SCHEMA

AS_OF = datetime(2026, 12, 1, 3, 0, tzinfo=UTC)


def history() -> pa.Table:
    rows = []

    def add(days_ago: float, warehouse: str, item: str, change: int) -> None:
        when = AS_OF - timedelta(days=days_ago)
        rows.append({"timestamp": when, "warehouse": warehouse, "item_id": item, "item_name": item, "change": change})

    for day in range(60):
        add(day + 0.5, "Berlin 1", "steady", -3)  # 3 a day, every day
        if day % 10 == 0:
            add(day + 0.25, "Berlin 1", "steady", 50)  # deliveries: not sales
        add(day + 0.5, "Berlin 1", "restocked", -2)
    add(59.9, "Berlin 1", "restocked", 40)
    add(15, "Berlin 1", "restocked", 100)  # restocked mid-window
    add(59.9, "Berlin 1", "never-sold", 20)
    add(30, "Berlin 1", "never-sold", 5)
    for day in range(28):
        add(day + 0.5, "Berlin 1", "negative", -1)
    for day in range(7):
        add(day + 0.5, "Hamburg 2", "new", -2)  # seen for a week only
    add(-1, "Hamburg 2", "later", -50)  # after as_of: not yet
    return pa.Table.from_pylist([{**r, "source_line": n} for n, r in enumerate(rows)], schema=TRANSACTIONS_SCHEMA)


@pytest.fixture(scope="module")
def rates():
    table = daily_rates(history(), as_of=AS_OF)
    return {(r["warehouse"], r["item_id"]): r for r in table.to_pylist()}


def test_a_steady_seller_has_its_rate_and_deliveries_do_not_count(rates):
    steady = rates[("Berlin 1", "steady")]
    assert (steady["units_sold"], steady["observed_days"], steady["daily_sales"]) == (84, 28, 3.0)
    assert days_of_cover(30, steady["daily_sales"]) == 10.0


def test_a_level_restocked_mid_window_keeps_its_sales_rate(rates):
    assert rates[("Berlin 1", "restocked")]["daily_sales"] == 2.0


def test_an_item_never_sold_has_no_cover_not_zero(rates):
    never = rates[("Berlin 1", "never-sold")]
    assert never["units_sold"] == 0 and never["daily_sales"] == 0.0
    assert days_of_cover(25, never["daily_sales"]) is None
    assert days_of_cover(25, None) is None  # no history at all


def test_a_level_already_negative_has_no_days_left(rates):
    assert rates[("Berlin 1", "negative")]["daily_sales"] == 1.0
    assert days_of_cover(-5, 1.0) == 0.0
    assert days_of_cover(0, None) == 0.0


def test_a_level_seen_for_a_week_is_averaged_over_the_week_and_the_future_is_ignored(rates):
    assert rates[("Hamburg 2", "new")]["observed_days"] == 7
    assert rates[("Hamburg 2", "new")]["daily_sales"] == 2.0
    assert ("Hamburg 2", "later") not in rates


def test_the_window_is_a_parameter_and_empty_input_gives_no_rates():
    shorter = {
        (r["warehouse"], r["item_id"]): r["units_sold"]
        for r in daily_rates(history(), as_of=AS_OF, window_days=7).to_pylist()
    }
    assert shorter[("Berlin 1", "steady")] == 21
    assert daily_rates(TRANSACTIONS_SCHEMA.empty_table(), as_of=AS_OF).num_rows == 0
    with pytest.raises(ValueError, match="at least one day"):
        daily_rates(history(), as_of=AS_OF, window_days=0)

"""Sales rates and days of cover (pure: transactions in, rates out).

A sale is a negative change of an inventory transaction; deliveries (positive changes) are not sales, so a level
restocked mid-window keeps the rate its sales give. The rate is units sold per day over a trailing window, or over
the days since the level's first transaction when that is shorter (a level seen for a week is not averaged over
four). Days of cover = level / daily rate: none when nothing was sold (no rate, not an infinite cover), 0 when the
level is already at or below zero.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta

import pyarrow as pa
import pyarrow.compute as pc

DEFAULT_WINDOW_DAYS = 28

RATES_SCHEMA = pa.schema(
    [
        ("warehouse", pa.string()),
        ("item_id", pa.string()),
        ("units_sold", pa.int64()),
        ("observed_days", pa.int64()),
        ("daily_sales", pa.float64()),
    ]
)


def daily_rates(transactions: pa.Table, *, as_of: datetime, window_days: int = DEFAULT_WINDOW_DAYS) -> pa.Table:
    """Per (warehouse, item) with a transaction up to `as_of`: units sold in the window and the daily rate.

    `transactions` has the columns of curated/inventory_transactions/ (timestamp, warehouse, item_id, change).
    """
    if window_days < 1:
        raise ValueError(f"the window must be at least one day, got {window_days}")
    if transactions.num_rows == 0:
        return RATES_SCHEMA.empty_table()
    moment = pa.scalar(as_of, type=transactions.schema.field("timestamp").type)
    seen = transactions.filter(pc.less_equal(transactions["timestamp"], moment))
    start = pa.scalar(as_of - timedelta(days=window_days), type=moment.type)
    in_window = pc.greater(seen["timestamp"], start)
    sold = pc.if_else(
        pc.and_(in_window, pc.less(seen["change"], 0)), pc.negate(seen["change"]), pa.scalar(0, pa.int64())
    )
    grouped = (
        seen.select(["warehouse", "item_id", "timestamp"])
        .append_column("sold", sold)
        .group_by(["warehouse", "item_id"])
        .aggregate([("sold", "sum"), ("timestamp", "min")])
    )
    first_seen = grouped["timestamp_min"].to_pylist()
    observed = [min(window_days, max(1, math.ceil((as_of - first).total_seconds() / 86_400))) for first in first_seen]
    units = grouped["sold_sum"].cast(pa.int64())
    rates = pc.divide(units.cast(pa.float64()), pa.array(observed, pa.float64()))
    table = pa.table(
        {
            "warehouse": grouped["warehouse"],
            "item_id": grouped["item_id"],
            "units_sold": units,
            "observed_days": pa.array(observed, pa.int64()),
            "daily_sales": rates,
        },
        schema=RATES_SCHEMA,
    )
    return table.sort_by([("warehouse", "ascending"), ("item_id", "ascending")])


def days_of_cover(level: int, daily_sales: float | None) -> float | None:
    """How many days the level lasts at the rate: None without sales, 0 for a level already at or below zero."""
    if level <= 0:
        return 0.0
    if not daily_sales or daily_sales <= 0:
        return None
    return round(level / daily_sales, 1)

"""The nightly sales rates in Arrow (pure: a window of inventory transactions in, a rate per level out); what
only reads a level's forecast (the console, the reports, the alerts) uses `domain.forecast` and imports no Arrow
or NumPy."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from stock_pipeline.domain.forecast import DEFAULT_WINDOW_DAYS

RATES_SCHEMA = pa.schema(
    [
        ("warehouse", pa.string()),
        ("item_id", pa.string()),
        ("units_sold", pa.int64()),
        ("observed_days", pa.int64()),
        ("daily_sales", pa.float64()),
    ]
)


def daily_rates(
    transactions: pa.Table,
    *,
    as_of: datetime,
    window_days: int = DEFAULT_WINDOW_DAYS,
    first_seen: Mapping[tuple[str, str], datetime] | None = None,
) -> pa.Table:
    """Per (warehouse, item) with a transaction up to `as_of`: units sold in the window and the daily rate.

    `transactions` has the columns of curated/inventory_transactions/ (timestamp, warehouse, item_id, change).
    `first_seen` says since when a level exists where `transactions` holds only the window: without it, a level
    sold before the window and not again until late in it would be averaged over those last days only.
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
    micros = pa.timestamp("us", tz="UTC")
    if first_seen:
        known = pa.table(
            {
                "warehouse": pa.array([key[0] for key in first_seen], pa.string()),
                "item_id": pa.array([key[1] for key in first_seen], pa.string()),
                "known_since": pa.array(list(first_seen.values()), micros),
            }
        )
        grouped = grouped.join(known, ["warehouse", "item_id"], join_type="left outer")
    first = _epoch_us(grouped["timestamp_min"])
    if "known_since" in grouped.column_names:
        first = np.minimum(first, _epoch_us(grouped["known_since"], missing=np.iinfo(np.int64).max))
    now_us = int(as_of.timestamp() * 1_000_000)
    observed = pa.array(np.clip(np.ceil((now_us - first) / 86_400e6), 1, window_days).astype(np.int64))
    units = grouped["sold_sum"].cast(pa.int64())
    rates = pc.divide(units.cast(pa.float64()), observed.cast(pa.float64()))
    table = pa.table(
        {
            "warehouse": grouped["warehouse"],
            "item_id": grouped["item_id"],
            "units_sold": units,
            "observed_days": observed,
            "daily_sales": rates,
        },
        schema=RATES_SCHEMA,
    )
    return table.sort_by([("warehouse", "ascending"), ("item_id", "ascending")])


def _epoch_us(column: pa.ChunkedArray, *, missing: int = 0) -> np.ndarray:
    """Microseconds since the epoch (whatever the column's unit), nulls as `missing`."""
    values = column.cast(pa.timestamp("us", tz="UTC")).cast(pa.int64())
    return pc.fill_null(values, missing).to_numpy()

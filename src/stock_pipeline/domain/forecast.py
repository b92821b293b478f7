"""Sales rates and days of cover (pure: transactions in, rates out).

A sale is a negative change of an inventory transaction; deliveries (positive changes) are not sales, so a level
restocked mid-window keeps the rate its sales give. The rate is units sold per day over a trailing window, or over
the days since the level's first transaction when that is shorter (a level seen for a week is not averaged over
four). Days of cover = level / daily rate: none when nothing was sold (no rate, not an infinite cover), 0 when the
level is already at or below zero.

Inventory files carry signed changes and nothing else, so the sign is what tells a sale from a delivery: a negative
change is stock leaving (a sale, or a write-off the file does not tell apart), a positive one is a delivery or a
correction upwards. The stored rate goes onto the level item; the cover is computed when read, from the level of
that moment, so a report never shows a cover older than the level beside it.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from stock_pipeline.domain.subjects import subject_line

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


def days_of_cover(level: int, daily_sales: float | None) -> float | None:
    """How many days the level lasts at the rate: None without sales, 0 for a level already at or below zero."""
    if level <= 0:
        return 0.0
    if not daily_sales or daily_sales <= 0:
        return None
    return round(level / daily_sales, 1)


# ---------------------------------------------------------------------------- stored rates

RATE_DIGITS = 3  # units a day as stored on the level item (dailySales)


@dataclass(frozen=True, slots=True)
class RateWrite:
    """What the forecast job writes on one level item: its rate, or None to remove a rate nothing supports now."""

    warehouse: str
    item_id: str
    daily_sales: float | None
    units_sold: int = 0
    observed_days: int = 0


def rate_writes(levels: Iterable[Mapping[str, Any]], rates: pa.Table, *, window_days: int) -> list[RateWrite]:
    """Only the levels whose stored rate changes: a new rate, a changed one, or one to remove (no sale in the
    window any more). A level with sales gets a rate; one without keeps none ("no cover", not zero)."""
    computed = {
        (w, i): (round(rate, RATE_DIGITS), sold, days)
        for w, i, rate, sold, days in zip(
            rates["warehouse"].to_pylist(),
            rates["item_id"].to_pylist(),
            rates["daily_sales"].to_pylist(),
            rates["units_sold"].to_pylist(),
            rates["observed_days"].to_pylist(),
            strict=True,
        )
        if sold > 0
    }
    writes = []
    for level in levels:
        key = (level["warehouse"], level["itemId"])
        stored = level.get("dailySales")
        new = computed.get(key)
        if new is None:
            if stored is not None:
                writes.append(RateWrite(*key, None))
        elif stored is None or float(stored) != new[0] or level.get("salesWindowDays") != window_days:
            writes.append(RateWrite(*key, new[0], new[1], new[2]))
    return writes


# ---------------------------------------------------------------------------- stock-outs and the digest

STOCKOUT_COLUMNS = (
    "warehouse",
    "item_id",
    "item_name",
    "quantity",
    "daily_sales",
    "days_of_cover",
    "below_threshold",
    "forecast_at",
)


def level_forecast(level: Mapping[str, Any]) -> tuple[float | None, float | None]:
    """(daily_sales, days_of_cover) of a stored level item, the cover from its quantity of now."""
    rate = level.get("dailySales")
    daily = float(rate) if rate is not None else None
    return daily, days_of_cover(int(level.get("quantity") or 0), daily) if daily is not None else None


def stockout_rows(levels: Iterable[Mapping[str, Any]], *, within_days: float) -> list[dict[str, Any]]:
    """Levels with a sales rate expected to reach zero within `within_days` (already at or below zero included),
    fewest days of cover first, then warehouse and item (a total order, so pages can resume after a row)."""
    return sorted(stockout_candidates(levels, within_days=within_days), key=stockout_order)


def stockout_candidates(levels: Iterable[Mapping[str, Any]], *, within_days: float) -> Iterator[dict[str, Any]]:
    """`stockout_rows` in the levels' order, one at a time (for a caller that keeps only the first few)."""
    for level in levels:
        daily, cover = level_forecast(level)
        if daily is None or cover is None or cover > within_days:
            continue
        yield {
            "warehouse": level.get("warehouse"),
            "item_id": level.get("itemId"),
            "item_name": level.get("itemName"),
            "quantity": int(level.get("quantity") or 0),
            "daily_sales": daily,
            "days_of_cover": cover,
            "below_threshold": bool(level.get("belowThreshold", False)),
            "forecast_at": level.get("forecastAt"),
        }


def stockout_order(row: Mapping[str, Any]) -> tuple[float, str, str]:
    return (float(row["days_of_cover"]), str(row["warehouse"]), str(row["item_id"]))


DIGEST_HORIZON_DAYS = 7
# SNS takes messages up to 256 KB (262,144 bytes, https://docs.aws.amazon.com/sns/latest/api/API_Publish.html);
# the body keeps a margin for the subject and the message attributes.
DIGEST_MAX_BYTES = 240_000
DIGEST_COLUMNS = (
    "warehouse",
    "item_id",
    "item_name",
    "quantity",
    "restock_if_below",
    "daily_sales",
    "days_of_cover",
    "reason",
)


@dataclass(frozen=True, slots=True)
class DigestEntry:
    warehouse: str
    item_id: str
    item_name: str
    quantity: int
    threshold: int
    daily_sales: float | None
    cover: float | None

    @property
    def below(self) -> bool:
        return self.quantity < self.threshold

    @property
    def reason(self) -> str:
        running_out = self.cover is not None and self.cover <= DIGEST_HORIZON_DAYS
        if self.below and running_out:
            return "below threshold, running out"
        return "below threshold" if self.below else "running out"

    def severity(self) -> tuple[float, int, str, str]:
        """Worst first: fewest days of cover; without a rate, furthest below the threshold."""
        cover = self.cover if self.cover is not None else math.inf
        return (cover, self.quantity - self.threshold, self.warehouse, self.item_id)

    def to_row(self) -> dict[str, Any]:
        return {
            "warehouse": self.warehouse,
            "item_id": self.item_id,
            "item_name": self.item_name,
            "quantity": self.quantity,
            "restock_if_below": self.threshold,
            "daily_sales": self.daily_sales,
            "days_of_cover": self.cover,
            "reason": self.reason,
        }


def digest_entries(
    levels: Iterable[Mapping[str, Any]], thresholds: Mapping[str, int], *, default_threshold: int
) -> list[DigestEntry]:
    """Every level below its threshold or expected to run out within the horizon, worst first."""
    entries = []
    for level in levels:
        item = str(level.get("itemId"))
        threshold = thresholds.get(item, default_threshold)
        daily, cover = level_forecast(level)
        entry = DigestEntry(
            str(level.get("warehouse")),
            item,
            str(level.get("itemName") or ""),
            int(level.get("quantity") or 0),
            threshold,
            daily,
            cover,
        )
        if entry.below or (cover is not None and cover <= DIGEST_HORIZON_DAYS):
            entries.append(entry)
    return sorted(entries, key=DigestEntry.severity)


@dataclass(frozen=True, slots=True)
class Digest:
    subject: str
    message: str
    listed: int  # entries in the message (the worst ones when not all fit)
    total: int


def compose_digest(
    entries: Sequence[DigestEntry],
    *,
    day: str,
    warehouses: int,
    console_url: str,
    csv_location: str,
    when_empty: str = "skip",
    max_bytes: int = DIGEST_MAX_BYTES,
) -> Digest | None:
    """The day's e-mail: counts on top, then each warehouse (worst warehouse first) with its entries worst first.

    None when nothing needs attention and `when_empty` is "skip"; one line when it is "line". When the whole list
    does not fit in `max_bytes`, the worst entries that fit are listed and the rest are in the CSV and the console.
    """
    below = sum(1 for e in entries if e.below)
    running_out = sum(1 for e in entries if e.cover is not None and e.cover <= DIGEST_HORIZON_DAYS)
    if not entries:
        if when_empty != "line":
            return None
        text = f"Stock digest {day}: nothing below its threshold or running out within {DIGEST_HORIZON_DAYS} days"
        return Digest(subject_line(text), f"{text} ({warehouses} warehouses checked).\n", 0, 0)
    subject = subject_line(
        f"Stock digest {day}: {below} below threshold, {running_out} running out within {DIGEST_HORIZON_DAYS} days"
    )
    places = len({e.warehouse for e in entries})
    head = [
        f"Stock digest for {day} (UTC)",
        "",
        f"Below their restock threshold:               {below}",
        f"Expected to run out within {DIGEST_HORIZON_DAYS} days:          {running_out}",
        f"Warehouses concerned:                        {places} of {warehouses}",
        "",
        f"Console overview: {console_url}" if console_url else "Console overview: (no console URL configured)",
        f"Every entry as CSV: {csv_location}",
        "",
        "Worst first: fewest days of cover (at the current daily sales); without a sales rate, furthest below the "
        "threshold.",
    ]

    def render(shown: Sequence[DigestEntry]) -> str:
        lines = list(head)
        if len(shown) < len(entries):
            lines += ["", f"The {len(shown)} worst of {len(entries)} are listed; the CSV and the console have all."]
        for warehouse, group in _by_warehouse(shown):
            lines += ["", f"== {warehouse} ({len(group)})"]
            lines += [_entry_line(e) for e in group]
        return "\n".join(lines) + "\n"

    text = render(entries)
    if len(text.encode()) <= max_bytes:
        return Digest(subject, text, len(entries), len(entries))
    low, high = 0, len(entries)  # the most entries whose message fits
    while low < high:
        middle = (low + high + 1) // 2
        if len(render(entries[:middle]).encode()) <= max_bytes:
            low = middle
        else:
            high = middle - 1
    return Digest(subject, render(entries[:low]), low, len(entries))


def _by_warehouse(entries: Sequence[DigestEntry]) -> list[tuple[str, list[DigestEntry]]]:
    """Groups in the order of each warehouse's worst entry (the entries come worst first)."""
    groups: dict[str, list[DigestEntry]] = {}
    for entry in entries:
        groups.setdefault(entry.warehouse, []).append(entry)
    return list(groups.items())


def _entry_line(entry: DigestEntry) -> str:
    rate = f"{entry.daily_sales:g} a day" if entry.daily_sales is not None else "no sales in the window"
    cover = f"{entry.cover:g} days of cover" if entry.cover is not None else "cover unknown"
    name = f" {entry.item_name}" if entry.item_name and entry.item_name != entry.item_id else ""
    return (
        f"- {entry.item_id}{name}: {entry.quantity} left (restock below {entry.threshold}); {rate}, {cover}"
        f" [{entry.reason}]"
    )

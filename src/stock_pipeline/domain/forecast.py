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
from typing import TYPE_CHECKING, Any

from stock_pipeline.domain.subjects import subject_line

if TYPE_CHECKING:  # the rates' Arrow side is domain.rates: what reads a level's forecast imports no Arrow
    import pyarrow as pa

DEFAULT_WINDOW_DAYS = 28


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

"""Restock alerts: when a warehouse level crosses below its threshold, one alert per crossing.

The `belowThreshold` flag on the level item is the memory of a crossing: set (claimed with a conditional
write) when the alert goes out, cleared when the level is back at or above the threshold (re-armed).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum

from stock_pipeline.domain.forecast import days_of_cover
from stock_pipeline.domain.subjects import subject_line


class Decision(Enum):
    ALERT = "alert"
    REARM = "rearm"
    NONE = "none"


@dataclass(frozen=True, slots=True)
class LevelState:
    warehouse: str
    item_id: str
    item_name: str
    quantity: int
    below_threshold: bool
    source_key: str | None = None
    daily_sales: float | None = None  # the forecast job's rate, when the level has one
    window_days: int | None = None
    changed_at: str | None = None  # when the change happened: its latest transaction's time (UTC text)


@dataclass(frozen=True, slots=True)
class RestockAlert:
    alert_id: str
    warehouse: str
    item_id: str
    item_name: str
    quantity: int
    threshold: int
    source_key: str | None
    daily_sales: float | None = None
    window_days: int | None = None

    @property
    def cover(self) -> float | None:
        return days_of_cover(self.quantity, self.daily_sales) if self.daily_sales else None


def decide(level: LevelState, threshold: int) -> Decision:
    below = level.quantity < threshold
    if below and not level.below_threshold:
        return Decision.ALERT
    if not below and level.below_threshold:
        return Decision.REARM
    return Decision.NONE


def is_news(level: LevelState, now: datetime, freshness: timedelta) -> bool:
    """A crossing is e-mailed only if it happened within `freshness` of now: its transaction's time counts (the
    row's timestamp), not when the file was uploaded. An import of last month's files records its crossings (the
    history, the console's crossings and overview) without e-mailing the past; a level without that time (written
    before it was kept) is news."""
    if not level.changed_at:
        return True
    return datetime.fromisoformat(level.changed_at.replace("Z", "+00:00")) >= now - freshness


def subject(alert: RestockAlert) -> str:
    name = alert.item_name or alert.item_id
    return subject_line(f"Restock {name} at {alert.warehouse}: {alert.quantity} left (below {alert.threshold})")


def forecast_lines(alert: RestockAlert) -> list[str]:
    """The sales rate and days of cover when the forecast job has a rate for the level; nothing made up otherwise."""
    if not alert.daily_sales:
        return ["Daily sales:    not known yet (no sales in the forecast window)"]
    window = f" (last {alert.window_days} days)" if alert.window_days else ""
    cover = alert.cover
    lasts = "none left" if cover == 0 else f"about {cover:g} days at the current rate"
    return [f"Daily sales:    {alert.daily_sales:g} a day{window}", f"Days of cover:  {lasts}"]


def message(alert: RestockAlert) -> str:
    """The e-mail body: everything purchasing needs to act, and where the change came from."""
    return "\n".join(
        [
            f"Stock of {alert.item_name or alert.item_id} in warehouse {alert.warehouse} "
            "fell below its restock threshold.",
            "",
            f"Warehouse:      {alert.warehouse}",
            f"Item id:        {alert.item_id}",
            f"Item name:      {alert.item_name}",
            f"Current level:  {alert.quantity}",
            f"Threshold:      {alert.threshold} (restock if below)",
            *forecast_lines(alert),
            f"Caused by file: {alert.source_key or 'unknown'}",
            "",
            "You get one alert per crossing; the next one comes after the level is back at or above the threshold.",
        ]
    )

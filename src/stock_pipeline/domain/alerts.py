"""Restock alerts: when a warehouse level crosses below its threshold, one alert per crossing.

The `belowThreshold` flag on the level item is the memory of a crossing: set (claimed with a conditional
write) when the alert goes out, cleared when the level is back at or above the threshold (re-armed).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

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


@dataclass(frozen=True, slots=True)
class RestockAlert:
    alert_id: str
    warehouse: str
    item_id: str
    item_name: str
    quantity: int
    threshold: int
    source_key: str | None


def decide(level: LevelState, threshold: int) -> Decision:
    below = level.quantity < threshold
    if below and not level.below_threshold:
        return Decision.ALERT
    if not below and level.below_threshold:
        return Decision.REARM
    return Decision.NONE


def subject(alert: RestockAlert) -> str:
    name = alert.item_name or alert.item_id
    return subject_line(f"Restock {name} at {alert.warehouse}: {alert.quantity} left (below {alert.threshold})")


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
            f"Caused by file: {alert.source_key or 'unknown'}",
            "",
            "You get one alert per crossing; the next one comes after the level is back at or above the threshold.",
        ]
    )

"""Restock alerts: when a warehouse level crosses below its threshold, one alert per crossing.

The `belowThreshold` flag on the level item is the memory of a crossing: set (claimed with a conditional
write) when the alert goes out, cleared when the level is back at or above the threshold (re-armed).
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from enum import Enum

SUBJECT_LIMIT = 100  # SNS subject: at most 100 printable ASCII characters


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
    text = f"Restock {name} at {alert.warehouse}: {alert.quantity} left (below {alert.threshold})"
    # ASCII without line breaks keeps every mail client happy: "München" becomes "Munchen", not "M?nchen".
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    text = " ".join(text.split())
    return text if len(text) <= SUBJECT_LIMIT else text[: SUBJECT_LIMIT - 3] + "..."


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

"""Stock movements people make in the console (pure): adjustments with a reason and transfers between warehouses,
each with the user who made it and an id that makes a resent request harmless.

A movement is applied in one DynamoDB transaction together with its ledger item (`MOVE#<id>`), so the levels
change exactly once however often the browser sends it; a transfer's two levels change together or not at all.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

REASONS = ("damaged", "lost", "found", "correction")
MAX_QUANTITY = 10**9
MOVEMENT_ID = re.compile(r"[A-Za-z0-9_-]{8,64}")


class MovementError(ValueError):
    """A request the pipeline cannot apply as asked; the message says what to fix."""


@dataclass(frozen=True, slots=True)
class Adjustment:
    movement_id: str
    warehouse: str
    item_id: str
    change: int
    reason: str
    user: str

    @property
    def cause(self) -> str:
        """What the level's history shows as the change's source."""
        return f"adjustment {self.movement_id} ({self.reason}) by {self.user}"


@dataclass(frozen=True, slots=True)
class Transfer:
    movement_id: str
    source: str
    target: str
    item_id: str
    quantity: int
    user: str
    confirmed: bool = False  # the user chose to take the source below zero

    @property
    def cause(self) -> str:
        return f"transfer {self.movement_id} of {self.quantity} from {self.source} to {self.target} by {self.user}"


MAX_COUNT_ROWS = 90
# One DynamoDB transaction holds at most 100 actions: a count's rows, the ledger item, the movement register and,
# for a level the count creates, its warehouse's registry item (https://docs.aws.amazon.com/amazondynamodb/
# latest/APIReference/API_TransactWriteItems.html)
MAX_TRANSACTION_ACTIONS = 100


STOCKTAKE_CAUSE = "stocktake "  # how a count's source reads in the history: a count is recorded even when it
# confirms the level (the audit trail of counts), where other writes that keep the value are not changes


@dataclass(frozen=True, slots=True)
class Count:
    warehouse: str
    item_id: str
    counted: int


@dataclass(frozen=True, slots=True)
class Stocktake:
    """Absolute levels as counted: each becomes the difference to the level at the moment it is applied."""

    movement_id: str
    counts: tuple[Count, ...]
    user: str

    def cause(self, count: Count, previous: int | None) -> str:
        was = "no level" if previous is None else f"was {previous}"
        return f"{STOCKTAKE_CAUSE}{self.movement_id} by {self.user}: counted {count.counted}, {was}"


def _text(body: Mapping[str, Any], name: str) -> str:
    value = body.get(name)
    if not isinstance(value, str) or not value.strip():
        raise MovementError(f"{name}: a non-empty text, please")
    if len(value) > 256 or any(ord(c) < 32 for c in value):
        raise MovementError(f"{name}: at most 256 characters, no control characters")
    return value.strip()


def _integer(body: Mapping[str, Any], name: str) -> int:
    value = body.get(name)
    if isinstance(value, bool) or not isinstance(value, int):
        raise MovementError(f"{name}: a whole number, please")
    if abs(value) > MAX_QUANTITY:
        raise MovementError(f"{name}: at most {MAX_QUANTITY:,} units")
    return value


def _movement_id(body: Mapping[str, Any]) -> str:
    value = body.get("movement_id")
    if not isinstance(value, str) or not MOVEMENT_ID.fullmatch(value):
        raise MovementError("movement_id: 8 to 64 letters, digits, - or _ (the page makes one per submission)")
    return value


def adjustment_from(body: Mapping[str, Any], *, user: str) -> Adjustment:
    change = _integer(body, "change")
    if change == 0:
        raise MovementError("change: an adjustment of 0 changes nothing")
    reason = body.get("reason")
    if reason not in REASONS:
        raise MovementError(f"reason: one of {', '.join(REASONS)}")
    return Adjustment(_movement_id(body), _text(body, "warehouse"), _text(body, "item_id"), change, str(reason), user)


def transfer_from(body: Mapping[str, Any], *, user: str) -> Transfer:
    quantity = _integer(body, "quantity")
    if quantity <= 0:
        raise MovementError("quantity: more than 0 units")
    source, target = _text(body, "from"), _text(body, "to")
    if source == target:
        raise MovementError("to: another warehouse than the one the stock comes from")
    confirmed = body.get("confirm", False)
    if not isinstance(confirmed, bool):
        raise MovementError("confirm: true or false")
    return Transfer(_movement_id(body), source, target, _text(body, "item_id"), quantity, user, confirmed)


def below_zero_message(transfer: Transfer, level: int) -> str:
    """Why a transfer is refused, with the level, and how to go ahead anyway."""
    return (
        f"{transfer.source} holds {level} of {transfer.item_id}: moving {transfer.quantity} would leave "
        f"{level - transfer.quantity}. Send it again with confirm to go ahead (recorded as confirmed)."
    )


def stocktake_from(body: Mapping[str, Any], *, user: str) -> Stocktake:
    rows = body.get("counts")
    if not isinstance(rows, list) or not rows:
        raise MovementError("counts: a list of {warehouse, item_id, counted}, please")
    if len(rows) > MAX_COUNT_ROWS:
        raise MovementError(f"counts: at most {MAX_COUNT_ROWS} rows in one stocktake (send the rest in another)")
    counts: dict[tuple[str, str], Count] = {}
    for n, row in enumerate(rows, start=1):
        if not isinstance(row, Mapping):
            raise MovementError(f"counts row {n}: an object with warehouse, item_id and counted")
        try:
            count = Count(_text(row, "warehouse"), _text(row, "item_id"), _integer(row, "counted"))
        except MovementError as exc:
            raise MovementError(f"counts row {n}: {exc}") from exc
        if count.counted < 0:
            raise MovementError(f"counts row {n}: counted: 0 or more (a count cannot be negative)")
        if (count.warehouse, count.item_id) in counts:
            raise MovementError(f"counts row {n}: {count.item_id} in {count.warehouse} is counted twice")
        counts[(count.warehouse, count.item_id)] = count
    warehouses = {warehouse for warehouse, _ in counts}
    if len(counts) + len(warehouses) + 2 > MAX_TRANSACTION_ACTIONS:
        raise MovementError(
            f"counts: {len(counts)} rows in {len(warehouses)} warehouses do not fit one transaction "
            f"(rows + warehouses at most {MAX_TRANSACTION_ACTIONS - 2}): send them in two stocktakes"
        )
    return Stocktake(_movement_id(body), tuple(counts.values()), user)

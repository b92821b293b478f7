"""Stock movements people make in the console (pure): adjustments with a reason and transfers between warehouses,
each with the user who made it and an id that makes a resent request harmless.

A movement is applied in one DynamoDB transaction together with its ledger item (`MOVE#<id>`), so the levels
change exactly once however often the browser sends it; a transfer's two levels change together or not at all.

A count says what was on the shelf at a moment: `counted_at` (default: when it is applied). The level at that
moment is read from the level's recent changes (`CHG#`, the history consumer's log, kept 31 days): what was
applied after the count stays on top of it, so a count sent an hour late does not undo the hour's sales.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

REASONS = ("damaged", "lost", "found", "correction")
MAX_QUANTITY = 10**9
MOVEMENT_ID = re.compile(r"[A-Za-z0-9_-]{8,64}")


COUNT_MAX_AGE = timedelta(days=30)  # the recent changes a past count is placed among are kept 31 days
CLOCK_SKEW = timedelta(minutes=5)  # a count "from the future" within a device's clock error is taken as now


class MovementError(ValueError):
    """A request the pipeline cannot apply as asked; the message says what to fix."""


class ChangesCatchingUp(MovementError):
    """A past count's level has changes the history consumer has not logged yet: send it again in a minute
    (the ingest function's retry does that for a counted file)."""


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
    counted_at: datetime | None = None  # None: counted when applied


@dataclass(frozen=True, slots=True)
class Stocktake:
    """Absolute levels as counted: each becomes the difference to the level at the moment it is applied."""

    movement_id: str
    counts: tuple[Count, ...]
    user: str

    def cause(self, count: Count, previous: int | None) -> str:
        """`previous` is the level at the count's moment (the moment said when it is not now)."""
        was = "no level" if previous is None else f"was {previous}"
        moment = "" if count.counted_at is None else f" at {count.counted_at:%Y-%m-%dT%H:%M:%SZ}"
        return f"{STOCKTAKE_CAUSE}{self.movement_id} by {self.user}: counted {count.counted}{moment}, {was}"


def change_sort_key(moment: datetime) -> str:
    """How the recent-changes log (`CHG#`) sorts a moment: a Query for `SK > change_sort_key(t)` reads the
    changes after t."""
    return f"{moment.astimezone(UTC):%Y-%m-%dT%H:%M:%S.%f}Z"


def level_at(
    moment: datetime, *, current: int | None, updated_at: str | None, changes_after: Sequence[Mapping[str, Any]]
) -> int | None:
    """The level at `moment` (None: there was none): the old value of the first change logged after it, else
    the level now, provided nothing was applied since (`updated_at`); otherwise the log is behind."""
    if changes_after:
        old = changes_after[0].get("old_value")
        return None if old is None else int(old)
    if current is None:
        return None
    if updated_at and datetime.fromisoformat(updated_at.replace("Z", "+00:00")) > moment:
        raise ChangesCatchingUp(
            "the level changed after the count was taken and that change is still being recorded: "
            "send the count again in a minute"
        )
    return current


def counted_level(count: Count, *, current: int | None, at_count: int | None) -> int:
    """What the level becomes: the count plus everything applied since it was taken."""
    return count.counted + (current or 0) - (at_count or 0)


def counted_at_from(value: Any, *, now: datetime) -> datetime | None:
    """An ISO-8601 moment with its offset, at most 30 days back; a moment up to 5 minutes ahead is now."""
    if value is None:
        return None
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            raise MovementError(f"counted_at: not an ISO-8601 date-time: {value!r}") from None
    else:
        raise MovementError("counted_at: an ISO-8601 date-time with its offset, please")
    if moment.tzinfo is None:
        raise MovementError(
            f"counted_at: {value!s} has no time zone: add the offset (2026-12-06T08:00:00+01:00) or Z for UTC"
        )
    moment = moment.astimezone(UTC)
    if moment > now + CLOCK_SKEW:
        raise MovementError(f"counted_at: {moment:%Y-%m-%dT%H:%M:%SZ} is in the future")
    if moment < now - COUNT_MAX_AGE:
        raise MovementError(
            f"counted_at: {moment:%Y-%m-%dT%H:%M:%SZ} is more than {COUNT_MAX_AGE.days} days ago "
            "(a count is placed among the level's changes of the last 31 days)"
        )
    return min(moment, now)


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


def stocktake_from(body: Mapping[str, Any], *, user: str, now: datetime | None = None) -> Stocktake:
    """`counted_at` on the body is every row's moment, unless a row has its own."""
    now = now or datetime.now(UTC)
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
            own = row.get("counted_at")
            moment = counted_at_from(own if own is not None else body.get("counted_at"), now=now)
            count = Count(_text(row, "warehouse"), _text(row, "item_id"), _integer(row, "counted"), moment)
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

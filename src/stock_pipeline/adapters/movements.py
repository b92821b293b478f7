"""Adjustments and transfers in the table: each in one TransactWriteItems with its ledger item `MOVE#<id>`, so a
resent request changes nothing twice and a transfer's two levels change together or not at all."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError

from stock_pipeline.adapters.levels import WAREHOUSE_REGISTRY
from stock_pipeline.adapters.recent_changes import RecentChanges
from stock_pipeline.adapters.stock_table import plain_item
from stock_pipeline.domain.movements import (
    Adjustment,
    Count,
    MovementError,
    Stocktake,
    Transfer,
    below_zero_message,
    change_sort_key,
    counted_level,
    level_at,
)

STOCKTAKE_ATTEMPTS = 5

MOVEMENTS = "MOVEMENTS"  # the movement register: what the nightly validation adds to the files' deltas
REGISTER_DAYS = 35


class BelowZeroError(MovementError):
    """The transfer would take its source warehouse below zero and was not confirmed."""

    def __init__(self, message: str, level: int) -> None:
        super().__init__(message)
        self.level = level


@dataclass(frozen=True, slots=True)
class Applied:
    movement_id: str
    status: str  # APPLIED | ALREADY_APPLIED (the same id was applied before: nothing changed now)
    levels: dict[str, int | None]  # warehouse -> the item's level after


class Movements:
    def __init__(self, dynamodb_client: Any, table_name: str) -> None:
        self._ddb = dynamodb_client
        self.name = table_name

    def adjust(self, adjustment: Adjustment, *, at: str) -> Applied:
        a = adjustment
        actions = [
            self._ledger(
                a.movement_id,
                "adjustment",
                a.user,
                at,
                {"warehouse": a.warehouse, "item_id": a.item_id, "change": a.change, "reason": a.reason},
            ),
            {
                "Update": {
                    "TableName": self.name,
                    "Key": _level_key(a.warehouse, a.item_id),
                    "UpdateExpression": "ADD quantity :change SET updatedAt = :at, changedAt = :at, "
                    "lastSourceKey = :cause, lastSourceLines = :none, lastChangedBy = :who",
                    "ConditionExpression": "attribute_exists(PK)",
                    "ExpressionAttributeValues": {
                        ":change": {"N": str(a.change)},
                        ":at": {"S": at},
                        ":cause": {"S": a.cause},
                        ":none": {"S": ""},
                        ":who": {"S": a.user},
                    },
                }
            },
        ]
        actions.append(self._register(a.movement_id, at, [(a.warehouse, a.item_id, a.change)]))
        _levels_on_ledger(actions[0], [(a.warehouse, a.item_id, a.change)])
        status = self._transact(a.movement_id, actions, missing=f"no stock of {a.item_id} in {a.warehouse} to adjust")
        return Applied(a.movement_id, status, {a.warehouse: self._quantity(a.warehouse, a.item_id)})

    def transfer(self, transfer: Transfer, *, at: str) -> Applied:
        t = transfer
        source = self._level(t.source, t.item_id)
        if source is None and not self._applied(t.movement_id):
            raise MovementError(f"no stock of {t.item_id} in {t.source} to transfer")
        name = str((source or {}).get("itemName") or "")
        enough = "" if t.confirmed else " AND quantity >= :quantity"
        actions = [
            self._ledger(
                t.movement_id,
                "transfer",
                t.user,
                at,
                {
                    "from": t.source,
                    "to": t.target,
                    "item_id": t.item_id,
                    "quantity": t.quantity,
                    "confirmed": t.confirmed,
                },
            ),
            {
                "Update": {
                    "TableName": self.name,
                    "Key": _level_key(t.source, t.item_id),
                    "UpdateExpression": "ADD quantity :out SET updatedAt = :at, changedAt = :at, "
                    "lastSourceKey = :cause, lastSourceLines = :none, lastChangedBy = :who",
                    "ConditionExpression": "attribute_exists(PK)" + enough,
                    "ExpressionAttributeValues": {
                        ":out": {"N": str(-t.quantity)},
                        ":at": {"S": at},
                        ":cause": {"S": t.cause},
                        ":none": {"S": ""},
                        ":who": {"S": t.user},
                        **({":quantity": {"N": str(t.quantity)}} if enough else {}),
                    },
                    "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
                }
            },
            {
                "Update": {
                    "TableName": self.name,
                    "Key": _level_key(t.target, t.item_id),
                    # the target may not hold the item yet: the level is created with everything ingest sets
                    "UpdateExpression": "ADD quantity :in SET updatedAt = :at, changedAt = :at, "
                    "lastSourceKey = :cause, lastSourceLines = :none, lastChangedBy = :who, "
                    "itemName = if_not_exists(itemName, :name), "
                    "warehouse = :warehouse, itemId = :item, entity = :entity, GSI1PK = :gsi1pk, GSI1SK = :gsi1sk, "
                    "GSI2PK = :gsi2pk, firstSeenAt = if_not_exists(firstSeenAt, :at)",
                    "ExpressionAttributeValues": {
                        ":in": {"N": str(t.quantity)},
                        ":at": {"S": at},
                        ":cause": {"S": t.cause},
                        ":none": {"S": ""},
                        ":who": {"S": t.user},
                        ":name": {"S": name},
                        ":warehouse": {"S": t.target},
                        ":item": {"S": t.item_id},
                        ":entity": {"S": "StockLevel"},
                        ":gsi1pk": {"S": f"ITEM#{t.item_id}"},
                        ":gsi1sk": {"S": f"WH#{t.target}"},
                        ":gsi2pk": {"S": f"WH#{t.target}"},
                    },
                }
            },
            _registry(t.target, at, self.name),
        ]
        moved = [(t.source, t.item_id, -t.quantity), (t.target, t.item_id, t.quantity)]
        actions.append(self._register(t.movement_id, at, moved))
        _levels_on_ledger(actions[0], moved)
        status = self._transact(
            t.movement_id, actions, missing=f"no stock of {t.item_id} in {t.source} to transfer", transfer=t
        )
        return Applied(
            t.movement_id,
            status,
            {t.source: self._quantity(t.source, t.item_id), t.target: self._quantity(t.target, t.item_id)},
        )

    def stocktake(self, take: Stocktake, *, at: str) -> Applied:
        """Each count becomes the level, in one transaction, on the condition that no level changed since it was
        read (a file applied in between makes the transaction fail and the count is taken against the new level):
        the difference is the count against the level at the moment it is applied, counted once."""
        for _ in range(STOCKTAKE_ATTEMPTS):
            current = {(c.warehouse, c.item_id): self._level(c.warehouse, c.item_id) for c in take.counts}
            if self._applied(take.movement_id):
                break
            actions = [self._ledger(take.movement_id, "stocktake", take.user, at, {"rows": len(take.counts)})]
            deltas, created_in = [], set()
            for count in take.counts:
                old = current[(count.warehouse, count.item_id)]
                previous = None if old is None else int(old.get("quantity") or 0)
                at_count = self._level_at_count(count, old, previous)
                quantity = counted_level(count, current=previous, at_count=at_count)
                deltas.append((count.warehouse, count.item_id, quantity - (previous or 0)))
                actions.append(self._count(count, quantity, previous, take.cause(count, at_count), take.user, at))
                if old is None and count.warehouse not in created_in:  # a new level: its warehouse registered
                    created_in.add(count.warehouse)  # (once: a transaction takes one action per item)
                    actions.append(_registry(count.warehouse, at, self.name))
            actions.append(self._register(take.movement_id, at, deltas))
            _levels_on_ledger(actions[0], deltas)
            try:
                self._ddb.transact_write_items(TransactItems=actions)
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") != "TransactionCanceledException":
                    raise
                codes = [r.get("Code") for r in exc.response.get("CancellationReasons") or []]
                if codes and codes[0] == "ConditionalCheckFailed":
                    break  # applied by an earlier request with this id
                if "ConditionalCheckFailed" in codes[1:]:
                    continue  # a level changed since it was read: count against the new level
                raise
            return Applied(take.movement_id, "APPLIED", self._levels_of(take))
        else:
            raise MovementError("the counted levels kept changing while the count was applied: send it again")
        return Applied(take.movement_id, "ALREADY_APPLIED", self._levels_of(take))

    def _level_at_count(self, count: Count, old: dict[str, Any] | None, previous: int | None) -> int | None:
        if count.counted_at is None:
            return previous
        # strictly after the moment: the log's keys are `<moment>#<sequence>` and "~" sorts after every digit
        after = RecentChanges(self._ddb, self.name).of_level(
            count.warehouse, count.item_id, since=change_sort_key(count.counted_at) + "#~"
        )
        return level_at(
            count.counted_at, current=previous, updated_at=(old or {}).get("updatedAt"), changes_after=after
        )

    def _count(
        self, count: Count, quantity: int, previous: int | None, cause: str, user: str, at: str
    ) -> dict[str, Any]:
        values: dict[str, Any] = {
            ":counted": {"N": str(quantity)},
            ":at": {"S": at},
            ":cause": {"S": cause},
            ":none": {"S": ""},
            ":who": {"S": user},
        }
        update = (
            "SET quantity = :counted, updatedAt = :at, changedAt = :at, lastSourceKey = :cause, "
            "lastSourceLines = :none, lastChangedBy = :who"
        )
        if previous is None:
            condition = "attribute_not_exists(PK)"
            clause, created = new_level(count.warehouse, count.item_id)
            update += clause
            values.update(created)
        else:
            condition = "quantity = :previous"
            values[":previous"] = {"N": str(previous)}
        return {
            "Update": {
                "TableName": self.name,
                "Key": _level_key(count.warehouse, count.item_id),
                "UpdateExpression": update,
                "ConditionExpression": condition,
                "ExpressionAttributeValues": values,
            }
        }

    def _levels_of(self, take: Stocktake) -> dict[str, int | None]:
        return {f"{c.warehouse} / {c.item_id}": self._quantity(c.warehouse, c.item_id) for c in take.counts}

    # ------------------------------------------------------------------------------------------------ helpers

    def _ledger(self, movement_id: str, kind: str, user: str, at: str, details: dict[str, Any]) -> dict[str, Any]:
        values = {
            name: {"BOOL": v} if isinstance(v, bool) else {"N": str(v)} if isinstance(v, int) else {"S": str(v)}
            for name, v in details.items()
        }
        return {
            "Put": {
                "TableName": self.name,
                "Item": {
                    "PK": {"S": f"MOVE#{movement_id}"},
                    "SK": {"S": "MOVE"},
                    "entity": {"S": "Movement"},
                    "kind": {"S": kind},
                    "user": {"S": user},
                    "at": {"S": at},
                    **values,
                },
                "ConditionExpression": "attribute_not_exists(PK)",
            }
        }

    def _register(self, movement_id: str, at: str, deltas: list[tuple[str, str, int]]) -> dict[str, Any]:
        """The movement in the register the nightly validation reads (`MOVEMENTS` / `<at>#<id>`): written in the
        same transaction as the levels, so the validation sees a movement exactly when its levels changed."""
        expires = datetime.fromisoformat(at.replace("Z", "+00:00")) + timedelta(days=REGISTER_DAYS)
        return {
            "Put": {
                "TableName": self.name,
                "Item": {
                    "PK": {"S": MOVEMENTS},
                    "SK": {"S": f"{at}#{movement_id}"},
                    "entity": {"S": "MovementRegister"},
                    "deltas": {"S": json.dumps(deltas, ensure_ascii=False)},
                    "ttl": {"N": str(int(expires.timestamp()))},
                },
            }
        }

    def _transact(
        self, movement_id: str, actions: list[dict[str, Any]], *, missing: str, transfer: Transfer | None = None
    ) -> str:
        # no ClientRequestToken: a resent request carries another time, and DynamoDB answers a token reused with
        # other parameters with IdempotentParameterMismatchException; the ledger item's condition is the guard
        try:
            self._ddb.transact_write_items(TransactItems=actions)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "TransactionCanceledException":
                raise
            reasons = exc.response.get("CancellationReasons") or []
            codes = [r.get("Code") for r in reasons]
            if codes and codes[0] == "ConditionalCheckFailed":
                return "ALREADY_APPLIED"  # the ledger holds this id: applied by an earlier request
            if len(codes) > 1 and codes[1] == "ConditionalCheckFailed":
                old = reasons[1].get("Item")
                if transfer is not None and old is not None:
                    level = int(plain_item(old).get("quantity") or 0)
                    raise BelowZeroError(below_zero_message(transfer, level), level) from exc
                raise MovementError(missing) from exc
            raise
        return "APPLIED"

    def _level(self, warehouse: str, item_id: str) -> dict[str, Any] | None:
        item = self._ddb.get_item(TableName=self.name, Key=_level_key(warehouse, item_id), ConsistentRead=True).get(
            "Item"
        )
        return None if item is None else plain_item(item)

    def _quantity(self, warehouse: str, item_id: str) -> int | None:
        level = self._level(warehouse, item_id)
        return None if level is None else int(level.get("quantity") or 0)

    def _applied(self, movement_id: str) -> bool:
        key = {"PK": {"S": f"MOVE#{movement_id}"}, "SK": {"S": "MOVE"}}
        return "Item" in self._ddb.get_item(TableName=self.name, Key=key, ConsistentRead=True)


def new_level(warehouse: str, item_id: str) -> tuple[str, dict[str, Any]]:
    """What an update that creates a level sets besides its quantity (what the ingest sets on a new level: the
    indexes' keys, the first-seen time as `:at`), as a SET clause to append and its values."""
    return (
        ", itemName = :name, warehouse = :warehouse, itemId = :item, entity = :entity, GSI1PK = :gsi1pk, "
        "GSI1SK = :gsi1sk, GSI2PK = :gsi2pk, firstSeenAt = :at",
        {
            ":name": {"S": ""},
            ":warehouse": {"S": warehouse},
            ":item": {"S": item_id},
            ":entity": {"S": "StockLevel"},
            ":gsi1pk": {"S": f"ITEM#{item_id}"},
            ":gsi1sk": {"S": f"WH#{warehouse}"},
            ":gsi2pk": {"S": f"WH#{warehouse}"},
        },
    )


def _levels_on_ledger(ledger: dict[str, Any], deltas: list[tuple[str, str, int]]) -> None:
    """The movement's change of each level on its ledger item, which is kept for good (the register expires): a
    full reconciliation adds every movement ever made to the files' transactions, from the table's export, where
    a list of maps reads as typed columns (`levels.L[].M.warehouse.S`)."""
    ledger["Put"]["Item"]["levels"] = {
        "L": [{"M": {"warehouse": {"S": w}, "itemId": {"S": i}, "delta": {"N": str(d)}}} for w, i, d in deltas]
    }


def _level_key(warehouse: str, item_id: str) -> dict[str, Any]:
    return {"PK": {"S": f"WH#{warehouse}"}, "SK": {"S": f"ITEM#{item_id}"}}


def _registry(warehouse: str, at: str, table: str) -> dict[str, Any]:
    """The warehouse in the registry the reports list (an idempotent Put in the movement's transaction)."""
    return {
        "Put": {
            "TableName": table,
            "Item": {
                "PK": {"S": WAREHOUSE_REGISTRY},
                "SK": {"S": f"WH#{warehouse}"},
                "entity": {"S": "Warehouse"},
                "warehouse": {"S": warehouse},
                "seenAt": {"S": at},
            },
        }
    }

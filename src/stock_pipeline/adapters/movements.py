"""Adjustments and transfers in the table: each in one TransactWriteItems with its ledger item `MOVE#<id>`, so a
resent request changes nothing twice and a transfer's two levels change together or not at all."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError

from stock_pipeline.adapters.stock_table import WAREHOUSE_REGISTRY, _plain
from stock_pipeline.domain.movements import Adjustment, MovementError, Transfer, below_zero_message

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
                    "UpdateExpression": "ADD quantity :change SET updatedAt = :at, lastSourceKey = :cause, "
                    "lastSourceLines = :none, lastChangedBy = :who",
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
                    "UpdateExpression": "ADD quantity :out SET updatedAt = :at, lastSourceKey = :cause, "
                    "lastSourceLines = :none, lastChangedBy = :who",
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
                    "UpdateExpression": "ADD quantity :in SET updatedAt = :at, lastSourceKey = :cause, "
                    "lastSourceLines = :none, lastChangedBy = :who, itemName = if_not_exists(itemName, :name), "
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
            {
                "Put": {
                    "TableName": self.name,
                    "Item": {
                        "PK": {"S": WAREHOUSE_REGISTRY},
                        "SK": {"S": f"WH#{t.target}"},
                        "entity": {"S": "Warehouse"},
                        "warehouse": {"S": t.target},
                        "seenAt": {"S": at},
                    },
                }
            },
        ]
        actions.append(
            self._register(t.movement_id, at, [(t.source, t.item_id, -t.quantity), (t.target, t.item_id, t.quantity)])
        )
        status = self._transact(
            t.movement_id, actions, missing=f"no stock of {t.item_id} in {t.source} to transfer", transfer=t
        )
        return Applied(
            t.movement_id,
            status,
            {t.source: self._quantity(t.source, t.item_id), t.target: self._quantity(t.target, t.item_id)},
        )

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
                    level = int(_plain(old).get("quantity") or 0)
                    raise BelowZeroError(below_zero_message(transfer, level), level) from exc
                raise MovementError(missing) from exc
            raise
        return "APPLIED"

    def _level(self, warehouse: str, item_id: str) -> dict[str, Any] | None:
        item = self._ddb.get_item(TableName=self.name, Key=_level_key(warehouse, item_id), ConsistentRead=True).get(
            "Item"
        )
        return None if item is None else _plain(item)

    def _quantity(self, warehouse: str, item_id: str) -> int | None:
        level = self._level(warehouse, item_id)
        return None if level is None else int(level.get("quantity") or 0)

    def _applied(self, movement_id: str) -> bool:
        key = {"PK": {"S": f"MOVE#{movement_id}"}, "SK": {"S": "MOVE"}}
        return "Item" in self._ddb.get_item(TableName=self.name, Key=key, ConsistentRead=True)


def _level_key(warehouse: str, item_id: str) -> dict[str, Any]:
    return {"PK": {"S": f"WH#{warehouse}"}, "SK": {"S": f"ITEM#{item_id}"}}

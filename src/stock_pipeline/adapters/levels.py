"""Warehouse levels in the single table (`WH#<warehouse>` / `ITEM#<item>`): inventory chunks applied exactly once
with their ledger (`FILE#<key>#<etag>` / `CHUNK#<n>`), arrivals, content claims, the warehouse registry, restock
thresholds and the alert flag (claim, mark sent, re-arm). Conditional writes make repeated input harmless."""

from __future__ import annotations

import zlib
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from stock_pipeline.adapters.stock_table import condition_failed, plain_item, write_batches, written_if
from stock_pipeline.domain.thresholds import ThresholdChange

LEDGER_TTL_DAYS = 30
WAREHOUSE_REGISTRY = "WAREHOUSES"


class StockLevels:
    """Warehouse stock levels, restock thresholds and the file ledger: the inventory entities of the table."""

    def __init__(self, dynamodb_client: Any, table_name: str) -> None:
        self._ddb = dynamodb_client
        self.name = table_name

    # ---------------------------------------------------------------- levels, exactly once per file chunk

    def apply_chunk(
        self,
        *,
        ledger_pk: str,
        chunk: int,
        changes: list[Any],
        source_key: str,
        processed_at: str,
        expires_at: int,
        changed_by: str = "",
    ) -> bool:
        """Apply one chunk of level changes together with its ledger entry, all or nothing.

        Returns False when the ledger entry already exists: that chunk was applied by an earlier delivery.
        """
        actions: list[dict[str, Any]] = [
            {
                "Put": {
                    "TableName": self.name,
                    "Item": {
                        "PK": {"S": ledger_pk},
                        "SK": {"S": f"CHUNK#{chunk:05d}"},
                        "entity": {"S": "FileChunk"},
                        "sourceKey": {"S": source_key},
                        "items": {"N": str(len(changes))},
                        "appliedAt": {"S": processed_at},
                        "ttl": {"N": str(expires_at)},
                    },
                    "ConditionExpression": "attribute_not_exists(PK)",
                }
            }
        ]
        for change in changes:
            actions.append(
                {
                    "Update": {
                        "TableName": self.name,
                        "Key": {"PK": {"S": f"WH#{change.warehouse}"}, "SK": {"S": f"ITEM#{change.item_id}"}},
                        "UpdateExpression": (
                            "ADD quantity :change "
                            "SET itemName = :name, warehouse = :warehouse, itemId = :item, entity = :entity, "
                            "GSI1PK = :gsi1pk, GSI1SK = :gsi1sk, GSI2PK = :gsi2pk, updatedAt = :at, "
                            "lastSourceKey = :source, lastSourceLines = :lines, changedAt = :changed, "
                            "firstSeenAt = if_not_exists(firstSeenAt, :first), lastChangedBy = :who"
                        ),
                        "ExpressionAttributeValues": {
                            ":change": {"N": str(change.change)},
                            ":name": {"S": change.item_name},
                            ":warehouse": {"S": change.warehouse},
                            ":item": {"S": change.item_id},
                            ":entity": {"S": "StockLevel"},
                            ":gsi1pk": {"S": f"ITEM#{change.item_id}"},
                            ":gsi1sk": {"S": f"WH#{change.warehouse}"},
                            ":gsi2pk": {"S": f"WH#{change.warehouse}"},
                            ":at": {"S": processed_at},
                            # when the change happened (its latest transaction), and since when the level exists
                            ":changed": {"S": change.last_at or processed_at},
                            ":first": {"S": change.first_at or processed_at},
                            ":source": {"S": source_key},
                            ":lines": {"S": change.lines or ""},
                            ":who": {"S": changed_by or "unknown"},
                        },
                    }
                }
            )
        try:
            # No ClientRequestToken of ours: the items carry this delivery's clock (appliedAt, updatedAt, ttl), so a
            # token made from the key and chunk would be reused by the next delivery with other parameters, which
            # DynamoDB refuses for 10 minutes (IdempotentParameterMismatchException). botocore gives each call a
            # token of its own and resends it on its retries; across deliveries the ledger's condition guards.
            self._ddb.transact_write_items(TransactItems=actions)
        except ClientError as exc:
            if _ledger_already_written(exc):
                return False
            raise
        return True

    def register_arrival(
        self,
        *,
        key: str,
        etag: str,
        version_id: str | None,
        event_time: str,
        registered_at: str,
        expires_at: int,
    ) -> bool:
        """Enter the file in the arrival register the nightly validation reads (`ARRIVALS`, sorted by
        registration time), once: the `FILE#…/ARRIVAL` marker in the same transaction makes a re-delivery a no-op.
        Returns False when the file was registered before."""
        ledger_pk = f"FILE#{key}#{etag}"
        register = {
            "PK": {"S": "ARRIVALS"},
            "SK": {"S": f"{registered_at}#{key}#{etag}"},
            "entity": {"S": "FileArrival"},
            "key": {"S": key},
            "etag": {"S": etag},
            "eventTime": {"S": event_time},
            "registeredAt": {"S": registered_at},
            "ttl": {"N": str(expires_at)},
        }
        if version_id:
            register["versionId"] = {"S": version_id}
        marker = {"PK": {"S": ledger_pk}, "SK": {"S": "ARRIVAL"}, "registeredAt": {"S": registered_at}}
        marker["ttl"] = {"N": str(expires_at)}
        try:
            self._ddb.transact_write_items(
                TransactItems=[
                    {
                        "Put": {
                            "TableName": self.name,
                            "Item": marker,
                            "ConditionExpression": "attribute_not_exists(PK)",
                        }
                    },
                    {"Put": {"TableName": self.name, "Item": register}},
                ]
            )
        except ClientError as exc:
            if _ledger_already_written(exc):
                return False
            raise
        return True

    def claim_content(self, *, digest: str, key: str, etag: str, seen_at: str, expires_at: int) -> tuple[str, str]:
        """Record which file first brought this content (`CONTENT#<sha256>` / `INVENTORY`); returns that file's
        (key, ETag): this one's, or an earlier upload's when the same bytes arrive under another key."""
        item = {
            "PK": {"S": f"CONTENT#{digest}"},
            "SK": {"S": "INVENTORY"},
            "entity": {"S": "FileContent"},
            "key": {"S": key},
            "etag": {"S": etag},
            "seenAt": {"S": seen_at},
            "ttl": {"N": str(expires_at)},
        }
        try:
            self._ddb.put_item(
                TableName=self.name,
                Item=item,
                ConditionExpression="attribute_not_exists(PK) OR (#key = :key AND etag = :etag)",
                ExpressionAttributeNames={"#key": "key"},
                ExpressionAttributeValues={":key": {"S": key}, ":etag": {"S": etag}},
            )
        except ClientError as exc:
            if not condition_failed(exc):
                raise
            first = self._ddb.get_item(
                TableName=self.name, Key={"PK": item["PK"], "SK": item["SK"]}, ConsistentRead=True
            )
            return first["Item"]["key"]["S"], first["Item"]["etag"]["S"]
        return key, etag

    def register_warehouses(self, warehouses: Iterable[str], *, seen_at: str) -> None:
        """Record the warehouses a file moves stock in (`WAREHOUSES` / `WH#<name>`), so that listing them is one
        Query, never a Scan. Idempotent puts: a re-delivered file writes the same items again."""
        items = [
            {
                "PutRequest": {
                    "Item": {
                        "PK": {"S": WAREHOUSE_REGISTRY},
                        "SK": {"S": f"WH#{name}"},
                        "entity": {"S": "Warehouse"},
                        "warehouse": {"S": name},
                        "seenAt": {"S": seen_at},
                    }
                }
            }
            for name in sorted(set(warehouses))
        ]
        write_batches(self._ddb, self.name, items, what="warehouse registry writes")

    def level(self, warehouse: str, item_id: str) -> dict[str, Any] | None:
        item = self._ddb.get_item(
            TableName=self.name,
            Key={"PK": {"S": f"WH#{warehouse}"}, "SK": {"S": f"ITEM#{item_id}"}},
            ConsistentRead=True,
        ).get("Item")
        return None if item is None else plain_item(item)

    def levels_of_warehouse(self, warehouse: str) -> list[dict[str, Any]]:
        return self._query(
            KeyConditionExpression="PK = :pk AND begins_with(SK, :item)",
            ExpressionAttributeValues={":pk": {"S": f"WH#{warehouse}"}, ":item": {"S": "ITEM#"}},
        )

    def levels_of_item(self, item_id: str) -> list[dict[str, Any]]:
        """Every warehouse's level of an item (GSI1)."""
        return self._query(
            IndexName="GSI1",
            KeyConditionExpression="GSI1PK = :pk AND begins_with(GSI1SK, :wh)",
            ExpressionAttributeValues={":pk": {"S": f"ITEM#{item_id}"}, ":wh": {"S": "WH#"}},
        )

    def _query(self, **kwargs: Any) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        for page in self._ddb.get_paginator("query").paginate(TableName=self.name, **kwargs):
            items.extend(plain_item(i) for i in page["Items"])
        return items

    # ---------------------------------------------------------------- thresholds

    def put_thresholds(
        self, thresholds: list[Any], *, source_key: str, effective_from: str, source_file: str = ""
    ) -> list[Any]:
        """Store each threshold unless a file of a later day set it; returns the items whose threshold changed.

        The item keeps what it was before this file (`previousRestockIfBelow`) and which file set it (`sourceFile`,
        its key and ETag): the same file applied again (a write whose answer was lost and is retried, a file
        re-delivered after the function died before it started the workflow) reports the same changes, not none.
        """

        def put(threshold: Any) -> ThresholdChange | None:
            try:
                stored = self._ddb.update_item(
                    TableName=self.name,
                    Key={"PK": {"S": f"ITEM#{threshold.item_id}"}, "SK": {"S": "THRESHOLD"}},
                    UpdateExpression=(
                        "SET previousRestockIfBelow = if_not_exists(restockIfBelow, :none), restockIfBelow = :new, "
                        "entity = :entity, itemId = :item, effectiveFrom = :day, sourceKey = :key, sourceFile = :file"
                    ),
                    ConditionExpression=(
                        "(attribute_not_exists(PK) OR effectiveFrom <= :day)"
                        " AND (attribute_not_exists(sourceFile) OR sourceFile <> :file)"
                    ),
                    ExpressionAttributeValues={
                        ":none": {"N": str(NO_THRESHOLD)},
                        ":new": {"N": str(threshold.restock_if_below)},
                        ":entity": {"S": "RestockThreshold"},
                        ":item": {"S": threshold.item_id},
                        ":day": {"S": effective_from},
                        ":key": {"S": source_key},
                        ":file": {"S": source_file or source_key},
                    },
                    ReturnValues="ALL_NEW",
                    ReturnValuesOnConditionCheckFailure="ALL_OLD",
                )["Attributes"]
            except ClientError as exc:
                if not condition_failed(exc):
                    raise
                stored = exc.response.get("Item") or {}
                if stored.get("sourceFile", {}).get("S") != (source_file or source_key):
                    return None  # a later day's file already set this item
            previous = int(stored.get("previousRestockIfBelow", {}).get("N", NO_THRESHOLD))
            new = int(stored["restockIfBelow"]["N"])
            if previous == new:
                return None
            return ThresholdChange(threshold.item_id, None if previous == NO_THRESHOLD else previous, new)

        with ThreadPoolExecutor(max_workers=16, thread_name_prefix="ddb-threshold") as pool:
            return [c for c in pool.map(put, thresholds) if c is not None]

    def thresholds(self, item_ids: Iterable[str]) -> dict[str, int]:
        """Thresholds of the given items that have one (BatchGetItem, 100 keys a call)."""
        ids = sorted(set(item_ids))
        found: dict[str, int] = {}
        for start in range(0, len(ids), 100):
            request = {
                self.name: {
                    "Keys": [{"PK": {"S": f"ITEM#{i}"}, "SK": {"S": "THRESHOLD"}} for i in ids[start : start + 100]]
                }
            }
            while request:
                response = self._ddb.batch_get_item(RequestItems=request)
                for item in response["Responses"].get(self.name, []):
                    found[item["itemId"]["S"]] = int(item["restockIfBelow"]["N"])
                request = response.get("UnprocessedKeys") or {}
        return found

    def settle_first_seen(self, changes: list[Any]) -> int:
        """A level's first-seen time is its earliest transaction, whatever order files arrive in: for each change
        whose earliest transaction is older than the level's first-seen time, that time moves back (a conditional
        write: a minimum, so repeating it changes nothing). Returns how many moved."""

        def settle(change: Any) -> bool:
            return written_if(
                self._ddb.update_item,
                TableName=self.name,
                Key={"PK": {"S": f"WH#{change.warehouse}"}, "SK": {"S": f"ITEM#{change.item_id}"}},
                UpdateExpression="SET firstSeenAt = :first",
                ConditionExpression="attribute_exists(PK) AND firstSeenAt > :first",
                ExpressionAttributeValues={":first": {"S": change.first_at}},
            )

        earlier = [change for change in changes if change.first_at]
        if not earlier:
            return 0
        with ThreadPoolExecutor(max_workers=8, thread_name_prefix="ddb-first-seen") as pool:
            return sum(pool.map(settle, earlier))

    # ---------------------------------------------------------------- the alert flag

    def claim_alert(
        self, warehouse: str, item_id: str, *, threshold: int, alert_id: str, crossed_at: str | None = None
    ) -> bool:
        """Set belowThreshold if the level is below now and nobody alerted yet (or this very alert retries and
        has not gone out yet: `alertSent`, set after the publish, keeps a re-delivered batch from sending it again)."""
        return self._conditional_update(
            warehouse,
            item_id,
            # GSI4PK puts the level into the sparse index of levels below their threshold (the console's
            # overview reads it, sorted by alertedAt: the crossings of the last 24 hours are its newest), in one of
            # BELOW_SHARDS partitions: a stock-out wave's claims spread over them instead of one hot key
            "SET belowThreshold = :true, alertId = :id, alertThreshold = :threshold, GSI4PK = :below, "
            "alertedAt = if_not_exists(alertedAt, :now)",
            "quantity < :threshold"
            " AND (attribute_not_exists(belowThreshold) OR belowThreshold = :false OR alertId = :id)"
            " AND (attribute_not_exists(alertSent) OR alertSent <> :id)",
            {
                ":true": {"BOOL": True},
                ":false": {"BOOL": False},
                ":id": {"S": alert_id},
                ":threshold": {"N": str(threshold)},
                ":below": {"S": below_shard(warehouse, item_id)},
                # when it crossed: the transaction's time (an import's crossing is not one of today's)
                ":now": {"S": crossed_at or datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")},
            },
        )

    def mark_sent(self, alerts: Iterable[tuple[str, str, str]]) -> list[str]:
        """Record that these (warehouse, item, alert id) went out: publish, then record. Only a function that dies
        between the two can e-mail a crossing twice (docs/reliability.md counts how often). Best effort: the alert
        ids it could not record are returned, not raised, as failing the batch now would send them all again."""
        unrecorded = []
        for warehouse, item_id, alert_id in alerts:
            try:
                self._conditional_update(
                    warehouse, item_id, "SET alertSent = :id", "alertId = :id", {":id": {"S": alert_id}}
                )
            except (ClientError, BotoCoreError):
                unrecorded.append(alert_id)
        return unrecorded

    def rearm(self, warehouse: str, item_id: str, *, threshold: int) -> bool:
        """Clear belowThreshold if the level is at or above the threshold now."""
        return self._conditional_update(
            warehouse,
            item_id,
            "SET belowThreshold = :false REMOVE alertId, alertSent, GSI4PK, alertedAt",
            "belowThreshold = :true AND quantity >= :threshold",
            {":true": {"BOOL": True}, ":false": {"BOOL": False}, ":threshold": {"N": str(threshold)}},
        )

    def _conditional_update(self, warehouse: str, item_id: str, update: str, condition: str, values: dict) -> bool:
        return written_if(
            self._ddb.update_item,
            TableName=self.name,
            Key={"PK": {"S": f"WH#{warehouse}"}, "SK": {"S": f"ITEM#{item_id}"}},
            UpdateExpression=update,
            ConditionExpression=condition,
            ExpressionAttributeValues=values,
        )


# GSI4's partitions of the levels below their threshold: written at every crossing, so one key value would take a
# stock-out wave's claims alone, at most 1,000 write units a second (docs/scale.md). Each level has its shard
# (`below_shard`, stable: a retried claim lands where the first did); readers read every shard, and "BELOW", the
# one partition of levels claimed before the shards (they move to a shard at their next crossing).
BELOW_THRESHOLD = "BELOW"
BELOW_SHARDS = 10


def below_shard(warehouse: str, item_id: str) -> str:
    return f"{BELOW_THRESHOLD}#{zlib.crc32(f'{warehouse}\0{item_id}'.encode()) % BELOW_SHARDS}"


def below_partitions() -> list[str]:
    """Every GSI4 partition key a level below its threshold may have."""
    return [BELOW_THRESHOLD, *(f"{BELOW_THRESHOLD}#{n}" for n in range(BELOW_SHARDS))]


NO_THRESHOLD = -1  # previousRestockIfBelow of an item that had none (thresholds are never negative)


def _ledger_already_written(exc: ClientError) -> bool:
    error = exc.response.get("Error", {})
    if error.get("Code") != "TransactionCanceledException":
        return False
    reasons = exc.response.get("CancellationReasons") or []
    if reasons:
        return reasons[0].get("Code") == "ConditionalCheckFailed"
    return "ConditionalCheckFailed" in error.get("Message", "").split("[", 1)[-1].split(",")[0]

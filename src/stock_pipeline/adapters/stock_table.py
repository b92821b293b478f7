"""The DynamoDB single table (DESIGN.md §3). Conditional writes make out-of-order and repeated input harmless."""

from __future__ import annotations

import hashlib
import random
import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import BotoCoreError, ClientError

from stock_pipeline.domain.snapshots import SnapshotColumns
from stock_pipeline.domain.thresholds import ThresholdChange

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()

BATCH_STATEMENTS = 25  # BatchExecuteStatement's limit
BATCH_KEYS = 100  # BatchGetItem's limit
MAX_ROUNDS = 12
# Statement errors worth another round after a back-off: capacity, and what DynamoDB says to retry.
RETRYABLE = {
    "ProvisionedThroughputExceeded",
    "ThrottlingError",
    "RequestLimitExceeded",
    "InternalServerError",
    "TransactionConflict",
}


class SnapshotWriteError(RuntimeError):
    """Writes DynamoDB refused for a reason a retry of the whole object may fix (access, throttling that lasts)."""


@dataclass(frozen=True, slots=True)
class SnapshotWriteReport:
    written: int
    stale: int
    invalid: list[tuple[int, str]] = field(default_factory=list)  # (item index, DynamoDB's reason)
    requests: int = 0


class StockTable:
    def __init__(
        self,
        dynamodb_client: Any,
        table_name: str,
        *,
        concurrency: int = 32,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._ddb = dynamodb_client
        self.name = table_name
        self._concurrency = max(1, concurrency)
        self._sleep = sleep

    def put_snapshots_if_newer(self, batch: SnapshotColumns) -> SnapshotWriteReport:
        """Newer wins, 25 conditional writes per request.

        One BatchGetItem per 100 keys reads the stored versions; keys not stored yet are written with PartiQL
        `INSERT` (which refuses an existing key: DuplicateItem), older ones with `UPDATE … WHERE version < ?`
        (which refuses a missing or newer item: ConditionalCheckFailed), and newer-or-equal ones are not written
        at all, so a re-delivered object costs reads only. The conditions keep the guarantee when another writer
        gets in between: a refused INSERT becomes an UPDATE, an UPDATE refused for a vanished item an INSERT.
        Statements DynamoDB throttles go again after a back-off; an item DynamoDB refuses as invalid (over
        400 KB, say) is returned in `invalid` while the others land.
        """
        if not len(batch):
            return SnapshotWriteReport(0, 0)
        if batch.columns[batch.version][0] != "S":
            raise ValueError("the version must be fixed-width text (type S), which orders like its value")
        stored, requests = self._stored_versions(batch)
        pending: list[tuple[int, str]] = []
        stale = 0
        for i, version in enumerate(batch.versions()):
            if stored[i] is None:
                pending.append((i, "INSERT"))
            elif stored[i] < version:
                pending.append((i, "UPDATE"))
            else:
                stale += 1
        statements = _Statements(self.name, batch)
        written, invalid = 0, []
        for attempt in range(MAX_ROUNDS):
            if not pending:
                return SnapshotWriteReport(written=written, stale=stale, invalid=invalid, requests=requests)
            errors = self._execute([statements.build(i, kind) for i, kind in pending])
            requests += -(-len(pending) // BATCH_STATEMENTS)
            follow_up, throttled = [], []
            for (i, kind), error in zip(pending, errors, strict=True):
                code = None if error is None else error.get("Code", "")
                if code is None:
                    written += 1
                elif kind == "INSERT" and code == "DuplicateItem":
                    follow_up.append((i, "UPDATE"))  # stored meanwhile: let the UPDATE compare versions
                elif kind == "UPDATE" and code == "ConditionalCheckFailed":
                    if "Item" in error:
                        stale += 1  # a newer or equal version is stored
                    else:
                        follow_up.append((i, "INSERT"))  # the item is gone: store it anew
                elif code in RETRYABLE:
                    throttled.append((i, kind))
                elif code == "ValidationError":
                    invalid.append((i, error.get("Message") or code))
                else:
                    raise SnapshotWriteError(f"{self.name}: {kind} refused with {code}: {error.get('Message', '')}")
            if throttled:
                self._sleep(min(5.0, 0.05 * 2**attempt) * random.random())  # full jitter
            pending = follow_up + throttled
        raise SnapshotWriteError(f"{self.name}: {len(pending)} writes still refused after {MAX_ROUNDS} rounds")

    def _stored_versions(self, batch: SnapshotColumns) -> tuple[list[str | None], int]:
        """The stored version of every key (None where there is no item): BatchGetItem, 100 keys a request,
        only the keys and the version projected, unprocessed keys asked again after a back-off.

        Eventually consistent reads (half the price) are enough: stored versions only grow, so a stale read can
        only under-report one, and the INSERT's or UPDATE's own condition then decides on the current item."""
        index = {(pk, sk): i for i, (pk, sk) in enumerate(zip(batch.pk, batch.sk, strict=True))}
        keys = [{"PK": {"S": pk}, "SK": {"S": sk}} for pk, sk in index]
        stored: list[str | None] = [None] * len(batch)
        requests = 0

        def read(chunk: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], int]:
            found: list[dict[str, Any]] = []
            request = {
                self.name: {
                    "Keys": chunk,
                    "ProjectionExpression": "PK, SK, #v",
                    "ExpressionAttributeNames": {"#v": batch.version},
                }
            }
            for attempt in range(MAX_ROUNDS):
                response = self._ddb.batch_get_item(RequestItems=request)
                found.extend(response.get("Responses", {}).get(self.name, []))
                request = response.get("UnprocessedKeys") or {}
                if not request:
                    return found, attempt + 1
                self._sleep(min(5.0, 0.05 * 2**attempt) * random.random())
            raise SnapshotWriteError(f"{self.name}: keys still unprocessed after {MAX_ROUNDS} reads")

        chunks = [keys[start : start + BATCH_KEYS] for start in range(0, len(keys), BATCH_KEYS)]
        for found, calls in self._pool_map(read, chunks):
            requests += calls
            for item in found:
                i = index[(item["PK"]["S"], item["SK"]["S"])]
                stored[i] = item.get(batch.version, {}).get("S", "")  # no version stored: any version is newer
        return stored, requests

    def _execute(self, statements: list[dict[str, Any]]) -> list[dict[str, Any] | None]:
        """Send the statements 25 a request, concurrently; the error of each statement, or None."""
        chunks = [statements[start : start + BATCH_STATEMENTS] for start in range(0, len(statements), BATCH_STATEMENTS)]

        def send(chunk: list[dict[str, Any]]) -> list[dict[str, Any] | None]:
            responses = self._ddb.batch_execute_statement(Statements=chunk)["Responses"]
            return [response.get("Error") for response in responses]

        return [error for errors in self._pool_map(send, chunks) for error in errors]

    def _pool_map(self, function: Callable[[Any], Any], chunks: list[Any]) -> list[Any]:
        if len(chunks) <= 1:
            return [function(chunk) for chunk in chunks]
        with ThreadPoolExecutor(max_workers=min(self._concurrency, len(chunks)), thread_name_prefix="ddb") as pool:
            return list(pool.map(function, chunks))


class _Statements:
    """PartiQL statements of one batch, their typed parameters built column by column (one list per attribute,
    shared dicts for constants) rather than through a serializer per value."""

    def __init__(self, table: str, batch: SnapshotColumns) -> None:
        names = list(batch.columns) + list(batch.constants)
        quoted = [f'"{name}"' for name in names]
        self.insert = (
            f'INSERT INTO "{table}" VALUE {{' + ", ".join(f"'{name}': ?" for name in ["PK", "SK", *names]) + "}"
        )
        self.update = (
            f'UPDATE "{table}" '
            + " ".join(f"SET {name}=?" for name in quoted)
            + f' WHERE "PK"=? AND "SK"=? AND "{batch.version}"<?'
        )
        self._pk = [{"S": v} for v in batch.pk]
        self._sk = [{"S": v} for v in batch.sk]
        self._columns = [[{kind: v} for v in values] for kind, values in batch.columns.values()]
        self._constants = [{kind: str(value) if kind == "N" else value} for kind, value in batch.constants.values()]
        self._version = self._columns[list(batch.columns).index(batch.version)]

    def build(self, i: int, kind: str) -> dict[str, Any]:
        values = [column[i] for column in self._columns] + self._constants
        if kind == "INSERT":
            return {"Statement": self.insert, "Parameters": [self._pk[i], self._sk[i], *values]}
        return {
            "Statement": self.update,
            "Parameters": [*values, self._pk[i], self._sk[i], self._version[i]],
            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
        }


def _write_each(write: Any, items: list[Mapping[str, Any]], concurrency: int) -> SnapshotWriteReport:
    """Conditional single-item writes, issued concurrently; `write` returns False when its condition failed."""
    if not items:
        return SnapshotWriteReport(0, 0)
    with ThreadPoolExecutor(max_workers=min(concurrency, len(items)), thread_name_prefix="ddb-write") as pool:
        written = sum(pool.map(write, items))
    return SnapshotWriteReport(written=written, stale=len(items) - written)


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
                            "lastSourceKey = :source, lastSourceLines = :lines, "
                            "firstSeenAt = if_not_exists(firstSeenAt, :at), lastChangedBy = :who"
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
                            ":source": {"S": source_key},
                            ":lines": {"S": change.lines or ""},
                            ":who": {"S": changed_by or "unknown"},
                        },
                    }
                }
            )
        try:
            self._ddb.transact_write_items(TransactItems=actions, ClientRequestToken=_token(ledger_pk, chunk))
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
            if exc.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
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
        return None if item is None else _plain(item)

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
            items.extend(_plain(i) for i in page["Items"])
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
                if exc.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
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

    # ---------------------------------------------------------------- the alert flag

    def claim_alert(self, warehouse: str, item_id: str, *, threshold: int, alert_id: str) -> bool:
        """Set belowThreshold if the level is below now and nobody alerted yet (or this very alert retries and
        has not gone out yet: `alertSent`, set after the publish, keeps a re-delivered batch from sending it again)."""
        return self._conditional_update(
            warehouse,
            item_id,
            # GSI4PK puts the level into the sparse index of levels below their threshold (the console's
            # overview reads it, sorted by alertedAt: the crossings of the last 24 hours are its newest)
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
                ":below": {"S": BELOW_THRESHOLD},
                ":now": {"S": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")},
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
        try:
            self._ddb.update_item(
                TableName=self.name,
                Key={"PK": {"S": f"WH#{warehouse}"}, "SK": {"S": f"ITEM#{item_id}"}},
                UpdateExpression=update,
                ConditionExpression=condition,
                ExpressionAttributeValues=values,
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                return False
            raise
        return True


BELOW_THRESHOLD = "BELOW"  # GSI4's one partition: the levels below their threshold (few; changed at crossings only)
NO_THRESHOLD = -1  # previousRestockIfBelow of an item that had none (thresholds are never negative)


def write_batches(ddb: Any, table: str, requests: list[dict[str, Any]], *, what: str) -> None:
    """BatchWriteItem in 25s, the unprocessed items sent again after a jittered back-off (a throttled table
    answers with UnprocessedItems, not an error)."""
    for start in range(0, len(requests), 25):
        request = {table: requests[start : start + 25]}
        for attempt in range(MAX_ROUNDS):
            request = ddb.batch_write_item(RequestItems=request).get("UnprocessedItems") or {}
            if not request:
                break
            time.sleep(min(5.0, 0.05 * 2**attempt) * random.random())
        else:
            raise SnapshotWriteError(f"{table}: {what} still unprocessed")


def _token(ledger_pk: str, chunk: int) -> str:
    """Idempotency token of the transaction: a retry within 10 minutes is answered, not re-applied."""
    return hashlib.sha256(f"{ledger_pk}#{chunk}".encode()).hexdigest()[:36]


def _ledger_already_written(exc: ClientError) -> bool:
    error = exc.response.get("Error", {})
    if error.get("Code") != "TransactionCanceledException":
        return False
    reasons = exc.response.get("CancellationReasons") or []
    if reasons:
        return reasons[0].get("Code") == "ConditionalCheckFailed"
    return "ConditionalCheckFailed" in error.get("Message", "").split("[", 1)[-1].split(",")[0]


def _plain(item: dict[str, Any]) -> dict[str, Any]:
    """DynamoDB's typed attributes as plain Python, integers as int."""
    plain = {}
    for name, value in item.items():
        value = _deserializer.deserialize(value)
        if isinstance(value, Decimal):
            value = int(value) if value == value.to_integral_value() else float(value)
        plain[name] = value
    return plain


# The delta is computed by DynamoDB from the stored quantity, in the same write: no read-then-write race.
SUPPLIER_STOCK_UPDATE = (
    "SET quantityDelta = :quantity - if_not_exists(quantity, :zero), quantity = :quantity, "
    "updatedAt = :updatedAt, entity = :entity, supplier = :supplier, customLabel = :label, "
    "partNumbers = :parts, sourceKey = :source"
)


class SupplierStock:
    """Latest supplier stock per SKU (`SUP#<supplier>` / `SKU#<custom_label>`) and the per-file notice ledger."""

    def __init__(self, dynamodb_client: Any, table_name: str, *, concurrency: int = 32) -> None:
        self._ddb = dynamodb_client
        self.name = table_name
        self._concurrency = max(1, concurrency)

    def put_latest(self, items: list[Mapping[str, Any]]) -> SnapshotWriteReport:
        """One conditional UpdateItem per SKU: only a newer feed replaces the quantity (and sets the delta), so a
        retried or older feed changes nothing."""
        return _write_each(self._update_if_newer, items, self._concurrency)

    def _update_if_newer(self, item: Mapping[str, Any]) -> bool:
        values = {
            ":quantity": item["quantity"],
            ":zero": 0,
            ":updatedAt": item["updatedAt"],
            ":entity": item["entity"],
            ":supplier": item["supplier"],
            ":label": item["customLabel"],
            ":parts": item["partNumbers"],
            ":source": item["sourceKey"],
        }
        try:
            self._ddb.update_item(
                TableName=self.name,
                Key={"PK": {"S": item["PK"]}, "SK": {"S": item["SK"]}},
                UpdateExpression=SUPPLIER_STOCK_UPDATE,
                ConditionExpression="attribute_not_exists(PK) OR updatedAt < :updatedAt",
                ExpressionAttributeValues={k: _serializer.serialize(v) for k, v in values.items()},
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def stock_of_supplier(self, supplier: str) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        pages = self._ddb.get_paginator("query").paginate(
            TableName=self.name,
            KeyConditionExpression="PK = :pk AND begins_with(SK, :sku)",
            ExpressionAttributeValues={":pk": {"S": f"SUP#{supplier}"}, ":sku": {"S": "SKU#"}},
        )
        for page in pages:
            items.extend(_plain(i) for i in page["Items"])
        return items

    # ---------------------------------------------------------------- one completion notice per file

    def notice_sent(self, source_key: str, etag: str) -> bool:
        item = self._ddb.get_item(
            TableName=self.name, Key=_notice_key(source_key, etag), ConsistentRead=True, ProjectionExpression="PK"
        ).get("Item")
        return item is not None

    def record_notice(self, source_key: str, etag: str, *, status: str, sent_at: str, expires_at: int) -> None:
        self._ddb.put_item(
            TableName=self.name,
            Item={
                **_notice_key(source_key, etag),
                "entity": {"S": "FileNotice"},
                "status": {"S": status},
                "sentAt": {"S": sent_at},
                "ttl": {"N": str(expires_at)},
            },
        )


class FileOutcomes:
    """What became of each uploaded file (`FILE#<key>#<etag>` / `OUTCOME`): the web console's Files page reads
    these; one item per file and ETag, rewritten by a re-delivery with the same content."""

    def __init__(self, dynamodb_client: Any, table_name: str) -> None:
        self._ddb = dynamodb_client
        self.name = table_name

    def record(self, key: str, etag: str, outcome: Mapping[str, Any], *, at: str, expires_at: int) -> None:
        item = {
            "PK": {"S": f"FILE#{key}#{etag}"},
            "SK": {"S": "OUTCOME"},
            "entity": {"S": "FileOutcome"},
            "status": {"S": str(outcome["status"])},
            "summary": {"S": str(outcome.get("summary") or "")},
            "rejected": {"N": str(int(outcome.get("rejected") or 0))},
            "at": {"S": at},
            "ttl": {"N": str(expires_at)},
        }
        if outcome.get("rejected_key"):
            item["rejectedKey"] = {"S": str(outcome["rejected_key"])}
        if outcome.get("uploaded_by"):
            item["uploadedBy"] = {"S": str(outcome["uploaded_by"])}
        self._ddb.put_item(TableName=self.name, Item=item)

    def outcomes(self, files: list[tuple[str, str]]) -> dict[tuple[str, str], dict[str, Any]]:
        """(key, etag) -> outcome, for the files that have one (BatchGetItem, 100 a request)."""
        found: dict[tuple[str, str], dict[str, Any]] = {}
        wanted = {f"FILE#{key}#{etag}": (key, etag) for key, etag in files}
        keys = [{"PK": {"S": pk}, "SK": {"S": "OUTCOME"}} for pk in wanted]
        for start in range(0, len(keys), 100):
            request = {self.name: {"Keys": keys[start : start + 100]}}
            while request:
                response = self._ddb.batch_get_item(RequestItems=request)
                for item in response.get("Responses", {}).get(self.name, []):
                    plain = _plain(item)
                    found[wanted[plain["PK"]]] = plain
                request = response.get("UnprocessedKeys") or {}
        return found


def _notice_key(source_key: str, etag: str) -> dict[str, Any]:
    return {"PK": {"S": f"FILE#{source_key}#{etag}"}, "SK": {"S": "NOTICE"}}


@dataclass(frozen=True, slots=True)
class QueryPage:
    items: list[dict[str, Any]]
    last_key: dict[str, Any] | None
    read_capacity: float


class StockQueries:
    """The reports' reads: one Query page at a time (a report never holds more than a page), with the read
    capacity DynamoDB says each page consumed."""

    def __init__(self, dynamodb_client: Any, table_name: str) -> None:
        self._ddb = dynamodb_client
        self.name = table_name

    def warehouses(self, *, limit: int, start: dict[str, Any] | None) -> QueryPage:
        return self._page(limit, start, KeyConditionExpression="PK = :pk", values={":pk": WAREHOUSE_REGISTRY})

    def warehouse_names(self) -> list[str]:
        """Every warehouse of the registry (the jobs and reports that span warehouses go one by one)."""
        names: list[str] = []
        start = None
        while True:
            page = self.warehouses(limit=1000, start=start)
            names.extend(str(item["warehouse"]) for item in page.items)
            if not page.last_key:
                return names
            start = page.last_key

    def below_threshold(self) -> list[dict[str, Any]]:
        """Every level below its threshold (GSI4, sparse: set with the alert flag, removed at the re-arm)."""
        items: list[dict[str, Any]] = []
        start = None
        while True:
            page = self._page(
                1000, start, IndexName="GSI4", KeyConditionExpression="GSI4PK = :pk", values={":pk": BELOW_THRESHOLD}
            )
            items.extend(page.items)
            if not page.last_key:
                return items
            start = page.last_key

    def warehouse_known(self, warehouse: str) -> bool:
        key = {"PK": {"S": WAREHOUSE_REGISTRY}, "SK": {"S": f"WH#{warehouse}"}}
        return "Item" in self._ddb.get_item(TableName=self.name, Key=key, ProjectionExpression="PK")

    def levels(self, warehouse: str, *, above: int | None, limit: int, start: dict[str, Any] | None) -> QueryPage:
        """Report 1 from the warehouse's partition; report 2 from GSI2 (sort key: the quantity), so that a read
        covers only the levels above `above`, whatever the warehouse holds besides."""
        if above is None:
            return self._page(
                limit,
                start,
                KeyConditionExpression="PK = :pk AND begins_with(SK, :item)",
                values={":pk": f"WH#{warehouse}", ":item": "ITEM#"},
            )
        return self._page(
            limit,
            start,
            IndexName="GSI2",
            KeyConditionExpression="GSI2PK = :pk AND quantity > :above",
            values={":pk": f"WH#{warehouse}", ":above": above},
        )

    def selling(self, warehouse: str, *, limit: int, start: dict[str, Any] | None) -> QueryPage:
        """The warehouse's levels that have a sales rate (GSI3, sparse: the forecast job keeps it to those)."""
        return self._page(
            limit,
            start,
            IndexName="GSI3",
            KeyConditionExpression="GSI3PK = :pk",
            values={":pk": f"SELLING#{warehouse}"},
        )

    def articles(self, retailer: str, account: int, *, limit: int, start: dict[str, Any] | None) -> QueryPage:
        return self._page(
            limit,
            start,
            KeyConditionExpression="PK = :pk AND begins_with(SK, :art)",
            values={":pk": f"RET#{retailer}#ACC#{account}", ":art": "ART#"},
        )

    def supplier_stock(self, supplier: str, *, limit: int, start: dict[str, Any] | None) -> QueryPage:
        return self._page(
            limit,
            start,
            KeyConditionExpression="PK = :pk AND begins_with(SK, :sku)",
            values={":pk": f"SUP#{supplier}", ":sku": "SKU#"},
        )

    def _page(self, limit: int, start: dict[str, Any] | None, *, values: dict[str, Any], **kwargs: Any) -> QueryPage:
        request: dict[str, Any] = {
            "TableName": self.name,
            "Limit": limit,
            "ReturnConsumedCapacity": "TOTAL",
            "ExpressionAttributeValues": {name: _serializer.serialize(value) for name, value in values.items()},
            **kwargs,
        }
        if start:
            request["ExclusiveStartKey"] = start
        response = self._ddb.query(**request)
        return QueryPage(
            items=[_plain(item) for item in response.get("Items", [])],
            last_key=response.get("LastEvaluatedKey"),
            read_capacity=float(response.get("ConsumedCapacity", {}).get("CapacityUnits", 0.0)),
        )

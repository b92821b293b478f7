"""The DynamoDB single table (DESIGN.md §3): the latest article stock (newer-wins snapshot writes) and the write
helpers every adapter of the table shares. Each entity's access lives in its own module: levels.py (warehouse
levels, ledgers, thresholds, alerts), supplier_stock.py, file_outcomes.py, queries.py (the reports' reads),
movements.py, recent_changes.py, validation_table.py, forecast.py."""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

from stock_pipeline.domain.snapshots import SnapshotColumns

serializer = TypeSerializer()
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


def write_each(write: Any, items: list[Mapping[str, Any]], concurrency: int) -> SnapshotWriteReport:
    """Conditional single-item writes, issued concurrently; `write` returns False when its condition failed."""
    if not items:
        return SnapshotWriteReport(0, 0)
    with ThreadPoolExecutor(max_workers=min(concurrency, len(items)), thread_name_prefix="ddb-write") as pool:
        written = sum(pool.map(write, items))
    return SnapshotWriteReport(written=written, stale=len(items) - written)


def condition_failed(exc: ClientError) -> bool:
    return exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException"


def written_if(call: Callable[..., Any], **request: Any) -> bool:
    """A conditional write (PutItem, UpdateItem): False when its condition did not hold, any other error raised."""
    try:
        call(**request)
    except ClientError as exc:
        if condition_failed(exc):
            return False
        raise
    return True


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


def plain_item(item: dict[str, Any]) -> dict[str, Any]:
    """DynamoDB's typed attributes as plain Python, integers as int."""
    plain = {}
    for name, value in item.items():
        value = _deserializer.deserialize(value)
        if isinstance(value, Decimal):
            value = int(value) if value == value.to_integral_value() else float(value)
        plain[name] = value
    return plain

"""The DynamoDB single table (DESIGN.md §3). Conditional writes make out-of-order and repeated input harmless."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from boto3.dynamodb.types import TypeSerializer
from botocore.exceptions import ClientError

_serializer = TypeSerializer()

NEWER_WINS = "attribute_not_exists(PK) OR lastUpdated < :lastUpdated"


@dataclass(frozen=True, slots=True)
class SnapshotWriteReport:
    written: int
    stale: int


class StockTable:
    def __init__(self, dynamodb_client: Any, table_name: str, *, concurrency: int = 32) -> None:
        self._ddb = dynamodb_client
        self.name = table_name
        self._concurrency = max(1, concurrency)

    def put_snapshots_if_newer(self, items: Iterable[Mapping[str, Any]]) -> SnapshotWriteReport:
        """One conditional PutItem per distinct key, issued concurrently; an older or equal snapshot is kept out.

        BatchWriteItem cannot carry conditions, so per-item writes are the price of newer-wins.
        """
        items = list(items)
        if not items:
            return SnapshotWriteReport(0, 0)
        workers = min(self._concurrency, len(items))
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="ddb-put") as pool:
            outcomes = list(pool.map(self._put_if_newer, items))
        written = sum(outcomes)
        return SnapshotWriteReport(written=written, stale=len(items) - written)

    def _put_if_newer(self, item: Mapping[str, Any]) -> bool:
        try:
            self._ddb.put_item(
                TableName=self.name,
                Item={k: _serializer.serialize(v) for k, v in item.items() if v is not None},
                ConditionExpression=NEWER_WINS,
                ExpressionAttributeValues={":lastUpdated": {"S": item["lastUpdated"]}},
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                return False
            raise
        return True

"""The last 31 days of each warehouse level's changes in the table (`CHG#<warehouse>#<item>` / `<time>#<seq>`),
written by the history consumer next to the lake's file: the console's item page reads one level's month with one
Query instead of reading a month of the whole history from the lake."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from stock_pipeline.adapters.stock_table import plain_item, write_batches
from stock_pipeline.domain.movements import change_sort_key

if TYPE_CHECKING:  # the history function writes with Arrow; the console only reads (and imports no Arrow)
    import pyarrow as pa

KEPT_DAYS = 31


def change_key(warehouse: str, item_id: str) -> str:
    return f"CHG#{warehouse}#{item_id}"


class RecentChanges:
    def __init__(self, dynamodb_client: Any, table_name: str) -> None:
        self._ddb = dynamodb_client
        self.name = table_name

    def put(self, rows: pa.Table) -> int:
        """The warehouse-level rows of a history batch; keyed by time and stream sequence, so a retried batch
        writes the same items again (idempotent puts). A level's removal (an operator's cleanup, `make smoke`)
        is no change of stock: the lake's history keeps it, the item page has no level to show it on."""
        import pyarrow.compute as pc

        levels = rows.filter(
            pc.and_(pc.equal(rows["entity"], "warehouse_level"), pc.not_equal(rows["event_name"], "REMOVE"))
        )
        items = []
        for row in levels.to_pylist():
            moment: datetime = row["event_time"]
            item: dict[str, Any] = {
                "PK": {"S": change_key(row["warehouse"], row["item_id"])},
                "SK": {"S": f"{change_sort_key(moment)}#{row['sequence']}"},
                "entity": {"S": "LevelChange"},
                "at": {"S": moment.strftime("%Y-%m-%dT%H:%M:%SZ")},
                "delta": {"N": str(row["delta"])},
                "cause": {"S": row["source_key"] or ""},
                "by": {"S": row["changed_by"] or ""},
                "ttl": {"N": str(int((moment + timedelta(days=KEPT_DAYS)).timestamp()))},
            }
            for name in ("old_value", "new_value"):
                if row[name] is not None:
                    item[name] = {"N": str(row[name])}
            items.append({"PutRequest": {"Item": item}})
        write_batches(self._ddb, self.name, items, what="recent level changes")
        return len(items)

    def of_level(self, warehouse: str, item_id: str, *, since: str) -> list[dict[str, Any]]:
        """A level's changes since `since` (UTC text), oldest first."""
        found: list[dict[str, Any]] = []
        for page in self._ddb.get_paginator("query").paginate(
            TableName=self.name,
            KeyConditionExpression="PK = :pk AND SK >= :since",
            ExpressionAttributeValues={":pk": {"S": change_key(warehouse, item_id)}, ":since": {"S": since}},
        ):
            found.extend(plain_item(item) for item in page["Items"])
        return found

"""The reports' reads of the single table: one Query page at a time, with the capacity each page consumed."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from stock_pipeline.adapters.levels import WAREHOUSE_REGISTRY, below_partitions
from stock_pipeline.adapters.stock_table import plain_item, serializer


@dataclass(frozen=True, slots=True)
class QueryPage:
    items: list[dict[str, Any]]
    last_key: dict[str, Any] | None
    read_capacity: float
    keys: list[dict[str, Any]] = field(default_factory=list)
    """each item's own key in the index read (what DynamoDB would return as LastEvaluatedKey after it), so that a
    caller that shows fewer items than it read can go on after the last one it showed"""


# The key attributes of each index's LastEvaluatedKey: its own key, then the table's (template.yaml's StockTable).
INDEX_KEYS: dict[str | None, tuple[str, ...]] = {
    None: ("PK", "SK"),
    "GSI1": ("GSI1PK", "GSI1SK", "PK", "SK"),
    "GSI2": ("GSI2PK", "quantity", "PK", "SK"),
    "GSI3": ("GSI3PK", "itemId", "PK", "SK"),
    "GSI4": ("GSI4PK", "alertedAt", "PK", "SK"),
}


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

    def below_threshold(self) -> Iterator[dict[str, Any]]:
        """Every level below its threshold (GSI4, sparse: set with the alert flag, removed at the re-arm), page by
        page as it is read: a caller that keeps a few of them holds one page at a time, not tens of thousands."""
        for partition in below_partitions():  # sharded: a crossing wave's writes spread over them (adapters.levels)
            start = None
            while True:
                page = self._page(
                    1000, start, IndexName="GSI4", KeyConditionExpression="GSI4PK = :pk", values={":pk": partition}
                )
                yield from page.items
                if not page.last_key:
                    break
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
            "ExpressionAttributeValues": {name: serializer.serialize(value) for name, value in values.items()},
            **kwargs,
        }
        if start:
            request["ExclusiveStartKey"] = start
        response = self._ddb.query(**request)
        raw = response.get("Items", [])
        key_names = INDEX_KEYS[kwargs.get("IndexName")]
        return QueryPage(
            items=[plain_item(item) for item in raw],
            last_key=response.get("LastEvaluatedKey"),
            read_capacity=float(response.get("ConsumedCapacity", {}).get("CapacityUnits", 0.0)),
            keys=[{name: item[name] for name in key_names if name in item} for item in raw],
        )

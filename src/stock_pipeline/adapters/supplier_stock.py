"""Latest supplier stock per SKU (`SUP#<supplier>` / `SKU#<custom_label>`) and the one-notice-per-file ledger."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from stock_pipeline.adapters.stock_table import SnapshotWriteReport, plain_item, serializer, write_each, written_if

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
        return write_each(self._update_if_newer, items, self._concurrency)

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
        return written_if(
            self._ddb.update_item,
            TableName=self.name,
            Key={"PK": {"S": item["PK"]}, "SK": {"S": item["SK"]}},
            UpdateExpression=SUPPLIER_STOCK_UPDATE,
            ConditionExpression="attribute_not_exists(PK) OR updatedAt < :updatedAt",
            ExpressionAttributeValues={k: serializer.serialize(v) for k, v in values.items()},
        )

    def stock_of_supplier(self, supplier: str) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        pages = self._ddb.get_paginator("query").paginate(
            TableName=self.name,
            KeyConditionExpression="PK = :pk AND begins_with(SK, :sku)",
            ExpressionAttributeValues={":pk": {"S": f"SUP#{supplier}"}, ":sku": {"S": "SKU#"}},
        )
        for page in pages:
            items.extend(plain_item(i) for i in page["Items"])
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


def _notice_key(source_key: str, etag: str) -> dict[str, Any]:
    return {"PK": {"S": f"FILE#{source_key}#{etag}"}, "SK": {"S": "NOTICE"}}

"""Stock history: every change of a stored level, as rows for curated/stock_history/ (pure: stream records in).

A change is a stream record whose tracked value differs between the old and the new image: a warehouse level's
quantity, an article's latest quantity, a supplier SKU's quantity, an item's restock threshold. Records that only
move a flag (an alert claimed, re-armed) or touch other entities (ledger, notices) are not changes, except a
stocktake that confirms a level: a count is kept with a delta of 0, so the history shows every count taken.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa

from stock_pipeline.domain.movements import STOCKTAKE_CAUSE

SEQUENCE_WIDTH = 40  # stream sequence numbers, zero-padded: text order is then stream order

HISTORY_SCHEMA = pa.schema(
    [
        ("event_time", pa.timestamp("ms", tz="UTC")),
        ("entity", pa.string()),
        ("event_name", pa.string()),
        ("warehouse", pa.string()),
        ("item_id", pa.string()),
        ("item_name", pa.string()),
        ("retailer_id", pa.string()),
        ("account_id", pa.int64()),
        ("article_id", pa.int64()),
        ("channel_id", pa.int64()),
        ("supplier", pa.string()),
        ("sku", pa.string()),
        ("old_value", pa.int64()),
        ("new_value", pa.int64()),
        ("delta", pa.int64()),
        ("source_key", pa.string()),
        ("source_lines", pa.string()),
        ("changed_by", pa.string()),  # who made the change: the console user or S3 principal of the file
        ("updated_at", pa.string()),
        ("event_id", pa.string()),
        ("sequence", pa.string()),
        ("dt", pa.string()),
    ]
)


@dataclass(frozen=True, slots=True)
class StreamChange:
    """One stream record as the history needs it; images are plain Python (numbers as int or Decimal)."""

    event_id: str
    event_name: str
    sequence: str
    created: datetime
    keys: Mapping[str, Any]
    old: Mapping[str, Any] | None
    new: Mapping[str, Any] | None


@dataclass(frozen=True, slots=True)
class _Entity:
    name: str
    value: str  # the attribute whose changes are history
    updated: str  # the attribute saying when the stored value was set


ENTITIES = {
    "StockLevel": _Entity("warehouse_level", "quantity", "updatedAt"),
    "ArticleStock": _Entity("article_stock", "quantity", "lastUpdated"),
    "SupplierStock": _Entity("supplier_stock", "quantity", "updatedAt"),
    "RestockThreshold": _Entity("threshold", "restockIfBelow", "effectiveFrom"),
}


def entity_of(keys: Mapping[str, Any]) -> str | None:
    """The stored entity a record's keys name (by key shape, so a REMOVE without images still classifies)."""
    pk, sk = str(keys.get("PK", "")), str(keys.get("SK", ""))
    if pk.startswith("WH#") and sk.startswith("ITEM#"):
        return "StockLevel"
    if pk.startswith("RET#") and sk.startswith("ART#"):
        return "ArticleStock"
    if pk.startswith("SUP#") and sk.startswith("SKU#"):
        return "SupplierStock"
    if pk.startswith("ITEM#") and sk == "THRESHOLD":
        return "RestockThreshold"
    return None


def _confirming_count(old_image: Mapping[str, Any], new_image: Mapping[str, Any]) -> bool:
    cause = str(new_image.get("lastSourceKey") or "")
    return cause.startswith(STOCKTAKE_CAUSE) and cause != old_image.get("lastSourceKey")


def _int(value: Any) -> int | None:
    return None if value is None else int(value)


def history_rows(changes: Iterable[StreamChange]) -> pa.Table:
    """The history rows of a stream batch, in stream order; records that change no tracked value are left out."""
    rows: dict[str, list[Any]] = {name: [] for name in HISTORY_SCHEMA.names}
    for change in changes:
        kind = entity_of(change.keys)
        if kind is None:
            continue
        entity = ENTITIES[kind]
        old_image, new_image = change.old or {}, change.new or {}
        old, new = _int(old_image.get(entity.value)), _int(new_image.get(entity.value))
        if old == new and not _confirming_count(old_image, new_image):
            continue  # a flag or a name moved, not the value
        image = new_image or old_image
        pk, sk = str(change.keys["PK"]), str(change.keys["SK"])
        key = _key_columns(kind, pk, sk, image)
        created = change.created.astimezone(UTC)
        values = {
            "event_time": created,
            "entity": entity.name,
            "event_name": change.event_name,
            **key,
            "old_value": old,
            "new_value": new,
            "delta": (new or 0) - (old or 0),
            "source_key": image.get("lastSourceKey") or image.get("sourceKey"),
            "source_lines": image.get("lastSourceLines")
            or (str(image["sourceLine"]) if image.get("sourceLine") is not None else None),
            "changed_by": image.get("lastChangedBy"),
            "updated_at": image.get(entity.updated),
            "event_id": change.event_id,
            "sequence": change.sequence.zfill(SEQUENCE_WIDTH),
            "dt": created.strftime("%Y-%m-%d"),
        }
        for name in HISTORY_SCHEMA.names:
            rows[name].append(values.get(name))
    return pa.table(rows, schema=HISTORY_SCHEMA)


def _key_columns(kind: str, pk: str, sk: str, image: Mapping[str, Any]) -> dict[str, Any]:
    if kind == "StockLevel":
        return {
            "warehouse": image.get("warehouse") or pk.removeprefix("WH#"),
            "item_id": image.get("itemId") or sk.removeprefix("ITEM#"),
            "item_name": image.get("itemName"),
        }
    if kind == "RestockThreshold":
        return {"item_id": image.get("itemId") or pk.removeprefix("ITEM#")}
    if kind == "SupplierStock":
        return {"supplier": image.get("supplier") or pk.removeprefix("SUP#"), "sku": sk.removeprefix("SKU#")}
    retailer, account = pk.removeprefix("RET#").rsplit("#ACC#", 1)
    article, channel = sk.removeprefix("ART#").rsplit("#CH#", 1)
    return {
        "retailer_id": image.get("retailerId") or retailer,
        "account_id": int(account),
        "article_id": int(article),
        "channel_id": int(channel),
    }


def file_stem(changes: list[StreamChange]) -> str:
    """A batch's file name: its first record's sequence number. Lambda retries a failed stream batch from the same
    record (the history consumer neither bisects nor reports partial failures), so a retry overwrites its file."""
    return "seq-" + changes[0].sequence.zfill(SEQUENCE_WIDTH)

"""The forecast job's storage: the window of inventory transactions from the lake, the rates on the level items,
and the digest's once-a-day record."""

from __future__ import annotations

import io
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from stock_pipeline.adapters.s3 import ObjectStore
from stock_pipeline.adapters.stock_table import written_if
from stock_pipeline.domain.forecast import RateWrite
from stock_pipeline.domain.objects import ObjectRef
from stock_pipeline.domain.partitions import escape_value

WINDOW_SCHEMA = pa.schema(
    [
        ("timestamp", pa.timestamp("us", tz="UTC")),
        ("warehouse", pa.string()),
        ("item_id", pa.string()),
        ("change", pa.int64()),
    ]
)


class TransactionWindow:
    """curated/inventory_transactions/ of one warehouse between two dates: one listing that starts after the older
    partitions (S3 lists in key order), then the files read concurrently, only the columns the rates need."""

    def __init__(self, store: ObjectStore, bucket: str, lake_prefix: str = "curated/", *, concurrency: int = 16):
        self._store = store
        self._bucket = bucket
        self._prefix = f"{lake_prefix}inventory_transactions/"
        self._concurrency = max(1, concurrency)

    def read(self, warehouse: str, first: date, last: date) -> pa.Table:
        prefix = f"{self._prefix}warehouse={escape_value(warehouse)}/"
        keys = []
        for key in self._store.list_keys(self._bucket, prefix, start_after=f"{prefix}dt={first.isoformat()}"):
            partition = key[len(prefix) :].split("/", 1)[0]
            # another warehouse whose name starts with this one's and a "/" lists here too: not a dt= partition
            if partition.startswith("dt=") and first.isoformat() <= partition[3:] <= last.isoformat():
                keys.append(key)
        if not keys:
            return WINDOW_SCHEMA.empty_table()
        with ThreadPoolExecutor(max_workers=min(self._concurrency, len(keys)), thread_name_prefix="window") as pool:
            parts = list(pool.map(lambda key: self._read(key, warehouse), keys))
        return pa.concat_tables(parts)

    def _read(self, key: str, warehouse: str) -> pa.Table:
        body = self._store.read(ObjectRef(self._bucket, key, ""))
        rows = pq.read_table(io.BytesIO(body), columns=["event_time", "item_id", "stock_level_change"])
        return pa.table(
            {
                "timestamp": rows["event_time"].cast(WINDOW_SCHEMA.field("timestamp").type),
                "warehouse": pa.array([warehouse] * rows.num_rows, pa.string()),
                "item_id": rows["item_id"].cast(pa.string()),
                "change": rows["stock_level_change"].cast(pa.int64()),
            },
            schema=WINDOW_SCHEMA,
        )


class LevelRates:
    """The rates on the level items: `dailySales` and its window for the reports and alerts, and GSI3PK, which
    puts a level that sells into the sparse index the stock-outs report reads (a level that stops selling leaves
    it). Only existing levels are written: a rate never creates a level."""

    def __init__(self, dynamodb_client: Any, table_name: str, *, concurrency: int = 16) -> None:
        self._ddb = dynamodb_client
        self.name = table_name
        self._concurrency = max(1, concurrency)

    def write(self, writes: Sequence[RateWrite], *, window_days: int, computed_at: str) -> int:
        """Returns how many level items took the write (a level gone since it was read takes none)."""
        if not writes:
            return 0
        with ThreadPoolExecutor(max_workers=min(self._concurrency, len(writes)), thread_name_prefix="rates") as pool:
            return sum(pool.map(lambda w: self._write(w, window_days, computed_at), writes))

    def _write(self, write: RateWrite, window_days: int, computed_at: str) -> bool:
        key = {"PK": {"S": f"WH#{write.warehouse}"}, "SK": {"S": f"ITEM#{write.item_id}"}}
        if write.daily_sales is None:
            update = "SET forecastAt = :at REMOVE dailySales, unitsSold, salesDays, salesWindowDays, GSI3PK"
            values: dict[str, Any] = {":at": {"S": computed_at}}
        else:
            update = (
                "SET dailySales = :rate, unitsSold = :sold, salesDays = :days, salesWindowDays = :window, "
                "forecastAt = :at, GSI3PK = :selling"
            )
            values = {
                ":rate": {"N": repr(write.daily_sales)},
                ":sold": {"N": str(write.units_sold)},
                ":days": {"N": str(write.observed_days)},
                ":window": {"N": str(window_days)},
                ":at": {"S": computed_at},
                ":selling": {"S": selling_key(write.warehouse)},
            }
        return written_if(
            self._ddb.update_item,
            TableName=self.name,
            Key=key,
            UpdateExpression=update,
            ConditionExpression="attribute_exists(PK)",
            ExpressionAttributeValues=values,
        )


def selling_key(warehouse: str) -> str:
    """GSI3's partition: the levels of a warehouse that have a sales rate."""
    return f"SELLING#{warehouse}"


DIGEST_PK = "DIGEST"


class DigestLog:
    """One digest a day: claimed by a run before it is sent, recorded after. A schedule that fires twice starts
    two runs; the second finds the day claimed and sends nothing. A retry of the claiming run (the workflow retries
    a failed task) may send again if the first attempt died between the publish and the record: at least once."""

    def __init__(self, dynamodb_client: Any, table_name: str) -> None:
        self._ddb = dynamodb_client
        self.name = table_name

    def claim(self, day: str, *, run_id: str, at: str, expires_at: int) -> bool:
        return written_if(
            self._ddb.put_item,
            TableName=self.name,
            Item={
                **self._key(day),
                "entity": {"S": "Digest"},
                "runId": {"S": run_id},
                "claimedAt": {"S": at},
                "ttl": {"N": str(expires_at)},
            },
            ConditionExpression="attribute_not_exists(PK) OR (runId = :run AND attribute_not_exists(sentAt))",
            ExpressionAttributeValues={":run": {"S": run_id}},
        )

    def record(self, day: str, *, run_id: str, sent_at: str, message_id: str, entries: int, csv_key: str) -> None:
        self._ddb.update_item(
            TableName=self.name,
            Key=self._key(day),
            UpdateExpression="SET sentAt = :at, messageId = :message, entries = :entries, csvKey = :csv",
            ConditionExpression="runId = :run",
            ExpressionAttributeValues={
                ":at": {"S": sent_at},
                ":message": {"S": message_id},
                ":entries": {"N": str(entries)},
                ":csv": {"S": csv_key},
                ":run": {"S": run_id},
            },
        )

    @staticmethod
    def _key(day: str) -> dict[str, Any]:
        return {"PK": {"S": DIGEST_PK}, "SK": {"S": f"DAY#{day}"}}

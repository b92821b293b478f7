"""DynamoDB capacity per partition key value, on the table and on each global secondary index, as DynamoDB would
consume it: what moto does not count, and what decides whether a key is hot.

A partition serves at most 3,000 read units and 1,000 write units a second, on the table and on each index, and a
throttled index throttles the table's writes (GSI back-pressure):
https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/bp-partition-key-design.html and
https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/GSI.html#GSI.ThroughputConsiderations.
Units as DynamoDB charges them
(https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/read-write-operations.html): a write is one unit
per KB of the larger of the item's old and new images, two in a transaction; each index the write touches takes one
per KB of the item there, and a change of an index key is a delete at the old key and a put at the new one; a read
is one unit per 4 KB of the items a Query or GetItem reads, half of it eventually consistent. Not counted: writes
whose condition fails (they consume units too) and the rounding per item of a Query (DynamoDB sums the page first).

Writes are met where moto records every change of a table with a stream (the single table has one), reads where
moto answers a Query or a GetItem. `install()` once; `CAPACITY.phase(name)` to count a workload apart.
"""

from __future__ import annotations

import math
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

PARTITION_WRITE_UNITS = 1000  # a second
PARTITION_READ_UNITS = 3000


@dataclass
class Phase:
    name: str
    # (table, index or "" for the table, partition key value) -> units
    writes: Counter[tuple[str, str, str]] = field(default_factory=Counter)
    reads: Counter[tuple[str, str, str]] = field(default_factory=Counter)
    requests: Counter[str] = field(default_factory=Counter)

    def hottest(self, kind: str, n: int = 5) -> list[tuple[tuple[str, str, str], float]]:
        return (self.writes if kind == "write" else self.reads).most_common(n)


class CapacityMeter:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._phase = Phase("all")
        self._local = threading.local()

    @contextmanager
    def phase(self, name: str) -> Iterator[Phase]:
        """Count what happens inside apart (one phase at a time)."""
        previous, self._phase = self._phase, Phase(name)
        try:
            yield self._phase
        finally:
            self._phase = previous

    # ---------------------------------------------------------------- what the patches report

    def wrote(self, table: Any, old: Any, new: Any) -> None:
        size = max(_size(old), _size(new))
        transactional = getattr(self._local, "transaction", False)
        units = math.ceil(size / 1024) * (2 if transactional else 1)
        key = (new or old).attrs.get(table.hash_key_attr)
        with self._lock:
            self._phase.writes[(table.name, "", _value(key))] += units
            for index in table.global_indexes:
                before, after = _index_key(index, old), _index_key(index, new)
                if before is not None and before == after and _kept(table, index, old) == _kept(table, index, new):
                    continue  # nothing the index holds changed: no write there
                if before is not None and before != after:
                    self._phase.writes[(table.name, index.name, before)] += math.ceil(
                        _projected(table, index, old) / 1024
                    )
                if after is not None:
                    self._phase.writes[(table.name, index.name, after)] += math.ceil(
                        _projected(table, index, new) / 1024
                    )

    def read(self, table: Any, index: str, key: Any, items: list[Any], *, consistent: bool) -> None:
        on = next((i for i in table.global_indexes if i.name == index), None) if index else None
        read = sum(_projected(table, on, item) if on else _size(item) for item in items)
        units = math.ceil(read / 4096) or 1
        with self._lock:
            self._phase.reads[(table.name, index, _value(key))] += units * (1 if consistent else 0.5)

    def request(self, operation: str) -> None:
        with self._lock:
            self._phase.requests[operation] += 1

    @contextmanager
    def transaction(self) -> Iterator[None]:
        self._local.transaction = True
        try:
            yield
        finally:
            self._local.transaction = False


CAPACITY = CapacityMeter()
_installed: list[bool] = []


def install() -> None:
    """Meter every table of this process's moto (after `moto_patches.install`, whose patches it wraps)."""
    if _installed:
        return
    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.models.table import StreamShard, Table

    add, query, get_item, transact = (
        StreamShard.add,
        Table.query,
        DynamoDBBackend.get_item,
        DynamoDBBackend.transact_write_items,
    )

    def metered_add(self: Any, old: Any, new: Any) -> None:
        CAPACITY.wrote(self.table, old, new)
        return add(self, old, new)

    def metered_query(self: Any, *args: Any, **kwargs: Any) -> Any:
        result = query(self, *args, **kwargs)
        index = kwargs.get("index_name", args[7] if len(args) > 7 else None) or ""
        conditions = kwargs.get("hash_key_conditions") or []
        key = conditions[0][1] if conditions else (args[0] if args else kwargs.get("hash_key"))
        consistent = bool(kwargs.get("consistent_read", args[8] if len(args) > 8 else False))
        CAPACITY.read(self, index, key, result[0], consistent=consistent)
        CAPACITY.request("Query")
        return result

    def metered_get(self: Any, table_name: str, keys: dict[str, Any], *args: Any, **kwargs: Any) -> Any:
        item = get_item(self, table_name, keys, *args, **kwargs)
        table = self.get_table(table_name)
        CAPACITY.read(table, "", keys.get(table.hash_key_attr), [item] if item else [], consistent=False)
        CAPACITY.request("GetItem")
        return item

    def metered_transaction(self: Any, transact_items: list[dict[str, Any]]) -> None:
        CAPACITY.request("TransactWriteItems")
        with CAPACITY.transaction():
            return transact(self, transact_items)

    def counted(operation: str, method: Any) -> Any:
        def call(self: Any, *args: Any, **kwargs: Any) -> Any:
            if not getattr(CAPACITY._local, "transaction", False):  # a transaction's parts are one request
                CAPACITY.request(operation)
            return method(self, *args, **kwargs)

        return call

    for operation, name in (("UpdateItem", "update_item"), ("PutItem", "put_item"), ("DeleteItem", "delete_item")):
        setattr(DynamoDBBackend, name, counted(operation, getattr(DynamoDBBackend, name)))
    StreamShard.add = metered_add
    Table.query = metered_query
    DynamoDBBackend.get_item = metered_get
    DynamoDBBackend.transact_write_items = metered_transaction
    _installed.append(True)


def _size(item: Any) -> int:
    return int(item.size()) if item is not None else 0


def _held(table: Any, index: Any) -> set[str] | None:
    """The attribute names an index holds of an item; None for all of them (ProjectionType ALL)."""
    projection = index.projection or {}
    kind = projection.get("ProjectionType", "ALL")
    if kind == "ALL":
        return None
    held = {table.hash_key_attr, table.range_key_attr, *index.schema_key_attrs}
    if kind == "INCLUDE":
        held.update(projection.get("NonKeyAttributes", []))
    return held


def _kept(table: Any, index: Any, item: Any) -> dict[str, Any]:
    """The attributes of the item the index holds, as plain JSON."""
    held = _held(table, index)
    return {n: v.to_json() for n, v in item.attrs.items() if held is None or n in held}


def _projected(table: Any, index: Any, item: Any) -> int:
    """The item's size on the index: its keys and the attributes the index projects (what an index write and an
    index read are charged for)."""
    if item is None:
        return 0
    held = _held(table, index)
    if held is None:
        return _size(item)
    return sum(len(name.encode()) + value.size() for name, value in item.attrs.items() if name in held)


def _value(key: Any) -> str:
    if key is None:
        return "?"
    value = getattr(key, "value", key)
    if isinstance(value, dict):  # a typed attribute value {"S": ...}
        value = next(iter(value.values()), "?")
    return str(value)


def _index_key(index: Any, item: Any) -> str | None:
    """The item's partition key value on the index, or None where the index does not hold it (sparse)."""
    if item is None:
        return None
    names = index.schema_key_attrs
    if any(name not in item.attrs for name in names):
        return None
    hash_name = next(k["AttributeName"] for k in index.schema if k["KeyType"] == "HASH")
    return _value(item.attrs[hash_name])

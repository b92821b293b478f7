"""moto's DynamoDB reads made fit for a large tenant's table (100,000 levels below threshold read in pages): the
same answers, without moto's per-attribute and per-page work. `moto_patches.install` installs them."""

from __future__ import annotations

from typing import Any


def install() -> None:
    _item_reads_serialized_as_json()
    _top_level_projections_copied()
    _index_pages_sorted_by_plain_values()


_JSON_READS = frozenset({"Query", "Scan", "GetItem", "BatchGetItem"})


def _item_reads_serialized_as_json() -> None:
    """DynamoDB answers reads in the typed JSON moto already holds them in; moto's generic serializer walks the
    service model for every attribute of every item, which made a Query page of 1,000 levels take about a second
    (most of a 20,000-level overview's 100 s). The same JSON is written directly; anything that is not plain JSON
    (binary attributes) goes the generic way. A unit test compares both answers."""
    import json

    from moto.dynamodb.responses import DynamoHandler

    serialized = DynamoHandler.serialized

    def fast(self: Any, action_result: Any) -> Any:
        result = action_result.result
        if isinstance(result, dict) and self._get_action() in _JSON_READS:
            try:
                body = json.dumps(result, separators=(",", ":"))
            except (TypeError, ValueError):
                return serialized(self, action_result)
            headers = {"Content-Type": "application/x-amz-json-1.0", **self.response_headers}
            return 200, headers, body
        return serialized(self, action_result)

    DynamoHandler.serialized = fast


def _top_level_projections_copied() -> None:
    """An index's projection (and a ProjectionExpression of plain names) keeps some of an item's top-level
    attributes; moto converts the whole item to plain JSON and back once per attribute kept, eleven times an item
    for GSI4. The kept attributes are copied instead; a nested path (`a.b`, `l[0]`) goes moto's way."""
    import copy

    from moto.dynamodb.models.dynamo_type import Item

    project = Item.project

    def fast(self: Any, projection_expressions: list[list[str]]) -> Any:
        if not all(len(expr) == 1 and "[" not in expr[0] for expr in projection_expressions):
            return project(self, projection_expressions)
        names = [expr[0] for expr in projection_expressions]
        kept = {name: copy.deepcopy(self.attrs[name].to_json()) for name in names if name in self.attrs}
        return Item(hash_key=self.hash_key, range_key=self.range_key, attrs=kept)

    Item.project = fast


def _index_pages_sorted_by_plain_values() -> None:
    """moto sorts an index's partition for every page, comparing DynamoType objects, which convert their value at
    each comparison; the key's plain values (what those comparisons compare: an index's key attributes have one
    type each) are taken once an item instead. The order is the same."""
    from moto.dynamodb.models.table import Table

    def sorted_items(self: Any, hash_key_attrs: list[str], range_key_attrs: list[Any], items: list[Any]) -> list[Any]:
        attrs = self._generate_attr_to_sort_by(hash_key_attrs, range_key_attrs)
        items.sort(key=lambda item: tuple(item.attrs[name].cast_value for name in attrs))
        return items

    Table.sorted_items = sorted_items


def page_window(
    table: Any, reads: dict, index_name: str, partition: tuple, subset: list, args: Any, kwargs: Any
) -> list:
    """The items one page of an index Query can reach: moto sorts the whole partition and walks it from the start to
    the ExclusiveStartKey on every page (a 100,000-level partition read in pages of 1,000 took minutes). Kept sorted
    once per partition (until the table changes), the page starts at the key by bisection and needs at most its
    Limit, one more (moto sets LastEvaluatedKey when one is left) and the start item itself (moto skips it). Only
    for a forward Query with a Limit and no range condition (a range condition skips items without counting them)."""
    from bisect import bisect_left

    def arg(position: int, name: str) -> Any:
        return kwargs[name] if name in kwargs else (args[position] if len(args) > position else None)

    limit, start, forward = arg(3, "limit"), arg(4, "exclusive_start_key"), arg(5, "scan_index_forward")
    if not limit or forward is False or arg(1, "range_comparison") or kwargs.get("range_key_conditions"):
        return subset
    index = next((i for i in table.global_indexes if i.name == index_name), None)
    if index is None or len(index.schema) != 2 or not table.range_key_attr:
        return subset
    hash_name = next(k["AttributeName"] for k in index.schema if k["KeyType"] == "HASH")
    range_name = next(k["AttributeName"] for k in index.schema if k["KeyType"] == "RANGE")
    attrs = table._generate_attr_to_sort_by([hash_name, table.hash_key_attr], [range_name, table.range_key_attr])
    cache_key = ("sorted", index_name, partition)
    if cache_key not in reads:
        keyed = sorted(((tuple(item.attrs[n].cast_value for n in attrs), item) for item in subset), key=lambda p: p[0])
        reads[cache_key] = ([key for key, _ in keyed], [item for _, item in keyed])
    keys, ordered = reads[cache_key]
    position = 0
    if start:
        from moto.dynamodb.models.dynamo_type import DynamoType

        try:
            position = bisect_left(keys, tuple(DynamoType(start[n]).cast_value for n in attrs))
        except (KeyError, TypeError):
            return subset
    return ordered[position : position + int(limit) + 2]

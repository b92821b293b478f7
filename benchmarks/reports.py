"""Reports: report 2 (items of a warehouse above y) reads what it returns, at 1,000 and 100,000 items in the
warehouse; a 100,000-item report pages through in bounded memory.

moto answers ReturnConsumedCapacity with a constant, so read units are computed by DynamoDB's documented rule
from the items each strategy reads: a Query sums the sizes of the items it reads (in the index: the projected
item) and rounds up to 4 KB units, half a unit each for eventually consistent reads. The contender is the usual
way without a quantity index: Query the warehouse's partition with a FilterExpression, which reads (and bills)
every item of the warehouse to return the few above y.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from typing import Any

from benchmarks.common import ROOT, stamp

SIZES = (1_000, 100_000)
ANSWER = 50  # items above y, whatever the warehouse holds
GOAL_MEMORY_MB = 512
PROJECTED = ("PK", "SK", "GSI2PK", "quantity", "warehouse", "itemId", "itemName", "updatedAt", "belowThreshold")


def attribute_size(value: dict[str, Any]) -> int:
    ((kind, raw),) = value.items()
    if kind == "S":
        return len(raw.encode())
    if kind == "N":
        digits = len(raw.lstrip("-").replace(".", "").lstrip("0")) or 1
        return math.ceil(digits / 2) + 1
    if kind == "BOOL" or kind == "NULL":
        return 1
    return len(json.dumps(raw).encode())


def item_size(item: dict[str, Any], attributes: tuple[str, ...] | None = None) -> int:
    return sum(
        len(name.encode()) + attribute_size(value)
        for name, value in item.items()
        if attributes is None or name in attributes
    )


def read_units(sizes: list[int], page_bytes: int = 1024 * 1024) -> float:
    """Eventually consistent Query: per page (at most 1 MB read), the sum of item sizes in 4 KB units, halved."""
    units, page = 0.0, 0
    for size in sizes:
        if page + size > page_bytes:
            units += math.ceil(page / 4096) * 0.5
            page = 0
        page += size
    return units + (math.ceil(page / 4096) * 0.5 if page else 0.0)


def level_item(warehouse: str, n: int, quantity: int) -> dict[str, Any]:
    """A warehouse level as the inventory writer stores it (StockLevels.apply_chunk)."""
    item_id = f"item-{n:06d}"
    return {
        "PK": {"S": f"WH#{warehouse}"},
        "SK": {"S": f"ITEM#{item_id}"},
        "entity": {"S": "StockLevel"},
        "warehouse": {"S": warehouse},
        "itemId": {"S": item_id},
        "itemName": {"S": f"Widget number {n}"},
        "quantity": {"N": str(quantity)},
        "GSI1PK": {"S": f"ITEM#{item_id}"},
        "GSI1SK": {"S": f"WH#{warehouse}"},
        "GSI2PK": {"S": f"WH#{warehouse}"},
        "updatedAt": {"S": "2026-11-25T10:00:00.000000Z"},
        "lastSourceKey": {"S": "inventory_files/2026/11/25/20261125100000_inventory.csv"},
    }


def quantities(n: int) -> list[int]:
    """n levels of which exactly ANSWER are above 1,000 (the y of the report)."""
    return [1_000 + 1 + i if i < ANSWER else i % 1_000 for i in range(n)]


def measure_read_units(n: int) -> dict[str, Any]:
    import boto3
    from moto import mock_aws

    from local_aws.template import stock_table_request
    from stock_pipeline import reports
    from stock_pipeline.adapters.queries import StockQueries

    with mock_aws():
        ddb = boto3.client("dynamodb", region_name="eu-central-1")
        ddb.create_table(**stock_table_request("bench"))
        warehouse = f"WH {n}"
        items = [level_item(warehouse, i, q) for i, q in enumerate(quantities(n))]
        ddb.put_item(
            TableName="bench",
            Item={"PK": {"S": "WAREHOUSES"}, "SK": {"S": f"WH#{warehouse}"}, "warehouse": {"S": warehouse}},
        )
        # Seeding is set-up, not the measured path: straight into moto's table, not 4,000 HTTP requests.
        from moto.core import DEFAULT_ACCOUNT_ID
        from moto.dynamodb.models import dynamodb_backends

        backend = dynamodb_backends[DEFAULT_ACCOUNT_ID]["eu-central-1"]
        for item in items:
            backend.put_item("bench", item)
        queries = StockQueries(ddb, "bench")
        returned, token, pages = [], None, 0
        while True:
            page = reports.warehouse_items(queries, warehouse, above=1_000, limit=1000, token=token, now=0)
            returned += page.rows
            pages += 1
            token = page.next_token
            if not token:
                break
        by_id = {item["itemId"]["S"]: item for item in items}
        index_units = read_units([item_size(by_id[row["item_id"]], PROJECTED) for row in returned])
        # A FilterExpression applies after the read (DynamoDB's documented rule): the Query reads the whole
        # partition, every level of the warehouse, whatever the filter keeps.
        scanned = len(items)
        filter_units = read_units([item_size(item) for item in items[:scanned]])
    return {
        "items": n,
        "returned": len(returned),
        "pages": pages,
        "index_units": index_units,
        "filter_scanned": scanned,
        "filter_units": filter_units,
    }


def streamed_report(n: int) -> dict[str, Any]:
    completed = subprocess.run(  # noqa: S603 (our own module, our interpreter)
        [sys.executable, "-m", "benchmarks.reports_run", str(n)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": f"{ROOT / 'src'}:{ROOT}"},
    )
    return json.loads(completed.stdout.strip().splitlines()[-1])


def run(quick: bool = False) -> tuple[str, bool]:
    sizes = (200, 2_000) if quick else SIZES
    figures = {n: measure_read_units(n) for n in sizes}
    print("read units done", flush=True)
    stream = streamed_report(sizes[-1])
    small, big = figures[sizes[0]], figures[sizes[-1]]
    met = {
        "report 2 returns exactly the items above y": all(f["returned"] == ANSWER for f in figures.values()),
        f"report 2's read units do not grow with the warehouse ({sizes[0]:,} -> {sizes[-1]:,} items)": big[
            "index_units"
        ]
        <= small["index_units"],
        f"a {sizes[-1]:,}-item report pages through under {GOAL_MEMORY_MB} MB": stream["peak_rss_mb"] < GOAL_MEMORY_MB
        and stream["rows"] == sizes[-1],
    }
    rows = "\n".join(
        f"| {f['items']:,} | {f['returned']} | {f['pages']} | {f['index_units']:.1f} | {f['filter_scanned']:,} "
        f"| {f['filter_units']:.1f} | {f['filter_units'] / f['index_units']:.0f}x |"
        for f in figures.values()
    )
    goals = "\n".join(f"- {'met' if ok else '**NOT met**'}: {goal}" for goal, ok in met.items())
    markdown = f"""
## Reports: read units of report 2, a large report in pages (issue 11)

{stamp("make bench")} (this suite alone: `make bench ARGS="--only reports"`)

A warehouse holds {", ".join(f"{n:,}" for n in sizes)} items, {ANSWER} of them above y = 1,000. Report 2
(`GET /warehouses/{{w}}/items?min_quantity=1000`) through the reports application and its adapter on moto,
against the usual way without a quantity index (Query of the warehouse with a FilterExpression, which reads the
whole partition because a filter applies after the read). Read units by DynamoDB's rule from the items each one
reads (eventually consistent; moto's own figure is a constant).

| items in warehouse | returned | pages | read units, GSI2 | items read, filter | read units, filter | filter / GSI2 |
|---:|---:|---:|---:|---:|---:|---:|
{rows}

A {sizes[-1]:,}-item report 1 paged through the reports handler 1,000 rows a page (`python -m
benchmarks.reports_run`, DynamoDB answered in-process with canned pages): {stream["pages"]} pages,
{stream["rows"]:,} rows, {stream["seconds"]:.1f} s, peak RSS {stream["peak_rss_mb"]:,.0f} MB (the process'
memory before the first page: {stream["rss_before_mb"]:,.0f} MB).

### Goals

{goals}
"""
    return markdown, all(met.values())

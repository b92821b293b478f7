"""`make scale`: a large tenant's workload on the local stack, with DynamoDB's capacity counted per partition key.

    make scale                          # 50 warehouses x 20,000 items (a million levels), figures to docs/scale.md
    make scale ARGS="--items 2000"      # 100,000 levels: a quicker look

1. The tenant's levels, put straight into the table as its history would have left them (not through the stream:
   nothing is alerted): 50 warehouses, their registry, a sales rate on a third of the levels, and the ones below
   their threshold flagged as the alert function leaves them.
2. A day's file of 100,000 rows for one warehouse, mostly sales: a stock-out wave as its levels cross below the
   threshold (the ingest function, then the table's stream: alerts, history).
3. The console and the reports at that size: each route's answer size and time.

The capacity meter (`local_aws.capacity`) counts write and read units per partition key value on the table and on
each index. The local wall clock is not AWS's, so each phase's units become rates at the pace the functions would
keep in AWS (stated in PACE), and each hot key's rate is reported as a ratio to DynamoDB's partition limits,
assuming no split for heat (DynamoDB may split a hot partition by sort key, but nothing promises when).
"""

from __future__ import annotations

import argparse
import json
import random
import time
import urllib.request
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from local_aws import capacity
from local_aws.capacity import CAPACITY, PARTITION_READ_UNITS, PARTITION_WRITE_UNITS, Phase
from stock_pipeline.adapters.levels import below_shard
from stock_pipeline.domain.pacing import PARTITION_WRITE_UNITS_PER_SECOND, Pacer

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "scale.md"
WAREHOUSES = 50
FILE_ROWS = 100_000
REEVALUATION_CONCURRENCY = 4  # reevaluate.asl.json's MaxConcurrency

# How fast each function issues its requests in AWS (what turns the counted units into rates). Latencies are
# DynamoDB's typical single-digit milliseconds in the same Region, a transaction of 99 updates more.
PACE = {
    "TransactWriteItems": 0.025,  # s: the ingest function applies a file's chunks one after another
    "UpdateItem": 0.006,  # s: the alert function claims a crossing (one conditional write each, in sequence)
    "stream_shards": 4,  # the table's stream: one shard a partition; an on-demand table starts with 4
}


def level_item(warehouse: str, n: int, rng: random.Random) -> dict[str, Any]:
    quantity = rng.randint(0, 300)
    below = quantity < 10
    selling = n % 3 == 0
    item = {
        "PK": {"S": f"WH#{warehouse}"},
        "SK": {"S": f"ITEM#sku-{n:06d}"},
        "GSI1PK": {"S": f"ITEM#sku-{n:06d}"},
        "GSI1SK": {"S": f"WH#{warehouse}"},
        "GSI2PK": {"S": f"WH#{warehouse}"},
        "entity": {"S": "StockLevel"},
        "warehouse": {"S": warehouse},
        "itemId": {"S": f"sku-{n:06d}"},
        "itemName": {"S": f"Article {n} in blue, size M"},
        "quantity": {"N": str(quantity)},
        "updatedAt": {"S": "2026-12-01T08:00:00.000000Z"},
        "firstSeenAt": {"S": "2025-12-01T08:00:00.000000Z"},
    }
    if selling:
        item |= {
            "GSI3PK": {"S": f"SELLING#{warehouse}"},
            "dailySales": {"N": str(1 + n % 7)},
            "salesWindowDays": {"N": "28"},
            "forecastAt": {"S": "2026-12-01T02:00:00Z"},
        }
    if below:
        item |= {
            "belowThreshold": {"BOOL": True},
            "alertThreshold": {"N": "10"},
            "alertId": {"S": f"fill-{warehouse}-{n}"},
            "GSI4PK": {"S": below_shard(warehouse, f"sku-{n:06d}")},
            "alertedAt": {"S": f"2026-12-0{1 + n % 6}T08:00:00.{n:06d}Z"},
        }
    return item


def put_straight(stack: Any, items: Any) -> int:
    """Items straight into the stack's table (moto's), its stream off meanwhile: a tenant's history, not news for the
    stream's consumers to alert about. Returns how many."""
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.dynamodb.models import dynamodb_backends

    table = dynamodb_backends[DEFAULT_ACCOUNT_ID][stack.region].get_table(stack.outputs["StockTableName"])
    shard, table.stream_shard = table.stream_shard, None
    n = 0
    try:
        for item in items:
            table.put_item(item)
            n += 1
    finally:
        table.stream_shard = shard
    return n


def fill(stack: Any, items: int) -> dict[str, int]:
    """The tenant's levels and its warehouse registry, straight into the table."""
    rng = random.Random(7)
    below = [0]

    def levels() -> Any:
        for w in range(WAREHOUSES):
            warehouse = f"Store {w:02d}"
            yield {"PK": {"S": "WAREHOUSES"}, "SK": {"S": f"WH#{warehouse}"}, "warehouse": {"S": warehouse}}
            for n in range(items):
                item = level_item(warehouse, n, rng)
                below[0] += "GSI4PK" in item
                yield item

    with CAPACITY.phase("fill"):
        put_straight(stack, levels())
    return {"levels": WAREHOUSES * items, "below": below[0]}


def day_file(items: int, rows: int) -> str:
    """A day's sales for Store 00: `rows` rows over its items, most of them sales, some deliveries."""
    rng = random.Random(11)
    start = datetime(2026, 12, 2, 7, tzinfo=UTC)
    lines = ["Timestamp\tWarehouseName\tItemId\tItemName\tStockLevelChange\n"]
    for r in range(rows):
        n = rng.randrange(items)
        change = -rng.randint(5, 40) if rng.random() < 0.9 else rng.randint(20, 80)
        when = start + timedelta(seconds=r * 0.3)
        lines.append(f"{when:%Y-%m-%dT%H:%M:%S.%f}Z\tStore 00\tsku-{n:06d}\tArticle {n} in blue, size M\t{change}\n")
    return "".join(lines)


def call(url: str, method: str = "GET", body: Any = None, token: str | None = None) -> tuple[int, bytes, float]:
    request = urllib.request.Request(  # noqa: S310 (the local stack)
        url,
        method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers={"Content-Type": "application/json", **({"Authorization": f"Bearer {token}"} if token else {})},
    )
    started = time.monotonic()
    try:
        with urllib.request.urlopen(request, timeout=600) as response:  # noqa: S310 (the local stack)
            return response.status, response.read(), time.monotonic() - started
    except urllib.error.HTTPError as error:
        return error.code, error.read(), time.monotonic() - started


ROUTES = [
    ("console overview", "/api/overview"),
    ("console item page", "/api/items/sku-000003"),
    ("report 1, 1,000 rows", "/api/reports/warehouses/Store%2001/items?limit=1000"),
    ("report 2, 1,000 rows", "/api/reports/warehouses/Store%2001/items?min_quantity=100&limit=1000"),
    ("report 3", "/api/reports/items/sku-000003/total?limit=1000"),
    ("stock-outs, all warehouses", "/api/reports/forecast/stockouts?within_days=7&limit=1000"),
]


def routes(stack: Any) -> list[dict[str, Any]]:
    console = stack.outputs["ConsoleUrl"]
    status, body, _ = call(f"{console}/api/session", "POST", stack.console_credentials)
    assert status == 200, body[:300]
    token = json.loads(body)["accessToken"]
    out = []
    for name, path in ROUTES:
        with CAPACITY.phase(name) as phase:
            status, body, seconds = call(console + path, token=token)
        read = sum(phase.reads.values())
        out.append({"route": name, "status": status, "bytes": len(body), "seconds": seconds, "read_units": read})
    return out


def run(items: int, rows: int, threshold_items: int) -> dict[str, Any]:
    from local_aws.stack import LocalStack

    capacity.install()
    quiet = {"POWERTOOLS_LOG_LEVEL": "ERROR", "POWERTOOLS_METRICS_DISABLED": "true"}
    with LocalStack(stack_name="scale", function_environment=quiet) as stack:
        started = time.monotonic()
        filled = fill(stack, items)
        fill_s = time.monotonic() - started
        print(f"filled {filled['levels']:,} levels ({filled['below']:,} below threshold) in {fill_s:.0f} s", flush=True)

        s3, bucket = stack.client("s3"), stack.outputs["DataBucketName"]
        with CAPACITY.phase("file") as file_phase:
            started = time.monotonic()
            s3.put_object(
                Bucket=bucket,
                Key="inventory_files/2026/12/02/20261202200000_inventory.csv",
                Body=day_file(items, rows).encode(),
            )
            stack.drain()
            file_s = time.monotonic() - started
        print(f"a {rows:,}-row file for Store 00 in {file_s:.0f} s locally", flush=True)

        # purchasing raises the thresholds of some items: re-evaluated in every warehouse by the workflow
        raised = {f"sku-{n:06d}": 150 for n in range(0, items, max(1, items // threshold_items))}
        document = {"ThresholdList": [{"ItemId": k, "RestockIfBelow": v} for k, v in raised.items()]}
        with CAPACITY.phase("thresholds") as thresholds_phase:
            started = time.monotonic()
            s3.put_object(
                Bucket=bucket,
                Key="restock_thresholds/2026/12/03/restock_thresholds.json",
                Body=json.dumps(document).encode(),
            )
            stack.drain()
            thresholds_s = time.monotonic() - started
        print(f"thresholds of {len(raised):,} items re-evaluated in {thresholds_s:.0f} s locally", flush=True)
        served = routes(stack)
    return {
        "items": items,
        "rows": rows,
        "filled": filled,
        "file": file_phase,
        "file_s": file_s,
        "thresholds": thresholds_phase,
        "thresholds_items": len(raised),
        "thresholds_s": thresholds_s,
        "routes": served,
    }


def ingest_seconds_in_aws(transactions: int, levels: float, *, paced: bool) -> float:
    """The ingest function's time in AWS for a file's chunks, one after another: each transaction's own time and,
    paced, the waits of its pacer (`domain.pacing`, simulated on a clock of its own)."""
    clock = [0.0]

    def sleep(seconds: float) -> None:
        clock[0] += seconds

    pacer = Pacer(PARTITION_WRITE_UNITS_PER_SECOND, clock=lambda: clock[0], sleep=sleep)
    per_chunk = levels / max(transactions, 1)
    for _ in range(transactions):
        if paced:
            pacer.spend("warehouse", 2 * per_chunk)
        clock[0] += PACE["TransactWriteItems"]
    return clock[0]


def key_rows(phase: Phase, *, paced: bool) -> tuple[list[str], float, float]:
    """Each hot key's rate over the time its writer takes in AWS: the ingest's keys over the ingest's time, GSI4's
    (written by the alert function's claims, which follow the ingest's crossings) over the slower of the two."""
    levels = max((units for (_, index, key), units in phase.writes.items() if index == "GSI2"), default=0)
    ingest_s = ingest_seconds_in_aws(phase.requests["TransactWriteItems"], levels, paced=paced)
    claims = sum(units for (_, index, _key), units in phase.writes.items() if index == "GSI4")
    alerts_s = max(ingest_s, claims * PACE["UpdateItem"] / PACE["stream_shards"])
    rows = []
    for kind, counter, limit in (
        ("write", phase.writes, PARTITION_WRITE_UNITS),
        ("read", phase.reads, PARTITION_READ_UNITS),
    ):
        for (_table, index, key), units in counter.most_common(4):
            seconds = alerts_s if index == "GSI4" else ingest_s
            rate = units / seconds if seconds else 0.0
            rows.append(
                f"| {kind} | {index or 'table'} | `{key[:60]}` | {units:,.0f} | {seconds:,.1f} s | {rate:,.0f}/s | "
                f"**{rate / limit:.2f}** |"
            )
    return rows, ingest_s, alerts_s


def report(result: dict[str, Any]) -> str:
    phase: Phase = result["file"]
    unpaced, ingest_unpaced, _ = key_rows(phase, paced=False)
    paced, ingest_s, alerts_s = key_rows(phase, paced=True)
    header = [
        "| | on | partition key | units | over (in AWS) | rate | of the partition's limit |",
        "|---|---|---|---:|---:|---:|---:|",
    ]
    routes_md = [
        f"| {r['route']} | {r['status']} | {r['bytes']:,} | {r['seconds']:.1f} s | {r['read_units']:,.0f} |"
        for r in result["routes"]
    ]
    levels = result["filled"]["levels"]
    return "\n".join(
        [
            f"_Measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC by `make scale` ({levels:,} levels in {WAREHOUSES} "
            f"warehouses, {result['filled']['below']:,} below threshold; a {result['rows']:,}-row file; "
            f"{result['file_s']:,.0f} s locally)._",
            "",
            f"**A day's file for one warehouse**: {phase.requests['TransactWriteItems']:,} transactions. In AWS the "
            f"ingest function applies them one after another ({PACE['TransactWriteItems'] * 1000:.0f} ms each); the "
            f"alert function claims the crossings on {PACE['stream_shards']} stream shards "
            f"({PACE['UpdateItem'] * 1000:.0f} ms a claim).",
            "",
            f"Unpaced (as before): the file's writes take {ingest_unpaced:,.1f} s.",
            "",
            *header,
            *unpaced,
            "",
            f"Paced (each warehouse's writes at {PARTITION_WRITE_UNITS_PER_SECOND:,} units a second, "
            f"`domain/pacing.py`): {ingest_s:,.1f} s; the claims {alerts_s:,.1f} s.",
            "",
            *header,
            *paced,
            "",
            *thresholds_rows(result),
            "",
            "**Each route at that size** (through the console's API on the local stack; read units counted):",
            "",
            "| route | status | bytes | time (local) | read units |",
            "|---|---:|---:|---:|---:|",
            *routes_md,
        ]
    )


def thresholds_rows(result: dict[str, Any]) -> list[str]:
    """The re-evaluation's keys over its time in AWS: the workflow's map runs MaxConcurrency (4) tasks, each reading
    an item's levels (GSI1) and claiming its crossings one after another."""
    phase: Phase = result["thresholds"]
    requests = phase.requests["Query"] + phase.requests["GetItem"] + phase.requests["UpdateItem"]
    seconds = max(requests * PACE["UpdateItem"] / REEVALUATION_CONCURRENCY, 0.001)
    rows = [
        f"**A thresholds change for {result['thresholds_items']:,} items** ({result['thresholds_s']:,.0f} s locally): "
        f"the workflow re-evaluates each item in every warehouse, {REEVALUATION_CONCURRENCY} at a time "
        f"({PACE['UpdateItem'] * 1000:.0f} ms a request: {seconds:,.1f} s in AWS).",
        "",
        "| | on | partition key | units | over (in AWS) | rate | of the partition's limit |",
        "|---|---|---|---:|---:|---:|---:|",
    ]
    for kind, counter, limit in (
        ("write", phase.writes, PARTITION_WRITE_UNITS),
        ("read", phase.reads, PARTITION_READ_UNITS),
    ):
        for (_table, index, key), units in counter.most_common(3):
            rate = units / seconds
            rows.append(
                f"| {kind} | {index or 'table'} | `{key[:60]}` | {units:,.0f} | {seconds:,.1f} s | {rate:,.0f}/s | "
                f"**{rate / limit:.2f}** |"
            )
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    from benchmarks.common import write_section

    parser = argparse.ArgumentParser(prog="make scale", description=__doc__)
    parser.add_argument("--items", type=int, default=20_000, help="items per warehouse (50 warehouses)")
    parser.add_argument("--rows", type=int, default=FILE_ROWS, help="rows of the day's file for one warehouse")
    parser.add_argument(
        "--threshold-items", type=int, default=20, help="items whose threshold is raised (in every warehouse)"
    )
    args = parser.parse_args(argv)
    result = run(args.items, args.rows, args.threshold_items)
    markdown = report(result)
    print(markdown)
    write_section("scale", markdown, DOC)
    print(f"\nwritten to {DOC}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

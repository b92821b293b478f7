"""The full reconciliation's cost and time: measured on a sample on the local stack, scaled to a million levels and
three years of daily files (issue 35).

The sample: levels in 10 warehouses, their opening balances, daily files in which a tenth of the levels move,
movements (adjustments, a transfer, a stocktake), then the reconciliation as its schedule starts it. Measured:
the export's compressed bytes per level item and its items per level (ledger, registry, outcomes...), the bytes
Athena reads per inventory transaction (the Parquet columns the query names: item_id and stock_level_change; the
warehouse is a partition), and the local run's wall time against the baseline measured in the same run: the same
comparison computed in plain Python from the same files (what the SQL replaces).

Scaled: the export is every item of the table (JSON is not columnar: Athena reads it whole); the transactions are
1,000,000 levels x 10% a day x 3 years. Prices from benchmarks/prices.json.
"""

from __future__ import annotations

import gzip
import io
import json
import sys
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from benchmarks.common import measured_apart, stamp

PRICES = json.loads(Path(__file__).with_name("prices.json").read_text())
SAMPLE = {"warehouses": 10, "items": 300, "days": 10}
QUICK = {"warehouses": 2, "items": 30, "days": 2}
LEVELS, YEARS, MOVING = 1_000_000, 3, 0.10


def measure(warehouses: int, items: int, days: int) -> dict[str, Any]:
    import pyarrow.parquet as pq

    from benchmarks.import_year import history
    from local_aws import stepfunctions as local_stepfunctions
    from local_aws.stack import LocalStack
    from stock_pipeline.domain.imports import plan

    quiet = {"POWERTOOLS_LOG_LEVEL": "ERROR", "POWERTOOLS_METRICS_DISABLED": "true"}
    end = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=1)
    with LocalStack(stack_name="bench-reconcile", function_environment=quiet) as stack:
        s3, bucket = stack.client("s3"), stack.outputs["DataBucketName"]
        files = history("Rec", warehouses, items, days, end)
        for planned in plan((name, body.encode()) for name, body in files).files:
            s3.put_object(Bucket=bucket, Key=planned.key, Body=dict(files)[planned.name].encode())
            stack.drain()
        began = time.perf_counter()
        arn = stack.fire_schedule("ReconcileSchedule")
        local_stepfunctions.wait_for_executions()
        wall = time.perf_counter() - began
        execution = stack.client("stepfunctions").describe_execution(executionArn=arn)
        output = json.loads(execution.get("output") or "{}")
        run = output.get("run")
        export_bytes, export_raw, export_items, kinds = 0, 0, 0, Counter()
        for page in s3.get_paginator("list_objects_v2").paginate(
            Bucket=bucket, Prefix=f"exports/stock-table/run={run}/"
        ):
            for obj in page.get("Contents", []):
                if "/data/" not in obj["Key"]:
                    continue
                body = s3.get_object(Bucket=bucket, Key=obj["Key"])["Body"].read()
                export_bytes += len(body)
                raw = gzip.decompress(body)
                export_raw += len(raw)
                for line in raw.splitlines():
                    item = json.loads(line)["Item"]
                    export_items += 1
                    kinds[item.get("entity", {}).get("S") or item["PK"]["S"].split("#", 1)[0]] += 1
        read_bytes, rows, total_bytes = 0, 0, 0
        for page in s3.get_paginator("list_objects_v2").paginate(
            Bucket=bucket, Prefix="curated/inventory_transactions/"
        ):
            for obj in page.get("Contents", []):
                data = s3.get_object(Bucket=bucket, Key=obj["Key"])["Body"].read()
                meta = pq.ParquetFile(io.BytesIO(data)).metadata
                rows += meta.num_rows
                total_bytes += len(data)
                for g in range(meta.num_row_groups):
                    group = meta.row_group(g)
                    for c in range(group.num_columns):
                        column = group.column(c)
                        if column.path_in_schema in ("item_id", "stock_level_change"):
                            read_bytes += column.total_compressed_size
        baseline = baseline_seconds(s3, bucket, run)
    return {
        "status": execution["status"],
        "output": output,
        "wall_s": wall,
        "baseline_s": baseline,
        "levels": kinds.get("StockLevel", 0),
        "export_bytes": export_bytes,
        "export_raw_bytes": export_raw,
        "export_items": export_items,
        "kinds": dict(kinds),
        "transactions": rows,
        "transaction_read_bytes": read_bytes,
        "transaction_file_bytes": total_bytes,
    }


def baseline_seconds(s3: Any, bucket: str, run: str) -> float:
    """The comparison in plain Python from the same files: sum the transactions and the movements per level,
    compare with the exported levels (the floor the SQL's orchestration is measured against)."""
    import pyarrow.parquet as pq

    began = time.perf_counter()
    expected: Counter[tuple[str, str]] = Counter()
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix="curated/inventory_transactions/"):
        for obj in page.get("Contents", []):
            warehouse = obj["Key"].split("warehouse=", 1)[1].split("/", 1)[0]
            table = pq.read_table(io.BytesIO(s3.get_object(Bucket=bucket, Key=obj["Key"])["Body"].read()))
            for item, change in zip(table["item_id"].to_pylist(), table["stock_level_change"].to_pylist(), strict=True):
                expected[(warehouse, item)] += change
    stored: dict[tuple[str, str], int] = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=f"exports/stock-table/run={run}/"):
        for obj in page.get("Contents", []):
            if "/data/" not in obj["Key"]:
                continue
            for line in gzip.decompress(s3.get_object(Bucket=bucket, Key=obj["Key"])["Body"].read()).splitlines():
                item = json.loads(line)["Item"]
                if item.get("entity", {}).get("S") == "StockLevel":
                    stored[(item["warehouse"]["S"], item["itemId"]["S"])] = int(item["quantity"]["N"])
                for moved in item.get("levels", {}).get("L", []):
                    m = moved["M"]
                    expected[(m["warehouse"]["S"], m["itemId"]["S"])] += int(m["delta"]["N"])
    _ = [k for k in set(expected) | set(stored) if expected.get(k, 0) != stored.get(k, 0)]
    return time.perf_counter() - began


def run(quick: bool = False) -> tuple[str, bool]:
    shape = QUICK if quick else SAMPLE
    m = measured_apart("benchmarks.reconcile", *(shape[k] for k in ("warehouses", "items", "days")))
    levels = max(m["levels"], 1)
    per_level_export = m["export_bytes"] / levels  # every item of the table, per level
    per_row_read = m["transaction_read_bytes"] / max(m["transactions"], 1)
    per_row_stored = m["transaction_file_bytes"] / max(m["transactions"], 1)
    transactions = LEVELS * (1 + MOVING * 365 * YEARS)  # opening balances and three years of daily moves
    export_gb = per_level_export * LEVELS / 1e9
    scanned_gb = export_gb + per_row_read * transactions / 1e9
    lake_gb = per_row_stored * transactions / 1e9
    # the export is billed by the table's size: its items' uncompressed DynamoDB JSON is an upper bound of that
    table_gb = m["export_raw_bytes"] / levels * LEVELS / 1e9
    athena = scanned_gb / 1000 * PRICES["athena_per_tb_scanned"]
    export = table_gb * PRICES["dynamodb_export_per_gb"]
    pitr = table_gb * PRICES["dynamodb_pitr_per_gb_month"]
    per_run = athena + export
    pitr_price = PRICES["dynamodb_pitr_per_gb_month"]
    ratio = m["wall_s"] / m["baseline_s"] if m["baseline_s"] else 0.0
    met = {
        "the run SUCCEEDED with 0 differences on a history of files and movements": m["status"] == "SUCCEEDED"
        and m["output"].get("differences") == 0,
        "a run costs under $5 at a million levels and three years of daily files": per_run < 5,
    }
    goals = "\n".join(f"- {'met' if ok else '**NOT met**'}: {goal}" for goal, ok in met.items())
    markdown = f"""
## Full reconciliation: bytes, dollars and time at a million levels (issue 35)

{stamp("make bench")} (this suite alone: `make bench ARGS="--only reconcile"`)

**Measured on the local stack**: {m["levels"]:,} levels in {shape["warehouses"]} warehouses, opening balances and
{shape["days"]} daily files in which 10% of the levels move ({m["transactions"]:,} transactions), reconciled as the
schedule starts it (the export in DynamoDB's layout, the SQL in DuckDB through the Glue catalog).

| | measured |
|---|---:|
| the run (export, partition, 3 queries, summary), local wall time | {m["wall_s"]:.2f} s |
| baseline: the same comparison in plain Python from the same files | {m["baseline_s"]:.2f} s |
| run / baseline | {ratio:.1f}x |
| export: items / levels | {m["export_items"]:,} / {m["levels"]:,} ({m["export_items"] / levels:.2f} items a level) |
| export: gzipped bytes per level (all its items) | {per_level_export:,.0f} |
| lake: Parquet bytes per transaction (all columns) | {per_row_stored:,.1f} |
| Athena reads per transaction (item_id, stock_level_change) | {per_row_read:,.1f} bytes |

**Scaled to {LEVELS:,} levels and {YEARS} years of daily files** ({transactions:,.0f} transactions):

| | per run |
|---|---:|
| export size (gzipped DynamoDB JSON) | {export_gb:,.2f} GB |
| bytes Athena scans (the export whole, two columns of the transactions) | {scanned_gb:,.2f} GB |
| Athena (${PRICES["athena_per_tb_scanned"]:.2f} per TB) | ${athena:,.2f} |
| the export (${PRICES["dynamodb_export_per_gb"]:.2f} per GB of table, at most {table_gb:,.1f} GB) | ${export:,.2f} |
| **a run** | **${per_run:,.2f}** (weekly: ${per_run * 52 / 12:,.2f} a month) |
| point-in-time recovery, which the export needs (on already; ${pitr_price:.2f} per GB-month) | ${pitr:,.2f} a month |
| the lake's transactions at rest (S3 Standard) | {lake_gb:,.1f} GB |

**Time in AWS.** The export runs outside the table's capacity (it reads the point-in-time backup, no read units);
AWS does not state its speed, and exports of a few GB usually take tens of minutes: the workflow looks every 60
s. Athena's queries read {scanned_gb:,.1f} GB in a handful of splits per GB, typically a minute or two with engine
version 3; the workgroup's `AthenaBytesScannedCutoff` must allow it. The run's other steps take seconds.

### Goals

{goals}
"""
    return markdown, all(met.values())


if __name__ == "__main__":
    from benchmarks.common import isolate

    isolate()
    print(json.dumps(measure(int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]))))

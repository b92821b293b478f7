"""Importing history (`stockctl import`): what it costs against the same files arriving live, and a year of daily
files for 100,000 levels in time, requests and dollars (issue 34).

On the local stack, in a process of its own, two tenants with the same shape of history (own warehouses, own
items, so a thresholds file of one re-evaluates nothing of the other):

- the baseline, **live**: the files uploaded one after another, each processed before the next (as they would
  have arrived day by day);
- the **import**: the same shape through `stockctl import` (its plan, manifest, pacing and wait, its summary).

Both are counted the same way: every request each function makes (`local_aws.request_count`), each invocation,
and DynamoDB's read and write units as DynamoDB charges them (`local_aws.capacity`). The ratio import / live is
the import's overhead; the goal is that importing costs what the pipeline costs anyway, within 5%.

The sample is scaled down (the local stack's moto is 10-100 times slower than DynamoDB); the year is the sample's
cost per row times a year's rows, since a row of a daily file is one level's change that day (one transaction
write per level per file: the work is linear in rows). The time in AWS is not the local wall time: each file's
ingest is simulated with the ingest's own chunking and pacer (`domain.pacing`: 800 write units a second per
warehouse partition) and DynamoDB's typical latencies, plus SQS's batching window, the import's wait for each
file's outcome, and one file per warehouse in flight (`domain.imports`).
"""

from __future__ import annotations

import json
import random
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from benchmarks.common import ROOT, measured_apart, stamp

PRICES = json.loads(Path(__file__).with_name("prices.json").read_text())
RESULTS_JSON = ROOT / "docs" / "benchmarks.json"
HEADER = "Timestamp\tWarehouseName\tItemId\tItemName\tStockLevelChange\n"
MOVING = 0.10  # the share of levels with a transaction on a given day (one row each in that day's file)
YEAR_WAREHOUSES, YEAR_ITEMS, YEAR_DAYS = 50, 2_000, 365  # 100,000 levels
SAMPLE = {"warehouses": 10, "items": 200, "days": 10}  # 2,000 levels
QUICK = {"warehouses": 2, "items": 50, "days": 3}
GOAL_RATIO = 1.05
BATCHING_WINDOW_S = 5.0  # template.yaml: IngestQueueMapping's MaximumBatchingWindowInSeconds
POLL_S = 2.0  # stockctl import's wait between looks at the files' outcomes (half of it on average)
MEMORY_MB = {"IngestFunction": 1769}  # the others: Globals' MemorySize (read from the template below)


def history(tenant: str, warehouses: int, items: int, days: int, end: datetime) -> list[tuple[str, str]]:
    """(file name, content): opening balances, a thresholds file, then `days` daily files ending at `end`."""
    rng = random.Random(f"{warehouses}/{items}/{days}")  # the same history for every tenant, in its own names
    start = end - timedelta(days=days)
    stores = [f"{tenant} {w:02d}" for w in range(warehouses)]
    levels = [(store, f"{tenant}-sku-{i:05d}") for store in stores for i in range(items)]
    opening = start - timedelta(days=1)
    rows = "".join(
        f"{opening:%Y-%m-%dT%H:%M:%SZ}\t{s}\t{item}\tArticle {item}\t{rng.randint(5, 60)}\n" for s, item in levels
    )
    files = [(f"opening/{opening:%Y%m%d%H%M}_inventory.csv", HEADER + rows)]
    document = {
        "ThresholdList": [{"ItemId": f"{tenant}-sku-{i:05d}", "RestockIfBelow": 15} for i in range(0, items, 10)]
    }
    files.append((f"restock_thresholds_{start:%Y%m%d}.json", json.dumps(document)))
    for day in range(days):
        when = start + timedelta(days=day, hours=20)
        moving = rng.sample(levels, max(1, int(len(levels) * MOVING)))
        lines = []
        for n, (store, item) in enumerate(sorted(moving)):
            change = rng.randint(20, 60) if rng.random() < 0.15 else -rng.randint(1, 8)
            at = when + timedelta(seconds=n % 3600)
            lines.append(f"{at:%Y-%m-%dT%H:%M:%SZ}\t{store}\t{item}\tArticle {item}\t{change}\n")
        files.append((f"days/{when:%Y%m%d%H%M}_inventory.csv", HEADER + "".join(lines)))
    return files


def measure(warehouses: int, items: int, days: int) -> dict[str, Any]:
    """Both tenants on one local stack: each phase's requests, invocations, modelled seconds and capacity units."""
    import io
    import tempfile
    from argparse import Namespace

    from local_aws import capacity
    from local_aws.capacity import CAPACITY
    from local_aws.request_count import COUNT
    from local_aws.stack import LocalStack
    from stock_pipeline.domain.imports import plan
    from stockctl import imports

    capacity.install()
    end = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=1)
    quiet = {"POWERTOOLS_LOG_LEVEL": "ERROR", "POWERTOOLS_METRICS_DISABLED": "true"}
    out: dict[str, Any] = {"warehouses": warehouses, "items": items, "days": days}
    with (
        LocalStack(stack_name="bench-import", function_environment=quiet) as stack,
        tempfile.TemporaryDirectory() as tmp,
    ):
        s3, bucket = stack.client("s3"), stack.outputs["DataBucketName"]
        state = Path(tmp) / "local-stack.json"
        state.write_text(json.dumps(stack.describe()))
        for name, body in history("Warm", 1, 5, 1, end):  # modules imported, caches filled: neither phase pays it
            key = plan([(name, body.encode())]).files[0].key
            s3.put_object(Bucket=bucket, Key=key, Body=body.encode())
            stack.drain()
        for tenant in ("Live", "Imp"):
            files = history(tenant, warehouses, items, days, end)
            rows = sum(body.count("\n") - 1 for name, body in files if name.endswith(".csv"))
            with COUNT.counting() as counts, CAPACITY.phase(tenant) as phase:
                began = time.monotonic()
                if tenant == "Live":
                    the_plan = plan((name, body.encode()) for name, body in files)
                    by_name = dict(files)
                    for planned in the_plan.files:  # in the import's order, each processed before the next
                        s3.put_object(Bucket=bucket, Key=planned.key, Body=by_name[planned.name].encode())
                        stack.drain()
                    summary: dict[str, Any] = {}
                else:
                    folder = Path(tmp) / "history"
                    for name, body in files:
                        (folder / name).parent.mkdir(parents=True, exist_ok=True)
                        (folder / name).write_text(body)
                    written = Path(tmp) / "summary.json"
                    args = Namespace(
                        source=str(folder),
                        dry_run=False,
                        ahead=10,
                        local=str(state),
                        stack=None,
                        region=None,
                        summary=str(written),
                    )
                    report = io.StringIO()
                    assert imports.run(args, settle=stack.drain, out=report) == 0, report.getvalue()[-2000:]
                    summary = json.loads(written.read_text())
                wall = time.monotonic() - began
            functions = sorted(counts.invocations)
            out[tenant] = {
                "files": len(files),
                "rows": rows,
                "wall_s": wall,
                "requests": {"|".join(k): n for k, n in sorted(counts.requests.items())},
                "invocations": dict(counts.invocations),
                "aws_seconds": {f: counts.aws_seconds(f) for f in functions},
                "write_units": sum(phase.writes.values()),
                "read_units": sum(phase.reads.values()),
                "summary": summary,
            }
            print(f"{tenant}: {len(files)} files, {rows:,} rows in {wall:.0f} s locally", file=sys.stderr, flush=True)
    return out


def memory_mb() -> dict[str, int]:
    """Each function's MemorySize as the template gives it (its own, else Globals')."""
    from local_aws.template import load_template

    template = load_template(ROOT / "template.yaml")
    default = int(template.get("Globals", {}).get("Function", {}).get("MemorySize", 128))
    return {
        name: int(resource.get("Properties", {}).get("MemorySize", default))
        for name, resource in template["Resources"].items()
        if resource.get("Type") == "AWS::Serverless::Function"
    }


def dollars(phase: dict[str, Any], memory: dict[str, int]) -> dict[str, float]:
    """A phase's AWS cost by service, from its counted requests, units, invocations and modelled seconds."""
    requests: dict[str, int] = {}
    for key, n in phase["requests"].items():
        caller, service, operation = key.split("|")
        if caller:  # the pipeline's functions; the local pollers' own requests stand for Lambda's event sources
            requests[f"{service}|{operation}"] = requests.get(f"{service}|{operation}", 0) + n
    import_requests = phase["summary"].get("requests", {}) if phase["summary"] else {}
    puts = sum(n for k, n in requests.items() if k in ("s3|PUT", "s3|POST", "s3|LIST"))
    puts += phase["files"] + import_requests.get("s3.PutObject", 0)  # the uploads (live: the same, by whoever)
    gets = sum(n for k, n in requests.items() if k in ("s3|GET", "s3|HEAD"))
    gb_s = sum(s * memory.get(f, 1024) / 1024 for f, s in phase["aws_seconds"].items())
    # SQS: S3's notification sent, received and deleted by the event source mapping, per file
    sqs = 3 * phase["files"] + sum(n for k, n in requests.items() if k.startswith("sqs|"))
    sns = sum(n for k, n in requests.items() if k.startswith("sns|")) + import_requests.get("sns.Publish", 0)
    own_reads = sum(n for k, n in import_requests.items() if k.startswith("dynamodb."))  # a unit each, at most 4 KB
    return {
        "dynamodb": phase["write_units"] * PRICES["dynamodb_per_million_write_units"] / 1e6
        + (phase["read_units"] + own_reads) * PRICES["dynamodb_per_million_read_units"] / 1e6,
        "lambda": sum(phase["invocations"].values()) * PRICES["lambda_per_million_requests"] / 1e6
        + gb_s * PRICES["lambda_arm64_per_gb_second"],
        "s3": puts * PRICES["s3_put_per_thousand"] / 1000 + gets * PRICES["s3_get_per_thousand"] / 1000,
        "sqs": sqs * PRICES["sqs_per_million_requests"] / 1e6,
        "sns": sns * PRICES["sns_per_million_publishes"] / 1e6,
    }


def ingest_seconds(body: str) -> tuple[float, int]:
    """One file's ingest in AWS: its chunks as the ingest makes them, each a transaction (25 ms) after its
    warehouses' pacer (simulated on a clock of its own); returns (seconds, transactions)."""
    from local_aws.request_count import latency
    from stock_pipeline.domain.inventory import aggregate_changes, chunks, parse_inventory_file
    from stock_pipeline.domain.pacing import Pacer

    clock = [0.0]

    def sleep(seconds: float) -> None:
        clock[0] += seconds

    pacer = Pacer(clock=lambda: clock[0], sleep=sleep)
    parts = chunks(aggregate_changes(parse_inventory_file(body.encode()).table))
    for part in parts:
        counted: dict[str, int] = {}
        for change in part:
            counted[change.warehouse] = counted.get(change.warehouse, 0) + 1
        for warehouse, count in counted.items():
            pacer.spend(f"WH#{warehouse}", 2 * count)
        clock[0] += latency("dynamodb", "TransactWriteItems")
    return clock[0], len(parts)


def total(costs: dict[str, float]) -> float:
    return sum(costs.values())


def year_time_s(items: int, warehouses: int) -> dict[str, float]:
    """A year's import in AWS: the opening balances, then each daily file alone (each changes every warehouse)."""
    end = datetime(2026, 12, 1, tzinfo=UTC)
    rng = random.Random(3)
    stores = [f"Y {w:02d}" for w in range(warehouses)]
    levels = [(s, f"sku-{i:05d}") for s in stores for i in range(items)]
    opening = HEADER + "".join(f"2025-11-30T20:00:00Z\t{s}\t{item}\tA\t20\n" for s, item in levels)
    day = HEADER + "".join(
        f"{end:%Y-%m-%d}T20:00:{n % 60:02d}Z\t{s}\t{item}\tA\t-2\n"
        for n, (s, item) in enumerate(sorted(rng.sample(levels, int(len(levels) * MOVING))))
    )
    opening_s, opening_tx = ingest_seconds(opening)
    day_s, day_tx = ingest_seconds(day)
    per_file_wait = BATCHING_WINDOW_S + POLL_S / 2
    return {
        "opening_s": opening_s,
        "opening_transactions": opening_tx,
        "day_s": day_s,
        "day_transactions": day_tx,
        "per_file_wait_s": per_file_wait,
        "total_s": opening_s + per_file_wait + YEAR_DAYS * (day_s + per_file_wait),
    }


def run(quick: bool = False) -> tuple[str, bool]:
    shape = QUICK if quick else SAMPLE
    m = measured_apart("benchmarks.import_year", *(shape[k] for k in ("warehouses", "items", "days")))
    memory = memory_mb()
    live, imp = m["Live"], m["Imp"]
    live_cost, imp_cost = dollars(live, memory), dollars(imp, memory)
    per_million = total(imp_cost) / imp["rows"] * 1e6
    year_rows = YEAR_WAREHOUSES * YEAR_ITEMS * (1 + YEAR_DAYS * MOVING)
    year_scale = year_rows / imp["rows"]
    timing = year_time_s(YEAR_ITEMS // (10 if quick else 1), YEAR_WAREHOUSES)
    pipeline_requests = sum(n for k, n in imp["requests"].items() if k.split("|")[0])
    alerts_sent = sum(n for k, n in imp["requests"].items() if k.startswith("AlertFunction|sns|"))
    statuses = imp["summary"]["statuses"]

    def ratio(a: float, b: float) -> str:
        return f"{a / b:.3f}" if b else "-"

    def requests(phase: dict[str, Any]) -> int:
        return sum(n for k, n in phase["requests"].items() if k.split("|")[0]) + sum(
            phase["summary"].get("requests", {}).values() if phase["summary"] else []
        )

    rows = [
        ("DynamoDB write units", live["write_units"], imp["write_units"]),
        ("DynamoDB read units", live["read_units"], imp["read_units"]),
        ("requests (the functions' and the import's own)", requests(live), requests(imp)),
        ("Lambda invocations", sum(live["invocations"].values()), sum(imp["invocations"].values())),
        ("Lambda seconds in AWS (modelled)", sum(live["aws_seconds"].values()), sum(imp["aws_seconds"].values())),
        ("dollars", total(live_cost), total(imp_cost)),
        ("local wall time, s", live["wall_s"], imp["wall_s"]),
    ]
    table = "\n".join(f"| {what} | {a:,.4g} | {b:,.4g} | {ratio(b, a)} |" for what, a, b in rows)
    by_service = " ".join(f"{k} ${v * year_scale:,.2f};" for k, v in imp_cost.items())
    met = {
        f"importing costs what the same files cost live, within {GOAL_RATIO:.2f}x (dollars)": total(imp_cost)
        <= GOAL_RATIO * total(live_cost),
        f"the same DynamoDB write units within {GOAL_RATIO:.2f}x": imp["write_units"]
        <= GOAL_RATIO * live["write_units"],
        "every file SUCCEEDED": statuses == {"SUCCEEDED": imp["files"]},
        "no restock e-mail about the imported past (the alert function published nothing)": alerts_sent == 0,
    }
    goals = "\n".join(f"- {'met' if ok else '**NOT met**'}: {goal}" for goal, ok in met.items())
    levels = m["warehouses"] * m["items"]
    hours = timing["total_s"] / 3600
    markdown = f"""
## Importing history: the import against the same files live, and a year for 100,000 levels (issue 34)

{stamp("make bench")} (this suite alone: `make bench ARGS="--only import"`)

**The sample, on the local stack.** Two tenants of {levels:,} levels each ({m["warehouses"]} warehouses x
{m["items"]:,} items): opening balances, a thresholds file and {m["days"]} daily files in which {MOVING:.0%} of the
levels move, {imp["files"]} files and {imp["rows"]:,} rows each. The baseline uploads one tenant's files one after
another, each processed before the next, as they would have arrived live; the other is imported by
`stockctl import` (plan, manifest, one file per warehouse in flight, the wait for every outcome, the summary).
Every request each function made is counted, and DynamoDB's units as DynamoDB charges them.

| | live (baseline) | import | import / live |
|---|---:|---:|---:|
{table}

The import's own requests: {imp["summary"].get("requests", {})}. The functions' requests in the import:
{pipeline_requests:,}; restock e-mails published by the alert function: {alerts_sent} (the history's crossings are
recorded, not e-mailed: `AlertFreshnessHours`).

**Cost per row**: **${per_million:,.2f} per million rows** imported (us-east-1 list prices of
`benchmarks/prices.json`, on-demand table; Lambda seconds modelled as each function's own compute measured here
plus each request's typical latency in AWS, `local_aws.request_count.LATENCY_S`; SQS at three requests a file).
`stockctl import` estimates the pipeline's share of its summary's cost with this figure
(`PIPELINE_DOLLARS_PER_MILLION_ROWS` in `domain/imports.py`, held to it by a unit test).

**A year of daily files for 100,000 levels** ({YEAR_WAREHOUSES} warehouses x {YEAR_ITEMS:,} items: opening balances
and {YEAR_DAYS} daily files of {int(YEAR_WAREHOUSES * YEAR_ITEMS * MOVING):,} rows, {year_rows:,.0f} rows), scaled
from the sample by rows (a row is one level's change that day: one transaction write each):

| | a year for 100,000 levels |
|---|---:|
| DynamoDB write units | {imp["write_units"] * year_scale:,.0f} |
| DynamoDB read units | {imp["read_units"] * year_scale:,.0f} |
| the functions' requests | {pipeline_requests * year_scale:,.0f} |
| Lambda invocations | {sum(imp["invocations"].values()) * year_scale:,.0f} |
| **AWS cost** | **${total(imp_cost) * year_scale:,.2f}** ({by_service.rstrip(";")}) |
| **time in AWS** | **{hours:.1f} hours** |

**The pace limit.** The ingest keeps each warehouse's partition at 800 write units a second (80% of DynamoDB's
1,000: `domain/pacing.py`), two units a level in a transaction. A daily file changes every warehouse, so the
import sends one at a time (`domain.imports.may_go`): simulated with the ingest's own chunks and pacer, the
opening balances take {timing["opening_s"]:,.0f} s ({timing["opening_transactions"]:,} transactions) and a daily
file {timing["day_s"]:,.1f} s ({timing["day_transactions"]:,} transactions, 25 ms each), plus
{timing["per_file_wait_s"]:.0f} s a file of SQS's batching window ({BATCHING_WINDOW_S:.0f} s) and the import's look
at the outcomes (every {POLL_S:.0f} s). The live feed keeps the partitions' other 20% and the ingest's other
concurrency meanwhile. History exported one file per warehouse and day goes side by side (up to `--ahead`, default
10, of different warehouses): the waits overlap, and each warehouse's pacer is its own.

### Goals

{goals}
"""
    if not quick:
        figures = json.loads(RESULTS_JSON.read_text()) if RESULTS_JSON.exists() else {}
        kept = {t: {k: v for k, v in m[t].items() if k not in ("requests", "summary")} for t in ("Live", "Imp")}
        figures["import"] = {"dollars_per_million_rows": round(per_million, 4), "sample": {**m, **kept}, "year": timing}
        RESULTS_JSON.write_text(json.dumps(figures, indent=2) + "\n")
    return markdown, all(met.values())


if __name__ == "__main__":
    from benchmarks.common import isolate

    isolate()
    print(json.dumps(measure(int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]))))

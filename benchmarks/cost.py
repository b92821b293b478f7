"""`make cost`: dollars per million stock updates for the two KDG profiles, from what `make bench` measured.

Inputs: docs/benchmarks.json (requests counted per object, handler seconds, object sizes, the memory curve), the
function memory in template.yaml, and benchmarks/prices.json (region, the date the prices were taken). Two
configurations: the template's defaults (on-demand table, one update per Firehose record) and the cheapest
documented one (TableBillingMode=PROVISIONED with auto scaling, the load generator's `--pack`). Output: a table
on stdout and docs/cost.md.
"""

from __future__ import annotations

import json
import math
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.common import ROOT

BENCH = ROOT / "docs" / "benchmarks.json"
PRICES = Path(__file__).with_name("prices.json")
OUT = ROOT / "docs" / "cost.md"
MILLION = 1_000_000
RECORD_BYTES = 250  # a rendered KDG stock update is 230-260 bytes
TARGET_UTILISATION = 0.70  # the template's TableTargetUtilization default
MIN_CAPACITY = 5  # the template's TableWriteCapacityMin / TableReadCapacityMin defaults


@dataclass(frozen=True, slots=True)
class Profile:
    name: str
    records_per_second: int
    buffer_seconds: int

    @property
    def records_per_object(self) -> int:
        return self.records_per_second * self.buffer_seconds


@dataclass(frozen=True, slots=True)
class Config:
    name: str
    provisioned: bool
    packed: bool


PROFILES = (Profile("test", 1, 60), Profile("real", 300, 300))
ON_DEMAND = Config("on-demand default", provisioned=False, packed=False)
CHEAPEST = Config("cheapest: provisioned + --pack", provisioned=True, packed=True)


def function_memory_mb() -> int:
    """The ingest function's memory as the template gives it (its own MemorySize, else Globals)."""
    text = (ROOT / "template.yaml").read_text()
    own = re.search(r"^  IngestFunction:\n(?:    .*\n|\n)*?      MemorySize:\s*(\d+)", text, re.MULTILINE)
    match = own or re.search(r"^Globals:.*?^\s+MemorySize:\s*(\d+)", text, re.DOTALL | re.MULTILINE)
    return int(match.group(1)) if match else 1769


def updates_per_record(profile: Profile, packed: bool, increment_kb: int) -> int:
    """How many updates share one Firehose record: packing fills 5 KB, but only with what one second holds."""
    if not packed:
        return 1
    fits = increment_kb * 1024 // (RECORD_BYTES + 1)
    return max(1, min(fits, profile.records_per_second))


def lines_for(
    profile: Profile, bench: dict[str, Any], prices: dict[str, Any], memory_mb: int, config: Config = ON_DEMAND
) -> list[tuple[str, str, float]]:
    """(component, how it is counted, dollars per million updates)."""
    runs = {int(n): run for n, run in bench["handler_runs"].items()}
    run = runs[profile.records_per_object]
    objects = MILLION / profile.records_per_object
    requests = run["requests"]
    keys_per_update = run["distinct_keys"] / profile.records_per_object
    increment = prices["firehose_record_increment_kb"]
    per_record = updates_per_record(profile, config.packed, increment)
    record_kb = math.ceil(per_record * (RECORD_BYTES + 1) / (increment * 1024)) * increment
    firehose_gb = MILLION / per_record * record_kb / 1024 / 1024
    gb_seconds = run["seconds"] * memory_mb / 1024 * objects
    writes = keys_per_update * MILLION  # one conditional statement per distinct key
    reads = keys_per_update * MILLION / 2  # BatchGetItem, eventually consistent: half a unit per item
    if config.provisioned:
        # Capacity is paid by the hour: what the load needs at the target utilisation, never below the minimum,
        # on the table; GSI1 (which stock updates never write) sits at its minimum.
        hours = MILLION / profile.records_per_second / 3600
        wcu = max(MIN_CAPACITY, profile.records_per_second * keys_per_update / TARGET_UTILISATION)
        rcu = max(MIN_CAPACITY, profile.records_per_second * keys_per_update / 2 / TARGET_UTILISATION)
        index = MIN_CAPACITY * (prices["dynamodb_per_wcu_hour"] + prices["dynamodb_per_rcu_hour"])
        dynamodb = [
            (
                "DynamoDB writes",
                f"{wcu:,.0f} WCU provisioned for {hours:,.2f} h ({writes:,.0f} writes at {TARGET_UTILISATION:.0%})",
                wcu * prices["dynamodb_per_wcu_hour"] * hours,
            ),
            (
                "DynamoDB reads",
                f"{rcu:,.0f} RCU provisioned for {hours:,.2f} h ({reads:,.0f} read units)",
                rcu * prices["dynamodb_per_rcu_hour"] * hours,
            ),
            (
                "DynamoDB GSI1",
                f"{MIN_CAPACITY} WCU + {MIN_CAPACITY} RCU minimum, unused by stock updates",
                index * hours,
            ),
        ]
    else:
        dynamodb = [
            (
                "DynamoDB writes",
                f"{writes:,.0f} conditional INSERT/UPDATE statements, 1 WRU each",
                writes * prices["dynamodb_per_million_write_units"] / MILLION,
            ),
            (
                "DynamoDB reads",
                f"{reads:,.0f} RRU: stored versions read 100 keys a BatchGetItem",
                reads * prices["dynamodb_per_million_read_units"] / MILLION,
            ),
            ("DynamoDB GSI1", "on-demand: nothing when unused", 0.0),
        ]
    s3_puts = requests.get("s3.PutObject", 0) + 1  # + Firehose's own PUT of the object
    s3_gets = requests.get("s3.GetObject", 0)
    sqs_requests = 3  # S3's SendMessage, the poller's ReceiveMessage and DeleteMessage per object
    return [
        (
            "Firehose ingestion",
            f"{per_record} update(s) per record, {record_kb} KB billed per record: {firehose_gb:,.2f} GB",
            firehose_gb * prices["firehose_per_gb_ingested"],
        ),
        (
            "Lambda requests",
            f"{objects:,.0f} invocations (one per object)",
            objects * prices["lambda_per_million_requests"] / MILLION,
        ),
        (
            "Lambda duration",
            f"{run['seconds']:.2f} s per object measured x {memory_mb} MB, arm64",
            gb_seconds * prices["lambda_arm64_per_gb_second"],
        ),
        *dynamodb,
        (
            "S3 PUT",
            f"{s3_puts:,} per object: Firehose's object + {s3_puts - 1:,} lake file(s)",
            s3_puts * objects * prices["s3_put_per_thousand"] / 1000,
        ),
        ("S3 GET", f"{s3_gets} per object", s3_gets * objects * prices["s3_get_per_thousand"] / 1000),
        (
            "SQS",
            f"{sqs_requests} requests per object",
            sqs_requests * objects * prices["sqs_per_million_requests"] / MILLION,
        ),
    ]


def break_even_updates_per_second(bench: dict[str, Any], prices: dict[str, Any]) -> float:
    """The steady load above which provisioned capacity costs less than on-demand.

    Provisioned pays for its minimum capacity (table and GSI1, reads and writes) whatever the load, and less per
    update than on-demand once auto scaling lifts it above the minimum; below the break-even the minimum costs
    more than on-demand would for the same updates.
    """
    real = bench["handler_runs"][str(PROFILES[1].records_per_object)]
    keys_per_update = real["distinct_keys"] / PROFILES[1].records_per_object
    fixed_per_hour = 2 * MIN_CAPACITY * (prices["dynamodb_per_wcu_hour"] + prices["dynamodb_per_rcu_hour"])
    on_demand_per_update = keys_per_update * (
        prices["dynamodb_per_million_write_units"] + prices["dynamodb_per_million_read_units"] / 2
    )
    return fixed_per_hour / 3600 / (on_demand_per_update / MILLION)


HISTORY_BATCH, HISTORY_WINDOW_S = 1000, 30  # the HistoryStreamMapping's BatchSize and MaximumBatchingWindowInSeconds


def history_memory_mb() -> int:
    text = (ROOT / "template.yaml").read_text()
    own = re.search(r"^  HistoryFunction:\n(?:    .*\n|\n)*?      MemorySize:\s*(\d+)", text, re.MULTILINE)
    return int(own.group(1)) if own else 512


def history_lines(profile: Profile, bench: dict[str, Any], prices: dict[str, Any]) -> list[tuple[str, str, float]]:
    """The history's cost per million updates: every stock update changes one article, one stream record."""
    figures = bench["history"]
    per_batch = min(HISTORY_BATCH, profile.records_per_second * HISTORY_WINDOW_S)
    batches = MILLION / per_batch
    seconds = figures["seconds_per_batch"] * per_batch / figures["records_per_batch"]
    memory = history_memory_mb()
    gb_month = MILLION * figures["parquet_bytes_per_row"] / 1024**3
    return [
        (
            "Lambda requests",
            f"{batches:,.0f} batches of {per_batch:,} records",
            batches * prices["lambda_per_million_requests"] / MILLION,
        ),
        (
            "Lambda duration",
            f"{seconds * 1000:,.1f} ms per batch measured x {memory} MB, arm64",
            batches * seconds * memory / 1024 * prices["lambda_arm64_per_gb_second"],
        ),
        ("S3 PUT", "one file per batch (per day it spans)", batches * prices["s3_put_per_thousand"] / 1000),
        ("stream reads", "a Lambda mapping's GetRecords are not billed", 0.0),
        (
            "S3 storage, a month",
            f"{figures['parquet_bytes_per_row']:,.0f} bytes per change in Parquet",
            gb_month * prices["s3_storage_per_gb_month"],
        ),
    ]


def history_section(bench: dict[str, Any], prices: dict[str, Any]) -> str:
    if "history" not in bench:
        return 'Not measured: run `make bench ARGS="--only history"`.'
    tables = {p.name: history_lines(p, bench, prices) for p in PROFILES}
    rows = [
        f"| {name} | {' | '.join(f'${tables[p.name][i][2]:,.4f}' for p in PROFILES)} | {how} |"
        for i, (name, how, _) in enumerate(tables["real"])
    ]
    totals = " | ".join(f"**${sum(line[2] for line in tables[p.name]):,.4f}**" for p in PROFILES)
    head = " | ".join(f"{p.name} ({p.records_per_second}/s)" for p in PROFILES)
    return (
        f"| component | {head} | how (real profile) |\n|---|{'---:|' * len(PROFILES)}---|\n"
        + "\n".join(rows)
        + f"\n| **total** | {totals} | |"
    )


def memory_rows(bench: dict[str, Any], prices: dict[str, Any], memory_mb: int) -> str:
    curve = bench.get("memory_sizes") or {}
    if not curve or "not_measured" in curve:
        return f"Not measured ({curve.get('not_measured', 'run `make bench`')})."
    objects = MILLION / PROFILES[1].records_per_object
    rows = []
    for size, figures in sorted(curve.items(), key=lambda kv: int(kv[0])):
        dollars = figures["seconds"] * int(size) / 1024 * objects * prices["lambda_arm64_per_gb_second"]
        chosen = " (template)" if int(size) == memory_mb else ""
        rows.append(
            f"| {int(size):,} MB{chosen} | {figures['vcpus']:.2f} | {figures['seconds']:.1f} s "
            f"| {figures['peak_rss_mb']:,.0f} MB | ${dollars:,.4f} |"
        )
    return (
        "| memory | vCPUs | handler, 90,000 records | peak RSS | Lambda duration $ per million updates |\n"
        "|---:|---:|---:|---:|---:|\n" + "\n".join(rows)
    )


def render(bench: dict[str, Any], prices: dict[str, Any]) -> str:
    memory = function_memory_mb()
    configs = (ON_DEMAND, CHEAPEST)
    tables = {(p.name, c.name): lines_for(p, bench, prices, memory, c) for p in PROFILES for c in configs}
    columns = [(p, c) for p in PROFILES for c in configs]
    components = [name for name, _, _ in tables[("real", ON_DEMAND.name)]]
    rows = []
    for i, name in enumerate(components):
        cells = [f"${tables[(p.name, c.name)][i][2]:,.4f}" for p, c in columns]
        rows.append(f"| {name} | {' | '.join(cells)} | {tables[('real', CHEAPEST.name)][i][1]} |")
    totals = {(p.name, c.name): sum(line[2] for line in tables[(p.name, c.name)]) for p, c in columns}
    rows.append(f"| **total** | {' | '.join(f'**${totals[(p.name, c.name)]:,.2f}**' for p, c in columns)} | |")
    head = " | ".join(f"{p.name} ({p.records_per_object:,}/object), {c.name}" for p, c in columns)
    measured = bench["measured"].strip("_").removeprefix("Measured ").removesuffix(".")
    even = break_even_updates_per_second(bench, prices)
    real_cheapest, real_default = totals[("real", CHEAPEST.name)], totals[("real", ON_DEMAND.name)]
    return f"""# Cost per million stock updates

Produced by `make cost` from the figures in `docs/benchmarks.json` ({measured}) and the price table
`benchmarks/prices.json`: **{prices["region"]}, prices taken {prices["taken"]}** ({prices["source"]}).
Handler durations are the measured whole-handler times (AWS answered in-process, so the network waits that
overlap with the 32 concurrent requests are not in them) at the ingest function's memory ({memory:,} MB).

| component | {head} | how (real profile, cheapest) |
|---|{"---:|" * len(columns)}---|
{chr(10).join(rows)}

**Real profile: ${real_cheapest:,.2f} per million updates in the cheapest documented configuration
(`TableBillingMode=PROVISIONED`, `python -m loadgen send --pack`), ${real_default:,.2f} with the on-demand
defaults.** At the test profile the on-demand default is the cheaper one
(${totals[("test", ON_DEMAND.name)]:,.2f} against ${totals[("test", CHEAPEST.name)]:,.2f}): one update a second
is below the break-even load, and the minimum capacity is paid by the hour.

Not included: free tiers, KMS requests (bucket keys and the queues' data key reuse keep them small), CloudWatch
logs and metrics, X-Ray, storage (raw objects are ~16 bytes per record gzipped and expire after
`RawRetentionDays`), the Lambda poller's idle ReceiveMessage calls, data transfer, and the warehouse levels,
thresholds and supplier feeds (other inputs, other capacity).

## On-demand or provisioned: the break-even load

On-demand costs {prices["dynamodb_per_million_write_units"]:.3f} $ per million writes and
{prices["dynamodb_per_million_read_units"]:.3f} $ per million reads whatever the load. Provisioned capacity
costs {prices["dynamodb_per_wcu_hour"]} $ per WCU-hour and {prices["dynamodb_per_rcu_hour"]} $ per RCU-hour;
auto scaling keeps it near {TARGET_UTILISATION:.0%} used, which makes a write cost
{prices["dynamodb_per_wcu_hour"] / 3600 / TARGET_UTILISATION * MILLION:.3f} $ per million, but it never goes
below the minimum (`TableWriteCapacityMin` / `TableReadCapacityMin` = {MIN_CAPACITY}, on the table and on GSI1).
That minimum costs as much as on-demand would at **{even:.1f} stock updates per second**: below that steady
load keep the on-demand default (the test profile, 1 update/s, is below it), above it switch to provisioned
(the real profile, 300 updates/s, is far above it).

Caveat of provisioned capacity for this workload: a Firehose object arrives as one burst (90,000 writes within
seconds every 5 minutes at the real profile). DynamoDB keeps up to 300 seconds of unused capacity as burst
capacity, which at the average rate is about one buffer's worth; what it cannot absorb is throttled, and the
writer sends throttled statements again with exponential back-off (`adapters/stock_table.py`). Raise
`TableWriteCapacityMin` towards the average write rate if throttling shows in the dashboard.

## Firehose: packing updates into records

Firehose bills each record as a multiple of 5 KB. A {RECORD_BYTES}-byte update sent alone pays for 5 KB;
`python -m loadgen send --pack` joins consecutive updates (newline-separated, one second of them at most) into
records of up to 5 KB, {updates_per_record(PROFILES[1], True, prices["firehose_record_increment_kb"])} per record
at the real profile. The stream's delimiter processor ends each record with a newline, so the ingest function
reads packed records like any others (tested end to end). At 1 update/s a second holds one update, so the test
profile gains nothing. KDG itself sends one update per record.

## Stock history (curated/stock_history/)

Every stock update changes one article's stored stock, so it is one record on the table's stream and one row
of the history (warehouse levels, supplier stock and thresholds add theirs; their volumes are small beside it).
The history function reads the stream in batches of up to {HISTORY_BATCH:,} records, waiting at most
{HISTORY_WINDOW_S} s to fill one; `make bench ARGS="--only history"` measures its time per batch and the bytes
per row. Added to the totals above, per million updates:

{history_section(bench, prices)}

Why a second stream consumer and not EventBridge Pipes into Firehose: Pipes bills per request and Firehose per
GB on top of a Lambda that would still compute old/new/delta, the files would not be named after their batch (a
retry could not overwrite its file), and neither runs on the local stack.

## Lambda memory size of the ingest function

`make bench` runs the whole handler on the real-load object with the CPU share Lambda gives each memory size
(1,769 MB = one vCPU):

{memory_rows(bench, prices, memory)}

{cold_start_section(bench, prices)}
"""


PEOPLE_WAIT_ON = {
    "ConsoleFunction": "the console's pages and uploads: 512 MB, its answers read up to 1 MB of levels a page",
    "ReportsFunction": "the reports API: 512 MB, the same pages as the console's reports",
    "ConsoleInviteFunction": "Cognito's custom message trigger: 256 MB, it formats one e-mail; Cognito waits 5 s",
    "AlertFunction": "the restock e-mails: 512 MB, a stream batch of claims and publishes",
}
SECONDS_A_MONTH = 730 * 3600
# the reference usage of a person-facing function: a few people, a few hundred requests a day, a cold start after
# each idle spell (Lambda keeps an idle environment for minutes, not hours: about one in ten requests starts cold)
REFERENCE_REQUESTS_A_DAY = 300
REFERENCE_COLD_SHARE = 0.1
REFERENCE_ANSWER_S = 0.2  # a warm answer's duration (a page of levels, one Query or a few)
COLD_HEADER = (
    "| function | MemorySize (MB) | import (x floor) | under its share | a month at the reference usage | provisioned "
    "concurrency, one environment a month | SnapStart cache a month | why this size |\n"
    "|---|---:|---:|---:|---:|---:|---:|---|"
)


def cold_start_section(bench: dict[str, Any], prices: dict[str, Any]) -> str:
    """The person-facing functions' memory and start-up, from `make bench ARGS="--only cold-start"`."""
    cold = bench.get("cold_start")
    if not cold:
        return '## Cold starts\n\nRun `make bench ARGS="--only cold-start"` for these figures.'
    floor = cold["floor_s"]
    rows = []
    for lid, why in PEOPLE_WAIT_ON.items():
        f = cold["functions"].get(lid)
        if f is None:
            continue
        gb = f["memory_mb"] / 1024
        provisioned = gb * SECONDS_A_MONTH * prices["lambda_arm64_provisioned_per_gb_second"]
        snapstart = gb * SECONDS_A_MONTH * prices["lambda_snapstart_cache_per_gb_second"]
        share = f"{f['import_share_s'] * 1000:,.0f} ms" if "import_share_s" in f else "not measured"
        ratio = f.get("ratio", f["import_s"] / floor)
        billed = REFERENCE_ANSWER_S + REFERENCE_COLD_SHARE * f["import_s"]  # the init is billed since August 2025
        requests = REFERENCE_REQUESTS_A_DAY * 30
        usage = requests * (
            billed * gb * prices["lambda_arm64_per_gb_second"] + prices["lambda_per_million_requests"] / 1e6
        )
        rows.append(
            f"| {lid} | {f['memory_mb']:,} | {f['import_s'] * 1000:,.0f} ms ({ratio:.2f}x) | {share} | "
            f"${usage:,.2f} | ${provisioned:,.2f} | ${snapstart:,.2f} | {why} |"
        )
    table = "\n".join(rows)
    return f"""## Cold starts: memory and start-up of the functions people wait on

`make bench ARGS="--only cold-start"` imports each handler in a fresh interpreter (the floor, `boto3` and
Powertools' Logger, took {floor * 1000:,.0f} ms in the same run); "under its share" is the same with the CPU of
its MemorySize only. An on-demand init phase runs on a full vCPU for up to 10 s (AWS's serverless guidance), so
the first column is what a cold start imports; the platform's own start (about 100-300 ms for Python on arm64)
comes on top. Since August 2025 the init phase is billed like the invocation on managed runtimes, so the import
is also what a cold start costs.

{COLD_HEADER}
{table}

**Choices.** None of these functions imports Arrow, pandas, NumPy or the X-Ray SDK any more (their traces are
Lambda's own segments), so a first answer is the platform's start plus a few hundred milliseconds: well under a
second without provisioned concurrency or SnapStart. At the project's reference usage ({REFERENCE_REQUESTS_A_DAY}
requests a day, one in {round(1 / REFERENCE_COLD_SHARE)} cold, {REFERENCE_ANSWER_S:.1f} s an answer) each function
costs cents a month; keeping one environment warm would cost the amounts in the next column, a hundred times
more, for a fraction of a second saved once per idle spell: not worth it. SnapStart (Python 3.12+) would
restore a snapshot instead of importing, but adds its cache and restore charges and a restore that is not faster
than these imports. The invitation trigger, at 256 MB, is far inside Cognito's 5 s even without the init burst.
Memory is not raised to speed starts: the burst already gives the init a full vCPU. The reports function checks its
parameters from `domain/report_params.py` instead of Powertools' request validation, which imports pydantic
(about 100 ms of its start); the OpenAPI document is generated apart (`stock_pipeline/reports_openapi.py`) and a
unit test holds the two together. What remains above the floor for the console and the reports is mostly
Powertools' event-handler package (50-75 ms).
"""


def main() -> int:
    if not BENCH.exists():
        print(f"{BENCH} is missing: run `make bench` first", file=sys.stderr)
        return 1
    bench = json.loads(BENCH.read_text())
    prices = json.loads(PRICES.read_text())
    text = render(bench, prices)
    OUT.write_text(text)
    print(text)
    print(f"written to {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

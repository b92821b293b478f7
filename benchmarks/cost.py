"""`make cost`: dollars per million stock updates for the two KDG profiles, from what `make bench` measured.

Inputs: docs/benchmarks.json (requests counted per object, handler seconds, object sizes), the function memory
in template.yaml, and benchmarks/prices.json (region, the date the prices were taken). Output: a table on
stdout and docs/cost.md.
"""

from __future__ import annotations

import json
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


@dataclass(frozen=True, slots=True)
class Profile:
    name: str
    records_per_second: int
    buffer_seconds: int

    @property
    def records_per_object(self) -> int:
        return self.records_per_second * self.buffer_seconds


PROFILES = (Profile("test", 1, 60), Profile("real", 300, 300))


def function_memory_mb() -> int:
    """The ingest function's memory as the template gives it (Globals)."""
    text = (ROOT / "template.yaml").read_text()
    match = re.search(r"^Globals:.*?^\s+MemorySize:\s*(\d+)", text, re.DOTALL | re.MULTILINE)
    return int(match.group(1)) if match else 1769


def lines_for(
    profile: Profile, bench: dict[str, Any], prices: dict[str, Any], memory_mb: int
) -> list[tuple[str, str, float]]:
    """(component, how it is counted, dollars per million updates)."""
    runs = {int(n): run for n, run in bench["handler_runs"].items()}
    run = runs[profile.records_per_object]
    objects = MILLION / profile.records_per_object
    requests = run["requests"]
    billed_kb = (
        -(-RECORD_BYTES // (prices["firehose_record_increment_kb"] * 1024)) * prices["firehose_record_increment_kb"]
    )
    firehose_gb = MILLION * billed_kb / 1024 / 1024
    gb_seconds = run["seconds"] * memory_mb / 1024 * objects
    writes = requests.get("dynamodb.PutItem", 0) + requests.get("dynamodb.UpdateItem", 0)
    s3_puts = requests.get("s3.PutObject", 0) + 1  # + Firehose's own PUT of the object
    s3_gets = requests.get("s3.GetObject", 0)
    sqs_requests = 3  # S3's SendMessage, the poller's ReceiveMessage and DeleteMessage per object
    return [
        (
            "Firehose ingestion",
            f"{billed_kb} KB billed per record (5 KB increments): {firehose_gb:,.2f} GB",
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
        (
            "DynamoDB writes",
            f"{writes * objects:,.0f} conditional PutItems, 1 WRU each (one per distinct key)",
            writes * objects * prices["dynamodb_per_million_write_units"] / MILLION,
        ),
        (
            "S3 PUT",
            f"{s3_puts:,} per object: Firehose's object + {s3_puts - 1:,} lake files",
            s3_puts * objects * prices["s3_put_per_thousand"] / 1000,
        ),
        ("S3 GET", f"{s3_gets} per object", s3_gets * objects * prices["s3_get_per_thousand"] / 1000),
        (
            "SQS",
            f"{sqs_requests} requests per object",
            sqs_requests * objects * prices["sqs_per_million_requests"] / MILLION,
        ),
        ("SNS", "no publish for stock updates (restock alerts come from warehouse levels)", 0.0),
        ("Step Functions", "no execution for stock updates (threshold files only)", 0.0),
    ]


def render(bench: dict[str, Any], prices: dict[str, Any]) -> str:
    memory = function_memory_mb()
    tables = {p.name: lines_for(p, bench, prices, memory) for p in PROFILES}
    components = [name for name, _, _ in tables["test"]]
    rows = []
    for i, name in enumerate(components):
        cells = [f"${tables[p.name][i][2]:,.4f}" for p in PROFILES]
        rows.append(f"| {name} | {' | '.join(cells)} | {tables['real'][i][1]} |")
    totals = {p.name: sum(line[2] for line in tables[p.name]) for p in PROFILES}
    rows.append(f"| **total** | {' | '.join(f'**${totals[p.name]:,.2f}**' for p in PROFILES)} | |")
    lake = {p.name: next(line[2] for line in tables[p.name] if line[0] == "S3 PUT") for p in PROFILES}
    measured = bench["measured"].strip("_").removeprefix("Measured ").removesuffix(".")
    profile_head = " | ".join(
        f"{p.name}: {p.records_per_second}/s, {p.buffer_seconds} s buffer, {p.records_per_object:,} per object"
        for p in PROFILES
    )
    return f"""# Cost per million stock updates

Produced by `make cost` from the figures in `docs/benchmarks.json` ({measured}) and the price table
`benchmarks/prices.json`: **{prices["region"]}, prices taken {prices["taken"]}** ({prices["source"]}).
Handler durations are the measured whole-handler times (AWS answered in-process, so the network waits that
overlap with the 32 concurrent writes are not in them) at the template's function memory.

| component | {profile_head} | how (real profile) |
|---|---:|---:|---|
{chr(10).join(rows)}

Not included: free tiers, KMS requests (bucket keys and the queues' data key reuse keep them small), CloudWatch
logs and metrics, X-Ray, storage (raw objects are ~16 bytes per record gzipped and expire after
`RawRetentionDays`), the Lambda poller's idle ReceiveMessage calls, data transfer.

What the table says:
- The **test profile** pays per object: {MILLION // 60:,} Firehose objects per million updates, each one Lambda
  invocation, one S3 GET and one lake file per article (${lake["test"]:,.2f} of S3 PUTs per million).
- In the **real profile** the fixed per-object costs vanish; DynamoDB's one write per distinct article and the
  Firehose 5 KB rounding (a {RECORD_BYTES}-byte record is billed as 5 KB) are the floor. The lake layout
  `retailer_id=…/account_id=…/` still writes about one file per nine records (${lake["real"]:,.2f} per million):
  a layout by arrival date with one file per object would make that {MILLION / 90_000:.0f} PUTs per million.
- Firehose bills every record as at least 5 KB: batching several updates into one record (newline-separated)
  would divide the ingestion line by up to 20, and the handler parses such records like any other lines.
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

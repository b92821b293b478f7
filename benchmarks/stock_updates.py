"""Firehose objects of KDG stock updates: handler compute against a floor and a per-record baseline, the whole
handler against the tutorial-style Lambda with every AWS request answered the same way in-process, requests per
key, peak memory, growth with the object, duration and cost per Lambda memory size, and the object end to end on
the local stack. The figures also feed `make cost` (docs/benchmarks.json)."""

from __future__ import annotations

import gzip
import io
import itertools
import json
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Any

import pyarrow as pa
import pyarrow.json as pj
import pyarrow.parquet as pq

from benchmarks import cpu_limit
from benchmarks.common import ROOT, interleaved, stamp
from loadgen.kdg import render_records
from stock_pipeline.adapters.lake import ROW_GROUP_ROWS, encode
from stock_pipeline.adapters.stock_table import _Statements
from stock_pipeline.domain.objects import decompress
from stock_pipeline.domain.stock_updates import (
    INT_FIELDS,
    REQUIRED_FIELDS,
    article_stock_columns,
    lake_rows,
    latest_per_article,
    parse_stock_updates,
)

RESULTS_JSON = ROOT / "docs" / "benchmarks.json"
REAL = 90_000  # the real-load profile: 300 records/s x 5-minute buffer
TEST = 60  # the test profile: 1 record/s x 1-minute buffer
SIZES = (9_000, 90_000, 900_000)
MEMORY_SIZES = (512, 1024, 1769, 3008)
GOAL_FLOOR, GOAL_BASELINE, GOAL_TUTORIAL, GOAL_MEMORY_MB, GOAL_REQUESTS = 2.0, 20.0, 3.0, 512, 80
ROUNDS = 3
LAMBDA_ARM64_GB_SECOND = 0.0000133334  # us-east-1, as benchmarks/prices.json


def firehose_object(records: int, seed: int = 11) -> bytes:
    """What Firehose writes for the KDG template: records with the appended newline, GZIP."""
    return gzip.compress(("\n".join(render_records(records, seed=seed)) + "\n").encode())


# ---------------------------------------------------------------------------- compute contenders


def floor(data: bytes) -> int:
    """pyarrow parse only: the least any reader of this object must do."""
    return pj.read_json(io.BytesIO(decompress(data))).num_rows


def handler_compute(data: bytes) -> int:
    """What the handler computes before and besides its AWS calls: parse, validate, newest per article, and the
    one lake file of the object (sorted rows, row groups, page index)."""
    latest = latest_per_article(parse_stock_updates(data).table)
    return len(encode(lake_rows(latest, source_key="bench"), row_group_rows=ROW_GROUP_ROWS))


def request_building(data: bytes, latest: pa.Table | None = None) -> int:
    """The write requests' payload for every distinct key: item columns, typed parameters, statements."""
    latest = latest if latest is not None else latest_per_article(parse_stock_updates(data).table)
    built = 0
    for start in range(0, latest.num_rows, 5_000):
        batch = article_stock_columns(latest.slice(start, 5_000), source_key="bench")
        statements = _Statements("bench-table", batch)
        built += len([statements.build(i, "INSERT") for i in range(len(batch))])
    return built


def naive_baseline(data: bytes) -> int:
    """The per-record way: json.loads, checks in Python, and one write per record into the Parquet output."""
    schema = pa.schema([(n, pa.int64() if n in INT_FIELDS else pa.string()) for n in REQUIRED_FIELDS])
    sink = io.BytesIO()
    written = 0
    with pq.ParquetWriter(sink, schema, compression="snappy") as writer:
        for line in decompress(data).decode().splitlines():
            if not line.strip():
                continue
            record = json.loads(line)
            if not all(isinstance(record.get(n), int) for n in INT_FIELDS) or record["quantity"] < 0:
                continue
            writer.write_table(pa.Table.from_pylist([{n: record.get(n) for n in REQUIRED_FIELDS}], schema=schema))
            written += 1
    return written


def compute_figures(data: bytes, *, with_baseline: bool, repeat: int = 3) -> dict[str, Any]:
    latest = latest_per_article(parse_stock_updates(data).table)
    contenders = {
        "floor": lambda: floor(data),
        "handler": lambda: handler_compute(data),
        "requests": lambda: request_building(data, latest),
    }
    timings = interleaved(contenders, repeat=repeat)
    out: dict[str, Any] = {name: t.best_s for name, t in timings.items()}
    out["lake_bytes"] = handler_compute(data)
    if with_baseline:
        start = time.perf_counter()
        naive_baseline(data)
        out["baseline"] = time.perf_counter() - start
    return out


# ---------------------------------------------------------------------------- whole handler runs


def handler_run(data: bytes, *, tutorial: bool = False, memory_mb: int | None = None) -> dict[str, Any]:
    """One invocation in a process of its own (its peak memory is its own), AWS answered in-process; with
    `memory_mb`, under the CPU share Lambda gives that memory size."""
    command = [sys.executable, "-m", "benchmarks.handler_run", "", *(["--tutorial"] if tutorial else [])]
    with tempfile.NamedTemporaryFile(suffix=".gz") as handle:
        handle.write(data)
        handle.flush()
        command[3] = handle.name
        env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": f"{ROOT / 'src'}:{ROOT}"}
        if memory_mb is None:
            completed = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=True, env=env)  # noqa: S603
        else:
            with cpu_limit.CpuQuota(cpu_limit.lambda_vcpus(memory_mb)) as quota:
                completed = subprocess.run(  # noqa: S603 (our own module, our interpreter)
                    command, cwd=ROOT, capture_output=True, text=True, check=True, env=env, preexec_fn=quota.join
                )
    return json.loads(completed.stdout.strip().splitlines()[-1])


def side_by_side(data: bytes, rounds: int) -> dict[str, Any]:
    """The project's handler and the tutorial-style Lambda, interleaved, every request answered alike."""
    runs: dict[str, list[dict[str, Any]]] = {"handler": [], "tutorial": []}
    for _ in range(rounds):
        runs["handler"].append(handler_run(data))
        runs["tutorial"].append(handler_run(data, tutorial=True))
    return {
        name: {
            "median_s": statistics.median(r["seconds"] for r in results),
            "runs_s": [r["seconds"] for r in results],
            "requests": sum(results[0]["requests"].values()),
        }
        for name, results in runs.items()
    }


def memory_curve(data: bytes) -> dict[str, Any]:
    reason = cpu_limit.available()
    if reason:
        return {"not_measured": reason}
    curve = {}
    for memory in MEMORY_SIZES:
        run = handler_run(data, memory_mb=memory)
        curve[str(memory)] = {
            "seconds": run["seconds"],
            "peak_rss_mb": run["peak_rss_mb"],
            "vcpus": round(cpu_limit.lambda_vcpus(memory), 2),
            "dollars_per_object": run["seconds"] * memory / 1024 * LAMBDA_ARM64_GB_SECOND,
        }
    return curve


def per_thousand(run: dict[str, Any], keys: int) -> dict[str, float]:
    return {op: n * 1000 / keys for op, n in sorted(run["requests"].items())}


def dynamodb_requests(run: dict[str, Any]) -> int:
    return sum(n for op, n in run["requests"].items() if op.startswith("dynamodb."))


# ---------------------------------------------------------------------------- end to end on the local stack


def end_to_end(data: bytes) -> dict[str, Any]:
    from local_aws.stack import LocalStack

    with LocalStack(
        stack_name="stock-pipeline-bench", function_environment={"POWERTOOLS_LOG_LEVEL": "WARNING"}
    ) as stack:
        s3, ddb = stack.client("s3"), stack.client("dynamodb")
        bucket = stack.outputs["DataBucketName"]
        start = time.perf_counter()
        s3.put_object(Bucket=bucket, Key="raw/stock-updates/2026/11/24/10/bench-e2e.gz", Body=data)
        stack.drain()
        seconds = time.perf_counter() - start
        items = sum(
            page["Count"]
            for page in ddb.get_paginator("scan").paginate(TableName=stack.outputs["StockTableName"], Select="COUNT")
        )
        files = sum(
            page.get("KeyCount", 0)
            for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix="curated/stock_latest/")
        )
    return {"seconds": seconds, "items": items, "lake_files": files}


# ---------------------------------------------------------------------------- the suite


def run(quick: bool = False) -> tuple[str, bool]:
    began = time.perf_counter()
    sizes = (900, 9_000) if quick else SIZES
    real = sizes[-2] if quick else REAL
    objects = {n: firehose_object(n) for n in sorted({*sizes, TEST, real})}
    print(f"objects: {', '.join(f'{n:,} records {len(d) / 1e6:.1f} MB' for n, d in objects.items())}", flush=True)

    # Best of 3 where the goals are measured; the 900,000-record figures (growth only) once.
    compute = {n: compute_figures(objects[n], with_baseline=n <= real, repeat=3 if n <= real else 1) for n in sizes}
    print("compute done", flush=True)
    runs = {n: handler_run(objects[n]) for n in sorted({*sizes, TEST})}
    print("handler runs done", flush=True)
    versus = side_by_side(objects[real], 1 if quick else ROUNDS)
    print("handler vs tutorial done", flush=True)
    curve = memory_curve(objects[real]) if not quick else {"not_measured": "--quick"}
    print("memory sizes done", flush=True)
    e2e = end_to_end(objects[real])
    print("end to end done", flush=True)

    c, r = compute[real], runs[real]
    floor_ratio = c["handler"] / c["floor"]
    requests_ratio = c["requests"] / c["floor"]
    baseline_ratio = c["baseline"] / c["handler"]
    tutorial_ratio = versus["tutorial"]["median_s"] / versus["handler"]["median_s"]
    per_key = {n: dynamodb_requests(run) * 1000 / run["distinct_keys"] for n, run in runs.items()}
    # Linear: ten times the records never costs more than 12.5 times the time or the memory above the baseline.
    steps = list(itertools.pairwise(sizes))
    linear = all(
        runs[big]["seconds"] / runs[small]["seconds"] <= 1.25 * big / small
        and (runs[big]["peak_rss_mb"] - runs[big]["rss_before_mb"])
        <= 1.25 * big / small * max(1.0, runs[small]["peak_rss_mb"] - runs[small]["rss_before_mb"])
        for small, big in steps
    )
    duration_s = time.perf_counter() - began
    met = {
        f"handler compute <= {GOAL_FLOOR:.0f}x the pyarrow floor": floor_ratio <= GOAL_FLOOR,
        f"handler compute >= {GOAL_BASELINE:.0f}x faster than the per-record baseline": baseline_ratio >= GOAL_BASELINE,
        f"at most {GOAL_REQUESTS} DynamoDB requests per 1,000 distinct keys": max(per_key.values()) <= GOAL_REQUESTS,
        f"whole handler >= {GOAL_TUTORIAL:.0f}x faster than the tutorial-style Lambda": tutorial_ratio >= GOAL_TUTORIAL,
        f"peak memory < {GOAL_MEMORY_MB} MB at {real:,} records": r["peak_rss_mb"] < GOAL_MEMORY_MB,
        "linear growth (x10 records: at most x12.5 time and handler memory)": linear,
    }

    if not quick:
        figures = {
            "measured": stamp("make bench"),
            "compute": compute,
            "handler_runs": runs,
            "versus_tutorial": versus,
            "memory_sizes": curve,
            "end_to_end": e2e,
            "suite_seconds": duration_s,
        }
        kept = json.loads(RESULTS_JSON.read_text()) if RESULTS_JSON.exists() else {}
        RESULTS_JSON.write_text(json.dumps({**kept, **figures}, indent=2) + "\n")  # other suites' keys stay

    def ms(seconds: float) -> str:
        return f"{seconds * 1000:,.0f} ms"

    def scaling_row(n: int) -> str:
        f, run_n = compute[n], runs[n]
        baseline = ms(f["baseline"]) if "baseline" in f else "not run"
        cells = [f"{n:,}", ms(f["floor"]), ms(f["handler"]), f"{f['handler'] / f['floor']:.2f}x", ms(f["requests"])]
        cells += [baseline, f"{run_n['seconds']:.2f} s", f"{run_n['seconds'] / n * 1e6:.0f} µs"]
        cells += [f"{run_n['peak_rss_mb']:,.0f} MB"]
        return "| " + " | ".join(cells) + " |"

    scaling_rows = "\n".join(scaling_row(n) for n in sizes)
    ops = sorted({op for run in runs.values() for op in run["requests"]})
    request_rows = "\n".join(
        f"| {n:,} | {runs[n]['distinct_keys']:,} | "
        + " | ".join(f"{per_thousand(runs[n], runs[n]['distinct_keys']).get(op, 0):,.1f}" for op in ops)
        + f" | **{per_key[n]:,.1f}** |"
        for n in sorted(runs)
    )
    if "not_measured" in curve:
        memory_section = f"Not measured: {curve['not_measured']}."
    else:
        rows = "\n".join(
            f"| {m:,} MB | {v['vcpus']:.2f} | {v['seconds']:.2f} s | {v['peak_rss_mb']:,.0f} MB | "
            f"${v['dollars_per_object'] * 1e6 / real:,.4f} |"
            for m, v in ((int(k), v) for k, v in curve.items())
        )
        memory_section = f"""Each size runs the whole handler on the {real:,}-record object in a cgroup whose CPU
quota is the share Lambda gives that memory (1,769 MB = one vCPU). AWS answered in-process, so the network
waits that the 32 concurrent requests overlap in AWS are not in these figures.

| memory | vCPUs | whole handler | peak RSS | Lambda duration $ per million updates |
|---:|---:|---:|---:|---:|
{rows}"""
    goals = "\n".join(f"- {'met' if ok else '**NOT met**'}: {goal}" for goal, ok in met.items())
    h, t = versus["handler"], versus["tutorial"]
    markdown = f"""
## Stock updates: one Firehose object (issues 6 and 10)

{stamp("make bench")} The whole suite took {duration_s / 60:.1f} minutes.

Objects rendered from the design's KDG template (seeded), newline-delimited and GZIP as Firehose delivers them.
The real-load profile (300 records/s, 5-minute buffer) gives **{real:,}-record** objects, the test profile
{TEST}-record ones. Every key of such an object is new to the table (the KDG key space is 100 million articles).

### Compute, {real:,} records (best of 3, interleaved)

| contender | what it does | time | ratio |
|---|---|---:|---:|
| pyarrow floor | gunzip + `pyarrow.json.read_json` | {ms(c["floor"])} | 1.0x |
| handler compute | parse, validate, newest per article, the object's one lake file ({c["lake_bytes"] / 1e6:.1f} MB) \
| {ms(c["handler"])} | **{floor_ratio:.2f}x the floor** |
| request building | item columns, typed parameters and statements for the {r["distinct_keys"]:,} keys \
| {ms(c["requests"])} | {requests_ratio:.2f}x the floor |
| per-record baseline | `json.loads` + checks per record, one Parquet write per record (run once) \
| {ms(c["baseline"])} | handler compute {baseline_ratio:.0f}x faster |

### The whole handler against the tutorial-style Lambda, {real:,} records

Both run in a process of their own with the same botocore `before-send` hook answering every AWS request
in-process (DynamoDB answers as for new keys), so serialising, signing and parsing are measured and the network
is not. Tutorial style (`benchmarks/tutorial_lambda.py`): `json.loads` per line, one `Table.put_item` per
record, no lake. Median of {len(h["runs_s"])} interleaved rounds.

| contender | requests | median | runs |
|---|---:|---:|---|
| project handler (`handle()`, real adapters) | {h["requests"]:,} | {h["median_s"]:.2f} s | \
{", ".join(f"{x:.2f}" for x in h["runs_s"])} |
| tutorial-style Lambda | {t["requests"]:,} | {t["median_s"]:.2f} s | {", ".join(f"{x:.2f}" for x in t["runs_s"])} |

**The project's handler is {tutorial_ratio:.1f}x faster** while also validating, rejecting with line numbers,
deduplicating, keeping newer-wins and writing the lake.

### Growth, requests, memory

| records | floor | handler compute | ratio | request building | baseline | whole handler | per record | peak RSS |
|---:|---:|---:|---:|---:|---:|---:|---:|---:|
{scaling_rows}

AWS requests per 1,000 distinct keys (BatchGetItem reads 100 stored versions a request; BatchExecuteStatement
carries 25 conditional INSERT/UPDATE statements):

| records | distinct keys | {" | ".join(ops)} | DynamoDB total |
|---:|---:|{"---:|" * len(ops)}---:|
{request_rows}

### Lambda memory size, {real:,} records

{memory_section}

### End to end on the local stack, {real:,} records

S3 PUT of the object -> notification -> SQS -> ingest function -> DynamoDB + Parquet, on the moto server:
**{e2e["seconds"]:.1f} s**, {e2e["items"]:,} items in the table, {e2e["lake_files"]:,} lake file(s). moto's
request handling dominates this figure; it shows that the pipeline completes, not how fast AWS is.

### Goals

{goals}
"""
    return markdown, all(met.values())

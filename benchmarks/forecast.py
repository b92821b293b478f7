"""Sales rates: 100,000 levels from a year of inventory transactions (issue 23).

A year of history for 100,000 levels (100 warehouses of 1,000 items, a transaction every four days on average:
85% sales of 1-5 units, 15% deliveries) is generated in memory as the lake's rows would read. Contenders, measured
interleaved in the same run:

- **the job's way**: what the Lambda does, one warehouse at a time, only the window's rows (the reader lists the
  partitions from the window's first day; the S3 reads are not timed), with each level's first-seen time;
- **one call over the year**: `daily_rates` on the whole year (it filters the window itself);
- **baseline, DuckDB**: the same aggregation in SQL on the same Arrow table (a column engine built for
  this).

The three must give the same units sold for every level that sold. Memory: the year's Arrow size, the largest
warehouse window (what one Lambda invocation holds at a time) and the process's peak resident set.
"""

from __future__ import annotations

import resource
from datetime import UTC, datetime, timedelta
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from benchmarks.common import interleaved, stamp
from stock_pipeline.domain.forecast import DEFAULT_WINDOW_DAYS
from stock_pipeline.domain.rates import daily_rates

LEVELS, WAREHOUSES, DAYS, EVERY = 100_000, 100, 365, 4
ROUNDS = 3
AS_OF = datetime(2026, 12, 6, 4, 30, tzinfo=UTC)
GOAL_RATIO = 2.0  # the job's way within 2x of DuckDB's time for the same rates


def year_of_history(levels: int, warehouses: int, seed: int = 23) -> pa.Table:
    rng = np.random.default_rng(seed)
    per_level = DAYS // EVERY
    level = np.repeat(np.arange(levels), per_level)
    micros = int(AS_OF.timestamp() * 1_000_000) - (rng.uniform(0, DAYS, level.size) * 86_400e6).astype(np.int64)
    sale = rng.random(level.size) < 0.85
    change = np.where(sale, -rng.integers(1, 6, level.size), rng.integers(10, 60, level.size))
    per_warehouse = levels // warehouses
    names = pa.array([f"Warehouse {w:03d}" for w in range(warehouses)])
    items = pa.array([f"item-{i:05d}" for i in range(per_warehouse)])
    table = pa.table(
        {
            "timestamp": pa.array(micros, pa.timestamp("us", tz="UTC")),
            "warehouse": pa.DictionaryArray.from_arrays(pa.array(level // per_warehouse), names).cast(pa.string()),
            "item_id": pa.DictionaryArray.from_arrays(pa.array(level % per_warehouse), items).cast(pa.string()),
            "change": pa.array(change, pa.int64()),
        }
    )
    return table.sort_by([("warehouse", "ascending"), ("timestamp", "ascending")])  # as the partitions lay it out


def windows(year: pa.Table) -> dict[str, pa.Table]:
    """Each warehouse's rows from the window's first day on: what TransactionWindow.read hands the job."""
    first_day = datetime.combine((AS_OF - timedelta(days=DEFAULT_WINDOW_DAYS)).date(), datetime.min.time(), UTC)
    recent = year.filter(pc.greater_equal(year["timestamp"], pa.scalar(first_day, year.schema.field("timestamp").type)))
    return {w: recent.filter(pc.equal(recent["warehouse"], w)) for w in pc.unique(recent["warehouse"]).to_pylist()}


def measure(levels: int, warehouses: int, rounds: int) -> dict[str, Any]:
    year = year_of_history(levels, warehouses)
    by_warehouse = windows(year)
    long_ago = AS_OF - timedelta(days=DAYS)  # every level is older than the window (its firstSeenAt)
    results: dict[str, pa.Table] = {}

    def the_job() -> None:
        parts = []
        for warehouse, rows in by_warehouse.items():
            seen = {(warehouse, item): long_ago for item in pc.unique(rows["item_id"]).to_pylist()}
            parts.append(daily_rates(rows, as_of=AS_OF, first_seen=seen))
        results["job"] = pa.concat_tables(parts)

    def one_call() -> None:
        results["year"] = daily_rates(year, as_of=AS_OF)

    con = duckdb.connect()
    con.register("history", year)
    start = AS_OF - timedelta(days=DEFAULT_WINDOW_DAYS)
    sql = """
        SELECT warehouse, item_id,
               sum(CASE WHEN "timestamp" > $start AND change < 0 THEN -change ELSE 0 END)::BIGINT AS units_sold
        FROM history WHERE "timestamp" <= $as_of
        GROUP BY warehouse, item_id ORDER BY warehouse, item_id
    """

    def duck() -> None:
        results["duckdb"] = con.sql(sql, params={"start": start, "as_of": AS_OF}).to_arrow_table()

    timings = interleaved({"job": the_job, "year": one_call, "duckdb": duck}, rounds)
    sold = {name: units_sold(table) for name, table in results.items()}
    if not sold["job"] == sold["year"] == sold["duckdb"]:
        raise AssertionError("the rates differ between the contenders")
    return {
        "levels": levels,
        "rounds": rounds,
        "rows": year.num_rows,
        "year_mb": year.nbytes / 2**20,
        "window_mb": max(t.nbytes for t in by_warehouse.values()) / 2**20,
        "window_rows": sum(t.num_rows for t in by_warehouse.values()),
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "selling": int(pc.sum(pc.greater(results["job"]["units_sold"], 0)).as_py()),
        **{f"{name}_s": timing.best_s for name, timing in timings.items()},
    }


def units_sold(table: pa.Table) -> dict[tuple[str, str], int]:
    """Units sold per level that sold (the job's windows hold no row for a level without a transaction in them)."""
    keys = zip(table["warehouse"].to_pylist(), table["item_id"].to_pylist(), strict=True)
    return {key: sold for key, sold in zip(keys, table["units_sold"].to_pylist(), strict=True) if sold}


def run(quick: bool = False) -> tuple[str, bool]:
    m = measure(2_000 if quick else LEVELS, 10 if quick else WAREHOUSES, 1 if quick else ROUNDS)
    ratio = m["job_s"] / m["duckdb_s"]
    job, year, duck = (f"{m[k]:,.2f} s" for k in ("job_s", "year_s", "duckdb_s"))
    window = f"per warehouse, the window's {m['window_rows']:,} rows only, rates and observed days"
    markdown = f"""## Sales rates and days of cover (issue 23)

{stamp("make bench")} (this suite alone: `make bench ARGS="--only forecast"`)

A year of inventory transactions for **{m["levels"]:,} levels** ({m["rows"]:,} rows, {m["year_mb"]:,.0f} MiB in
Arrow), rates over the {DEFAULT_WINDOW_DAYS}-day window; best of {m["rounds"]}, interleaved. All three give the
same units sold for every level ({m["selling"]:,} levels sold something in the window).

| contender | what it computes | time | ratio |
|---|---|---:|---:|
| baseline: DuckDB SQL | units sold per level in the window, on the year's Arrow table | {duck} | 1.0x |
| the job's way | {window} | {job} | **{ratio:.2f}x** |
| one call over the year | `daily_rates` on all {m["rows"]:,} rows | {year} | {m["year_s"] / m["duckdb_s"]:.2f}x |

Memory: the largest warehouse window the job holds at a time is **{m["window_mb"]:,.1f} MiB** (the Lambda reads
one warehouse, computes, writes, then the next); this benchmark process peaked at {m["peak_rss_mb"]:,.0f} MiB
resident with the whole year generated in memory. Goal: the job's way within {GOAL_RATIO:.0f}x of DuckDB
({"met" if ratio <= GOAL_RATIO else "missed"}). Not timed here: the S3 reads of the window (one GET per inventory
file per warehouse and day) and the rate writes (one UpdateItem per level whose rate changed).
"""
    return markdown, ratio <= GOAL_RATIO

"""Supplier workbooks: the project's calamine reader against pandas.read_excel(engine="openpyxl").

Goal (issue 5): reading a 50,000-row workbook is at least 8x faster than the pandas/openpyxl baseline.
"""

from __future__ import annotations

import io

from benchmarks.common import interleaved, stamp
from loadgen.workbooks import LAYOUTS, supplier_feed
from stock_pipeline.adapters.profiles import bundled_profiles
from stock_pipeline.domain.supplier_feeds import stock_value
from stock_pipeline.domain.workbooks import read_feed_rows

ROWS = 50_000
GOAL = 8.0


def run(quick: bool = False) -> tuple[str, bool]:
    import pandas as pd

    rows = 5_000 if quick else ROWS
    data = supplier_feed("acme", rows, seed=1)
    profile = bundled_profiles()["acme"]
    layout = LAYOUTS["acme"]

    def project() -> int:
        feed = read_feed_rows(data, profile)
        return sum(1 for cell in feed.stock if stock_value(profile.value, cell)[1] is None)

    def baseline() -> int:
        frame = pd.read_excel(
            io.BytesIO(data), sheet_name=layout.sheet, header=layout.header_row - 1, engine="openpyxl"
        )
        return int(pd.to_numeric(frame[layout.columns[layout.stock_column]], errors="coerce").notna().sum())

    assert project() == baseline() == rows  # same file, same answer, before anything is timed
    timings = interleaved({"project": project, "baseline": baseline}, repeat=3)
    ratio = timings["baseline"].best_s / timings["project"].best_s
    met = ratio >= GOAL
    project_ms, baseline_ms = timings["project"].best_s * 1000, timings["baseline"].best_s * 1000
    markdown = f"""
## Supplier workbook reader (issue 5)

{stamp("make bench")} (this suite alone: `make bench ARGS="--only xlsx"`)

One generated acme workbook of {rows:,} rows ({len(data) / 1024 / 1024:.1f} MiB xlsx, header on row 3), read three
times each, interleaved; best run of each.

| reader | what it does | best of 3 |
|---|---|---:|
| project: `read_feed_rows` + value rule (calamine) | two profile columns, stock checked | {project_ms:,.0f} ms |
| baseline: `pandas.read_excel(engine="openpyxl")` | sheet to a DataFrame, stock to numbers | {baseline_ms:,.0f} ms |

**{ratio:.1f}x faster** than the baseline (goal: at least {GOAL:.0f}x) — {"met" if met else "NOT met"}.
"""
    return markdown, met

"""Peak memory of the ingest function per MB of each input kind, and the largest object each kind may be.

Each run is the real ingest handler on one object, in a process of its own (`benchmarks.handler_run`: AWS answered
in-process, so the peak is the handler's own), at two sizes per kind. The peak resident set (VmHWM, what Lambda
reports as Max Memory Used) grows linearly with the object; its slope (MB of memory per MB of input) and its
intercept give the largest object that fits the function's MemorySize with a margin. `domain/objects.py`'s
`MAX_OBJECT_MB` must stay at or under those figures (a unit test reads this page's table).
"""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
import tempfile
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from benchmarks.common import ROOT, stamp

FUNCTION_MB = 1769  # the ingest function's MemorySize (template.yaml)
MARGIN = 0.8  # of MemorySize: Lambda counts the whole process, and the allocator's high-water mark moves
ITEMS = [(f"sku-{n:06d}", f"Article number {n} in blue, size M") for n in range(20_000)]


def inventory(rows: int) -> bytes:
    from loadgen.files import inventory_file

    start = datetime(2026, 12, 1, tzinfo=UTC)
    return inventory_file(rows, start=start, seed=1, warehouses=["Store 01"], items=ITEMS).encode()


def stock_updates_plain(records: int) -> bytes:
    from benchmarks.stock_updates import firehose_object

    return gzip.decompress(firehose_object(records))


def thresholds(entries: int) -> bytes:
    document = {"ThresholdList": [{"ItemId": f"sku-{n:07d}", "RestockIfBelow": 5 + n % 40} for n in range(entries)]}
    return json.dumps(document, indent=2).encode()


def supplier_feed(rows: int) -> bytes:
    from loadgen.workbooks import supplier_feed as feed

    return feed("acme", rows)


def counted(rows: int) -> bytes:
    lines = ["warehouse,item_id,counted\n"] + [f"Store {n % 50:02d},sku-{n:07d},{n % 300}\n" for n in range(rows)]
    return "".join(lines).encode()


def product_table(items: int) -> bytes:
    from loadgen.workbooks import product_table_csv

    return product_table_csv(items)


def store_listings(rows: int) -> bytes:
    from loadgen.workbooks import store_listings_csv

    return store_listings_csv([f"store-{n:03d}" for n in range(10)], ["acme"], rows // 10)


# kind: (object key, generator, the two sizes in the generator's unit)
KINDS: dict[str, tuple[str, Callable[[int], bytes], tuple[int, int]]] = {
    "inventory": ("inventory_files/2026/12/01/20261201080000_inventory.csv", inventory, (100_000, 400_000)),
    # NDJSON as Firehose writes it without compression: a GZIP object is held to the same limit once inflated
    "stock_updates": ("raw/stock-updates/2026/12/01/08/stock-pipeline-plain", stock_updates_plain, (90_000, 360_000)),
    "thresholds": ("restock_thresholds/2026/12/01/restock_thresholds.json", thresholds, (20_000, 80_000)),
    "supplier_feed": ("supplier_feeds/acme/2026/12/01/stock.xlsx", supplier_feed, (50_000, 200_000)),
    "counted": ("stocktakes/2026-12/count.csv", counted, (5_000, 20_000)),
    "product_table": ("reference/product/products.csv", product_table, (50_000, 200_000)),
    "store_listings": ("reference/store/stores.csv", store_listings, (50_000, 200_000)),
}


def measure(key: str, data: bytes) -> dict[str, Any]:
    with tempfile.NamedTemporaryFile() as handle:
        handle.write(data)
        handle.flush()
        command = [sys.executable, "-m", "benchmarks.handler_run", handle.name, "--key", key]
        env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": f"{ROOT / 'src'}:{ROOT}"}
        done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=True, env=env)  # noqa: S603
    return json.loads(done.stdout.strip().splitlines()[-1])


def figures(kind: str, quick: bool = False) -> dict[str, Any]:
    key, make, sizes = KINDS[kind]
    points = []
    for size in sizes if not quick else (sizes[0] // 10, sizes[0] // 5):
        data = make(size)
        run = measure(key, data)
        points.append({"units": size, "mb": len(data) / 1e6, "peak_mb": run["peak_rss_mb"], "s": run["seconds"]})
    (a, b) = points
    slope = (b["peak_mb"] - a["peak_mb"]) / (b["mb"] - a["mb"])
    intercept = a["peak_mb"] - slope * a["mb"]
    largest = (FUNCTION_MB * MARGIN - intercept) / max(slope, 0.1)
    return {"points": points, "slope": slope, "intercept_mb": intercept, "largest_mb": largest}


def run(quick: bool = False) -> tuple[str, bool]:
    from stock_pipeline.domain.objects import MAX_OBJECT_MB

    rows, met = [], True
    for kind in KINDS:
        f = figures(kind, quick)
        limit = MAX_OBJECT_MB[kind]
        ok = limit <= f["largest_mb"]
        met &= ok
        (a, b) = f["points"]
        rows.append(
            f"| `{kind}` | {a['mb']:.1f} MB: {a['peak_mb']:.0f} MB, {a['s']:.1f} s | {b['mb']:.1f} MB: "
            f"{b['peak_mb']:.0f} MB, {b['s']:.1f} s | {f['slope']:.1f} | {f['intercept_mb']:.0f} MB | "
            f"{f['largest_mb']:,.0f} MB | {limit:,} MB{'' if ok else ' (over!)'} |"
        )
    markdown = "\n".join(
        [
            "## Big objects: peak memory per MB of input, and the largest object of each kind",
            "",
            stamp('make bench ARGS="--only object-memory"'),
            "",
            "The real ingest handler on one object in a process of its own (AWS answered in-process), at two sizes;",
            "peak = VmHWM, what Lambda reports as Max Memory Used. Largest = the object whose peak is",
            f"{MARGIN:.0%} of the ingest function's {FUNCTION_MB:,} MB, from the slope and intercept. The limit is",
            "`MAX_OBJECT_MB` in `domain/objects.py`: a larger object is refused before it is read, with a FAILED",
            "notice naming its size and the limit. A supplier feed is measured up to the product table lookup",
            "(the workbook read whole, which is its peak).",
            "",
            "| kind | small object: peak, time | large object: peak, time | MB per MB | intercept | largest | limit |",
            "|---|---|---|---:|---:|---:|---:|",
            *rows,
        ]
    )
    return markdown, met

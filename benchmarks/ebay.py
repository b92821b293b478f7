"""eBay listings: one supplier's regeneration over a store table of 200,000 to 2,000,000 listings.

The store table has 20 stores and 10 suppliers (one Parquet partition per store and supplier, as store uploads
write them), each partition listing its share of the supplier's SKUs. A regeneration for one supplier lists
curated/store/, reads that supplier's 20 partitions and its 20 previous eBay tables, computes quantities and deltas,
and writes 20 eBay tables and 20 revise files; S3 is a moto server on loopback (holding the table outside the
measured process), the supplier's stored stock is handed over as DynamoDB's Query would return it. Baseline,
measured in the same run: reading the same 20 partitions (GET + Parquet decode), the floor any regeneration pays.
Each size runs in a process of its own, so its peak memory is its own.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import time
from typing import Any

from benchmarks.common import BENCH_ENVIRONMENT, ROOT, isolate, stamp

SIZES = (200_000, 600_000, 2_000_000)
STORES, SUPPLIERS = 20, 10
GOAL_RATIO, GOAL_PEAK_MB = 10.0, 1769  # within 10x of merely reading, within the ingest function's memory
RESULTS_JSON = ROOT / "docs" / "benchmarks.json"


STORE_NAMES = [f"store-{n:02d}" for n in range(STORES)]
SUPPLIER_NAMES = [f"supplier-{n:02d}" for n in range(SUPPLIERS)]
CHOSEN = SUPPLIER_NAMES[3]


def peak_rss_mb() -> float:
    """This process's peak resident memory (VmHWM: per address space, so not inherited across fork and exec the
    way getrusage's ru_maxrss is)."""
    for line in open("/proc/self/status").read().splitlines():  # noqa: SIM115
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def client(endpoint: str) -> Any:
    import boto3

    return boto3.client(
        "s3",
        region_name="eu-central-1",
        endpoint_url=endpoint,
        aws_access_key_id=BENCH_ENVIRONMENT["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=BENCH_ENVIRONMENT["AWS_SECRET_ACCESS_KEY"],
    )


def populate(listings: int, endpoint: str) -> float:
    """The store table in the moto server's bucket, as store uploads leave it; returns its size in MB."""
    import pyarrow.compute as pc

    from loadgen.workbooks import store_listings_table
    from stock_pipeline.adapters.lake import LakeWriter
    from stock_pipeline.adapters.s3 import ObjectStore
    from stock_pipeline.domain.listings import STORE_DATASET, STORE_FILE

    s3 = client(endpoint)
    BUCKET = f"bench-ebay-{listings}"  # one moto for all sizes: a bucket each
    s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "eu-central-1"})
    lake = LakeWriter(None, BUCKET, store=ObjectStore(s3))
    table = store_listings_table(STORE_NAMES, SUPPLIER_NAMES, listings // (STORES * SUPPLIERS))
    total = 0
    for s in STORE_NAMES:
        for p in SUPPLIER_NAMES:
            rows = table.filter(pc.and_(pc.equal(table["ebay_store"], s), pc.equal(table["supplier"], p)))
            path, _ = lake.replace_partition(
                rows, STORE_DATASET, {"ebay_store": s, "supplier": p}, STORE_FILE, order="1"
            )
            total += s3.head_object(Bucket=BUCKET, Key=path.split(f"s3://{BUCKET}/", 1)[1])["ContentLength"]
    return total / 1024 / 1024


def measure(listings: int, endpoint: str) -> dict[str, Any]:
    """In a process of its own: the regeneration (three runs) and the read floor, against the moto server."""
    isolate()
    import io
    from datetime import UTC, datetime

    import pyarrow as pa
    import pyarrow.parquet as pq

    from loadgen.workbooks import custom_label
    from stock_pipeline.adapters.lake import LakeWriter
    from stock_pipeline.adapters.s3 import ObjectStore
    from stock_pipeline.domain.listings import STORE_DATASET, STORE_FILE
    from stock_pipeline.domain.objects import ObjectRef
    from stock_pipeline.listings import ListingsContext, regenerate_ebay

    per_partition = listings // (STORES * SUPPLIERS)
    BUCKET = f"bench-ebay-{listings}"

    class Stock:  # the supplier's stored stock, as the table's Query returns it; the notice ledger in memory
        def __init__(self) -> None:
            self.quantity, self.sent = 7, set()

        def stock_of_supplier(self, supplier: str) -> list[dict[str, Any]]:
            when = f"2026-11-26T0{self.quantity % 9}:00:00.000Z"
            return [
                {"customLabel": custom_label(k), "quantity": (k * self.quantity) % 500, "updatedAt": when}
                for k in range(int(per_partition * 0.9))  # the latest feed lacks a tenth of the SKUs
            ]

        def notice_sent(self, key: str, etag: str) -> bool:
            return (key, etag) in self.sent

        def record_notice(self, key: str, etag: str, **_: Any) -> None:
            self.sent.add((key, etag))

    class Notices:
        def publish(self, subject: str, message: str, attributes: Any) -> str:
            return "id"

    class Profiles:
        def profiles(self) -> dict[str, Any]:
            return {}

    store = ObjectStore(client(endpoint))
    stock = Stock()
    ctx = ListingsContext(
        BUCKET, "curated/", store, LakeWriter(None, BUCKET, store=store), stock, Profiles(), Notices()
    )
    keys = [f"curated/{STORE_DATASET}/ebay_store={s}/supplier={CHOSEN}/{STORE_FILE}" for s in STORE_NAMES]

    def read_floor() -> int:
        return sum(pq.read_table(io.BytesIO(store.read_object(BUCKET, k))).num_rows for k in keys)

    read_floor()  # warm: imports and connections, before the memory baseline
    rss_before = peak_rss_mb()
    floor_s, generation_s = [], []
    for n in range(3):  # the first run finds no previous tables, the others do
        started = time.perf_counter()
        read_floor()
        floor_s.append(time.perf_counter() - started)
        stock.quantity = 7 + n
        run = ObjectRef(bucket=BUCKET, key=f"supplier_feeds/{CHOSEN}/2026/11/2{n}/stock.xlsx", etag=f"e{n}")
        started = time.perf_counter()
        runs = regenerate_ebay(ctx, CHOSEN, run=run, now=datetime.now(UTC))
        generation_s.append(time.perf_counter() - started)
    return {
        "listings": listings,
        "supplier_listings": sum(r.listings for r in runs),
        "changed": sum(r.changed for r in runs),
        "stores": len(runs),
        "read_s": min(floor_s),
        "generation_s": min(generation_s[1:]),
        "first_generation_s": generation_s[0],
        "rss_before_mb": rss_before,
        "rss_peak_mb": peak_rss_mb(),
        "arrow_peak_mb": pa.default_memory_pool().max_memory() / 1024 / 1024,
    }


def run(quick: bool = False) -> tuple[str, bool]:
    sizes = (20_000, 40_000) if quick else SIZES
    import socket

    from moto.server import ThreadedMotoServer

    results = []
    for size in sizes:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
        server.start()
        endpoint = f"http://127.0.0.1:{port}"
        try:
            table_mb = populate(size, endpoint)
            completed = subprocess.run(  # noqa: S603 (this interpreter, this module)
                [sys.executable, "-m", "benchmarks.ebay", str(size), endpoint],
                cwd=ROOT,
                capture_output=True,
                text=True,
                check=True,
                env={"PYTHONPATH": f"{ROOT / 'src'}:{ROOT}", "PATH": "/usr/bin:/bin"},
            )
        finally:
            server.stop()
        results.append({**json.loads(completed.stdout.strip().splitlines()[-1]), "store_table_mb": table_mb})
    largest = results[-1]
    ratio = largest["generation_s"] / largest["read_s"]
    if not quick:
        kept = json.loads(RESULTS_JSON.read_text()) if RESULTS_JSON.exists() else {}
        RESULTS_JSON.write_text(json.dumps({**kept, "ebay": results}, indent=2) + "\n")
    rows = "\n".join(
        f"| {r['listings']:,} | {r['store_table_mb']:,.0f} MB | {r['supplier_listings']:,} "
        f"| {r['read_s'] * 1000:,.0f} ms "
        f"| {r['generation_s'] * 1000:,.0f} ms | {r['generation_s'] / r['read_s']:.1f}x "
        f"| {r['generation_s'] / r['supplier_listings'] * 1e6:.1f} µs | {r['rss_peak_mb']:,.0f} MB "
        f"(+{r['rss_peak_mb'] - r['rss_before_mb']:,.0f}) | {r['arrow_peak_mb']:,.0f} MB |"
        for r in results
    )
    growth = largest["generation_s"] / results[0]["generation_s"]
    scale = largest["listings"] / results[0]["listings"]
    met = ratio <= GOAL_RATIO and largest["rss_peak_mb"] <= GOAL_PEAK_MB
    markdown = f"""## eBay listings: one supplier's regeneration

{stamp("make bench")} (this suite alone: `make bench ARGS="--only ebay"`)

{STORES} stores x {SUPPLIERS} suppliers, one store partition each; one supplier regenerated (its {STORES} partitions
read, {STORES} eBay tables and revise files written; S3 is a moto server on loopback). Times are the best of the
runs that find a previous table; memory is the measuring process's peak RSS (Python, boto3, Arrow), and in brackets
what the regeneration added to it after a first read of the partitions.

| listings | Parquet | supplier's | baseline: read them | regeneration | ratio | per listing | peak RSS | Arrow |
|---:|---:|---:|---:|---:|---:|---:|---:|---:|
{rows}

From {results[0]["listings"]:,} to {largest["listings"]:,} listings ({scale:.0f}x) the regeneration takes
{growth:.1f}x as long: it grows with the supplier's listings, not with the table (it reads only that supplier's
partitions). Goals: within {GOAL_RATIO:.0f}x of reading the partitions and under the ingest function's
{GOAL_PEAK_MB:,} MB ({"met" if met else "missed"}).
"""
    return markdown, met


if __name__ == "__main__":
    print(json.dumps(measure(int(sys.argv[1]), sys.argv[2])))

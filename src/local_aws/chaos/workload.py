"""The reference workload `make chaos` runs twice (clean, then under faults): every input kind, in phases.

Everything in it is fixed by the seed (record timestamps come from a clock that advances one millisecond per
record, so no two records of a key tie), and its phases are drained one after the other, so what *should* come out
does not depend on the order the pipeline happens to process things in: deliveries before sales, sales (only
negative changes) before the thresholds change. A difference between the two runs is then the faults' doing.
"""

from __future__ import annotations

import json
import random
import time
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from loadgen.files import HEADER, inventory_file, inventory_key, thresholds_file, thresholds_key
from loadgen.kdg import Renderer
from loadgen.sender import FirehoseSender, batches
from loadgen.workbooks import feed_key, product_table_csv, store_listings_csv, supplier_feed
from local_aws import stepfunctions as local_stepfunctions
from local_aws.stack import LocalStack

# KDG's template with smaller ranges: about 3,000 article keys, so 20,000 records hit most keys several times and
# newer-wins decides between records of different objects.
CHAOS_TEMPLATE = (
    '{"accountId": {{random.number(4)}}, "retailerId": "retailer-{{random.number(5)}}", '
    '"channelId": {{random.number(3)}}, "productId": "{{random.number(1000)}}", '
    '"articleId": {{random.number(24)}}, "articleNumber": {{random.number(1000)}}, '
    '"lastUpdated": "{{date.utc(\'YYYY-MM-DDTHH:mm:ss.SSSZ\')}}", "quantity": {{random.number(100)}}}'
)
WAREHOUSES = ("Berlin 1", "Borkum 1", "Hamburg 2", "München 3")
START = datetime(2026, 11, 30, 6, 0, tzinfo=UTC)
SUPPLIERS = ("acme", "northwind")
STORES = ("Shop UK", "Shop DE")


@dataclass(frozen=True)
class Size:
    records: int = 20_000
    firehose_objects: int = 8
    inventory_files: int = 20
    reuploads: int = 4
    items: int = 30
    rows_per_file: int = 60
    feed_items: int = 120

    @classmethod
    def small(cls) -> Size:
        """The variant `make test` runs (about a minute for both runs)."""
        return cls(
            records=1_500, firehose_objects=3, inventory_files=6, reuploads=2, items=8, rows_per_file=20, feed_items=30
        )


@dataclass
class Run:
    """What the workload did: the inputs it uploaded (key -> ETag), the e-mail inboxes, the validation's result."""

    uploads: dict[str, str] = field(default_factory=dict)
    validation: dict[str, Any] = field(default_factory=dict)
    inboxes: dict[str, Any] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)


def items(size: Size) -> list[tuple[str, str]]:
    return [(f"c{n:04d}", f"Chaos item {n}") for n in range(size.items)]


def kdg_objects(size: Size, seed: int) -> list[list[str]]:
    """The records in Firehose-object-sized chunks, in the order they are sent: shuffled, so older objects arrive
    after newer ones."""
    moment = iter(START + timedelta(milliseconds=n) for n in range(size.records))
    renderer = Renderer(seed, clock=lambda: next(moment))
    render = renderer.compile(CHAOS_TEMPLATE)
    records = [render() for _ in range(size.records)]
    per = -(-size.records // size.firehose_objects)
    chunks = [records[n : n + per] for n in range(0, size.records, per)]
    random.Random(seed).shuffle(chunks)
    return chunks


def inventory_files(size: Size, seed: int) -> list[tuple[str, str]]:
    """One delivery file (every level up), then sales files (only negative changes), one of them with a bad row."""
    catalogue = items(size)
    delivery = HEADER + "".join(
        f"{START:%Y-%m-%dT%H:%M:%S}+00:00\t{wh}\t{item}\t{name}\t40\n" for wh in WAREHOUSES for item, name in catalogue
    )
    files = [(inventory_key(START), delivery)]
    for n in range(1, size.inventory_files):
        when = START + timedelta(hours=1, minutes=n)
        body = inventory_file(size.rows_per_file, start=when, seed=seed * 1000 + n, sales=True, items=catalogue)
        if n == 1:
            body += f"{when:%Y-%m-%dT%H:%M:%S}+00:00\tBerlin 1\tc0000\tChaos item 0\tminus three\n"
        files.append((inventory_key(when), body))
    return files


def thresholds_changes(size: Size) -> list[dict[str, int]]:
    """Two changes a day apart: each raises the thresholds of a third of the items."""
    catalogue = [item for item, _ in items(size)]
    return [
        {item: 25 for item in catalogue[: max(1, len(catalogue) // 3)]},
        {item: 35 for item in catalogue[len(catalogue) // 3 : max(2, 2 * len(catalogue) // 3)]},
    ]


def run(stack: LocalStack, size: Size, seed: int) -> Run:
    """Drive the stack through the workload with its public entry points (Firehose, S3 uploads, the schedule)."""
    out, result = stack.outputs, Run()
    s3, bucket = stack.client("s3"), out["DataBucketName"]
    for name, topic in (("restock", "RestockTopicArn"), ("feeds", "FeedStatusTopicArn")):
        result.inboxes[name] = stack.inbox(out[topic], name=f"chaos-{name}")

    def upload(key: str, body: bytes) -> None:
        result.uploads[key] = s3.put_object(Bucket=bucket, Key=key, Body=body)["ETag"].strip('"')

    def phase(name: str) -> None:
        began = time.monotonic()
        stack.drain()
        local_stepfunctions.wait_for_executions()
        stack.drain()
        result.seconds[name] = result.seconds.get(name, 0.0) + time.monotonic() - began

    # 1. KDG records through Firehose: one object per chunk, older objects after newer ones
    sender = FirehoseSender(stack.client("firehose"), out["StockUpdatesStreamName"])
    for chunk in kdg_objects(size, seed):
        for batch in batches(r.encode() for r in chunk):
            if sender.put(batch).failed:
                raise RuntimeError("Firehose refused records of the workload")
        assert stack.firehose is not None
        stack.firehose.flush_all()
    phase("stock updates")
    # ... and two objects delivered again: the same key (S3 announces it again) and a copy under a new key (what a
    # Firehose retry of a delivery writes)
    raw = sorted(o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix="raw/stock-updates/").get("Contents", []))
    for n, key in enumerate(raw[:2]):
        body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        upload(key if n == 0 else key + "-redelivered", body)
    phase("stock updates")

    # 2. inventory: thresholds and deliveries, then the sales files, then some of them uploaded again
    upload(thresholds_key(START - timedelta(days=1)), thresholds_file({items(size)[0][0]: 12}).encode())
    files = inventory_files(size, seed)
    upload(*_encoded(files[0]))
    phase("inventory")
    for key, body in files[1:]:
        upload(key, body.encode())
    phase("inventory")
    for key, body in random.Random(seed).sample(files[1:], min(size.reuploads, len(files) - 1)):
        upload(key, body.encode())
    phase("inventory")

    # 3. two thresholds changes, each starting the re-evaluation workflow
    for n, change in enumerate(thresholds_changes(size)):
        upload(thresholds_key(START + timedelta(days=n)), thresholds_file(change).encode())
        phase("thresholds")

    # 4. the product table, two supplier feeds, the store listings (eBay tables and revise files)
    upload("reference/product/products.csv", product_table_csv(size.feed_items * 2, SUPPLIERS))
    phase("supplier feeds")
    day = date(2026, 11, 30)
    for n, supplier in enumerate(SUPPLIERS):
        upload(feed_key(supplier, day), supplier_feed(supplier, size.feed_items, seed=seed + n))
    phase("supplier feeds")
    upload("reference/store/listings-week.csv", store_listings_csv(list(STORES), SUPPLIERS, size.feed_items + 10))
    phase("supplier feeds")

    # 5. the nightly validation, fired now
    began = time.monotonic()
    arn = stack.fire_schedule("ValidationSchedule")
    local_stepfunctions.wait_for_executions()
    execution = stack.client("stepfunctions").describe_execution(executionArn=arn)
    result.validation = {"status": execution["status"], **json.loads(execution.get("output") or "{}")}
    result.seconds["validation"] = time.monotonic() - began
    phase("validation")
    return result


def _encoded(file: tuple[str, str]) -> tuple[str, bytes]:
    return file[0], file[1].encode()

"""`python -m loadgen`: KDG templates to Firehose at a steady rate, and stock files to a folder or the bucket.

python -m loadgen send --stream <StockUpdatesStreamName> --rate 300 --duration 300      # the real-load profile
python -m loadgen send --local --profile test                                          # against `make up`
python -m loadgen inventory --rows 500 --sales --out files/
python -m loadgen workbook --supplier acme --items 50000 --bucket <DataBucketName>
python -m loadgen store --stores 20 --items 10000 --format parquet --local                # eBay store listings
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from loadgen.files import inventory_file, inventory_key, thresholds_file, thresholds_key
from loadgen.kdg import PROFILES, STOCK_UPDATE_TEMPLATE, Renderer, TemplateError
from loadgen.sender import BILLING_INCREMENT, FirehoseSender, RateLimiter, run
from loadgen.workbooks import (
    SUPPLIERS,
    feed_key,
    product_table_csv,
    store_listings_csv,
    store_listings_parquet,
    supplier_feed,
)

LOCAL_STATE = Path(".local-stack.json")


def aws_session(args: argparse.Namespace) -> tuple[Any, dict[str, str], str | None]:
    """Standard AWS credentials, or the local stack described by `make up` (`--local`)."""
    import boto3

    if args.local:
        state = json.loads(Path(args.local).read_text())
        session = boto3.session.Session(region_name=state["region"], **state["credentials"])
        return session, state["outputs"], state["endpoint"]
    return boto3.session.Session(region_name=args.region), {}, args.endpoint_url


def connection_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--local",
        nargs="?",
        const=str(LOCAL_STATE),
        metavar="STATE_FILE",
        help="send to the local stack of `make up` (reads .local-stack.json)",
    )
    parser.add_argument("--region", help="AWS region (default: from your AWS configuration)")
    parser.add_argument("--endpoint-url", help="another endpoint (e.g. a moto server)")


def send(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    template = Path(args.template).read_text().strip() if args.template else STOCK_UPDATE_TEMPLATE
    renderer = Renderer(args.seed)
    try:
        render = renderer.compile(template)
        render()  # a helper that fails on its arguments fails now, not after the first batch
    except TemplateError as exc:
        print(f"template error: {exc}", file=sys.stderr)
        return 2
    profile = PROFILES.get(args.profile) if args.profile else None
    rate = args.rate or (profile.records_per_second if profile else 10)
    duration = args.duration or (profile.buffer_seconds if profile and not args.count else None)
    if args.count is None and duration is None:
        print("give --count, --duration or --profile", file=sys.stderr)
        return 2
    session, outputs, endpoint = aws_session(args)
    stream = args.stream or outputs.get("StockUpdatesStreamName")
    if not stream:
        print("give --stream (the StockUpdatesStreamName output of the stack)", file=sys.stderr)
        return 2
    client = session.client("firehose", endpoint_url=endpoint)
    sender = FirehoseSender(client, stream)
    total = args.count or int(rate * duration)
    with tqdm(total=total, unit="rec", desc=f"PutRecordBatch -> {stream}", disable=args.quiet) as bar:

        def progress(outcome: Any, elapsed: float) -> None:
            bar.update(outcome.sent + outcome.failed)
            bar.set_postfix(rate=f"{bar.n / elapsed:.0f}/s" if elapsed else "-", failed=outcome.failed)

        summary = run(
            render,
            sender,
            RateLimiter(rate),
            count=args.count,
            duration_s=None if args.count else duration,
            newline=args.newline,
            pack_bytes=args.pack,
            on_batch=progress,
        )
    print(summary.line(), flush=True)
    return 0 if summary.failed == 0 else 1


def write_files(args: argparse.Namespace, files: list[tuple[str, bytes]]) -> int:
    """To a folder (keys become paths) or to the bucket (keys as the pipeline expects them)."""
    if args.out:
        for key, body in files:
            path = Path(args.out) / key
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(body)
            print(path)
        return 0
    session, outputs, endpoint = aws_session(args)
    bucket = args.bucket or outputs.get("DataBucketName")
    if not bucket:
        print("give --out DIR or --bucket (the DataBucketName output of the stack)", file=sys.stderr)
        return 2
    s3 = session.client("s3", endpoint_url=endpoint)
    for key, body in files:
        s3.put_object(Bucket=bucket, Key=key, Body=body)
        print(f"s3://{bucket}/{key}")
    return 0


def generate(args: argparse.Namespace) -> int:
    now = datetime.now(UTC)
    if args.command == "inventory":
        body = inventory_file(args.rows, start=now, seed=args.seed, sales=args.sales)
        files = [(inventory_key(now), body.encode())]
    elif args.command == "thresholds":
        thresholds = dict(item.split("=", 1) for item in args.item) if args.item else {"a123v5": "25"}
        files = [(thresholds_key(now), thresholds_file({k: int(v) for k, v in thresholds.items()}).encode())]
    elif args.command == "workbook":
        body = supplier_feed(args.supplier, args.items, seed=args.seed, unmapped=args.unmapped)
        files = [(feed_key(args.supplier, now.date()), body)]
    elif args.command == "store":
        stores = [f"store-{n + 1}" for n in range(args.stores)]
        suppliers = list(SUPPLIERS)[: args.suppliers]
        make = store_listings_parquet if args.format == "parquet" else store_listings_csv
        files = [(f"reference/store/listings-{now:%Y-%m-%d}.{args.format}", make(stores, suppliers, args.items))]
    else:
        files = [(f"reference/product/products-{now:%Y-%m}.csv", product_table_csv(args.items))]
    return write_files(args, files)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m loadgen", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    commands = parser.add_subparsers(dest="command", required=True)

    s = commands.add_parser("send", help="render a KDG template and send the records to Firehose")
    s.add_argument("--stream", help="Firehose stream name (default with --local: the stack's stream)")
    s.add_argument("--template", help="a file with one KDG record template (default: the design's template)")
    s.add_argument("--profile", choices=sorted(PROFILES), help="KDG profile: its rate and its buffer as duration")
    s.add_argument("--rate", type=float, help="records per second (default: the profile's, else 10)")
    s.add_argument("--count", type=int, help="send this many records")
    s.add_argument("--duration", type=float, help="send for this many seconds")
    s.add_argument("--seed", type=int, help="repeatable records")
    s.add_argument("--newline", action="store_true", help="end each record with a newline (if the stream does not)")
    s.add_argument(
        "--pack",
        nargs="?",
        type=int,
        const=BILLING_INCREMENT,
        metavar="BYTES",
        help=f"pack updates, newline-separated, into Firehose records of at most BYTES (default {BILLING_INCREMENT}:"
        " one 5 KB billing increment holds ~20 updates instead of one)",
    )
    s.add_argument("--quiet", action="store_true", help="no progress bar, only the final line")
    connection_options(s)

    g_inventory = commands.add_parser("inventory", help="an inventory transaction file")
    g_inventory.add_argument("--rows", type=int, default=100)
    g_inventory.add_argument("--sales", action="store_true", help="every row a sale (a negative change)")
    g_thresholds = commands.add_parser("thresholds", help="a restock thresholds file")
    g_thresholds.add_argument("--item", action="append", metavar="ITEM=THRESHOLD", help="repeatable")
    g_workbook = commands.add_parser("workbook", help="a supplier workbook in a bundled profile's layout")
    g_workbook.add_argument("--supplier", choices=SUPPLIERS, default="acme")
    g_workbook.add_argument("--items", type=int, default=1000)
    g_workbook.add_argument("--unmapped", type=int, default=0, help="extra parts the product table does not know")
    g_products = commands.add_parser("products", help="a product table (csv) mapping every bundled supplier")
    g_products.add_argument("--items", type=int, default=1000)
    g_store = commands.add_parser("store", help="eBay store listings: every store lists items 0..n-1 of each supplier")
    g_store.add_argument("--stores", type=int, default=2)
    g_store.add_argument("--suppliers", type=int, default=len(SUPPLIERS), help=f"the first N of {', '.join(SUPPLIERS)}")
    g_store.add_argument("--items", type=int, default=100, help="listings per store and supplier")
    g_store.add_argument("--format", choices=("csv", "parquet"), default="csv")
    for sub in (g_inventory, g_thresholds, g_workbook, g_products, g_store):
        sub.add_argument("--seed", type=int)
        target = sub.add_mutually_exclusive_group()
        target.add_argument("--out", help="write into this folder (the bucket's key layout below it)")
        target.add_argument("--bucket", help="upload to this bucket (default with --local: the stack's)")
        connection_options(sub)

    args = parser.parse_args(argv)
    return send(args) if args.command == "send" else generate(args)


if __name__ == "__main__":
    sys.exit(main())

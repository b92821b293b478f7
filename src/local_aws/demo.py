"""`make demo`: KDG-style stock updates through Firehose on the local stack, then a summary of what landed."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from loadgen.files import HEADER, ITEMS, WAREHOUSES, inventory_file, inventory_key, thresholds_file, thresholds_key
from loadgen.kdg import PROFILES, render_records
from loadgen.sender import FirehoseSender, batches
from loadgen.workbooks import SUPPLIERS, feed_key, product_table_csv, store_listings_csv, supplier_feed
from local_aws.stack import LocalStack


def malformed_records() -> list[str]:
    """What real feeds contain now and then: each of these must be rejected with its reason."""
    return [
        '{"accountId": 1, "retailerId": "retailer-1", "channelId": 1, "productId": "1", "articleId": 1, '
        '"articleNumber": 1, "lastUpdated": "2026-01-01T00:00:00.000+00:00", "quantity": -5}',
        '{"accountId": "one", "retailerId": "retailer-1"}',
        '{"accountId": 1, "retailerId": "retailer-1", "channelId": 1, "productId": "1", "articleId": 1, '
        '"articleNumber": 1',
    ]


def send(stack: LocalStack, records: Sequence[str], progress: Any) -> int:
    """All at once (the local Firehose buffers them), with the load generator's batching and retries."""
    sender = FirehoseSender(stack.client("firehose"), stack.outputs["StockUpdatesStreamName"])
    failed = 0
    for batch in batches(r.encode() for r in records):
        failed += sender.put(batch).failed
        progress.update(len(batch))
    return failed


def summary(stack: LocalStack, sent: Sequence[str]) -> dict[str, Any]:
    import awswrangler as wr

    out = stack.outputs
    bucket, table = out["DataBucketName"], out["StockTableName"]
    s3, ddb = stack.client("s3"), stack.client("dynamodb")
    rejected = 0
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix="rejected/"):
        for obj in page.get("Contents", []):
            rejected += s3.get_object(Bucket=bucket, Key=obj["Key"])["Body"].read().count(b"\n")
    articles = set()
    for text in sent:
        try:
            r = json.loads(text)
            if isinstance(r.get("quantity"), int) and r["quantity"] >= 0:
                articles.add((r["retailerId"], r["accountId"], r["articleId"], r["channelId"]))
        except (json.JSONDecodeError, KeyError, TypeError):
            continue
    items = sum(page["Count"] for page in ddb.get_paginator("scan").paginate(TableName=table, Select="COUNT"))
    wr.config.s3_endpoint_url = stack.endpoint
    lake = wr.s3.read_parquet(f"s3://{bucket}/curated/stock_latest/", dataset=True, boto3_session=stack.session)
    files = sum(
        page.get("KeyCount", 0)
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix="curated/stock_latest/")
    )
    sample = lake.sort_values("last_updated", ascending=False).head(5)
    return {
        "records sent": len(sent),
        "records rejected": rejected,
        "distinct articles": len(articles),
        "DynamoDB items": items,
        "Parquet rows": len(lake),
        "Parquet files": files,
        "sample": sample[["retailer_id", "account_id", "article_id", "channel_id", "quantity", "last_updated"]],
    }


def stock_files(stack: LocalStack, seed: int) -> list[str]:
    """A thresholds file and four hours of warehouse files: deliveries first, then sales that cross thresholds.

    The hours are the last four that have passed (not this morning's: before 09:00 UTC its sales would lie in the
    future, outside the nightly forecast's window, and the demo would show nothing selling)."""
    s3, bucket = stack.client("s3"), stack.outputs["DataBucketName"]
    start = (datetime.now(UTC) - timedelta(hours=4)).replace(minute=0, second=0, microsecond=0)
    uploads = [(thresholds_key(start), thresholds_file({"a123v5": 25, "g45678": 100, "h99001": 15}))]
    deliveries = {wh: [(item, 30) for item, _ in ITEMS] for wh in WAREHOUSES}
    text = HEADER + "".join(
        f"{start:%Y-%m-%dT%H:%M:%S}+00:00\t{wh}\t{item}\t{dict(ITEMS)[item]}\t{qty}\n"
        for wh, rows in deliveries.items()
        for item, qty in rows
    )
    uploads.append((inventory_key(start), text))
    for n in range(1, 4):
        when = start + timedelta(hours=n)
        uploads.append((inventory_key(when), inventory_file(40, start=when, seed=seed + n, sales=True)))
    for key, body in uploads:
        s3.put_object(Bucket=bucket, Key=key, Body=body.encode())
    return [key for key, _ in uploads]


def executions(stack: LocalStack) -> list[tuple[str, str, str]]:
    sfn = stack.client("stepfunctions")
    found = []
    for execution in sfn.list_executions(stateMachineArn=stack.outputs["ReevaluateStateMachineArn"])["executions"]:
        described = sfn.describe_execution(executionArn=execution["executionArn"])
        found.append((execution["name"], described["status"], described.get("output", "")))
    return found


def nightly_validation(stack: LocalStack) -> tuple[str, dict[str, Any], list[dict[str, Any]]]:
    """The 03:00 UTC schedule, fired now: the validation of every inventory file the demo uploaded."""
    from local_aws import stepfunctions as local_stepfunctions

    inbox = stack.inbox(stack.outputs["ValidationTopicArn"], name="demo-validation-inbox")
    arn = stack.fire_schedule("ValidationSchedule")
    local_stepfunctions.wait_for_executions()
    execution = stack.client("stepfunctions").describe_execution(executionArn=arn)
    return execution["status"], json.loads(execution.get("output") or "{}"), inbox.read()


def nightly_forecast(stack: LocalStack) -> tuple[dict[str, Any], str]:
    """The 04:30 UTC schedule, fired now: sales rates onto the levels; then the stock-outs report of the week."""
    from local_aws import stepfunctions as local_stepfunctions
    from stockctl.stack import ReportsClient

    arn = stack.fire_schedule("ForecastSchedule")
    local_stepfunctions.wait_for_executions()
    execution = stack.client("stepfunctions").describe_execution(executionArn=arn)
    client = ReportsClient(stack.outputs["ReportsApiUrl"], stack.session, stack.region)
    _, _, body = client.get("/forecast/stockouts", {"within_days": 7, "limit": 10}, csv=True)
    return {"status": execution["status"], **json.loads(execution.get("output") or "{}")}, body.decode()


def stock_table(stack: LocalStack) -> Any:
    import pandas as pd

    ddb = stack.client("dynamodb")
    rows = []
    for warehouse in WAREHOUSES:
        for page in ddb.get_paginator("query").paginate(
            TableName=stack.outputs["StockTableName"],
            KeyConditionExpression="PK = :pk",
            ExpressionAttributeValues={":pk": {"S": f"WH#{warehouse}"}},
        ):
            for item in page["Items"]:
                rows.append(
                    {
                        "warehouse": warehouse,
                        "item": item["itemId"]["S"],
                        "name": item["itemName"]["S"],
                        "level": int(item["quantity"]["N"]),
                        "alerted": item.get("belowThreshold", {}).get("BOOL", False),
                    }
                )
    return pd.DataFrame(rows)


def supplier_feeds(stack: LocalStack, seed: int) -> tuple[list[dict[str, Any]], Any, Any]:
    """The product table, a workbook per bundled supplier profile, then acme's corrected workbook of the day."""
    import awswrangler as wr
    import pandas as pd

    s3, bucket = stack.client("s3"), stack.outputs["DataBucketName"]
    notices = stack.inbox(stack.outputs["FeedStatusTopicArn"], name="demo-feed-status")
    s3.put_object(Bucket=bucket, Key="reference/product/products.csv", Body=product_table_csv(300))
    stack.drain()
    today = datetime.now(UTC).date()
    for n, supplier in enumerate(SUPPLIERS):
        body = supplier_feed(supplier, 250, seed=seed + n, unmapped=3 if supplier == "acme" else 0)
        s3.put_object(Bucket=bucket, Key=feed_key(supplier, today), Body=body)
    s3.put_object(
        Bucket=bucket, Key=feed_key("acme", today, "stock-corrected"), Body=supplier_feed("acme", 250, seed=0)
    )
    # a workbook that does not match its profile: the notice says why
    s3.put_object(Bucket=bucket, Key=feed_key("globex", today, "wrong-layout"), Body=supplier_feed("acme", 5))
    stack.drain()
    ddb = stack.client("dynamodb")
    items = ddb.query(
        TableName=stack.outputs["StockTableName"],
        KeyConditionExpression="PK = :pk",
        ExpressionAttributeValues={":pk": {"S": "SUP#acme"}},
        Limit=5,
    )["Items"]
    stock = pd.DataFrame(
        [
            {
                "custom_label": i["customLabel"]["S"],
                "quantity": int(i["quantity"]["N"]),
                "quantityDelta": int(i["quantityDelta"]["N"]),
                "updatedAt": i["updatedAt"]["S"],
            }
            for i in items
        ]
    )
    wr.config.s3_endpoint_url = stack.endpoint
    lake = wr.s3.read_parquet(f"s3://{bucket}/curated/supplier_stock/", dataset=True, boto3_session=stack.session)
    per_day = lake.groupby(["supplier", "year", "month", "day"], observed=True).size().rename("rows").reset_index()
    return notices.read(), stock, per_day


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(prog="make demo", description=__doc__)
    parser.add_argument("--profile", choices=sorted(PROFILES), default="test", help="KDG load profile (default: test)")
    parser.add_argument("--records", type=int, help="records to send (default: one buffer of the profile)")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--no-bad", action="store_true", help="do not mix in malformed records")
    parser.add_argument("--report", default="reports/stock-report.html", help="where to write the HTML report")
    args = parser.parse_args(argv)

    from tqdm import tqdm

    profile = PROFILES[args.profile]
    count = args.records or profile.records_per_buffer
    records = render_records(count, seed=args.seed)
    if not args.no_bad:
        records += malformed_records()
    print(
        f"Profile {profile.name}: {profile.records_per_second} records/s, {profile.buffer_seconds} s Firehose buffer "
        f"-> {count} records (sent at once; the local Firehose flushes when the pipeline is drained)."
    )
    with LocalStack(function_environment={"POWERTOOLS_LOG_LEVEL": "WARNING"}) as stack:
        counts = {
            how: sum(1 for i in stack.inventory if i.how == how) for how in ("cloudformation", "local", "not emulated")
        }
        print(
            f"Local stack from template.yaml at {stack.endpoint}: {counts['cloudformation']} resources by "
            f"CloudFormation (moto), {counts['local']} filled in locally, {counts['not emulated']} not emulated."
        )
        with tqdm(total=len(records), desc="Firehose PutRecordBatch", unit="rec") as bar:
            failed = send(stack, records, bar)
        with tqdm(desc="S3 -> SQS -> Lambda", unit="msg") as bar:
            stack.drain(on_progress=bar.update)
        result = summary(stack, records)
        inbox = stack.inbox(stack.outputs["RestockTopicArn"], name="demo-inbox")
        uploaded = stock_files(stack, args.seed)
        with tqdm(desc="stock files -> levels -> alerts", unit="msg") as bar:
            stack.drain(on_progress=bar.update)
        levels = stock_table(stack)
        emails = inbox.read()
        raised = {"k20002": 40, "m30303": 40}  # purchasing raises two thresholds: stock unchanged, alerts now
        day = datetime.now(UTC) + timedelta(days=1)
        stack.client("s3").put_object(
            Bucket=stack.outputs["DataBucketName"], Key=thresholds_key(day), Body=thresholds_file(raised).encode()
        )
        with tqdm(desc="thresholds -> Step Functions re-evaluation", unit="msg") as bar:
            stack.drain(on_progress=bar.update)
        workflow_runs = executions(stack)
        workflow_emails = inbox.read()
        with tqdm(desc="supplier workbooks -> supplier stock", unit="msg") as bar:
            feed_notices, supplier_stock, supplier_days = supplier_feeds(stack, args.seed)
            bar.update(len(feed_notices))
        ebay_notices, ebay_changed, revise_lines = ebay_listings(stack)
        answers = three_reports(stack)
        validation_status, validation, validation_emails = nightly_validation(stack)
        rates, stockouts = nightly_forecast(stack)
        history_title, history = item_history(stack)
        write_report(stack, Path(args.report))
        console = (stack.outputs["ConsoleUrl"], dict(stack.console_credentials or {}))
    result["records failed to send"] = failed
    sample = result.pop("sample")
    width = max(len(k) for k in result)
    print("\nSummary")
    for key, value in result.items():
        print(f"  {key:<{width}}  {value}")
    print("\nLatest stock (sample, from the Parquet lake):")
    print(sample.to_string(index=False))
    print(f"\nUploaded {len(uploaded)} stock files: " + ", ".join(uploaded))
    print("\nStock levels per warehouse (DynamoDB):")
    print(levels.pivot_table(index="item", columns="warehouse", values="level", aggfunc="sum").to_string())
    print(f"\nRestock e-mails ({len(emails)}, captured through an SQS subscription to the restock topic):")
    for email in emails:
        print(f"  Subject: {email['subject']}")
    if emails:
        print("\n  First message:\n    " + emails[0]["message"].replace("\n", "\n    "))
    print(f"\nThresholds raised for {', '.join(raised)}: re-evaluation runs of the Step Functions workflow")
    for name, status, output in workflow_runs:
        print(f"  {name}  {status}  {output}")
    print(f"Alerts from the re-evaluation ({len(workflow_emails)}):")
    for email in workflow_emails:
        print(f"  Subject: {email['subject']}")
    print(f"\nFeed status notices ({len(feed_notices)}, one per uploaded file):")
    for notice in feed_notices:
        body = json.loads(notice["message"])
        print(f"  [{notice['attributes']['status']}] {notice['subject']}: {body['summary']}")
    print("\nSupplier stock of acme (DynamoDB, after the corrected workbook; quantityDelta = latest - previous):")
    print(supplier_stock.to_string(index=False))
    print("\nSupplier stock in the lake (rows per day partition; a re-upload replaces its day):")
    print(supplier_days.to_string(index=False))
    print(f"\nStore listings uploaded after the feeds: {len(ebay_notices)} eBay tables (store x supplier) generated:")
    for notice in ebay_notices:
        print(f"  {notice['subject']}")
    print("\nChanged listings of Shop UK (curated/ebay/, first 8):")
    print(ebay_changed.head(8).to_string(index=False))
    print("\nIts revise file for eBay's bulk upload (first lines):")
    print("  " + "\n  ".join(revise_lines[:5]))
    print(f"\nReports API at {stack.outputs['ReportsApiUrl']} (SigV4-signed requests, as `python -m stockctl` sends):")
    for title, text in answers:
        print(f"  {title}\n    " + text.strip().replace("\n", "\n    "))
    print(
        f"\nNightly validation (the 03:00 UTC schedule, fired now): {validation_status}, "
        f"{validation.get('files', 0)} files, {validation.get('transactions', 0)} transactions checked, "
        f"report s3://{stack.outputs['DataBucketName']}/{validation.get('reportKey', '')}"
    )
    for email in validation_emails:
        print(f"  Subject: {email['subject']}\n    " + email["message"].replace("\n", "\n    "))
    print(
        f"\nNightly forecast (the 04:30 UTC schedule, fired now): {rates['status']}, {rates.get('selling', 0)} of "
        f"{rates.get('levels', 0)} levels selling, rates in {rates.get('lake', '')}"
    )
    print("  GET /forecast/stockouts?within_days=7 (fewest days of cover first, first 10):")
    print("    " + stockouts.strip().replace("\n", "\n    "))
    print(f"\n{history_title}")
    print(history.to_string(index=False))
    print(
        f"\nHTML report (stock over time, sales, rejected rows, levels below threshold, days of cover): {args.report}"
    )
    print(
        f"\nWeb console (while a local stack runs; `make up` keeps one running and prints its own): {console[0]}, "
        f"user {console[1].get('username')}, password {console[1].get('password')}"
    )
    result["history"] = history
    result["forecast"] = {**rates, "stockouts": stockouts}
    result["validation"] = {"status": validation_status, **validation, "emails": validation_emails}
    result["feed_notices"] = feed_notices
    result["sample"] = sample
    result["levels"] = levels
    result["workflow_runs"] = workflow_runs
    result["workflow_emails"] = workflow_emails
    result["emails"] = emails
    return result


def ebay_listings(stack: LocalStack) -> tuple[list[dict[str, Any]], Any, list[str]]:
    """Two eBay stores listing 260 SKUs of each bundled supplier (the feeds hold 250): upload, then the tables."""
    import awswrangler as wr

    s3, bucket = stack.client("s3"), stack.outputs["DataBucketName"]
    inbox = stack.inbox(stack.outputs["FeedStatusTopicArn"], name="demo-ebay")
    s3.put_object(
        Bucket=bucket,
        Key="reference/store/listings-week.csv",
        Body=store_listings_csv(["Shop UK", "Shop DE"], SUPPLIERS, 260),
    )
    stack.drain()
    notices = [n for n in inbox.read() if n["subject"].startswith("eBay listings")]
    wr.config.s3_endpoint_url = stack.endpoint
    table = wr.s3.read_parquet(f"s3://{bucket}/curated/ebay/ebay_store=Shop UK/", boto3_session=stack.session)
    changed = table[table["quantity_delta"] != 0][["item_id", "custom_label", "supplier", "quantity", "quantity_delta"]]
    export = next(json.loads(n["message"])["export_key"] for n in notices if "Shop UK" in n["subject"])
    lines = s3.get_object(Bucket=bucket, Key=export)["Body"].read().decode().splitlines()
    return notices, changed.sort_values(["supplier", "item_id"]), [f"s3://{bucket}/{export}", *lines]


def item_history(stack: LocalStack) -> tuple[str, Any]:
    """The busiest warehouse level's changes, from curated/stock_history/ (written by the stream's consumer)."""
    from stockctl import lake_report

    lake = lake_report.read_lake(stack.session, stack.outputs["DataBucketName"], stack.endpoint)
    moves = lake_report.levels(lake.history)
    warehouse, item = moves.groupby(["warehouse", "item_id"]).size().idxmax()
    rows = lake.history[(lake.history["item_id"] == item) & (lake.history["warehouse"] == warehouse)]
    rows = rows.sort_values("sequence").assign(file=lambda r: r["source_key"].str.rsplit("/", n=1).str[-1])
    columns = ["event_time", "old_value", "new_value", "delta", "file", "source_lines"]
    return f"History of {item} in {warehouse} (curated/stock_history/, from the table's stream):", rows[columns]


def write_report(stack: LocalStack, path: Path) -> None:
    from stockctl import lake_report

    lake = lake_report.read_lake(stack.session, stack.outputs["DataBucketName"], stack.endpoint)
    page = lake_report.render_html(lake, lake_report.busiest_items(lake.history), 10, source="the local stack")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(page, encoding="utf-8")


def three_reports(stack: LocalStack) -> list[tuple[str, str]]:
    """Report 1, 2 and 3 through the HTTP API with signed requests, as CSV for a compact print."""
    from stockctl.stack import ReportsClient

    client = ReportsClient(stack.outputs["ReportsApiUrl"], stack.session, stack.region)
    asked = [
        ("1. GET /warehouses/Berlin%201/items", "/warehouses/Berlin%201/items", {}),
        ("2. GET /warehouses/Berlin%201/items?min_quantity=10", "/warehouses/Berlin%201/items", {"min_quantity": 10}),
        ("3. GET /items/a123v5/total", "/items/a123v5/total", {}),
    ]
    answers = []
    for title, path, query in asked:
        status, _, body = client.get(path, query, csv=True)
        answers.append((f"{title} -> HTTP {status}", body.decode()))
    status, _, body = client.get("/items/a123v5/total", {})
    total = json.loads(body)
    answers[-1] = (
        f"{asked[-1][0]} -> HTTP {status}: total {total['total']} over {total['warehouses']} warehouses, "
        f"restock if below {total['restock_if_below']}",
        answers[-1][1],
    )
    return answers


if __name__ == "__main__":
    main(sys.argv[1:])

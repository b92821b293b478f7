"""Supplier feeds on the local stack: uploads -> S3 notification -> queue -> function -> notice, stock, lake."""

import json
from datetime import date

import awswrangler as wr
import pytest

from loadgen.workbooks import feed_key, product_table_csv, supplier_feed

pytestmark = pytest.mark.e2e


def test_product_table_then_feed_uploads_end_in_notices_supplier_stock_and_the_lake(local_stack):
    # Given an inbox subscribed to the feed status topic, and the bucket the template created
    notices = local_stack.inbox(local_stack.outputs["FeedStatusTopicArn"], name="e2e-feed-status")
    s3 = local_stack.client("s3")
    bucket = local_stack.outputs["DataBucketName"]

    # When a product table and then a northwind workbook are uploaded
    s3.put_object(Bucket=bucket, Key="reference/product/e2e.csv", Body=product_table_csv(100))
    local_stack.drain()
    day = date(2026, 11, 24)
    s3.put_object(Bucket=bucket, Key=feed_key("northwind", day), Body=supplier_feed("northwind", 100, unmapped=2))
    local_stack.drain()

    # Then one notice per file arrived, with counts and filterable attributes
    product, feed = notices.read()
    assert product["attributes"]["kind"] == "product_table" and json.loads(product["message"])["mapped"] == 300
    assert feed["attributes"] == {"supplier": "northwind", "status": "SUCCEEDED", "kind": "supplier_feed"}
    body = json.loads(feed["message"])
    assert (body["read"], body["mapped"], body["unmapped"], body["rejected"]) == (102, 100, 2, 0)

    # And the latest supplier stock is in the table, YES/NO turned into the profile's numbers
    items = local_stack.client("dynamodb").query(
        TableName=local_stack.outputs["StockTableName"],
        KeyConditionExpression="PK = :pk",
        ExpressionAttributeValues={":pk": {"S": "SUP#northwind"}},
    )["Items"]
    assert len(items) == 100 and {i["quantity"]["N"] for i in items} == {"0", "100"}

    # And the day's partition is in the lake
    wr.config.s3_endpoint_url = local_stack.endpoint
    try:
        rows = wr.s3.read_parquet(
            f"s3://{bucket}/curated/supplier_stock/supplier=northwind/", dataset=True, boto3_session=local_stack.session
        )
    finally:
        wr.config.reset("s3_endpoint_url")
    assert len(rows) == 100 and set(rows["year"]) == {"2026"} and set(rows["day"]) == {"24"}

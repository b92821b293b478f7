"""eBay listings on the local stack: store uploads (upsert), the eBay table and revise file after feeds and uploads."""

import csv
import io
import itertools
import json
import threading

import pyarrow.parquet as pq
import pytest

from loadgen.workbooks import custom_label, feed_key, product_table_csv, supplier_feed
from stock_pipeline.domain.listings import COLUMNS
from stock_pipeline.handlers.ingest import handle as ingest
from tests.conftest import sqs_event_for


def listings_csv(rows):
    """rows: (item_id, sku number, supplier, store)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(COLUMNS)
    for item, n, supplier, store in rows:
        label = custom_label(n)
        writer.writerow([item, label, f"Title {label}", "9.99", "", "", "", "pay", "ship", "ret", supplier, store])
    return out.getvalue().encode()


@pytest.fixture(scope="module")
def inbox(stack):
    return stack.inbox(stack.outputs["FeedStatusTopicArn"], name="listings-inbox")


@pytest.fixture(scope="module")
def lake(stack, s3, bucket, inbox):
    """A product table, one acme and one northwind feed, then the store listings of two stores."""
    s3.put_object(Bucket=bucket, Key="reference/product/products.csv", Body=product_table_csv(40))
    stack.drain()
    s3.put_object(Bucket=bucket, Key=feed_key("acme", day(1)), Body=supplier_feed("acme", 30, seed=1))
    s3.put_object(Bucket=bucket, Key=feed_key("northwind", day(1)), Body=supplier_feed("northwind", 10, seed=1))
    stack.drain()
    rows = [(1000 + n, n, "acme", "Store A") for n in range(30)] + [(1035, 35, "acme", "Store A")]
    rows += [(2000 + n, n, "northwind", "Store A") for n in range(10)]
    rows += [(3000 + n, n, "acme", "Store B") for n in range(5)]
    s3.put_object(Bucket=bucket, Key="reference/store/week-48.csv", Body=listings_csv(rows))
    stack.drain()
    table = stack.outputs["StockTableName"]
    return {  # what the first upload gave, as it stood then (the module's tests change it)
        "notices": inbox.read(),
        "store_keys": sorted(k["Key"] for k in s3.list_objects_v2(Bucket=bucket, Prefix="curated/store/")["Contents"]),
        "store_a_acme": ebay(s3, bucket, "Store A", "acme"),
        "acme": {n: supplier_quantity(stack, table, "acme", n) for n in (0, 7)},
    }


def day(n):
    import datetime

    return datetime.date(2026, 11, 20) + datetime.timedelta(days=n)


_later_days = itertools.count(10)


def next_day():
    """A feed day later than every feed uploaded so far: a test's feed is the newest whatever order tests run in
    (an older day's feed is a past run, which the listings do not go back to)."""
    return day(next(_later_days))


def ebay(s3, bucket, store, supplier):
    body = s3.get_object(Bucket=bucket, Key=f"curated/ebay/ebay_store={store}/{supplier}.snappy.parquet")["Body"]
    table = pq.read_table(io.BytesIO(body.read()))
    return {r["item_id"]: r for r in table.to_pylist()}


def supplier_quantity(stack, table_name, supplier, n):
    item = stack.client("dynamodb").get_item(
        TableName=table_name, Key={"PK": {"S": f"SUP#{supplier}"}, "SK": {"S": f"SKU#{custom_label(n)}"}}
    )
    return int(item["Item"]["quantity"]["N"])


def test_a_store_upload_lands_per_store_and_supplier_and_gives_every_listing_its_quantity(lake, s3, bucket):
    assert lake["store_keys"] == [
        "curated/store/ebay_store=Store A/supplier=acme/listings.snappy.parquet",
        "curated/store/ebay_store=Store A/supplier=northwind/listings.snappy.parquet",
        "curated/store/ebay_store=Store B/supplier=acme/listings.snappy.parquet",
    ]
    table = lake["store_a_acme"]
    assert len(table) == 31
    assert table[1007]["quantity"] == lake["acme"][7]
    assert (table[1035]["quantity"], table[1035]["quantity_source"]) == (0, "none")  # SKU 35: no feed has it
    subjects = sorted(m["subject"] for m in lake["notices"])
    assert "Store listings loaded" in subjects
    assert sum(s.startswith("eBay listings Store A") for s in subjects) == 2  # acme and northwind
    notice = next(json.loads(m["message"]) for m in lake["notices"] if m["subject"].startswith("eBay listings Store B"))
    assert (notice["listings"], notice["changed"]) == (5, 5)
    revise = s3.get_object(Bucket=bucket, Key=notice["export_key"])["Body"].read().decode().splitlines()
    assert revise[0] == "Action,ItemID,Quantity" and len(revise) == 6
    assert revise[1] == f"Revise,3000,{lake['acme'][0]}"


def test_a_feed_that_drops_skus_revises_only_what_changed_and_keeps_the_last_known_quantity(
    lake, stack, s3, bucket, inbox
):
    inbox.read()  # what earlier tests left
    before = ebay(s3, bucket, "Store A", "acme")
    s3.put_object(Bucket=bucket, Key=feed_key("acme", next_day()), Body=supplier_feed("acme", 20, seed=2))
    stack.drain()
    after = ebay(s3, bucket, "Store A", "acme")
    dropped = [1000 + n for n in range(20, 30)]
    assert all(after[i]["quantity"] == before[i]["quantity"] for i in dropped)
    assert {after[i]["quantity_source"] for i in dropped} == {"last_known"}
    moved = {i for i, r in after.items() if r["quantity_delta"] != 0}
    assert moved == {i for i in range(1000, 1020) if after[i]["quantity"] != before[i]["quantity"]}
    notices = [json.loads(m["message"]) for m in inbox.read() if m["subject"].startswith("eBay listings Store A")]
    (notice,) = notices  # Store A for acme only: northwind's table is not touched by an acme feed
    revise = s3.get_object(Bucket=bucket, Key=notice["export_key"])["Body"].read().decode().splitlines()
    assert sorted(int(line.split(",")[1]) for line in revise[1:]) == sorted(moved)


def test_a_profile_that_zeroes_missing_skus(lake, stack, s3, bucket):
    profiles = json.loads(
        (stack.functions["IngestFunction"].code_dir / "stock_pipeline" / "supplier_profiles.json").read_text()
    )
    profiles["suppliers"]["acme"]["missing_in_feed"] = "zero"
    s3.put_object(Bucket=bucket, Key="reference/supplier_profiles.json", Body=json.dumps(profiles).encode())
    s3.put_object(Bucket=bucket, Key=feed_key("acme", next_day()), Body=supplier_feed("acme", 10, seed=3))
    stack.drain()
    after = ebay(s3, bucket, "Store B", "acme")
    assert [after[3000 + n]["quantity_source"] for n in range(5)] == ["feed"] * 5
    table = ebay(s3, bucket, "Store A", "acme")
    assert {table[1000 + n]["quantity"] for n in range(10, 30)} == {0}
    s3.delete_object(Bucket=bucket, Key="reference/supplier_profiles.json")


def test_an_upload_replaces_only_its_partitions_and_a_broken_one_keeps_the_current_listings(
    lake, stack, s3, bucket, inbox
):
    def etags():
        keys = s3.list_objects_v2(Bucket=bucket, Prefix="curated/store/")["Contents"]
        return {k["Key"].split("/")[2] + "/" + k["Key"].split("/")[3]: k["ETag"] for k in keys}

    inbox.read()
    before = etags()
    s3.put_object(
        Bucket=bucket,
        Key="reference/store/store-b-update.csv",
        Body=listings_csv([(3000 + n, n, "acme", "Store B") for n in range(8)]),
    )
    stack.drain()
    after = etags()
    assert after["ebay_store=Store A/supplier=acme"] == before["ebay_store=Store A/supplier=acme"]
    assert after["ebay_store=Store A/supplier=northwind"] == before["ebay_store=Store A/supplier=northwind"]
    assert after["ebay_store=Store B/supplier=acme"] != before["ebay_store=Store B/supplier=acme"]
    assert len(ebay(s3, bucket, "Store B", "acme")) == 8

    broken = listings_csv([(4000, 1, "acme", "Store C")]).replace(b"ebay_store", b"store")
    s3.put_object(Bucket=bucket, Key="reference/store/broken.csv", Body=broken)
    stack.drain()
    assert etags() == after
    failed = [m for m in inbox.read() if m["subject"] == "Store listings FAILED"]
    assert len(failed) == 1 and "missing column(s) ebay_store" in json.loads(failed[0]["message"])["reason"]


def test_two_suppliers_feeds_finishing_together_keep_both_tables(lake, stack, deps, s3, bucket):
    feeds = [("acme", supplier_feed("acme", 30, seed=8)), ("northwind", supplier_feed("northwind", 10, seed=8))]
    refs, when = [], next_day()
    for supplier, body in feeds:
        key = feed_key(supplier, when)
        refs.append((bucket, key, s3.put_object(Bucket=bucket, Key=key, Body=body)["ETag"].strip('"')))
    results = []
    threads = [
        threading.Thread(target=lambda r=r: results.append(ingest(sqs_event_for([r]), None, deps))) for r in refs
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [{"batchItemFailures": []}] * 2
    acme, northwind = ebay(s3, bucket, "Store A", "acme"), ebay(s3, bucket, "Store A", "northwind")
    assert {r["run_id"] for r in acme.values()} == {f"{refs[0][1]}#{refs[0][2]}"}
    assert {r["run_id"] for r in northwind.values()} == {f"{refs[1][1]}#{refs[1][2]}"}
    stack.drain()  # the notifications of the two uploads: re-deliveries, nothing changes twice


def test_a_feed_delivered_again_after_a_later_run_keeps_its_revise_file(lake, stack, deps, s3, bucket):
    # Given a feed, then a later one
    key = feed_key("acme", next_day())
    etag = s3.put_object(Bucket=bucket, Key=key, Body=supplier_feed("acme", 20, seed=6))["ETag"].strip('"')
    stack.drain()
    s3.put_object(Bucket=bucket, Key=feed_key("acme", next_day()), Body=supplier_feed("acme", 25, seed=7))
    stack.drain()
    exports = {
        o["Key"]: o["ETag"] for o in s3.list_objects_v2(Bucket=bucket, Prefix="exports/ebay/Store A/")["Contents"]
    }
    assert ingest(sqs_event_for([(bucket, key, etag)]), None, deps) == {"batchItemFailures": []}
    after = {o["Key"]: o["ETag"] for o in s3.list_objects_v2(Bucket=bucket, Prefix="exports/ebay/Store A/")["Contents"]}
    assert after == exports  # the first feed's revise file still lists its changes, nothing new was written

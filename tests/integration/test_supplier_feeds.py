"""Supplier feeds and the product table through the ingest handler, on the template's stack in moto."""

import itertools
import json
import threading
from datetime import UTC, date, datetime, timedelta

import awswrangler as wr
import pytest

from loadgen.workbooks import Layout, custom_label, feed_key, product_table_csv, supplier_feed, workbook
from stock_pipeline.adapters.supplier_stock import SupplierStock
from stock_pipeline.domain.objects import ObjectRef
from stock_pipeline.handlers.ingest import handle
from stock_pipeline.ingestion import ingest_product_table, ingest_supplier_feed
from tests.conftest import sqs_event_for

DAY = date(2026, 11, 20)


@pytest.fixture(scope="module")
def notices(stack):
    return stack.inbox(stack.outputs["FeedStatusTopicArn"], name="feed-status")


@pytest.fixture(scope="module")
def supplier_stock(deps):
    return deps.supplier_stock


def put(s3, bucket, key, body):
    return s3.put_object(Bucket=bucket, Key=key, Body=body)["ETag"].strip('"')


def deliver(deps, bucket, key, etag, at):
    """What the queue hands the function for one uploaded object, S3's eventTime included."""
    return handle(sqs_event_for([(bucket, key, etag)], event_time=at), None, deps)


def upload_and_deliver(deps, s3, bucket, key, body, at):
    etag = put(s3, bucket, key, body)
    assert deliver(deps, bucket, key, etag, at) == {"batchItemFailures": []}
    return etag


def one(notices):
    messages = notices.read()
    assert len(messages) == 1, messages
    return messages[0] | {"body": json.loads(messages[0]["message"])}


def partition(bucket, supplier, day):
    path = f"s3://{bucket}/curated/supplier_stock/supplier={supplier}/year={day:%Y}/month={day:%m}/day={day:%d}/"
    return wr.s3.read_parquet(path).sort_values("source_line")


_arrivals = itertools.count(1)


def arrival() -> str:
    """A product table's arrival time later than every earlier one of the module: the newest upload replaces the
    table, so a test's own upload wins whatever order the tests run in."""
    return (datetime(2027, 1, 1, tzinfo=UTC) + timedelta(hours=next(_arrivals))).isoformat()


def standard_products(deps, s3, bucket, notices):
    """Parts 0..199 of every bundled supplier are our SKUs 0..199 (the table other tests replace)."""
    when = arrival()  # and a name of its own: the same object delivered again is a re-delivery, not an upload
    upload_and_deliver(deps, s3, bucket, f"reference/product/{when[:13]}.csv", product_table_csv(200), when)
    notice = one(notices)
    assert notice["attributes"] == {"supplier": "*", "status": "SUCCEEDED", "kind": "product_table"}
    assert notice["body"]["mapped"] == 600


@pytest.fixture(scope="module", autouse=True)
def product_table(deps, s3, bucket, notices):
    standard_products(deps, s3, bucket, notices)


@pytest.fixture(autouse=True)
def quiet_inbox(notices):
    """Each test reads the notices of its own uploads only."""
    notices.read()


def test_a_feed_lands_in_dynamodb_the_lake_and_one_notice(deps, s3, bucket, notices, supplier_stock):
    standard_products(deps, s3, bucket, notices)
    # Given an acme workbook with 150 known parts and 3 the product table does not know
    key = feed_key("acme", DAY)

    # When it is uploaded and delivered
    upload_and_deliver(
        deps, s3, bucket, key, supplier_feed("acme", 150, seed=1, unmapped=3), "2026-11-20T08:00:00.000Z"
    )

    # Then the notice counts every row and names the unmapped parts
    notice = one(notices)
    assert notice["attributes"] == {"supplier": "acme", "status": "SUCCEEDED", "kind": "supplier_feed"}
    body = notice["body"]
    assert (body["read"], body["mapped"], body["unmapped"], body["rejected"]) == (153, 150, 3, 0)
    assert body["unmapped_sample"] == ["AC-10000000", "AC-10000001", "AC-10000002"]
    assert notice["subject"] == "Supplier feed processed: acme"
    # the unmapped rows are in rejected/, with row and reason
    rejected = s3.get_object(Bucket=bucket, Key=body["rejected_key"])["Body"].read().decode().splitlines()
    assert [json.loads(r)["line"] for r in rejected] == [154, 155, 156]
    assert "not in the product table for supplier 'acme'" in json.loads(rejected[0])["reason"]
    # the day's partition holds the mapped rows
    rows = partition(bucket, "acme", DAY)
    assert len(rows) == 150 and rows["custom_label"].iloc[0] == custom_label(0)
    # and DynamoDB the latest stock per SKU, the first delta being the quantity itself
    fed = {custom_label(n) for n in range(150)}  # (other tests feed acme under SKUs of other product tables)
    items = {i["customLabel"]: i for i in supplier_stock.stock_of_supplier("acme") if i["customLabel"] in fed}
    assert len(items) == 150
    first = items[custom_label(0)]
    assert first["quantityDelta"] == first["quantity"] == int(rows["quantity"].iloc[0])
    assert first["updatedAt"] == "2026-11-20T08:00:00.000Z"


def test_a_reupload_of_the_same_day_replaces_the_partition_and_sets_deltas(deps, s3, bucket, notices, supplier_stock):
    standard_products(deps, s3, bucket, notices)
    # Given the day's feed, processed
    key = feed_key("globex", DAY)
    upload_and_deliver(deps, s3, bucket, key, supplier_feed("globex", 40, seed=1), "2026-11-20T08:00:00.000Z")
    one(notices)
    before = {i["customLabel"]: i["quantity"] for i in supplier_stock.stock_of_supplier("globex")}

    # When a corrected workbook for the same day arrives later, under another name
    later_key = feed_key("globex", DAY, name="stock-corrected")
    etag = upload_and_deliver(
        deps, s3, bucket, later_key, supplier_feed("globex", 40, seed=2), "2026-11-20T12:00:00.000Z"
    )
    one(notices)

    # Then the partition holds the corrected rows only, not both files' rows
    rows = partition(bucket, "globex", DAY)
    assert len(rows) == 40 and set(rows["source_key"]) == {later_key}
    # and each SKU's delta is latest minus previous
    after = {i["customLabel"]: i for i in supplier_stock.stock_of_supplier("globex")}
    assert any(after[label]["quantity"] != before[label] for label in before)
    for label, old in before.items():
        assert after[label]["quantityDelta"] == after[label]["quantity"] - old

    # When the same upload is delivered again, nothing changes and no second notice is sent
    assert deliver(deps, bucket, later_key, etag, "2026-11-20T12:00:00.000Z") == {"batchItemFailures": []}
    assert notices.read() == []
    again = {i["customLabel"]: i for i in supplier_stock.stock_of_supplier("globex")}
    assert again == after

    # And the first file, delivered late, neither overwrites the partition nor the newer stock
    first_etag = s3.head_object(Bucket=bucket, Key=key)["ETag"].strip('"')
    late = ObjectRef(bucket, key, first_etag + "-late", event_time="2026-11-20T08:00:00.000Z")
    outcome = ingest_supplier_feed(late, **feed_dependencies(deps))
    assert outcome.notice.lake_replaced is False and outcome.written == 0 and outcome.stale == 40
    assert set(partition(bucket, "globex", DAY)["source_key"]) == {later_key}
    notices.read()


def feed_dependencies(deps, store=None):
    return {
        "store": store or deps.store,
        "writer": deps.store,
        "profiles": deps.profiles,
        "catalog": deps.catalog,
        "supplier_stock": deps.supplier_stock,
        "lake": deps.lake,
        "notices": deps.notices,
        "rejected_prefix": deps.settings.rejected_prefix,
        "now": datetime.now(UTC),
    }


def load_products(deps, ref):
    return ingest_product_table(
        ref,
        store=deps.store,
        writer=deps.store,
        catalog=deps.catalog,
        ledger=deps.supplier_stock,
        notices=deps.notices,
        rejected_prefix="rejected/",
        now=datetime.now(UTC),
    )


def test_a_workbook_that_does_not_match_its_profile_fails_with_the_reason(deps, s3, bucket, notices):
    # Given a northwind workbook whose sheet is narrower than the profile's stock column D
    narrow = Layout("Sheet1", 1, ("Item", "Name", "Available"), 0, 2)
    key = feed_key("northwind", DAY)

    # When it is delivered, the message is not retried (the batch reports no failure) ...
    upload_and_deliver(deps, s3, bucket, key, workbook(narrow, [[100001, "a", "YES"]]), "2026-11-20T09:00:00Z")

    # ... and the notice says why, naming supplier, sheet and column
    notice = one(notices)
    assert notice["attributes"]["status"] == "FAILED"
    assert notice["subject"] == "Supplier feed FAILED: northwind"
    assert notice["body"]["reason"] == (
        "supplier 'northwind', sheet #1: column D (position 4) is beyond the last column (C) of header row 1"
    )


def test_a_feed_of_a_supplier_without_profile_fails_naming_it(deps, s3, bucket, notices):
    upload_and_deliver(deps, s3, bucket, feed_key("initech", DAY), supplier_feed("acme", 2), "2026-11-20T09:00:00Z")
    notice = one(notices)
    assert notice["attributes"] == {"supplier": "initech", "status": "FAILED", "kind": "supplier_feed"}
    assert notice["body"]["reason"].startswith("no profile for supplier 'initech'")


def test_the_product_table_replaced_during_a_feed_maps_the_whole_feed_through_one_version(
    deps, s3, bucket, notices, supplier_stock
):
    # Given a new product table that maps acme's parts to other SKUs, uploaded while a feed is being read
    new_table = b"custom_label,part_number,supplier\n" + b"".join(
        f"NEW-{n},AC-{n:05d},acme\n".encode() for n in range(200)
    )
    new_key = "reference/product/2026-12.csv"
    new_etag = put(s3, bucket, new_key, new_table)

    class ReplacedWhileReading:
        """The feed's own read is where the replacement lands: after the feed started, before it maps."""

        def read(self, ref):
            body = deps.store.read(ref)
            load_products(deps, ObjectRef(bucket, new_key, new_etag, event_time=arrival()))
            return body

    day = date(2026, 11, 21)
    key = feed_key("acme", day)
    etag = put(s3, bucket, key, supplier_feed("acme", 200, seed=5))
    outcome = ingest_supplier_feed(
        ObjectRef(bucket, key, etag, event_time="2026-11-21T08:00:00Z"),
        **feed_dependencies(deps, store=ReplacedWhileReading()),
    )

    # Then every row mapped through the new table, and the notice names that version
    rows = partition(bucket, "acme", day)
    assert len(rows) == 200 and all(label.startswith("NEW-") for label in rows["custom_label"])
    current = s3.head_object(Bucket=bucket, Key=deps.catalog.key)["ETag"].strip('"')
    assert outcome.notice.product_table_version == current
    notices.read()


def test_feeds_racing_product_table_replacements_never_mix_two_versions(deps, s3, bucket, notices):
    # Given two product tables that map acme's parts to disjoint SKU families
    tables = {}
    for family in ("OLD", "NEW"):
        body = b"custom_label,part_number,supplier\n" + b"".join(
            f"{family}-{n},AC-{n:05d},acme\n".encode() for n in range(300)
        )
        key = f"reference/product/{family}.csv"
        tables[family] = (key, put(s3, bucket, key, body))

    # one of them current before the first feed (not whatever table an earlier test left, which may not know acme)
    key, etag = tables["OLD"]
    assert load_products(deps, ObjectRef(bucket, key, f"{etag}-first", event_time=arrival())).notice.lake_replaced
    stop = threading.Event()

    def replace_again_and_again():
        n = 0
        while not stop.is_set():
            family = ("OLD", "NEW")[n % 2]
            key, etag = tables[family]
            when = arrival()  # ever newer arrival times, so each upload replaces the table
            assert load_products(deps, ObjectRef(bucket, key, f"{etag}-{n}", event_time=when)).notice.lake_replaced
            n += 1

    replacer = threading.Thread(target=replace_again_and_again)
    replacer.start()
    try:
        # When feeds are processed while the table keeps being replaced
        for i in range(4):
            day = date(2026, 10, 1 + i)
            key = feed_key("acme", day)
            etag = put(s3, bucket, key, supplier_feed("acme", 300, seed=i))
            ingest_supplier_feed(ObjectRef(bucket, key, etag, event_time=f"{day}T08:00:00Z"), **feed_dependencies(deps))
            # Then each feed's rows come from one version of the table
            families = {label.split("-")[0] for label in partition(bucket, "acme", day)["custom_label"]}
            assert len(families) == 1, families
    finally:
        stop.set()
        replacer.join()
    notices.read()


def test_an_unusable_product_table_is_refused_and_the_current_one_kept(deps, s3, bucket, notices):
    before = s3.head_object(Bucket=bucket, Key=deps.catalog.key)["ETag"]
    upload_and_deliver(deps, s3, bucket, "reference/product/broken.csv", b"sku,part\nA,B\n", arrival())
    notice = one(notices)
    assert notice["attributes"] == {"supplier": "*", "status": "FAILED", "kind": "product_table"}
    assert "missing column(s) custom_label, part_number, supplier" in notice["body"]["reason"]
    assert s3.head_object(Bucket=bucket, Key=deps.catalog.key)["ETag"] == before


def test_profiles_are_overridden_from_the_bucket_and_a_broken_override_fails_feeds_loudly(deps, s3, bucket, notices):
    override_key = deps.settings.supplier_profiles_key
    assert override_key == "reference/supplier_profiles.json"  # as the template configures the function
    product = b"custom_label,part_number,supplier\nSKU-I1,I-1,initech\nSKU-I2,I-2,initech\n"
    upload_and_deliver(deps, s3, bucket, "reference/product/initech.csv", product, arrival())
    notices.read()
    layout = Layout("Bestand", 2, ("Teil", "Menge"), 0, 1, "Initech")
    feed = workbook(layout, [["I-1", 7], ["I-2", "12"]])
    try:
        # Given an override that adds supplier initech
        override = {
            "suppliers": {
                "initech": {
                    "sheet": "Bestand",
                    "header_row": 2,
                    "part_number": {"name": "Teil"},
                    "stock": {"position": 2},
                    "value": {"rule": "numeric"},
                }
            }
        }
        put(s3, bucket, override_key, json.dumps(override).encode())
        # When its feed arrives, it is read with the override
        upload_and_deliver(deps, s3, bucket, feed_key("initech", DAY), feed, "2026-11-20T10:00:00Z")
        body = one(notices)["body"]
        assert (body["status"], body["mapped"]) == ("SUCCEEDED", 2)
        assert sorted(partition(bucket, "initech", DAY)["quantity"]) == [7, 12]

        # Given an override with a typo
        override["suppliers"]["initech"]["stock"] = {"colum": 2}
        put(s3, bucket, override_key, json.dumps(override).encode())
        # Then feeds fail with the override named, instead of being read the wrong way
        upload_and_deliver(deps, s3, bucket, feed_key("initech", DAY, "again"), feed, "2026-11-20T11:00:00Z")
        reason = one(notices)["body"]["reason"]
        assert reason.startswith(f"supplier profiles s3://{bucket}/{override_key}: supplier 'initech', stock: expected")
    finally:
        s3.delete_object(Bucket=bucket, Key=override_key)


def test_supplier_stock_deltas_follow_the_stored_quantity(deps):
    # DynamoDB computes the delta from the stored item in the same write: check the semantics directly
    table = SupplierStock(deps.supplier_stock._ddb, deps.supplier_stock.name)
    item = {
        "PK": "SUP#delta",
        "SK": "SKU#X",
        "entity": "SupplierStock",
        "supplier": "delta",
        "customLabel": "X",
        "quantity": 10,
        "partNumbers": ["p"],
        "updatedAt": "2026-11-20T08:00:00.000Z",
        "sourceKey": "k",
    }
    assert table.put_latest([item]).written == 1
    assert table.put_latest([item | {"quantity": 4, "updatedAt": "2026-11-21T08:00:00.000Z"}]).written == 1
    assert table.put_latest([item | {"quantity": 99}]).stale == 1  # older: ignored
    [stored] = table.stock_of_supplier("delta")
    assert (stored["quantity"], stored["quantityDelta"]) == (4, -6)


def test_the_template_catalogs_both_tables_with_projection(stack):
    glue = stack.client("glue")
    database = stack.outputs["GlueDatabaseName"]
    supplier = glue.get_table(DatabaseName=database, Name="supplier_stock")["Table"]
    assert [k["Name"] for k in supplier["PartitionKeys"]] == ["supplier", "year", "month", "day"]
    assert supplier["Parameters"]["projection.enabled"] == "true"
    assert glue.get_table(DatabaseName=database, Name="product")["Table"]["StorageDescriptor"]["Location"].endswith(
        "/curated/product/"
    )


class CompetingWriter:
    """The real S3 client, except that right after the first HeadObject another writer replaces the object:
    the interleaving a compare-and-swap exists for, made deterministic."""

    def __init__(self, s3, competitor_order):
        self._s3 = s3
        self._order = competitor_order
        self.heads = 0

    def head_object(self, **kwargs):
        head = self._s3.head_object(**kwargs)
        self.heads += 1
        if self.heads == 1:
            self._s3.put_object(
                Bucket=kwargs["Bucket"], Key=kwargs["Key"], Body=b"competitor", Metadata={"order": self._order}
            )
        return head

    def __getattr__(self, name):
        return getattr(self._s3, name)


@pytest.mark.parametrize(
    ("competitor", "ours_lands"), [("2026-11-20T12:00:00.000Z", False), ("2026-11-20T07:00:00.000Z", True)]
)
def test_a_writer_that_loses_the_race_looks_again_before_it_writes(s3, bucket, competitor, ours_lands):
    from stock_pipeline.adapters.s3 import ObjectStore

    # Given an object, and a competing write between our look and our write
    key = f"curated/cas-test/{competitor}.bin"
    s3.put_object(Bucket=bucket, Key=key, Body=b"first", Metadata={"order": "2026-11-20T06:00:00.000Z"})
    client = CompetingWriter(s3, competitor)

    # When we replace it with an input that arrived at 08:00
    replaced = ObjectStore(client).put_if_newer(bucket, key, b"ours", "text/plain", order="2026-11-20T08:00:00.000Z")

    # Then our conditional PUT failed once, we looked again, and the newer of the two is what remains
    assert client.heads == 2 and replaced is ours_lands
    body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    assert body == (b"ours" if ours_lands else b"competitor")

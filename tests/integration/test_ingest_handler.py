"""The ingest handler against moto, with the template's table/bucket and the sample events of events/."""

import gzip
import io
import json

import awswrangler as wr
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError

from stock_pipeline.handlers.ingest import handle
from tests.conftest import EVENTS, load_event, sqs_event_for


def upload(s3, bucket, key, body):
    return s3.put_object(Bucket=bucket, Key=key, Body=body)["ETag"].strip('"')


def record(retailer, article=1, when="2026-11-23T10:00:00Z", quantity=5, channel=1, account=1):
    return json.dumps(
        {
            "accountId": account,
            "retailerId": retailer,
            "channelId": channel,
            "productId": "p",
            "articleId": article,
            "articleNumber": article * 10,
            "lastUpdated": when,
            "quantity": quantity,
        }
    )


def ingest(deps, bucket, *objects):
    return handle(sqs_event_for([(bucket, key, etag) for key, etag in objects]), None, deps)


def article(ddb, table_name, retailer, article_id=1, channel=1, account=1):
    item = ddb.get_item(
        TableName=table_name,
        Key={"PK": {"S": f"RET#{retailer}#ACC#{account}"}, "SK": {"S": f"ART#{article_id}#CH#{channel}"}},
    ).get("Item")
    return None if item is None else {"quantity": int(item["quantity"]["N"]), "lastUpdated": item["lastUpdated"]["S"]}


def lake(bucket, retailer):
    """The rows of one retailer in curated/stock_latest/ (one file per object, partitioned by arrival day)."""
    path = f"s3://{bucket}/curated/stock_latest/"
    if not wr.s3.list_objects(path):
        return None
    rows = wr.s3.read_parquet(path, dataset=True)
    return rows[rows["retailer_id"] == retailer]


def test_sample_event_ingests_the_sample_object_with_rejections(deps, s3, ddb, bucket, table_name):
    # Given the object the sample event announces, gzip-compressed as Firehose writes it
    event = load_event("sqs_s3_object_created.json")
    key = json.loads(event["Records"][0]["body"])["Records"][0]["s3"]["object"]["key"]
    etag = upload(s3, bucket, key, gzip.compress((EVENTS / "data" / "stock_updates_kdg.ndjson").read_bytes()))

    # When the handler gets the sample event
    response = ingest(deps, bucket, (key, etag))

    # Then the newest record per article is stored, the bad lines are reported and nothing failed
    assert response == {"batchItemFailures": []}
    assert article(ddb, table_name, "retailer-72", 120, account=17) == {
        "quantity": 95,
        "lastUpdated": "2026-11-23T10:00:03.500000Z",
    }
    assert article(ddb, table_name, "retailer-3", 622, channel=6, account=62)["quantity"] == 98
    assert (
        article(ddb, table_name, "retailer-8", 9, channel=0, account=5)["lastUpdated"] == "2026-11-23T10:00:05.123456Z"
    )
    rejected = [
        json.loads(line)
        for line in s3.get_object(Bucket=bucket, Key=f"rejected/{key}.{deps_stem(key, etag)}.rejected.jsonl")["Body"]
        .read()
        .splitlines()
    ]
    assert [(r["line"], r["source_key"]) for r in rejected] == [(5, key), (6, key)]
    assert rejected[0]["reason"] == "quantity: negative"
    assert lake(bucket, "retailer-72")["quantity"].tolist() == [95]


def deps_stem(key, etag):
    from stock_pipeline.domain.objects import ObjectRef

    return ObjectRef("b", key, etag).stem


def test_a_duplicated_s3_event_changes_nothing_twice(deps, s3, ddb, bucket, table_name):
    key = "raw/stock-updates/2026/11/23/10/dup.gz"
    etag = upload(s3, bucket, key, gzip.compress(f"{record('r-dup', 1)}\n{record('r-dup', 2)}\n".encode()))

    ingest(deps, bucket, (key, etag))
    files_once = wr.s3.list_objects(f"s3://{bucket}/curated/stock_latest/dt=2026-11-23/")
    ingest(deps, bucket, (key, etag), (key, etag))  # delivered again, even twice in one batch

    assert wr.s3.list_objects(f"s3://{bucket}/curated/stock_latest/dt=2026-11-23/") == files_once
    assert f"s3://{bucket}/curated/stock_latest/dt=2026-11-23/{deps_stem(key, etag)}.snappy.parquet" in files_once
    assert sorted(lake(bucket, "r-dup")["article_id"].tolist()) == [1, 2]
    assert article(ddb, table_name, "r-dup", 1)["quantity"] == 5


def test_files_arriving_out_of_order_keep_the_newest_stock(deps, s3, ddb, bucket, table_name):
    newer = upload(
        s3,
        bucket,
        "raw/stock-updates/2026/11/23/11/b.gz",
        record("r-ooo", when="2026-11-23T11:00:00Z", quantity=7).encode(),
    )
    older = upload(
        s3,
        bucket,
        "raw/stock-updates/2026/11/23/10/a.gz",
        record("r-ooo", when="2026-11-23T10:00:00Z", quantity=3).encode(),
    )

    ingest(deps, bucket, ("raw/stock-updates/2026/11/23/11/b.gz", newer))
    ingest(deps, bucket, ("raw/stock-updates/2026/11/23/10/a.gz", older))

    assert article(ddb, table_name, "r-ooo") == {"quantity": 7, "lastUpdated": "2026-11-23T11:00:00.000000Z"}
    # the lake keeps both batches' latest rows: it is the history of snapshots
    assert sorted(lake(bucket, "r-ooo")["quantity"].tolist()) == [3, 7]


def test_an_empty_object_succeeds_and_writes_nothing(deps, s3, bucket):
    key = "raw/stock-updates/2026/11/23/10/empty.gz"
    etag = upload(s3, bucket, key, gzip.compress(b""))

    assert ingest(deps, bucket, (key, etag)) == {"batchItemFailures": []}
    assert not wr.s3.list_objects(f"s3://{bucket}/rejected/{key}")


def test_a_parquet_object_from_format_conversion_is_ingested(deps, s3, ddb, bucket, table_name):
    table = pa.Table.from_pylist([{k.lower(): v for k, v in json.loads(record("r-parquet", quantity=11)).items()}])
    buffer = io.BytesIO()
    pq.write_table(table, buffer)
    key = "raw/stock-updates/2026/11/23/10/converted.parquet"
    etag = upload(s3, bucket, key, buffer.getvalue())

    assert ingest(deps, bucket, (key, etag)) == {"batchItemFailures": []}
    assert article(ddb, table_name, "r-parquet")["quantity"] == 11


def test_s3_test_event_is_acknowledged(deps):
    assert handle(load_event("sqs_s3_test_event.json"), None, deps) == {"batchItemFailures": []}


def test_an_unreadable_object_gets_a_failed_notice_and_the_rest_of_the_batch_lands(
    stack, deps, s3, ddb, bucket, table_name
):
    notices = stack.inbox(stack.outputs["FeedStatusTopicArn"], name="unreadable-inbox")
    good = upload(s3, bucket, "raw/stock-updates/2026/11/23/10/good.gz", gzip.compress(record("r-batch").encode()))
    bad = upload(s3, bucket, "raw/stock-updates/2026/11/23/10/poison.gz", b"\x1f\x8b\x08\x00 definitely not gzip")

    response = ingest(
        deps,
        bucket,
        ("raw/stock-updates/2026/11/23/10/poison.gz", bad),
        ("raw/stock-updates/2026/11/23/10/good.gz", good),
    )

    # retrying cannot fix the content: no retry, a FAILED notice with the reason instead
    assert response == {"batchItemFailures": []}
    assert article(ddb, table_name, "r-batch")["quantity"] == 5
    [notice] = notices.read()
    assert notice["subject"] == "File FAILED: raw/stock-updates/2026/11/23/10/poison.gz"
    assert "unreadable: corrupt gzip stream" in json.loads(notice["message"])["summary"]


def test_an_object_aws_will_not_serve_fails_its_message_and_the_reason_is_logged(deps, s3, bucket, caplog):
    # Given an object S3 keeps in an archive class (GetObject answers InvalidObjectState until it is restored)
    key = "raw/stock-updates/2026/11/23/11/archived.gz"
    etag = s3.put_object(
        Bucket=bucket, Key=key, Body=gzip.compress(record("r-archived").encode()), StorageClass="GLACIER"
    )["ETag"].strip('"')
    good = upload(s3, bucket, "raw/stock-updates/2026/11/23/11/good.gz", gzip.compress(record("r-next").encode()))
    # Then its message fails (it returns to the queue, the DLQ after five receives), the other one lands ...
    response = ingest(deps, bucket, (key, etag), ("raw/stock-updates/2026/11/23/11/good.gz", good))
    assert response == {"batchItemFailures": [{"itemIdentifier": "message-0"}]}
    # ... and the log says which object and why (the batch utility keeps only the message id)
    [failure] = [r for r in caplog.records if r.getMessage().startswith("object not ingested")]
    assert failure.key == key and failure.etag == etag
    assert "InvalidObjectState" in str(failure.exc_info[1])


def test_an_object_failing_its_last_receive_is_parked_with_its_reason(deps, s3, bucket):
    """The fifth failure moves the message to the dead-letter queue: the file's outcome says so and why, instead of
    a log line nobody reads; earlier failures leave no outcome (the next receive may succeed)."""
    key = "raw/stock-updates/2026/11/23/12/archived.gz"
    etag = s3.put_object(
        Bucket=bucket, Key=key, Body=gzip.compress(record("r-parked").encode()), StorageClass="GLACIER"
    )["ETag"].strip('"')
    event = sqs_event_for([(bucket, key, etag)])
    for receives, parked in ((4, False), (5, True)):
        event["Records"][0]["attributes"]["ApproximateReceiveCount"] = str(receives)
        with pytest.raises(BatchProcessingError):  # the whole batch failed: Lambda retries it
            handle(event, None, deps)
        outcome = deps.outcomes.outcomes([(key, etag)]).get((key, etag))
        assert (outcome is not None) is parked
    assert outcome["status"] == "FAILED"
    assert outcome["summary"].startswith("parked in the dead-letter queue after 5 attempts (")
    assert "InvalidObjectState" in outcome["summary"]


def test_an_event_of_another_bucket_is_parked_at_once_with_its_reason_and_ours_still_lands(
    stack, deps, s3, bucket, caplog
):
    # Given a batch with a message about another bucket (a notification aimed at this queue by mistake, or forged)
    ours = upload(s3, bucket, "raw/stock-updates/2026/11/23/13/ours.gz", gzip.compress(record("r-ours").encode()))
    stranger = ("someone-elses-bucket", "raw/stock-updates/2026/11/23/13/theirs.gz", "abc")
    event = sqs_event_for([stranger, (bucket, "raw/stock-updates/2026/11/23/13/ours.gz", ours)])

    # When the ingest function gets it on its first receive
    response = handle(event, None, deps)

    # Then no message fails (no retry can help it), ours lands, and the other is in the dead-letter queue at once,
    # with its reason, after one log line without a traceback
    assert response == {"batchItemFailures": []}
    assert ddb_quantity(stack, "r-ours") == 5
    sqs = stack.client("sqs")
    parked = sqs.receive_message(
        QueueUrl=deps.settings.parking_queue_url, MessageAttributeNames=["All"], MaxNumberOfMessages=10
    )["Messages"]
    assert [json.loads(m["Body"])["Records"][0]["s3"]["bucket"]["name"] for m in parked] == ["someone-elses-bucket"]
    reason = parked[0]["MessageAttributes"]["reason"]["StringValue"]
    assert reason.startswith(f"the event names bucket someone-elses-bucket, not this stack's ({bucket})")
    assert parked[0]["MessageAttributes"]["sourceMessageId"]["StringValue"] == "message-0"
    logged = [r for r in caplog.records if r.levelname in ("ERROR", "WARNING")]
    assert [r.getMessage() for r in logged] == [f"message parked: {reason}"]
    assert logged[0].exc_info is None
    for message in parked:
        sqs.delete_message(QueueUrl=deps.settings.parking_queue_url, ReceiptHandle=message["ReceiptHandle"])


def ddb_quantity(stack, retailer):
    table = stack.outputs["StockTableName"]
    item = stack.client("dynamodb").get_item(
        TableName=table, Key={"PK": {"S": f"RET#{retailer}#ACC#1"}, "SK": {"S": "ART#1#CH#1"}}
    )
    return int(item["Item"]["quantity"]["N"])


def test_a_vanished_object_is_not_retried_and_gets_a_failed_notice(stack, deps, bucket):
    notices = stack.inbox(stack.outputs["FeedStatusTopicArn"], name="vanished-inbox")
    key = "raw/stock-updates/2026/11/23/10/never-written.gz"
    assert ingest(deps, bucket, (key, "0")) == {"batchItemFailures": []}
    [notice] = notices.read()
    assert notice["subject"] == f"File FAILED: {key}"
    assert "deleted before it could be read" in json.loads(notice["message"])["summary"]


def test_url_encoded_keys_are_decoded(deps, s3, ddb, bucket, table_name):
    key = "raw/stock-updates/2026/11/23/10/with space+plus.gz"
    etag = upload(s3, bucket, key, record("r-encoded").encode())

    assert ingest(deps, bucket, (key, etag)) == {"batchItemFailures": []}
    assert article(ddb, table_name, "r-encoded")["quantity"] == 5


def test_a_file_whose_name_no_ingestion_recognises_gets_one_failed_notice(stack, deps, s3, bucket):
    # Given a file under the inventory prefix with a name the pipeline does not know
    notices = stack.inbox(stack.outputs["FeedStatusTopicArn"], name="unrouted-inbox")
    key = "inventory_files/2026/11/25/stock count.xlsx"
    etag = upload(s3, bucket, key, b"whatever")
    # When it is announced twice (S3 delivers at least once)
    assert ingest(deps, bucket, (key, etag)) == {"batchItemFailures": []}
    assert ingest(deps, bucket, (key, etag)) == {"batchItemFailures": []}
    # Then one FAILED notice says which name the prefix expects
    [notice] = notices.read()
    assert notice["subject"] == f"File FAILED: {key}"
    assert notice["attributes"] == {"supplier": "*", "status": "FAILED", "kind": "file"}
    summary = json.loads(notice["message"])["summary"]
    assert summary == (
        f"{key}: not processed: the name does not match "
        "inventory_files/<yyyy>/<mm>/<dd>/<yyyymmddHHMM[SS]>_inventory.csv (extensions in any letter case)"
    )


def test_names_in_any_letter_case_are_ingested_and_folder_markers_skipped(stack, deps, s3, bucket):
    notices = stack.inbox(stack.outputs["FeedStatusTopicArn"], name="case-inbox")
    key = "inventory_files/2026/11/25/20261125080000_INVENTORY.CSV"
    body = "Timestamp\tWarehouseName\tItemId\tItemName\tStockLevelChange\n2026-11-25T07:00:00Z\tCase 1\tc1\tCap\t4\n"
    etag = upload(s3, bucket, key, body.encode())
    folder = upload(s3, bucket, "inventory_files/2026/11/25/", b"")
    assert ingest(deps, bucket, (key, etag), ("inventory_files/2026/11/25/", folder)) == {"batchItemFailures": []}
    assert deps.levels.level("Case 1", "c1")["quantity"] == 4
    assert notices.read() == []


def test_an_object_larger_than_its_kind_may_be_is_refused_before_it_is_read_with_its_size_and_the_limit(
    stack, deps, s3, bucket
):
    # Given a counted file of 2.4 MB (a counted file may have 2 MB: three requests a row), announced with its size
    notices = stack.inbox(stack.outputs["FeedStatusTopicArn"], name="too-large-inbox")
    rows = "".join(f"Store 01,big-{n:07d},{n % 50}\n" for n in range(100_000))
    key = "stocktakes/2026/12/07/whole-chain.csv"
    etag = upload(s3, bucket, key, ("warehouse,item_id,counted\n" + rows).encode())
    event = sqs_event_for([(bucket, key, etag)])
    body = json.loads(event["Records"][0]["body"])
    body["Records"][0]["s3"]["object"]["size"] = s3.head_object(Bucket=bucket, Key=key)["ContentLength"]
    event["Records"][0]["body"] = json.dumps(body)

    # When the ingest function gets its notification
    assert handle(event, None, deps) == {"batchItemFailures": []}

    # Then one FAILED notice names its size and the limit, and not one count of it was applied
    [notice] = [n for n in notices.read() if n["subject"] == f"File FAILED: {key}"]
    summary = json.loads(notice["message"])["summary"]
    assert "refused before reading: 2.4 MB, over the 2 MB a counted file may have" in summary
    ddb, table = stack.client("dynamodb"), stack.outputs["StockTableName"]
    level = ddb.get_item(TableName=table, Key={"PK": {"S": "WH#Store 01"}, "SK": {"S": "ITEM#big-0000001"}})
    assert "Item" not in level

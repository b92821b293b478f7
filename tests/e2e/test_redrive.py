"""`python -m stockctl redrive` on the local stack: a parked object moved back with SQS's message move task and
then processed; a stream consumer's failed batch read again from the table's stream and given to its function
(the history's lost file written again, a crossing already e-mailed not e-mailed twice); a schedule's dead letter
starting the run it missed. Each run twice: the second finds nothing to do."""

import io
import json
from datetime import UTC, datetime
from urllib.parse import quote

import pyarrow.parquet as pq
import pytest

from local_aws.stack import LocalStack
from stockctl.__main__ import main

pytestmark = [pytest.mark.e2e, pytest.mark.single_region]

HEADER = "Timestamp\tWarehouseName\tItemId\tItemName\tStockLevelChange\n"


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    with LocalStack(
        stack_name="redrive-e2e",
        function_environment={"POWERTOOLS_LOG_LEVEL": "ERROR"},
        parameters={"AlertFreshnessHours": "8760"},  # its files carry fixed days, uploaded as if live
    ) as stack:
        state = tmp_path_factory.mktemp("redrive") / "local-stack.json"
        state.write_text(json.dumps(stack.describe()))
        stack.state = state
        yield stack


def redrive(stack, queue, capsys):
    code = main(["redrive", "--queue", queue, "--local", str(stack.state), "--poll", "0.05"])
    return code, capsys.readouterr().out


def level(stack, warehouse, item):
    return (
        stack.client("dynamodb")
        .get_item(
            TableName=stack.outputs["StockTableName"], Key={"PK": {"S": f"WH#{warehouse}"}, "SK": {"S": f"ITEM#{item}"}}
        )
        .get("Item")
    )


def test_a_parked_object_goes_back_to_its_queue_and_is_processed(stack, capsys):
    s3, sqs, outputs = stack.client("s3"), stack.client("sqs"), stack.outputs
    key = "inventory_files/2026/12/06/20261206120000_inventory.csv"
    s3.put_object(
        Bucket=outputs["DataBucketName"], Key=key, Body=HEADER + "2026-12-06T12:00:00Z\tPark 1\tp-1\tPen\t7\n"
    )
    # parked as SQS parks it after the last receive: the notification leaves the ingest queue for its DLQ
    notification, others = None, []
    while notification is None:  # S3's test events of the notification configuration come first
        received = sqs.receive_message(QueueUrl=outputs["IngestQueueUrl"], MaxNumberOfMessages=10)["Messages"]
        notification = next((m for m in received if quote(key, safe="") in m["Body"]), None)  # as S3 writes it
        others += [m for m in received if m is not notification]
    for other in others:  # back to the queue, for the drain below
        sqs.change_message_visibility(
            QueueUrl=outputs["IngestQueueUrl"], ReceiptHandle=other["ReceiptHandle"], VisibilityTimeout=0
        )
    sqs.send_message(QueueUrl=outputs["IngestDeadLetterQueueUrl"], MessageBody=notification["Body"])
    sqs.delete_message(QueueUrl=outputs["IngestQueueUrl"], ReceiptHandle=notification["ReceiptHandle"])
    stack.drain()
    assert level(stack, "Park 1", "p-1") is None

    code, out = redrive(stack, "ingest", capsys)
    assert code == 0 and "1 moved back to" in out and "IngestQueue" in out.split("moved back to")[1], out
    stack.drain()
    assert level(stack, "Park 1", "p-1")["quantity"] == {"N": "7"}
    assert redrive(stack, "ingest", capsys) == (0, "ingest: nothing waiting, nothing moved\n")


def stream_batch(stack, warehouse):
    """The table's stream records of one warehouse's levels, as a failure record names them."""
    table = stack.client("dynamodb").describe_table(TableName=stack.outputs["StockTableName"])["Table"]
    streams = stack.client("dynamodbstreams")
    arn = table["LatestStreamArn"]
    shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
    iterator = streams.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON")
    records = streams.get_records(ShardIterator=iterator["ShardIterator"], Limit=1000)["Records"]
    mine = [r for r in records if r["dynamodb"]["Keys"]["PK"]["S"] == f"WH#{warehouse}"]
    return {
        "requestContext": {"condition": "RetryAttemptsExhausted", "approximateInvokeCount": 11},
        "DDBStreamBatchInfo": {
            "shardId": shard,
            "startSequenceNumber": mine[0]["dynamodb"]["SequenceNumber"],
            "endSequenceNumber": mine[-1]["dynamodb"]["SequenceNumber"],
            "batchSize": len(mine),
            "streamArn": arn,
        },
    }


def history_rows(stack, warehouse):
    s3, bucket = stack.client("s3"), stack.outputs["DataBucketName"]
    found = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix="curated/stock_history/"):
        for obj in page.get("Contents", []):
            table = pq.read_table(io.BytesIO(s3.get_object(Bucket=bucket, Key=obj["Key"])["Body"].read()))
            rows = [r for r in table.to_pylist() if r["warehouse"] == warehouse]
            found += [(obj["Key"], r) for r in rows]
    return found


def test_a_failed_stream_batch_is_read_again_and_given_to_its_function(stack, capsys):
    inbox = stack.inbox(stack.outputs["RestockTopicArn"], name="inbox-redrive")
    s3, sqs, outputs = stack.client("s3"), stack.client("sqs"), stack.outputs
    body = HEADER + "2026-12-06T12:10:00Z\tReplay 1\tr-1\tRope\t3\n"  # below the default threshold: one alert
    s3.put_object(
        Bucket=outputs["DataBucketName"], Key="inventory_files/2026/12/06/20261206121000_inventory.csv", Body=body
    )
    stack.drain()
    assert len([m for m in inbox.read() if "Replay 1" in (m["subject"] or "")]) == 1
    ((written, row),) = history_rows(stack, "Replay 1")
    failure = json.dumps(stream_batch(stack, "Replay 1"))
    # the history function gave up on that batch: its file is missing; the alert function gave up on it too
    s3.delete_object(Bucket=outputs["DataBucketName"], Key=written)
    sqs.send_message(QueueUrl=outputs["HistoryFailureQueueUrl"], MessageBody=failure)
    sqs.send_message(QueueUrl=outputs["AlertFailureQueueUrl"], MessageBody=failure)

    # the replay gives the function what its mapping lets through, as Lambda did: the mapping's filters are read
    from stockctl.redrive import mapping_filters

    stream = json.loads(failure)["DDBStreamBatchInfo"]["streamArn"]
    filters = mapping_filters(stack.client("lambda"), outputs["AlertFunctionName"], stream)
    assert [json.loads(f["Pattern"]) for f in filters] == [{"dynamodb": {"Keys": {"PK": {"S": [{"prefix": "WH#"}]}}}}]
    code, out = redrive(stack, "history", capsys)
    assert code == 0 and "record(s) replayed through" in out, out
    (again,) = history_rows(stack, "Replay 1")
    assert (again[1]["new_value"], again[1]["delta"], again[1]["event_id"]) == (3, 3, row["event_id"])
    code, out = redrive(stack, "alerts", capsys)
    assert code == 0 and "replayed" in out, out
    stack.drain()
    assert [m for m in inbox.read() if "Replay 1" in (m["subject"] or "")] == []  # e-mailed once, not again
    assert redrive(stack, "history", capsys)[1] == "history: nothing waiting, nothing moved\n"
    assert (
        sqs.get_queue_attributes(QueueUrl=outputs["AlertFailureQueueUrl"], AttributeNames=["All"])["Attributes"][
            "ApproximateNumberOfMessages"
        ]
        == "0"
    )


def test_a_schedules_dead_letter_starts_the_run_it_missed_once(stack, capsys):
    from local_aws import stepfunctions as local_stepfunctions

    outputs, sqs = stack.outputs, stack.client("sqs")
    schedule = stack.client("scheduler").get_schedule(Name=outputs["ValidationScheduleName"])
    machine = schedule["Target"]["Arn"]
    # what Scheduler sends its dead-letter queue when it cannot start the target: the input, and why
    sqs.send_message(
        QueueUrl=outputs["ValidationScheduleDeadLetterQueueUrl"],
        MessageBody=schedule["Target"].get("Input") or "{}",
        MessageAttributes={
            "ERROR_CODE": {"DataType": "String", "StringValue": "ThrottlingException"},
            "ERROR_MESSAGE": {"DataType": "String", "StringValue": "Rate exceeded"},
            "EXECUTION_ID": {"DataType": "String", "StringValue": f"missed-{datetime.now(UTC):%H%M%S}"},
            "SCHEDULE_ARN": {"DataType": "String", "StringValue": schedule["Arn"]},
            "TARGET_ARN": {"DataType": "String", "StringValue": machine},
        },
    )
    code, out = redrive(stack, "schedule", capsys)
    assert code == 0 and "started redrive-missed-" in out, out
    local_stepfunctions.wait_for_executions()
    runs = stack.client("stepfunctions").list_executions(stateMachineArn=machine)["executions"]
    (run,) = [r for r in runs if r["name"].startswith("redrive-missed-")]
    assert run["status"] == "SUCCEEDED"
    assert redrive(stack, "schedule", capsys) == (0, "schedule: nothing waiting, nothing moved\n")

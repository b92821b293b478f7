"""`python -m stockctl redrive --queue ingest|alerts|history|schedule`: what a dead-letter queue holds, back to
where it came from. Safe to run twice: a moved, replayed or started message leaves its queue, and a second run
finds nothing (or starts nothing new: a schedule's run is named after its message).

- ingest: SQS's message move task (the queue is the ingest queue's redrive target), followed to its end;
- alerts, history: each failure record names a range of the table's stream; the range is read again (the stream
  keeps records 24 hours) and given to the function (Invoke), as its event source mapping would;
- schedule: each dead letter of the validation and forecast schedules holds the input the schedule sent: its
  workflow is started with it under the name `redrive-<Scheduler's execution id>`.
"""

from __future__ import annotations

import argparse
import base64
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from stock_pipeline.domain.event_filters import matches_any
from stockctl.stack import Target, stack_access

QUEUES = {
    "ingest": ["IngestDeadLetterQueueUrl"],
    "alerts": ["AlertFailureQueueUrl"],
    "history": ["HistoryFailureQueueUrl"],
    "schedule": ["ValidationScheduleDeadLetterQueueUrl", "ForecastScheduleDeadLetterQueueUrl"],
}
FUNCTIONS = {"alerts": "AlertFunctionName", "history": "HistoryFunctionName"}
STREAM_RECORDS_PER_CALL = 1000
PAYLOAD_BYTES = 5 * 1024 * 1024  # a synchronous Invoke takes at most 6 MB


@dataclass(frozen=True, slots=True)
class Outcome:
    queue: str
    what: str
    done: bool
    detail: str


def run(args: argparse.Namespace) -> int:
    session, outputs, endpoint = stack_access(args)
    target = Target(session, outputs, endpoint, getattr(args, "stack", "local") or "local", session.region_name)
    outcomes = redrive(args.queue, target.client, outputs, poll=args.poll)
    for outcome in outcomes:
        print(f"{outcome.queue:<48} {outcome.what:<44} {'OK' if outcome.done else 'FAILED':<6} {outcome.detail}")
    if not outcomes:
        print(f"{args.queue}: nothing waiting, nothing moved")
    return 0 if all(o.done for o in outcomes) else 1


def redrive(queue: str, client: Callable[[str], Any], outputs: dict[str, str], *, poll: float = 1.0) -> list[Outcome]:
    urls = [outputs[name] for name in QUEUES[queue]]
    if queue == "ingest":
        return [o for url in urls if (o := move_back(client("sqs"), url, poll=poll)) is not None]
    if queue in FUNCTIONS:
        function = outputs[FUNCTIONS[queue]]
        return [replay(client, url, message, function) for url in urls for message in messages(client("sqs"), url)]
    return [start_again(client, url, message) for url in urls for message in messages(client("sqs"), url)]


def move_back(sqs: Any, url: str, *, poll: float) -> Outcome | None:
    """One message move task, followed until it ends; None when the queue is empty (nothing to start)."""
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn", "ApproximateNumberOfMessages"])
    arn, waiting = attributes["Attributes"]["QueueArn"], int(attributes["Attributes"]["ApproximateNumberOfMessages"])
    if waiting == 0:
        return None
    name = arn.rsplit(":", 1)[-1]
    try:
        handle = sqs.start_message_move_task(SourceArn=arn)["TaskHandle"]
    except ClientError as exc:
        return Outcome(name, f"{waiting} message(s)", False, _error(exc))
    while True:
        tasks = sqs.list_message_move_tasks(SourceArn=arn, MaxResults=10)["Results"]
        task = next((t for t in tasks if t.get("TaskHandle") == handle), tasks[0] if tasks else {})
        if task.get("Status") in ("COMPLETED", "FAILED", "CANCELLED"):
            break
        time.sleep(poll)
    moved = int(task.get("ApproximateNumberOfMessagesMoved", 0))
    done = task.get("Status") == "COMPLETED"
    detail = f"{moved} moved back to {str(task.get('DestinationArn', 'the source queue')).rsplit(':', 1)[-1]}"
    return Outcome(name, f"{waiting} message(s)", done, detail + ("" if done else f": {task.get('FailureReason')}"))


def messages(sqs: Any, url: str) -> Iterator[dict[str, Any]]:
    """Every message the queue holds now, once each (one kept for a failure shows again: it is not taken twice),
    hidden for 5 minutes while it is handled (deleted when done)."""
    seen: set[str] = set()
    while True:
        found = sqs.receive_message(
            QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=300, MessageAttributeNames=["All"]
        ).get("Messages", [])
        fresh = [m for m in found if m["MessageId"] not in seen]
        if not fresh:
            return
        for message in fresh:
            seen.add(message["MessageId"])
            yield {**message, "QueueUrl": url}


def replay(client: Callable[[str], Any], url: str, message: dict[str, Any], function: str) -> Outcome:
    """The batch's range read again, filtered by the function's mapping as Lambda filters, and handed to the
    function in payloads under Invoke's 6 MB (in order; a failure keeps the message, and a replay again is harmless:
    both consumers are idempotent)."""
    sqs, name = client("sqs"), url.rsplit("/", 1)[-1]
    info = json.loads(message["Body"]).get("DDBStreamBatchInfo") or {}
    what = f"stream {info.get('startSequenceNumber', '?')}..{info.get('endSequenceNumber', '?')}"
    lam = client("lambda")
    try:
        filters = mapping_filters(lam, function, info.get("streamArn", ""))
        records = [r for r in stream_range(client("dynamodbstreams"), info) if matches_any(filters, r)]
        if not records:
            return _keep(sqs, message, Outcome(name, what, False, "the stream no longer holds it (24 h retention)"))
        for payload in payloads(records):
            answer = lam.invoke(FunctionName=function, Payload=payload)
            result = json.loads(answer["Payload"].read() or b"null")
            if answer.get("FunctionError") or (isinstance(result, dict) and result.get("batchItemFailures")):
                detail = f"{function} failed again: {json.dumps(result)[:300]}"
                return _keep(sqs, message, Outcome(name, what, False, detail))
    except ClientError as exc:
        return _keep(sqs, message, Outcome(name, what, False, _error(exc)))
    sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    return Outcome(name, what, True, f"{len(records)} record(s) replayed through {function}")


def mapping_filters(lam: Any, function: str, stream_arn: str) -> list[dict[str, Any]]:
    """The FilterCriteria of the function's mapping of that stream (none: every record, as Lambda does)."""
    mappings = lam.list_event_source_mappings(FunctionName=function, EventSourceArn=stream_arn)
    for mapping in mappings.get("EventSourceMappings", []):
        return list((mapping.get("FilterCriteria") or {}).get("Filters") or [])
    return []


def payloads(records: list[dict[str, Any]], limit: int = PAYLOAD_BYTES) -> Iterator[bytes]:
    """`{"Records": [...]}` events in record order, each under `limit` bytes."""
    batch: list[str] = []
    size = len(b'{"Records": []}')
    for record in records:
        text = json.dumps(record)
        if batch and size + len(text) + 2 > limit:
            yield ('{"Records": [' + ", ".join(batch) + "]}").encode()
            batch, size = [], len(b'{"Records": []}')
        batch.append(text)
        size += len(text) + 2
    if batch:
        yield ('{"Records": [' + ", ".join(batch) + "]}").encode()


def stream_range(streams: Any, info: dict[str, Any]) -> list[dict[str, Any]]:
    """The records of one failed batch as its function receives them (Lambda's event adds source and region)."""
    iterator = streams.get_shard_iterator(
        StreamArn=info["streamArn"],
        ShardId=info["shardId"],
        ShardIteratorType="AT_SEQUENCE_NUMBER",
        SequenceNumber=info["startSequenceNumber"],
    )["ShardIterator"]
    end, region = int(info["endSequenceNumber"]), info["streamArn"].split(":")[3]
    records: list[dict[str, Any]] = []
    while iterator:
        page = streams.get_records(ShardIterator=iterator, Limit=STREAM_RECORDS_PER_CALL)
        for record in page.get("Records", []):
            if int(record["dynamodb"]["SequenceNumber"]) > end:
                return records
            records.append({**_as_event(record), "eventSourceARN": info["streamArn"], "awsRegion": region})
        if not page.get("Records"):
            return records
        iterator = page.get("NextShardIterator")
    return records


def start_again(client: Callable[[str], Any], url: str, message: dict[str, Any]) -> Outcome:
    sqs, name = client("sqs"), url.rsplit("/", 1)[-1]
    attributes = {k: v.get("StringValue", "") for k, v in (message.get("MessageAttributes") or {}).items()}
    machine, run_id = attributes.get("TARGET_ARN", ""), attributes.get("EXECUTION_ID") or message["MessageId"]
    run_name = f"redrive-{run_id}"[:80]
    what = f"{machine.rsplit(':', 1)[-1]} ({attributes.get('ERROR_CODE', 'no error code')})"
    try:
        arn = client("stepfunctions").start_execution(stateMachineArn=machine, name=run_name, input=message["Body"])
        detail = f"started {arn['executionArn'].rsplit(':', 1)[-1]}"
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") != "ExecutionAlreadyExists":
            return _keep(sqs, message, Outcome(name, what, False, _error(exc)))
        detail = f"{run_name} was started by an earlier redrive"
    sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    return Outcome(name, what, True, detail)


def _keep(sqs: Any, message: dict[str, Any], outcome: Outcome) -> Outcome:
    """A message that could not be redriven stays in its queue, visible again for the next run."""
    sqs.change_message_visibility(
        QueueUrl=message["QueueUrl"], ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
    )
    return outcome


def _as_event(value: Any) -> Any:
    """boto3's parsed stream record back to the JSON Lambda sends (epoch seconds, base64 binary)."""
    if isinstance(value, datetime):
        return value.timestamp()
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(value).decode()
    if isinstance(value, dict):
        return {k: _as_event(v) for k, v in value.items()}
    if isinstance(value, list | set):
        return [_as_event(v) for v in value]
    return value


def _error(exc: ClientError) -> str:
    error = exc.response.get("Error", {})
    return f"{error.get('Code', 'Error')}: {error.get('Message', '')}"[:300]
